"""scripts/gpu_check.sh can run unattended on a fresh GPU box: the steps it plans, its budget, its message
without CUDA, and (slow) a CPU smoke run of every step that writes the JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from htr_lit.config import project_root
from htr_lit.measuring import gpu_check


def test_plan_trains_both_precisions_and_ddp_only_with_two_gpus(tmp_path):
    one, two = gpu_check.plan(tmp_path, 1, False, 300), gpu_check.plan(tmp_path, 2, False, 300)
    names = [s.name for s in one]
    assert names == ["train_bf16-mixed", "train_16-mixed", "train_ddp2_bf16-mixed", "bench", "bench_length"]
    assert "trainer.precision=bf16-mixed" in one[0].cmd and "trainer.precision=16-mixed" in one[1].cmd
    assert all("trainer=gpu" in s.cmd and "trainer.limit_train_batches=300" in s.cmd for s in one[:2])
    assert one[2].status == "skipped" and "1 GPU" in one[2].reason
    assert two[2].status == "pending" and {"trainer=ddp", "trainer.devices=2"} <= set(two[2].cmd)
    assert one[3].cmd[one[3].cmd.index("--device") + 1] == "cuda"
    assert one[4].cmd[one[4].cmd.index("--device") + 1] == "cuda"
    assert sum(s.timeout_s for s in two) > 450  # the budget, not the sum of the timeouts, bounds the check
    smoke = gpu_check.plan(tmp_path, 0, True, 3)
    assert all("trainer=cpu" in s.cmd and "debug=tiny" in s.cmd for s in smoke[:2]) and "--smoke" in smoke[4].cmd


def test_steps_share_one_budget_and_are_skipped_when_it_is_spent(tmp_path, monkeypatch):
    steps = gpu_check.plan(tmp_path, 2, False, 300)
    given: list[float] = []
    clock = iter([0.0, 0.0, 120.0, 240.0, 420.0, 445.0]).__next__  # monotonic() before each step

    def runner(step, timeout_s, cwd):
        given.append(timeout_s)
        step.status = "ok"

    writes = []
    monkeypatch.setattr(gpu_check.time, "monotonic", clock)
    gpu_check.run_all(steps, 450, lambda: writes.append(1), tmp_path, runner)
    assert given == [150, 150, 150, 30]  # 450 - 420 = 30 s left for the fourth step
    assert steps[4].status == "skipped" and "budget" in steps[4].reason and len(writes) == 5


def test_without_cuda_it_says_how_to_install_a_cuda_torch(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "make setup TORCH_SPEC=" in err and "--cpu-smoke" in err


@pytest.mark.slow
def test_the_script_lists_its_steps_without_a_gpu():
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "--dry-run"], cwd=project_root(), capture_output=True,
                          text=True, env={"PY": sys.executable, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("htr_lit.train") == 3 and "htr_lit.measuring.bench_length" in proc.stdout


@pytest.mark.slow
def test_cpu_smoke_runs_every_step_and_writes_the_json(tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--cpu-smoke", "--work", str(tmp_path / "work"), "--out", str(out), "--budget", "600"]) == 0
    report = json.loads(out.read_text())
    status = {s["name"]: s["status"] for s in report["steps"]}
    assert status == {"train_bf16-mixed": "ok", "train_16-mixed": "ok", "train_ddp2_bf16-mixed": "skipped",
                      "bench": "ok", "bench_length": "ok"}
    by = {s["name"]: s for s in report["steps"]}
    assert by["train_bf16-mixed"]["result"]["steps"] == 3 and "test/cer" in by["train_16-mixed"]["result"]
    assert by["bench"]["result"]["models"][0]["sequence"] == "dilated"
    assert len(by["bench_length"]["result"]["rows"]) == 4 and report["smoke"] and report["total_s"] > 0

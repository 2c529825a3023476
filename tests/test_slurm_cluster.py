"""`hydra/launcher=slurm` against a real Slurm: a single-node cluster on this machine (scripts/slurm_local.sh:
Debian's slurmctld, slurmd and munge, loopback only) runs a 2-job sweep submitted with sbatch by submitit.

Uses a local Slurm that is already up (`bash scripts/slurm_local.sh start`; `.ci/run` starts one), starts
and afterwards stops one itself when HTR_START_SLURM=1, and skips otherwise or where it cannot be
installed (no apt, not root)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from htr_lit.results import report
from tests.helpers import TINY, csv_data

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts/slurm_local.sh"
PARTITION = os.environ.get("SLURM_LOCAL_PARTITION", "local")
SEQUENCES = ("bilstm", "cnn_only")  # the 2-value sweep: two configurations, so two rows in the report
# Our slurm.yaml asks for a GPU node (1 GPU, 8 CPUs, 32 GB); a job here gets what a 2-core box has.
LAUNCHER = ["hydra/launcher=slurm", f"hydra.launcher.partition={PARTITION}", "hydra.launcher.timeout_min=10",
            "hydra.launcher.cpus_per_task=1", "hydra.launcher.gpus_per_node=null", "hydra.launcher.mem_gb=2"]


def slurm_script(command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def local_slurm():
    """A local Slurm to submit to: the one already running, or (HTR_START_SLURM=1) one started for this module."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason='launcher plugins: pip install -e ".[cluster]"')
    if slurm_script("status").returncode == 0:
        yield
        return
    if os.environ.get("HTR_START_SLURM") != "1":
        pytest.skip("no local Slurm running: start one with `bash scripts/slurm_local.sh start` (root, Debian apt), "
                    "or set HTR_START_SLURM=1 to let this test start and stop it")
    started = slurm_script("start", timeout=900)  # the first time includes apt-get install
    if started.returncode == 3:  # no apt, not root, or someone else's slurm.conf
        pytest.skip(f"cannot start a local Slurm: {started.stderr.strip()}")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield
    finally:
        slurm_script("stop")


def slurm_job_ids(sweep_dir: Path) -> list[str]:
    """The Slurm ids (<array job>_<task>) each job saw in its environment, as Hydra recorded them (hydra.job.id)."""
    ids = []
    for job in ("0", "1"):
        hydra_cfg = yaml.safe_load((sweep_dir / job / ".hydra/hydra.yaml").read_text(encoding="utf-8"))
        ids.append(str(hydra_cfg["hydra"]["job"]["id"]))
    return ids


def scontrol_jobs(array_id: str, wait_s: float = 90) -> dict[str, str]:
    """Array task id -> slurmctld's one-line record of it (kept MinJobAge, 300 s, after the job ends), once no
    task is running any more: the driver has its results as soon as the result files exist, a moment before
    the job's processes have exited."""
    deadline = time.monotonic() + wait_s
    while True:
        out = subprocess.run(["scontrol", "-o", "show", "job", array_id], capture_output=True, text=True, timeout=30)
        records = {}
        for line in out.stdout.splitlines():
            task = re.search(r"\bArrayTaskId=(\d+)\b", line)
            if task:
                records[task.group(1)] = line
        running = [r for r in records.values() if re.search(r"JobState=(PENDING|RUNNING|COMPLETING)\b", r)]
        if not running or time.monotonic() > deadline:
            return records
        time.sleep(1)


@pytest.mark.slow
def test_slurm_launcher_runs_a_two_job_sweep_through_sbatch(local_slurm, csv_dataset, tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    args = ["-m", *LAUNCHER, *csv_data(csv_dataset), *TINY, "trainer.limit_train_batches=2", "torch_threads=1",
            "~callbacks.progress_bar", f"model/sequence={','.join(SEQUENCES)}", f"hydra.sweep.dir={sweep_dir}"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run([sys.executable, "-m", "htr_lit.train", *args], capture_output=True, text=True,
                              env=env, timeout=300, cwd=ROOT)
    except subprocess.TimeoutExpired:
        for folder in (sweep_dir / ".submitit").glob("*_*"):  # do not leave the jobs queued
            subprocess.run(["scancel", folder.name.split("_")[0]], timeout=30)
        raise
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Submitit 'slurm' sweep output dir" in out

    # Both jobs trained under Slurm: each saw its own array task id, and slurmctld says it completed.
    ids = slurm_job_ids(sweep_dir)
    parsed = [re.fullmatch(r"(\d+)_(\d+)", i) for i in ids]
    assert all(parsed), ids
    array_id = parsed[0].group(1)
    assert {p.group(1) for p in parsed} == {array_id} and sorted(int(p.group(2)) for p in parsed) == [0, 1]
    records = scontrol_jobs(array_id)
    for job_id, p in zip(ids, parsed):
        record = records[p.group(2)]
        assert "JobState=COMPLETED" in record and "ExitCode=0:0" in record, record
        assert f"Partition={PARTITION}" in record, record
        log = (sweep_dir / ".submitit" / job_id / f"{job_id}_0_log.out").read_text(encoding="utf-8")
        assert f"JobEnvironment(job_id={job_id}," in log  # submitit's worker ran inside that Slurm job

    for job, sequence in zip(("0", "1"), SEQUENCES):
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["status"] == "ok", metrics.get("error")
        assert 0.0 <= metrics["test/cer"] and metrics["params"] > 0
        assert f"model/sequence={sequence}" in (sweep_dir / job / ".hydra/overrides.yaml").read_text(encoding="utf-8")
        assert (sweep_dir / job / "checkpoints/last.ckpt").is_file()

    # The sweep report (`python -m htr_lit.results.report SWEEP_DIR`) has one finished row per configuration.
    assert report.main([str(sweep_dir), "--no-plot"]) == 0
    table = (sweep_dir / "report.md").read_text(encoding="utf-8")
    assert "2 jobs, 2 configurations" in table and "All jobs finished ok." in table
    for sequence in SEQUENCES:
        row = next(line for line in table.splitlines() if line.startswith("|") and sequence in line)
        assert row.split("|")[2].strip() == "1", row  # seeds ok
    with capsys.disabled():
        print(f"\nSlurm array job {array_id}: tasks {', '.join(ids)} completed (sweep {sweep_dir})")


@pytest.mark.slow
def test_a_two_fold_cross_validation_runs_through_sbatch(local_slurm, tmp_path, capsys):
    """`python -m htr_lit.cv --launcher slurm`: the folds are the jobs of one multirun submitted by submitit, and
    the summary over the cross-validation folder reads both."""
    from htr_lit.cv import main as cv
    from tests.helpers import WORDS, write_writer_labels

    # 4 writers: 2 folds of 2 test writers, 1 validating, 1 training
    csv_path = write_writer_labels(tmp_path / "data", writers=4)
    out = tmp_path / "cv"
    launcher = [a for a in LAUNCHER if not a.startswith("hydra/launcher=")]
    args = ["data=csv", f"data.source.csv_path={csv_path}", "debug=tiny", "data.augment=none", "torch_threads=1",
            "--folds", "2", "--val-writers", "1", "--launcher", "slurm", *launcher, "--out", str(out)]
    assert cv.main(args) == 0
    result = json.loads((out / "cv.json").read_text(encoding="utf-8"))
    assert [f["fold"] for f in result["folds"]] == [0, 1] and result["mode"] == "2 folds"
    for fold in result["folds"]:
        assert set(fold["writers"]) == set(fold["test_writers"]) and fold["images"] == 2 * len(WORDS)
        metrics = json.loads((out / f"fold_{fold['fold']}" / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["cv"]["test_writers"] == fold["test_writers"]  # the job put its fold's writers in
        assert metrics["test/cer"] == fold["test/cer"]
    logs = list((out / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2 and all("JobEnvironment(job_id=" in p.read_text(encoding="utf-8") for p in logs)
    with capsys.disabled():
        print(f"\nSlurm cross-validation: folds 0, 1 through sbatch (folder {out})")

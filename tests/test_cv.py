"""Writer cross-validation: folds are writer-disjoint, cover every writer once, are deterministic."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from htr_lit.cv import compare as compare_cv
from htr_lit.cv import jobs as cv_jobs
from htr_lit.cv import main as cv
from htr_lit.cv import summary
from htr_lit.cv.folds import Fold, writer_folds
from htr_lit.inference.scoring import ALL


def writers(n: int) -> list[str]:
    return [f"w{i}" for i in range(n)]


@pytest.mark.parametrize(("n", "k"), [(30, 5), (30, 3), (7, 2), (31, 5)])
def test_folds_cover_every_writer_once_and_are_disjoint(n: int, k: int) -> None:
    folds = writer_folds(writers(n), k=k, num_val=2, seed=0)
    tested = [w for f in folds for w in f.test_writers]
    assert sorted(tested) == sorted(writers(n))  # every writer tested exactly once
    sizes = [len(f.test_writers) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for f in folds:
        assert len(f.val_writers) == 2
        assert not set(f.val_writers) & set(f.test_writers)


def test_folds_are_deterministic_and_seeded() -> None:
    a = writer_folds(writers(30), k=5, seed=0)
    assert a == writer_folds(list(reversed(writers(30))), k=5, seed=0)  # input order does not matter
    assert a != writer_folds(writers(30), k=5, seed=1)
    assert [len(f.test_writers) for f in a] == [6] * 5


@pytest.mark.parametrize(("k", "num_val"), [(1, 2), (31, 2), (5, 24)])
def test_impossible_folds_are_refused(k: int, num_val: int) -> None:
    with pytest.raises(ValueError):
        writer_folds(writers(30), k=k, num_val=num_val)


def test_train_command_pins_the_fold_writers(tmp_path: Path) -> None:
    fold = Fold(0, ("a", "b"), ("c",))
    cmd = cv_jobs.train_command(fold, tmp_path / "fold_0", ["experiment=crnn_dhsd"], threads=1)
    assert "data.source.test_writers=['a','b']" in cmd
    assert "data.source.val_writers=['c']" in cmd
    assert "resume=true" in cmd and f"hydra.run.dir={tmp_path / 'fold_0'}" in cmd


def test_fold_done_needs_ok_status_and_the_same_command(tmp_path: Path) -> None:
    cmd = ["python", "-m", "htr_lit.train", "x=1"]
    assert not cv_jobs.fold_done(tmp_path, cmd)
    (tmp_path / cv_jobs.JOB_FILE).write_text(json.dumps({"command": cmd[1:]}))
    (tmp_path / "metrics.json").write_text(json.dumps({"status": "running"}))
    assert not cv_jobs.fold_done(tmp_path, cmd)
    (tmp_path / "metrics.json").write_text(json.dumps({"status": "ok"}))
    assert cv_jobs.fold_done(tmp_path, cmd)
    assert not cv_jobs.fold_done(tmp_path, [*cmd, "y=2"])  # another command: trained again


def _record(fold_dir: Path, command: list[str], recipe: str | None) -> None:
    job = {"command": command} if recipe is None else {"command": command, "recipe": recipe}
    (fold_dir / cv_jobs.JOB_FILE).write_text(json.dumps(job))
    (fold_dir / "metrics.json").write_text(json.dumps({"status": "ok"}))


def test_fold_done_ignores_the_run_folder_but_not_a_changed_recipe(tmp_path: Path) -> None:
    cmd = ["python", "-m", "htr_lit.train", "x=1", "hydra.run.dir=/old/place/fold_0"]
    _record(tmp_path, cmd[1:], "aaaa")
    moved = [*cmd[:-1], f"hydra.run.dir={tmp_path}"]
    assert cv_jobs.fold_done(tmp_path, moved, "aaaa")  # the folder was moved or restored from docs/cv
    assert cv_jobs.fold_done(tmp_path, [*moved, "trainer.max_time=00:02:00:00"], "aaaa")  # a longer safety net
    assert not cv_jobs.fold_done(tmp_path, moved, "bbbb")  # same overrides, the recipe YAML changed since
    _record(tmp_path, cmd[1:], None)  # a record from before the digest
    assert cv_jobs.fold_done(tmp_path, moved, "bbbb")


def test_fold_done_recognises_the_same_config_under_other_overrides(tmp_path: Path) -> None:
    # digests of what overrides compose to: "aug=hw" made the default, so both spell the new recipe
    today = {("exp=a", "aug=hw"): "NEW", ("exp=a",): "NEW", ("exp=a", "aug=light"): "OLD"}
    calls: list[tuple[str, ...]] = []

    def digest_of(overrides: list[str]) -> str:
        calls.append(tuple(overrides))
        timed = [o for o in overrides if o.startswith("trainer.max_time=")]
        return today[tuple(o for o in overrides if o not in timed)] + ("+time" if timed else "")

    fold = ["data.source.test_writers=['1']", "data.source.val_writers=['2']", "resume=true", "torch_threads=1"]
    now = ["python", "-m", "htr_lit.train", "exp=a", *fold]
    # a lever run recorded before the default changed, hashed with its time limit as records were then
    _record(tmp_path, ["-m", "htr_lit.train", "exp=a", "aug=hw", "trainer.max_time=9", *fold], "NEW+time")
    assert cv_jobs.fold_done(tmp_path, now, "NEW", digest_of)
    assert not cv_jobs.fold_done(tmp_path, now, "NEW")  # without a way to compose: only the same overrides count
    assert not cv_jobs.fold_done(tmp_path, now, "OTHER", digest_of)  # today the command means something else
    # the old default recorded before the change: its overrides compose to the new recipe today, but its
    # recorded digest says it trained something else
    _record(tmp_path, ["-m", "htr_lit.train", "exp=a", *fold], "OLD")
    assert not cv_jobs.fold_done(tmp_path, now, "NEW", digest_of)
    # another fold's writers never count, whatever the config
    other = [a.replace("['1']", "['3']") for a in now]
    _record(tmp_path, now[1:], "NEW")
    assert cv_jobs.fold_done(tmp_path, now, "NEW", digest_of)
    assert not cv_jobs.fold_done(tmp_path, other, "NEW", digest_of)
    assert calls  # the composing path was taken above
    # a record from before the digests: its overrides mean today what the command means
    _record(tmp_path, ["-m", "htr_lit.train", "exp=a", "aug=hw", *fold], None)
    assert cv_jobs.fold_done(tmp_path, now, "NEW", digest_of)
    assert not cv_jobs.fold_done(tmp_path, [*now[:3], "exp=a", "aug=light", *fold], "OLD", digest_of)


def test_fold_done_with_the_real_recipe_and_a_spelled_out_default(tmp_path: Path) -> None:
    default = cv_jobs.compose_recipe(["experiment=dilated_dhsd"]).data.augment
    fold = Fold(0, ("10",), ("11",))
    then = cv_jobs.train_command(fold, tmp_path, ["experiment=dilated_dhsd", f"data.augment={default}",
                                             "trainer.max_time=00:02:30:00"], threads=1)
    _record(tmp_path, then[1:], cv_jobs.digest_of(cv_jobs.user_overrides(then[1:])))  # digest as recorded before
    now = cv_jobs.train_command(fold, tmp_path, ["experiment=dilated_dhsd"], threads=1)
    recipe = cv_jobs.digest_of(["experiment=dilated_dhsd"])
    assert cv_jobs.fold_done(tmp_path, now, recipe, cv_jobs.digest_of)
    other = ["experiment=dilated_dhsd", "data.augment=strong"]  # never the recipe's default
    other_command = cv_jobs.train_command(fold, tmp_path, other, threads=1)
    assert not cv_jobs.fold_done(tmp_path, other_command, cv_jobs.digest_of(other), cv_jobs.digest_of)
    _record(tmp_path, then[1:], "0123456789abcdef")  # trained under a YAML that composes differently today
    assert not cv_jobs.fold_done(tmp_path, now, recipe, cv_jobs.digest_of)


def test_a_moved_fold_finds_its_checkpoint(tmp_path: Path) -> None:
    fold_dir = tmp_path / "renamed" / "fold_0"
    (fold_dir / "checkpoints").mkdir(parents=True)
    (fold_dir / "checkpoints" / "best.ckpt").write_bytes(b"x")
    recorded = str(tmp_path / "old_name" / "fold_0" / "checkpoints" / "best.ckpt")
    assert summary.fold_checkpoint(fold_dir, recorded) == fold_dir / "checkpoints" / "best.ckpt"
    (tmp_path / "old_name" / "fold_0" / "checkpoints").mkdir(parents=True)
    (tmp_path / "old_name" / "fold_0" / "checkpoints" / "best.ckpt").write_bytes(b"y")
    assert summary.fold_checkpoint(fold_dir, recorded) == Path(recorded)  # where it was recorded, while it is there


def test_recipe_digest_follows_the_composed_config_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = cv_jobs.recipe_digest(cv_jobs.compose_recipe(["experiment=dilated_dhsd"]))
    monkeypatch.setenv("HTR_DATA_DIR", "/somewhere/else")  # interpolations are hashed unresolved
    assert cv_jobs.recipe_digest(cv_jobs.compose_recipe(["experiment=dilated_dhsd"])) == digest
    assert cv_jobs.recipe_digest(cv_jobs.compose_recipe(["experiment=dilated_dhsd", "data.augment=strong"])) != digest
    assert cv_jobs.recipe_digest(cv_jobs.compose_recipe(["experiment=crnn_dhsd"])) != digest


def test_summary_table_has_folds_mean_and_writers() -> None:
    folds = [
        {"fold": 0, "test_writers": ["a"], "images": 10, "test/cer": 0.10, "test/wer": 0.4, "test/word_acc": 0.6,
         "writers": {"a": {"cer": 0.10, "wer": 0.4, "images": 10}}, "epochs": 8, "train_s": 1830.0},
        {"fold": 1, "test_writers": ["b"], "images": 10, "test/cer": 0.20, "test/wer": 0.6, "test/word_acc": 0.4,
         "writers": {"b": {"cer": 0.20, "wer": 0.6, "images": 10}}},
    ]
    table = summary.summarise(folds, "PILOT")
    assert "**15.00 ± 7.07**" in table  # mean ± sample std of 10 % and 20 %
    assert "| 0 | a | 10 | 10.00 | 40.00 | 60.00 |  | 8 | 30 |" in table  # epochs and training minutes
    assert "| 1 | b | 10 | 20.00 | 60.00 | 40.00 |  |  |  |" in table  # unknown: left blank
    assert "| a | 0 | 10 | 10.00 | 40.00 |" in table
    assert table.index("| a |") < table.index("| b |")  # best writer first
    assert "mean ± std" not in summary.summarise(folds[:1], "ONE")  # one fold: no mean row with a 0.00 spread


def test_dry_run_prints_every_fold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import write_writer_labels

    csv_path = write_writer_labels(tmp_path)  # 3 writers
    code = cv.main(["data=csv", "--folds", "3", f"data.source.csv_path={csv_path}", "--val-writers", "1",
                    "--dry-run", "--out", str(tmp_path / "cv")])  # overrides and options in any order
    out = capsys.readouterr().out
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("fold")] == [
        "fold 0",
        "fold 1",
        "fold 2",
    ]
    assert not (tmp_path / "cv").exists()  # nothing trained
    command = multirun(out)  # one Hydra multirun, a job per fold, pasteable as printed
    assert command[:4] == [sys.executable, "-m", "htr_lit.train", "-m"]
    assert "sweep=cv" in command and "cv.fold=0,1,2" in command and "cv.folds=3" in command
    assert "hydra.sweep.subdir=fold_${cv.fold}" in command  # conf/sweep/cv.yaml lifts trainer.max_time


def multirun(out: str) -> list[str]:
    """The multirun command a dry run printed, split as a shell would."""
    lines = [line for line in out.splitlines() if line.startswith(sys.executable)]
    assert len(lines) == 1, out
    return shlex.split(lines[0])


def test_the_cores_are_shared_among_the_trainings_that_run_at_once(tmp_path: Path, capsys) -> None:
    from tests.helpers import write_writer_labels

    csv_path = write_writer_labels(tmp_path)
    base = ["data=csv", "--folds", "3", f"data.source.csv_path={csv_path}", "--val-writers", "1", "--dry-run"]
    cores = os.cpu_count() or 1

    def threads(*extra: str) -> set[str]:
        assert cv.main([*base, *extra]) == 0
        return {a for a in multirun(capsys.readouterr().out) if a.startswith("torch_t")}

    assert threads("--jobs", "2") == {f"torch_threads={max(1, cores // 2)}"}
    assert threads("--jobs", "2", "--only", "1") == {f"torch_threads={cores}"}  # the last fold alone
    assert threads("--jobs", "2", "--threads", "3") == {"torch_threads=3"}


def test_a_time_limit_given_to_cv_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import write_writer_labels

    csv_path = write_writer_labels(tmp_path)
    assert cv.main(["data=csv", "--folds", "3", f"data.source.csv_path={csv_path}", "--val-writers", "1",
                    "trainer.max_time=00:01:00:00", "--dry-run"]) == 0
    assert "trainer.max_time=00:01:00:00" in multirun(capsys.readouterr().out)  # the command line wins


def test_only_runs_the_chosen_folds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import write_writer_labels

    csv_path = write_writer_labels(tmp_path)  # 3 writers
    base = ["data=csv", "--folds", "3", f"data.source.csv_path={csv_path}", "--val-writers", "1", "--dry-run"]
    assert cv.main([*base, "--only", "2,0"]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("fold")] == [
        "fold 0",
        "fold 2",
    ]
    with pytest.raises(SystemExit, match="numbered 0..2"):
        cv.main([*base, "--only", "3"])
    with pytest.raises(SystemExit, match="give one of them"):
        cv.main([*base, "--only", "1", "--pilot", "1"])
    with pytest.raises(SystemExit):  # argparse: not a list of indices
        cv.main([*base, "--only", "x"])


@pytest.mark.slow
def test_pilot_trains_scores_writers_and_a_rerun_skips_done_folds(tmp_path: Path, capsys) -> None:
    """Two tiny folds end to end: each trains (one thread), is scored per writer, and lands in one table;
    the same command again trains nothing; the same folds as a plain `htr_lit.train -m ... sweep=cv` multirun
    on the local_parallel launcher give the identical table."""
    from tests.helpers import write_writer_labels

    # 6 writers x 10 words: folds of 2 test, 1 validation, 3 training writers
    csv_path = write_writer_labels(tmp_path / "data", writers=6)
    args = ["data=csv", f"data.source.csv_path={csv_path}", "debug=tiny", "data.augment=none",
            "--folds", "3", "--val-writers", "1", "--pilot", "2", "--jobs", "2", "--out", str(tmp_path / "cv")]
    assert cv.main(args) == 0
    out = capsys.readouterr().out
    assert "PILOT (2 of 3 folds)" in out and out.count("| **mean ± std** |") == 1
    result = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert [f["fold"] for f in result["folds"]] == [0, 1]
    for fold in result["folds"]:
        assert set(fold["writers"]) == set(fold["test_writers"]) and len(fold["test_writers"]) == 2
        assert fold["images"] == 20 and 0.0 <= fold["test/cer"]
    assert cv.main(args) == 0
    again = capsys.readouterr().out
    assert again.count("done before, skipped") == 2 and "one multirun" not in again
    # another decoder re-scores the trained folds (nothing trains): its own table, figures over all rows
    assert cv.main([*args, "--decoder", "beam"]) == 0
    beam_out = capsys.readouterr().out
    assert "one multirun" not in beam_out and "beam decoding" in beam_out
    beam = json.loads((tmp_path / "cv" / "cv_beam.json").read_text())
    assert beam["decoder"] == "beam" and [f["fold"] for f in beam["folds"]] == [0, 1]
    for fold in beam["folds"]:
        per_writer = json.loads((tmp_path / "cv" / f"fold_{fold['fold']}" / "per_writer_beam.json").read_text())
        assert set(per_writer) == {*fold["test_writers"], ALL} and per_writer[ALL]["images"] == 20
        assert fold["test/cer"] == per_writer[ALL]["cer"] and 0.0 <= fold["test/cer"]
    # predict's test-time stretch re-scores them too, under its own name, which compare_cv pairs with greedy
    assert cv.main([*args, "--tta", "1,1.2"]) == 0
    tta_out = capsys.readouterr().out
    assert "one multirun" not in tta_out and "greedy decoding, test-time stretch x1, x1.2" in tta_out
    stretched = json.loads((tmp_path / "cv" / "cv_greedy_tta_1_1.2.json").read_text())
    assert stretched["scoring"] == "greedy_tta_1_1.2" and stretched["tta"] == [1.0, 1.2]
    assert [f["fold"] for f in stretched["folds"]] == [0, 1]
    assert compare_cv.main([str(tmp_path / "cv"), str(tmp_path / "cv"), "--b-decoder", "greedy_tta_1_1.2"]) == 0
    assert "cv (greedy_tta_1_1.2) vs cv (greedy): paired over 2 writer folds" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--tta"):
        cv.main([*args, "--tta", "0"])
    # --only: one fold of the same cross-validation, reused (trained above), in its own table file
    i = args.index("--pilot")
    only = [*args[:i], *args[i + 2 :], "--only", "1"]
    assert cv.main(only) == 0
    assert "one multirun" not in capsys.readouterr().out
    part = json.loads((tmp_path / "cv" / "cv_folds_1.json").read_text())
    assert [f["fold"] for f in part["folds"]] == [1] and part["mode"].startswith("folds 1 of 3")
    assert part["folds"][0]["test/cer"] == result["folds"][1]["test/cer"]
    # the same folds without the front: one multirun on the local_parallel launcher, then the summary command
    direct = tmp_path / "direct"
    sweep = [sys.executable, "-m", "htr_lit.train", "-m", *args[:4], "sweep=cv", "cv.folds=3", "cv.val_writers=1",
             "cv.fold=0,1", "torch_threads=1", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2",
             f"hydra.sweep.dir={direct}"]
    subprocess.run(sweep, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert summary.main([str(direct), "--csv", str(csv_path)]) == 0
    table = json.loads((direct / "data_csv" / "cv.json").read_text()) if (direct / "data_csv").is_dir() else \
        json.loads(next(direct.glob("*/cv.json")).read_text())
    assert [(f["fold"], f["test_writers"], f["test/cer"], f["writers"]) for f in table["folds"]] == [
        (f["fold"], f["test_writers"], f["test/cer"], f["writers"]) for f in result["folds"]]  # identical tables


KEPT = Path(__file__).resolve().parents[1] / "docs" / "cv"
SHARED_DHSD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dhsd" / "labels.csv"


@pytest.mark.skipif(not SHARED_DHSD.is_file(), reason="the folds are drawn from ../shared/data/dhsd's writers")
@pytest.mark.parametrize(("experiment", "record", "folds"), [
    ("crnn_dhsd", "crnn_dhsd", [0, 1, 2, 3, 4]),
    ("dilated_dhsd", "dilated_dhsd", [0, 1, 2, 3, 4]),
    ("ablation/cnn_only", "ablation_cnn_only", [2, 3, 4]),
    ("ablation/dilated_unshared", "ablation_dilated_unshared", [2, 3, 4]),
    ("ablation/dilated_1d", "ablation_dilated_1d", [2, 3, 4]),
    ("ablation/tcn", "ablation_tcn", [2, 3, 4]),
    ("separable_dhsd", "separable_bilstm", [0, 1, 2, 3, 4]),
    ("separable_dhsd data.augment=handwriting_lowres", "separable_lowres", [0, 1]),
    ("ablation/dilated_rates1248", "ablation_dilated_rates1248", [2, 3, 4]),
    ("crnn_dhsd", "crnn_dhsd_rerun", [3]),
    ("ablation/dilated_3block", "ablation_dilated_3block", [3]),
])
def test_the_kept_fold_records_still_count_as_todays_recipe(capsys, experiment, record, folds):
    """A config edit that changes what a recipe composes to (paths/default.yaml included) would send every
    kept fold back to training: the committed records must stay 'done' for the recipe as it is today."""
    only = ",".join(map(str, folds))
    name, *extra = experiment.split()
    assert cv.main([f"experiment={name}", *extra, "--only", only, "--dry-run", "--out", str(KEPT / record)]) == 0
    out = capsys.readouterr().out
    assert [f"fold {i}: done before, would be skipped" in out for i in folds] == [True] * len(folds), out


def test_the_summary_reads_the_kept_records(tmp_path: Path) -> None:
    """docs/cv stays readable: the summary over a copy of a kept cross-validation (records from before the folds
    were multirun jobs) gives the figures its table recorded, from the cached per-writer scores."""
    import shutil

    folder = tmp_path / "crnn_dhsd"
    shutil.copytree(KEPT / "crnn_dhsd", folder)
    for table in [*folder.glob("cv*.json"), *folder.glob("cv*.md")]:  # the tables, not the folds' records
        table.unlink()
    assert summary.main([str(folder)]) == 0  # no --csv: nothing to score, every fold has per_writer.json
    table = json.loads((folder / "cv.json").read_text())
    kept = {f["fold"]: f for f in json.loads((KEPT / "crnn_dhsd" / "cv.json").read_text())["folds"]}
    assert [f["fold"] for f in table["folds"]] == [0, 1, 2, 3, 4]
    for fold in table["folds"]:
        assert fold["test_writers"] == kept[fold["fold"]]["test_writers"]
        assert fold["test/cer"] == kept[fold["fold"]]["test/cer"] and fold["writers"] == kept[fold["fold"]]["writers"]


def test_a_bad_override_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as err:
        cv.main(["experiment=no_such_recipe", "--dry-run", "--out", str(tmp_path)])
    message = str(err.value)
    assert message.startswith("error:") and "no_such_recipe" in message and "\n" not in message


def test_a_key_added_at_its_neutral_value_keeps_the_recipe_digest() -> None:
    from omegaconf import OmegaConf, open_dict

    from htr_lit.cv.jobs import recipe_digest
    from tests.helpers import compose_cfg

    cfg = compose_cfg("train", ["experiment=crnn_dhsd"])
    old = cfg.copy()
    with open_dict(old):
        old.data.source.pop("image_root")
        old.data.source.pop("allow_absolute")
    assert recipe_digest(cfg) == recipe_digest(old)
    OmegaConf.update(cfg, "data.source.allow_absolute", True)
    assert recipe_digest(cfg) != recipe_digest(old)

"""Every test that starts a subprocess is marked `slow`, every test that trains is marked `train` or `slow`
(tests/marks.py), so that `make test-fast` (`-m "not slow"`) starts no process; and the checker itself finds
a planted unmarked test however the work is reached."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.marks import check

TESTS = Path(__file__).resolve().parent


def test_every_test_that_starts_a_process_or_trains_carries_its_mark():
    assert check(TESTS) == []


def plant(folder: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return check(folder)


@pytest.mark.parametrize("body", [
    "subprocess.run([sys.executable, '-m', 'htr_lit.train'])",
    "subprocess.Popen(['htr-predict'])",
    "os.system('make help')",
    "run_cli('htr_lit.eval')",  # a helper of the module that starts the process
    "assert uses_the_cli",  # a fixture that does
])
def test_an_unmarked_test_that_starts_a_process_is_found(tmp_path, body):
    params = "uses_the_cli" if "uses_the_cli" in body else ""
    found = plant(tmp_path, test_planted=f"""
        import os, subprocess, sys
        import pytest

        def run_cli(module):
            return subprocess.run([sys.executable, "-m", module])

        @pytest.fixture
        def uses_the_cli():
            return run_cli("htr_lit.predict")

        def test_planted({params}):
            {body}
        """)
    assert found == ["test_planted.py::test_planted: starts a subprocess, needs @pytest.mark.slow"]


@pytest.mark.parametrize("body", [
    "L.Trainer(max_steps=5).fit(model, loader)",
    "trainer.fit(model, datamodule=dm)",
    "train(cfg)",  # htr_lit.train's entry point
    "run_task(train, cfg)",  # handed on
    "train_tiny_checkpoint(tmp_path)",
])
def test_an_unmarked_test_that_trains_is_found(tmp_path, body):
    found = plant(tmp_path, test_planted=f"""
        import lightning as L
        from htr_lit.train import train
        from tests.tiny_ckpt import train_tiny_checkpoint

        def test_planted(tmp_path, model, loader, trainer, dm, cfg, run_task):
            {body}
        """)
    assert found == ["test_planted.py::test_planted: trains a model, needs @pytest.mark.slow or train"]


def test_work_is_followed_into_other_test_modules_and_conftest_fixtures(tmp_path):
    found = plant(
        tmp_path,
        conftest="""
            import pytest
            from htr_lit.train import train as run_training

            @pytest.fixture
            def trained(cfg):
                return run_training(cfg)

            @pytest.fixture(scope="session")
            def tiny_checkpoint():  # shared, trained once a session: asking for it is not training
                from tests.tiny_ckpt import train_tiny_checkpoint
                return train_tiny_checkpoint
            """,
        test_helpers_there="""
            import subprocess

            def run_cli(*args):
                return subprocess.run(["htr-eval", *args])
            """,
        test_here="""
            from tests.test_helpers_there import run_cli as cli

            def test_imported_helper():
                cli("x")

            def test_conftest_fixture(trained):
                pass

            def test_shared_checkpoint(tiny_checkpoint):
                tiny_checkpoint()
            """,
    )
    assert found == ["test_here.py::test_imported_helper: starts a subprocess, needs @pytest.mark.slow",
                     "test_here.py::test_conftest_fixture: trains a model, needs @pytest.mark.slow or train"]


def test_a_mark_on_the_test_or_the_module_satisfies_it_and_harmless_lookalikes_are_not_work(tmp_path):
    found = plant(
        tmp_path,
        test_marked="""
            import subprocess
            import pytest

            @pytest.mark.parametrize("x", [1])
            @pytest.mark.slow
            def test_decorated(x):
                subprocess.run(["make", "help"])

            @pytest.mark.train
            def test_trains(trainer):
                trainer.fit(None)

            @pytest.mark.train
            def test_a_train_mark_is_not_enough_for_a_process():
                subprocess.run(["make", "help"])
            """,
        test_module_marked="""
            import subprocess
            import pytest

            pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

            def test_any():
                subprocess.check_output(["ls"])
            """,
        test_lookalikes="""
            import subprocess, sys

            def test_lm(lm):
                lm.fit(["ab"])  # a character LM's fit, no trainer

            def test_git(root):
                subprocess.run(["git", "ls-files"], cwd=root)  # milliseconds

            def test_fake(monkeypatch):
                monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
                assert [sys.executable, "-m", "x"][0]  # a command written down, not started
            """,
    )
    assert found == ["test_marked.py::test_a_train_mark_is_not_enough_for_a_process: starts a subprocess, "
                     "needs @pytest.mark.slow"]

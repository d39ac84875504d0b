"""A run folder belongs to one training, and to one writer at a time: the real CLI, real trainings, real processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from asl_edge.errors import AslEdgeError
from asl_edge.run_folder import LOCK_NAME, FolderInUseError, folder_lock
from asl_edge.train.checkpoint import load_checkpoint
from tests.conftest import REPO

TINY = ["--arch", "aslcnn", "--image-size", "28", "--color", "gray", "--batch-size", "16", "--augment", "light",
        "--val-fraction", "0.25", "--workers", "0", "--device", "cpu"]


def train_args(data: Path, out: Path, *extra: str, epochs: int = 1) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--epochs", str(epochs), *TINY, *extra]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (but the lock file) -> sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def copy_run(tiny_run: Path, target: Path) -> Path:
    shutil.copytree(tiny_run, target, ignore=shutil.ignore_patterns(LOCK_NAME))
    return target


@pytest.mark.parametrize("extra", [[], ["--input", "landmarks"]])
def test_retraining_into_a_run_folder_is_refused_and_changes_nothing(
        tmp_path: Path, tiny_run: Path, small_image_folder: Path, capsys: pytest.CaptureFixture[str],
        extra: list[str]) -> None:
    run = copy_run(tiny_run, tmp_path / "run")
    before = snapshot(run)
    started = time.perf_counter()
    assert main(train_args(small_image_folder, run, *extra)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{run} already holds a training (checkpoint.pt, last.pt, metrics.json" in line
    assert "--exist-ok" in line and "choose a new --out" in line
    assert ("--resume" in line) == (not extra)  # landmark training cannot resume: not offered as a fix
    assert time.perf_counter() - started < 5  # refused before any data is loaded or a model is built
    assert snapshot(run) == before


def test_a_training_whose_export_is_missing_names_the_export_command(
        tmp_path: Path, tiny_run: Path, small_image_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tiny_run, tmp_path / "run")
    (run / "model.onnx").unlink(missing_ok=True)  # e.g. personalise killed while exporting
    assert main(train_args(small_image_folder, run)) == 2
    assert f"`asl-edge export {run}` writes it" in one_error_line(capsys.readouterr().err)
    (run / "model.onnx").write_bytes(b"exported")
    assert main(train_args(small_image_folder, run)) == 2
    assert "asl-edge export" not in one_error_line(capsys.readouterr().err)


def test_exist_ok_moves_the_old_run_aside_and_trains_anew(tmp_path: Path, tiny_run: Path,
                                                         small_image_folder: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tiny_run, tmp_path / "run")
    before = snapshot(run)
    assert main(train_args(small_image_folder, run, "--exist-ok")) == 0
    assert f"moved the previous run's files to {run / 'previous-1'}" in capsys.readouterr().out
    assert snapshot(run / "previous-1") == before  # every old file kept, byte for byte
    assert json.loads((run / "metrics.json").read_text())["config"]["epochs"] == 1  # the new training's
    log = (run / "train.log").read_text()
    assert log.count("best epoch") == 1  # a fresh log, not appended to the old one


def test_resume_and_exist_ok_together_is_one_line(tmp_path: Path, small_image_folder: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(train_args(small_image_folder, tmp_path / "run", "--resume", "--exist-ok")) == 2
    assert "choose one" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_a_failed_start_leaves_no_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(train_args(tmp_path / "no-such-data", tmp_path / "new-run")) == 2
    assert "no-such-data" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "new-run").exists()


def test_the_lock_is_reentrant_in_one_process_and_released(tmp_path: Path) -> None:
    with folder_lock(tmp_path, "export"), folder_lock(tmp_path, "train"):
        info = json.loads((tmp_path / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and info["job"] == "export"
    with folder_lock(tmp_path, "build"):  # released: taken again at once
        pass


def test_another_process_holding_the_lock_is_named(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom asl_edge.run_folder import folder_lock\n"
         "with folder_lock(sys.argv[1], 'build'):\n    print('held', flush=True)\n    time.sleep(60)",
         str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderInUseError, match=rf"is in use by another asl-edge process \(pid {holder.pid}, "
                                                   r"build, started 20\d\d-.*\); wait for it or choose another "
                                                   "--out"), folder_lock(tmp_path, "export"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(tmp_path, "export"):  # killed: its lock went with it
        pass


def test_two_concurrent_trainings_one_wins(tmp_path: Path, small_image_folder: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "asl_edge", *train_args(small_image_folder, out, epochs=3)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
             for _ in range(2)]
    results = [(p.pid, p.wait(timeout=600), p.communicate()) for p in procs]
    winners = [r for r in results if r[1] == 0]
    losers = [r for r in results if r[1] != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    (winner_pid, _, _), (_, code, (_, err)) = winners[0], losers[0]
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"asl-edge train: error: {out} is in use by another asl-edge process (pid {winner_pid}, "
                           "train, started ")
    assert line.endswith("wait for it or choose another --out")
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]  # one training's result, whole


def test_kill_9_leaves_a_lock_that_does_not_block_resume(tmp_path: Path, small_image_folder: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "asl_edge", *train_args(small_image_folder, out, epochs=200)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 300
        while not (out / "last.pt").is_file():
            assert proc.poll() is None and time.monotonic() < deadline, "the training never finished an epoch"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == proc.pid  # left behind by the dead process
    assert main(train_args(small_image_folder, out, epochs=200)) == 2  # not resumed: still refused, no retrain
    assert "already holds a training" in capsys.readouterr().err
    last_epoch = load_checkpoint(out / "last.pt").epoch
    assert main(train_args(small_image_folder, out, "--resume", epochs=last_epoch + 1)) == 0
    assert f"resuming after epoch {last_epoch}" in capsys.readouterr().out


def test_resume_continues_with_the_settings_the_run_was_started_with(tmp_path: Path, small_image_folder: Path,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`train --out RUN --resume` takes what defines the run from its last.pt (before, every option left out took
    its default: 50 epochs for a run started with 1, `medium` augmentation without the flip for `light --hflip`);
    --epochs may change, to train on; an option given with another value is refused."""
    out = tmp_path / "run"
    # Started with a relative --data, resumed from another folder.
    monkeypatch.chdir(small_image_folder.parent)
    assert main(train_args(Path(small_image_folder.name), out, "--hflip", "--seed", "3", epochs=1)) == 0
    started = load_checkpoint(out / "last.pt").resume_state["config"]  # type: ignore[index]
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--arch", "resnet18", "--augment", "heavy",
                 "--batch-size", "32"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert ("--arch resnet18 (the run: aslcnn), --batch-size 32 (the run: 16), --augment heavy (the run: light) "
            "differ") in line
    assert "only --epochs may change" in line
    assert main(["train", "--out", str(out), "--resume", "--epochs", "1"]) == 2
    assert "has done 1 epochs already" in one_error_line(capsys.readouterr().err)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--workers", "0", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert f"resuming {out} with its recorded settings: data {small_image_folder}, " in printed
    assert "arch aslcnn, image_size 28, color gray" in printed and "hflip True" in printed
    assert "resuming after epoch 1" in printed
    last = load_checkpoint(out / "last.pt")
    assert last.epoch == 2
    resumed = last.resume_state["config"]  # type: ignore[index]
    assert {k: v for k, v in resumed.items() if k not in ("epochs", "resume", "data")} == {
        k: v for k, v in started.items() if k not in ("epochs", "resume", "data")}
    assert Path(resumed["data"]) == small_image_folder and started["data"] == small_image_folder.name
    assert resumed["epochs"] == 2


def test_resume_after_the_dataset_moved(tmp_path: Path, small_image_folder: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "data", tmp_path / "run"
    shutil.copytree(small_image_folder, data)
    assert main(train_args(data, out, epochs=1)) == 0
    data.rename(tmp_path / "moved")
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2"]) == 2
    assert f"the run's data folder {data} is gone; pass where it is now with --data" in one_error_line(
        capsys.readouterr().err)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--data", str(tmp_path / "moved"),
                 "--workers", "0", "--device", "cpu"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert load_checkpoint(out / "last.pt").epoch == 2


def test_landmark_training_cannot_resume(tmp_path: Path, small_image_folder: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(train_args(small_image_folder, tmp_path / "lm", "--input", "landmarks", "--resume")) == 2
    assert "--exist-ok" in one_error_line(capsys.readouterr().err)


def test_library_fit_refuses_a_folder_holding_a_training(tmp_path: Path, tiny_run: Path,
                                                         small_image_folder: Path) -> None:
    from asl_edge.train.loop import fit
    from tests.train.conftest import tiny_config

    run = copy_run(tiny_run, tmp_path / "run")
    with pytest.raises(AslEdgeError, match="already holds a training"):
        fit(tiny_config(small_image_folder, run, epochs=1))

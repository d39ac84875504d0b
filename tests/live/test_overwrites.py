"""Outputs that would write over the command's own inputs, refused before anything is opened for writing: `run
--events`/`--transcript`/`--save` naming the model or the word list (JSON lines appended to a model left it
unloadable), and `collect --save` naming the source clip (replaced by the annotated video) or a file of the collect
folder. (run's outputs against the source and each other: test_run_outputs.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asl_edge.runtime.live.motion_profile import DEFAULTS, MotionProfile
from tests.live.test_run_outputs import IMAGE_MODEL, asl_edge, digest, error_lines, write_clip

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("output", "target"), [("--events", "model"), ("--transcript", "model"),
                                                ("--save", "model"), ("--events", "words"),
                                                ("--transcript", "spec"), ("--events", "sidecar"),
                                                ("--transcript", "profile")])
def test_run_refuses_an_output_that_is_one_of_its_input_files(tmp_path: Path, output: str, target: str) -> None:
    write_clip(tmp_path / "clip.mp4", frames=5)
    model = shutil.copy(IMAGE_MODEL, tmp_path / "mymodel.onnx")
    (tmp_path / "words.txt").write_text("HELLO\nWORLD\n")
    spec = tmp_path / "mymodel.json"
    assert asl_edge("spec", str(model), "--out", str(spec), cwd=tmp_path).returncode == 0
    # Files run finds by itself: the spec beside the model, a motion profile in its folder.
    shutil.copy(spec, tmp_path / "mymodel.spec.json")
    MotionProfile(DEFAULTS, [], str(tmp_path)).save(tmp_path / "motion.json")
    inputs = {"model": ["--model", "mymodel.onnx"], "words": ["--words", "words.txt"],
              "spec": ["--spec", "mymodel.json"], "sidecar": [], "profile": []}
    args = ["--model", "mymodel.onnx", *(inputs[target] if target != "model" else [])]
    path = {"model": "./mymodel.onnx", "words": "words.txt", "spec": "mymodel.json", "sidecar": "mymodel.spec.json",
            "profile": "motion.json"}[target]
    before = {p.name: digest(p) for p in tmp_path.iterdir()}
    result = asl_edge("run", "--source", "clip.mp4", "--hand", "off", "--no-window", *args, output, path,
                      cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = error_lines(result)
    what = {"model": "the --model file", "words": "the --words file", "spec": "the --spec file",
            "sidecar": "the spec beside the model", "profile": "the motion profile"}[target]
    shown = path if output == "--events" else str(Path(path))
    assert len(errors) == 1 and errors[0].startswith(f"asl-edge run: error: {output} {shown} is {what}"), errors
    assert "write elsewhere, e.g." in errors[0]
    assert {p.name: digest(p) for p in tmp_path.iterdir()} == before  # nothing written, nothing created


def _collect(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    result = asl_edge("collect", "--source", "mine.mp4", "--out", "mysigns", "--letters", "A", "--samples", "1",
                      "--countdown", "0", "--no-window", *args, cwd=tmp_path)
    return result.returncode, error_lines(result)


def test_collect_save_never_writes_over_the_source_or_the_collect_folder(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "mine.mp4", frames=5)
    before = digest(clip)
    for given in ("mine.mp4", "./mine.mp4", str(clip)):
        code, errors = _collect(tmp_path, "--save", given)
        assert code == 2 and len(errors) == 1, errors
        assert "is the --source file (mine.mp4): this would write over its own input" in errors[0]
    assert digest(clip) == before and not (tmp_path / "mysigns").exists()
    # Inside the collect folder a saved video could replace landmarks.npz or collect.json.
    code, errors = _collect(tmp_path, "--save", "mysigns/landmarks.npz")
    assert code == 2 and errors == [
        "asl-edge collect: error: --save mysigns/landmarks.npz is inside the collect folder mysigns, which holds the "
        "samples only; save the video beside it, e.g. --save mysigns-session.mp4"]
    assert not (tmp_path / "mysigns").exists()


def test_run_refuses_an_output_among_the_bundled_files(tmp_path: Path) -> None:
    """The package's assets (the fallback image model, the hand models, the demo clip and its card) are read by
    every run; an output there would break the next one."""
    from asl_edge.runtime.hand.models import ASSETS

    write_clip(tmp_path / "clip.mp4", frames=5)
    target = ASSETS / "events-test.jsonl"  # a new name: nothing bundled is at risk if the check fails
    result = asl_edge("run", "--source", "clip.mp4", "--model", str(IMAGE_MODEL), "--hand", "off", "--no-window",
                      "--events", str(target), cwd=tmp_path)
    assert result.returncode == 2 and not target.exists()
    assert error_lines(result) == [f"asl-edge run: error: --events {target} is inside asl-edge's bundled files "
                                   f"({ASSETS}), which it reads; write elsewhere, e.g. in your home folder"]

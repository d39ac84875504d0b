"""Stroke files and motion profiles as a new user gets them wrong: built small in tmp_path (no clips, no hand
models), each bad file refused in one line that names the problem and a fix that works."""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asl_edge.apps.options import motion_profile_from_args
from asl_edge.errors import DataError
from asl_edge.runtime.hand.collected import CollectedWriter
from asl_edge.runtime.hand.strokes import (
    Stroke,
    read_stroke,
    read_strokes,
    stroke_notes,
    stroke_path,
    write_stroke,
)
from asl_edge.runtime.live.collect.loop import run_collect
from asl_edge.runtime.live.collect.session import CollectConfig, CollectSession
from asl_edge.runtime.live.frames import Frame, FrameSource
from asl_edge.runtime.live.handshapes import HANDSHAPES
from asl_edge.runtime.live.motion_profile import (
    DEFAULTS,
    FITTED,
    NO_PROFILE,
    PROFILE_FILE,
    find_profile,
    load_profile,
    profile_for,
)


def i_hand() -> np.ndarray:
    """An I handshape with a 50 px palm (only the little finger out), at the origin."""
    hand = np.zeros((21, 3), np.float32)
    hand[[5, 9, 13, 17], 1] = -50.0
    hand[20] = (0.0, -100.0, 0.0)
    hand[[8, 12, 16]] = (0.0, -40.0, 0.0)
    return hand


def drawn_j() -> list[tuple[np.ndarray, float]]:
    """(landmarks, time): an I held 0.3 s, moved down 4 palms, hooked sideways and up, then held: a J by the rule's
    own geometry, which collect's detector reads."""
    hand = i_hand()
    still = [(hand, 0.03 * k) for k in range(10)]
    down = [(hand + np.array([0.0, 10.0 * k, 0.0], np.float32), 0.3 + 0.03 * k) for k in range(21)]
    hook = [(hand + np.array([10.0 * k, 200.0 - 5.0 * k, 0.0], np.float32), 0.93 + 0.03 * k) for k in range(1, 11)]
    return still + down + hook + [(hook[-1][0], 1.23 + 0.03 * k) for k in range(1, 20)]


def a_stroke(n: int = 5, letter: str = "J") -> Stroke:
    times = np.arange(n) * 0.03
    landmarks = np.stack([i_hand() + np.array([0.0, 10.0 * k, 0.0], np.float32) for k in range(n)])
    return Stroke(letter, times, landmarks, np.ones(n, np.float32), np.ones(n, bool), 0.0, float(times[-1]))


def stroke_file(folder: Path, letter: str = "J", **override: Any) -> Path:
    """A stroke file written by collect's writer, with arrays replaced by `override` (rewritten as a plain npz)."""
    path = stroke_path(folder, letter, f"{letter}-1")
    write_stroke(path, a_stroke(letter=letter))
    if override:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        arrays.update({name: np.array(value) for name, value in override.items()})
        with path.open("wb") as handle:
            np.savez(handle, **arrays)
    return path


def profile(path: Path, **override: Any) -> Path:
    thresholds = {name: getattr(DEFAULTS, name) for name in (*FITTED, "window_s")}
    data = {"format": "asl-edge-motion-profile", "version": 1, "thresholds": thresholds, "strokes": []}
    data.update(override)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    return path


def message(excinfo: pytest.ExceptionInfo[DataError]) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- stroke files ---------------------------------------------------------------------------------------------
def test_a_written_stroke_reads_back(tmp_path: Path) -> None:
    stroke = read_stroke(stroke_file(tmp_path))
    assert stroke.letter == "J" and len(stroke) == 5


@pytest.mark.parametrize(("version", "expected"), [
    (0, "is stroke format version 0, not a stroke file this asl-edge wrote"),
    (-3, "is stroke format version -3, not a stroke file this asl-edge wrote"),
    ("1", "has no valid version"),
    (1.0, "has no valid version"),
    (7, "is stroke format version 7, newer than this asl-edge reads (1); upgrade asl-edge, or delete it"),
])
def test_a_stroke_version_must_be_an_integer_this_asl_edge_wrote(tmp_path: Path, version: object,
                                                                 expected: str) -> None:
    path = stroke_file(tmp_path / "mysigns", version=version)
    with pytest.raises(DataError) as excinfo:
        read_stroke(path)
    text = message(excinfo)
    assert text.startswith(f"{path} {expected}") and "newer" not in text.replace(expected, "")


def test_a_broken_stroke_names_its_letter_and_a_collect_command_that_runs(tmp_path: Path) -> None:
    folder = tmp_path / "mysigns"
    path = stroke_file(folder, "Z")
    path.write_bytes(np.random.default_rng(0).bytes(300))  # random bytes: numpy would fall back to unpickling
    with pytest.raises(DataError) as excinfo:
        read_stroke(path)
    text = message(excinfo)
    assert "not a readable stroke file (not an .npz written by asl-edge collect)" in text
    assert "pickle" not in text
    command = shlex.split(text.split("record Z again: ")[1].split(" (or")[0])
    assert command == ["asl-edge", "collect", "--source", "0", "--out", str(folder), "--letters", "Z"]
    path.write_bytes(path.read_bytes()[:0] + b"PK\x03\x04" + b"\0" * 40)  # a truncated zip
    with pytest.raises(DataError, match="not a readable stroke file"):
        read_stroke(path)


def test_a_one_frame_stroke_says_it_has_one_frame(tmp_path: Path) -> None:
    path = stroke_path(tmp_path, "J", "J-1")
    write_stroke(path, a_stroke(n=1))
    with pytest.raises(DataError) as excinfo:
        read_stroke(path)
    text = message(excinfo)
    assert "it holds 1 frame, and a stroke is a trajectory of at least 2" in text and "no frame with a hand" not in text
    write_stroke(path, Stroke("J", np.array([0.0, 0.1]), np.zeros((2, 21, 3), np.float32), np.zeros(2, np.float32),
                              np.zeros(2, bool), 0.0, 0.1))
    with pytest.raises(DataError, match="holds no frame with a hand"):
        read_stroke(path)


def test_a_folder_of_another_letter_under_strokes_is_named_as_ignored(tmp_path: Path) -> None:
    stroke_file(tmp_path, "J")
    (tmp_path / "strokes" / "Q").mkdir()
    (tmp_path / "strokes" / "Q" / "Q-1.stroke.npz").write_bytes(b"")
    assert [path.parent.name for path, _ in read_strokes(tmp_path)] == ["J"]
    notes = stroke_notes(tmp_path)
    assert len(notes) == 1 and notes[0].startswith(f"{tmp_path / 'strokes' / 'Q'} is ignored: only J and Z")
    assert stroke_notes(tmp_path / "elsewhere") == []


def test_collect_refuses_a_folder_holding_a_corrupt_stroke_before_recording(tmp_path: Path) -> None:
    folder = tmp_path / "mysigns"
    CollectedWriter(folder).close()  # an empty session leaves nothing: write one stroke through a real session
    writer = CollectedWriter(folder)
    writer.add_stroke("J", a_stroke(), (640, 480))
    writer.close()
    [path] = list((folder / "strokes" / "J").iterdir())
    manifest = (folder / "collect.json").read_bytes()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError) as excinfo:
        CollectedWriter(folder)
    assert str(path) in message(excinfo) and "record J again" in message(excinfo)
    assert (folder / "collect.json").read_bytes() == manifest  # no session entry was added


# -- motion profiles ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("version", "expected"), [
    (None, "has no valid version"),
    ("1", "has no valid version"),
    (True, "has no valid version"),
    (0, "is motion profile version 0, not a profile this asl-edge wrote"),
    (2, "is motion profile version 2, newer than this asl-edge reads (1); upgrade asl-edge"),
])
def test_a_profile_version_must_be_an_integer_this_asl_edge_wrote(tmp_path: Path, version: object,
                                                                  expected: str) -> None:
    path = profile(tmp_path / "p.json", version=version)
    with pytest.raises(DataError) as excinfo:
        load_profile(path)
    text = message(excinfo)
    assert text.startswith(f"{path} {expected}")
    assert "None" not in text and "newer" not in text.replace(expected, "")


def test_a_profile_missing_a_threshold_is_refused(tmp_path: Path) -> None:
    thresholds = {name: getattr(DEFAULTS, name) for name in (*FITTED, "window_s") if name != "z_drop"}
    with pytest.raises(DataError) as excinfo:
        load_profile(profile(tmp_path / "p.json", thresholds=thresholds))
    assert "has no threshold z_drop" in message(excinfo)
    assert load_profile(profile(tmp_path / "ok.json")).config == DEFAULTS


def test_the_fix_depends_on_whether_the_profile_was_named_or_found(tmp_path: Path) -> None:
    model = tmp_path / "run" / "model.onnx"
    beside = profile(tmp_path / "run" / PROFILE_FILE, format="something else")
    with pytest.raises(DataError) as excinfo:
        profile_for(model)  # found beside the model
    found = message(excinfo)
    assert found.startswith(f"{beside} is not an asl-edge motion profile")
    assert "--motion-profile none" in found and "delete" not in found
    with pytest.raises(DataError) as excinfo:
        profile_for(model, str(beside))  # named
    named = message(excinfo)
    assert "asl-edge train --init-from asl_edge/assets/asl_landmarks.onnx --data mysigns/ --out runs/mine" in named
    assert "--motion-profile none" in named and "delete" not in named and "found beside" not in named
    assert profile_for(model, NO_PROFILE) is None


def test_a_stroke_file_given_as_a_profile_is_named_as_a_stroke_and_not_to_be_deleted(tmp_path: Path) -> None:
    path = stroke_file(tmp_path / "mysigns")
    with pytest.raises(DataError) as excinfo:
        profile_for(tmp_path / "model.onnx", str(path))
    text = message(excinfo)
    assert text.startswith(f"{path} is a stroke file") and "delete" not in text
    renamed = path.rename(tmp_path / "j.bin")  # the same bytes under another name: binary, not JSON
    with pytest.raises(DataError) as excinfo:
        profile_for(tmp_path / "model.onnx", str(renamed))
    assert "cannot read motion profile" in message(excinfo) and "delete" not in message(excinfo)


def test_a_folder_as_the_profile_is_called_a_folder(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    with pytest.raises(DataError) as excinfo:
        find_profile(tmp_path / "model.onnx", str(run))
    assert f"--motion-profile {run} is a folder" in message(excinfo) and "no such file" not in message(excinfo)
    profile(run / PROFILE_FILE)
    with pytest.raises(DataError) as excinfo:
        find_profile(tmp_path / "model.onnx", str(run))
    assert f"pass --motion-profile {run / PROFILE_FILE}" in message(excinfo)
    assert find_profile(tmp_path / "model.onnx", str(run / PROFILE_FILE)) == run / PROFILE_FILE


def test_motion_profile_none_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile(tmp_path / PROFILE_FILE)
    assert motion_profile_from_args(argparse.Namespace(motion_profile=NO_PROFILE), tmp_path / "model.onnx") is None
    assert capsys.readouterr().out == "motion profile: none (default thresholds)\n"
    found = motion_profile_from_args(argparse.Namespace(motion_profile=None), tmp_path / "model.onnx")
    assert found is not None and found.path == tmp_path / PROFILE_FILE
    assert capsys.readouterr().out.startswith(f"motion profile: {tmp_path / PROFILE_FILE} (")


# -- collect at a J or Z prompt -------------------------------------------------------------------------------
@dataclass
class FakeHand:
    landmarks: np.ndarray
    handedness: float = 1.0


class Trajectory(FrameSource):
    """Blank frames at the trajectory's times; `FakeTracker` returns the trajectory's hand for each."""

    kind = "trajectory"

    def __init__(self, points: list[tuple[np.ndarray, float]]) -> None:
        super().__init__("drawn.mp4")
        self.points, self._next, self._open = points, 0, False

    def open(self) -> None:
        self._open = True

    def read(self) -> Frame | None:
        if self._next >= len(self.points):
            return None
        self._next += 1
        return Frame(np.zeros((480, 640, 3), np.uint8), self.points[self._next - 1][1], self._next - 1)

    @property
    def is_open(self) -> bool:
        return self._open


class FakeTracker:
    def __init__(self, points: list[tuple[np.ndarray, float]]) -> None:
        self.hands: Iterator[FakeHand] = iter(FakeHand(p.astype(np.float32)) for p, _ in points)

    def process(self, image: np.ndarray) -> FakeHand:
        return next(self.hands)


def collect_drawn(letter: str, out: Path) -> tuple[list[str], list[str]]:
    points = drawn_j()
    lines: list[str] = []
    session = CollectSession(CollectConfig((letter,), samples=1, countdown_s=0.0))
    result = run_collect(Trajectory(points), FakeTracker(points), CollectedWriter(out), session,  # type: ignore[arg-type]
                         log=lines.append)
    return lines, result.notes


def test_a_j_drawn_at_the_j_prompt_is_stored(tmp_path: Path) -> None:
    _, notes = collect_drawn("J", tmp_path / "mysigns")
    assert [path.parent.name for path, _ in read_strokes(tmp_path / "mysigns")] == ["J"] and notes == []


def test_a_j_drawn_at_the_z_prompt_is_named_in_the_end_notes(tmp_path: Path) -> None:
    _, notes = collect_drawn("Z", tmp_path / "mysigns")
    assert len([note for note in notes if "a J stroke was seen" in note]) == 1
    text = "\n".join(notes)
    assert (f"no Z stroke was seen while Z was asked for ({HANDSHAPES['Z']}); a J stroke was seen instead, and is not "
            "taken as Z;") in text
    assert "steady" not in text and "image folder" not in text
    assert not (tmp_path / "mysigns").exists()  # nothing recorded: nothing left behind


# -- train --init-from on a folder of strokes only ------------------------------------------------------------
def test_a_strokes_only_folder_is_told_a_collect_command_that_runs(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="train needs PyTorch (the oldest lane has none)")
    from asl_edge.apps.cli import main
    from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL

    folder = tmp_path / "mysigns"
    writer = CollectedWriter(folder)
    writer.add_stroke("J", a_stroke(), (640, 480))
    writer.close()
    (folder / "strokes" / "Q").mkdir()
    out = tmp_path / "run"
    assert main(["train", "--init-from", str(BUNDLED_LANDMARK_MODEL), "--data", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"note: {stroke_notes(folder)[0]}"
    assert len(err) == 2 and err[1].startswith("asl-edge train: error: ") and "Traceback" not in err[1]
    command = shlex.split(err[1].split("(`")[1].split("`)")[0])
    assert not out.exists()
    assert command == ["asl-edge", "collect", "--source", "0", "--out", str(folder), "--letters", "A,B,C"]


def test_an_engine_from_the_engine_cache_finds_the_profile_of_the_onnx_it_was_built_from(tmp_path: Path) -> None:
    from tests.tensorrt.onnx_models import tiny_classifier
    from tests.tensorrt.test_engine_manifest import write_engine

    run, cache = tmp_path / "runs" / "mine", tmp_path / "cache" / "engines"
    run.mkdir(parents=True)
    cache.mkdir(parents=True)
    engine = write_engine(cache, onnx=tiny_classifier(run / "model.onnx"))  # its manifest names runs/mine/model.onnx
    assert find_profile(engine) is None  # no profile anywhere yet
    profile(run / PROFILE_FILE)
    assert find_profile(engine) == run / PROFILE_FILE
    (cache / "model.engine.json").unlink()  # no manifest: nothing to follow (loading the engine says why)
    assert find_profile(engine) is None

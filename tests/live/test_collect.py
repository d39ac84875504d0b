"""`asl-edge collect` on a real video: a signer not in the training data (massey-dev photos, each held still for
0.6 s) recorded into the collect dataset; resuming, --no-frames, a killed session, bad input.

massey-dev is evaluation-only; this test is the one exception issue 14 allows: its photos stand in for a person at
a camera. Nothing here trains, tunes or picks a threshold on them.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.apps.cli import main
from asl_edge.errors import DataError
from asl_edge.runtime.hand.collected import CollectedWriter, read_collected, sample_paths
from asl_edge.runtime.hand.tracker import HandTracker
from asl_edge.runtime.live.collect import parse_letters
from asl_edge.runtime.live.collect.loop import run_collect
from asl_edge.runtime.live.collect.session import CollectConfig, CollectSession, SteadyGate, palm_size
from asl_edge.runtime.live.sources import parse_source
from tests.conftest import REPO
from tests.live.helpers import RecordingSink, canvas_of, massey_photos, photo_shown, write_signing_video

LETTERS = ("A", "B", "L")
PHOTOS_PER_LETTER = 3
# 1 s countdown inside the 1.2 s gap before each letter; one sample per 0.6 s photo (0.3 s steady window, 0.4 s
# interval), so each photo gives exactly one sample.
FAST = ["--countdown", "1", "--interval", "0.4", "--no-window"]


@pytest.fixture(scope="module")
def photos() -> dict[str, list[np.ndarray]]:
    """The first 5 photos of one massey-dev signer for each of A, B, L."""
    return massey_photos({letter: 5 for letter in LETTERS})


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory,
            photos: dict[str, list[np.ndarray]]) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """(video, frames shown per letter): 3 photos of the signer for each of A, B, L."""
    path = tmp_path_factory.mktemp("signer") / "signer.avi"
    return path, write_signing_video(path, {letter: some[:PHOTOS_PER_LETTER] for letter, some in photos.items()})


def collect(video: Path, out: Path, *extra: str, samples: int = PHOTOS_PER_LETTER) -> int:
    return main(["collect", "--source", str(video), "--out", str(out), "--letters", ",".join(LETTERS),
                 "--samples", str(samples), *FAST, *extra])


def test_collect_records_each_letter_into_the_dataset(signing: tuple[Path, dict[str, list[np.ndarray]]],
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video, shown = signing
    out = tmp_path / "mysigns"
    assert collect(video, out) == 0
    printed = capsys.readouterr().out
    assert "A: 1/3" in printed and "L: 3/3" in printed and "stopped by all letters" in printed

    samples = read_collected(out)
    n = len(LETTERS) * PHOTOS_PER_LETTER
    assert samples.landmarks.shape == (n, 21, 3) and samples.landmarks.dtype == np.float32
    assert samples.handedness.shape == (n,) and samples.handedness.dtype == np.float32
    assert samples.frame_size.dtype == np.int32 and (samples.frame_size == [640, 480]).all()
    assert samples.counts() == {letter: PHOTOS_PER_LETTER for letter in LETTERS}
    assert len(set(samples.ids)) == n
    photos = []
    for label, sample_id, landmarks in zip(samples.labels, samples.ids, samples.landmarks, strict=True):
        assert str(sample_id).startswith(f"{label}-")
        frame_path, crop_path = sample_paths(out, str(label), str(sample_id))
        frame, crop = cv2.imread(str(frame_path)), cv2.imread(str(crop_path))
        assert frame is not None and frame.shape == (480, 640, 3)
        assert crop is not None and crop.shape[0] == crop.shape[1] >= 100
        # Stored under the letter that was on screen: the session never ran ahead of the signer.
        photos.append(photo_shown(frame, shown))
        assert photos[-1][0] == label
        # The landmarks are where the hand is in the full frame (the photo sits in the middle 260 px).
        assert (landmarks[:, 0] > 150).all() and (landmarks[:, 0] < 490).all()
    # In the order shown, never ahead of the signer. Not always one sample per photo: two photos of one signer's
    # A can differ by less than the steady threshold (0.06 palm sizes), and then the gate reads the switch as a
    # still hand and may sample a photo twice, --interval apart. On OpenCV 4.5.5's decode of this video, A's
    # photos 0 and 1 do (issue 18's oldest lane: samples of photos 0, 1, 1); on 5.1's they read as a new pose.
    assert photos == sorted(photos, key=lambda shown_photo: (LETTERS.index(shown_photo[0]), shown_photo[1]))
    assert photos[0] == ("A", 0)
    # The crop folder is an image-folder dataset the rest of the toolkit reads: one folder per letter.
    assert sorted(p.name for p in (out / "crops").iterdir()) == list(LETTERS)

    manifest = json.loads((out / "collect.json").read_text())
    assert manifest["format"] == "asl-edge-collect" and manifest["version"] == 1
    assert manifest["letters"] == samples.counts() and manifest["samples"] == n
    assert manifest["frames_stored"] is True and manifest["source"].endswith("signer.avi")
    assert len(manifest["hand_models"]["palm_detector"]["sha256"]) == 64
    assert manifest["created"] <= manifest["updated"] and manifest["asl_edge_version"]
    assert len(manifest["sessions"]) == 1 and manifest["sessions"][0]["samples"] == n


def test_collect_again_adds_to_the_dataset(signing: tuple[Path, dict[str, list[np.ndarray]]],
                                           tmp_path: Path) -> None:
    video, _ = signing
    out = tmp_path / "mysigns"
    assert collect(video, out, samples=2) == 0
    first = read_collected(out)
    assert collect(video, out, samples=2) == 0
    both = read_collected(out)
    assert len(first) == 6 and len(both) == 12
    assert list(both.ids[:6]) == list(first.ids) and np.array_equal(both.landmarks[:6], first.landmarks)
    assert len(set(both.ids)) == 12
    manifest = json.loads((out / "collect.json").read_text())
    assert [s["samples"] for s in manifest["sessions"]] == [6, 6] and manifest["letters"] == both.counts()
    assert sum(1 for _ in (out / "crops").glob("*/*.jpg")) == 12


def test_a_source_that_ends_early_names_the_letters_still_short(photos: dict[str, list[np.ndarray]],
                                                                 tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A clip with only A's photos: B and L get nothing, and the note says which letters to record again."""
    video = tmp_path / "only-a.avi"
    write_signing_video(video, {"A": photos["A"][:3]})
    assert collect(video, tmp_path / "short") == 0
    assert read_collected(tmp_path / "short").counts() == {"A": 3}
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "B (0/3), L (0/3)" in notes[0] and "--letters B,L" in notes[0], notes


def test_a_clip_shorter_than_the_countdown_says_so(photos: dict[str, list[np.ndarray]], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A 3 s clip of a hand held steady and a 10 s countdown: the note blames the countdown, not the hand."""
    video = tmp_path / "short.avi"
    write_signing_video(video, {"A": photos["A"][:3]})
    assert main(["collect", "--source", str(video), "--out", str(tmp_path / "out"), "--letters", "A",
                 "--samples", "2", "--countdown", "10", "--no-window"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert any("ended during the countdown of the first letter (A, --countdown 10 s)" in note
               and "--countdown 0 for a recorded video" in note for note in notes), notes
    assert not any("never held steady" in note or "image folder" in note for note in notes), notes


def test_photos_one_frame_each_say_why_nothing_was_recorded(photos: dict[str, list[np.ndarray]], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An image folder of distinct photos: each is one frame, so no pose lasts the steady window."""
    folder = tmp_path / "shots"
    folder.mkdir()
    for i, photo in enumerate(photos["A"][:3]):
        cv2.imwrite(str(folder / f"{i}.jpg"), canvas_of(photo))
    assert main(["collect", "--source", str(folder), "--out", str(tmp_path / "out"), "--letters", "A",
                 "--countdown", "0", "--no-window"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert any("never held steady" in note and "--fps" in note for note in notes), notes


def test_no_frames_stores_crops_and_landmarks_only(signing: tuple[Path, dict[str, list[np.ndarray]]],
                                                   tmp_path: Path) -> None:
    video, _ = signing
    out = tmp_path / "private"
    assert collect(video, out, "--no-frames", samples=1) == 0
    assert len(read_collected(out)) == 3
    assert not list(out.glob("frames/**/*.jpg"))
    assert len(list(out.glob("crops/*/*.jpg"))) == 3
    assert json.loads((out / "collect.json").read_text())["frames_stored"] is False


def test_a_killed_session_keeps_every_sample_written(signing: tuple[Path, dict[str, list[np.ndarray]]],
                                                     tmp_path: Path) -> None:
    video, _ = signing
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "asl_edge", "collect", "--source", str(video), "--out", str(out),
               "--letters", ",".join(LETTERS), "--samples", "3", *FAST]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("B: 1/3"):
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    samples = read_collected(out)
    assert len(samples) >= 4 and samples.counts()["A"] == 3
    for label, sample_id in zip(samples.labels, samples.ids, strict=True):
        assert all(path.is_file() for path in sample_paths(out, str(label), str(sample_id)))
    # Resuming after the kill adds to what survived.
    assert collect(video, out, samples=1) == 0
    assert len(read_collected(out)) == len(samples) + 3


def test_redo_removes_the_sample_and_its_files(signing: tuple[Path, dict[str, list[np.ndarray]]],
                                               tmp_path: Path) -> None:
    _, shown = signing
    tracker = HandTracker()
    frame = shown["A"][0]
    hand = tracker.process(frame)
    assert hand is not None
    writer = CollectedWriter(tmp_path / "redo")
    kept, dropped = writer.add("A", frame, hand), writer.add("A", frame, hand)
    writer.remove(dropped)
    writer.close()
    assert list(read_collected(tmp_path / "redo").ids) == [kept]
    assert not any(path.exists() for path in sample_paths(tmp_path / "redo", "A", dropped))
    assert all(path.is_file() for path in sample_paths(tmp_path / "redo", "A", kept))


def test_session_waits_for_a_steady_hand_and_obeys_its_keys(signing: tuple[Path, dict[str, list[np.ndarray]]]
                                                            ) -> None:
    _, shown = signing
    hand = HandTracker().process(shown["A"][0])
    assert hand is not None
    still = hand.landmarks
    session = CollectSession(CollectConfig(("A", "B"), samples=2, countdown_s=1.0, interval_s=0.5))
    assert not any(session.update(0.1 * i, still) for i in range(10))  # the 1 s countdown, at 10 frames a second
    assert session.phase == "countdown" and session.countdown_display(0.9) == 1
    # A hand moving by a tenth of its palm each frame is never steady.
    step = 0.1 * palm_size(still)
    moving = [session.update(0.9 + 0.1 * i, still + np.array([step * i, 0, 0], np.float32)) for i in range(1, 11)]
    assert session.phase == "recording" and not any(moving) and not session.steady
    assert not session.update(2.0, None) and not session.hand_seen  # no hand: nothing
    # Held still: steady after the 0.3 s window, then one sample per 0.5 s.
    taken = []
    for t in np.arange(2.1, 3.2, 0.1):
        if session.update(float(t), still):
            session.recorded(float(t), f"A-{t:.1f}")
            taken.append(float(t))
    assert [round(t, 1) for t in taken] == [2.4, 2.9] and session.letter == "B" and session.phase == "countdown"
    assert session.redo() == "A-2.9" and session.letter == "A" and session.counts["A"] == 1
    session.skip()
    assert session.letter == "B"
    session.finish()
    assert session.done and session.finished_by == "finish" and session.letter is None


def test_steady_gate_measures_in_palm_sizes() -> None:
    gate = SteadyGate(window_s=0.3)
    hand = np.zeros((21, 3), np.float32)
    hand[9, :2] = (0, 100)  # palm size 100 px
    assert gate.update(0.0, hand) is None  # not a whole window yet
    assert gate.update(0.3, hand + np.array([2, 0, 0], np.float32)) == pytest.approx(0.02)
    small = hand / 10  # the same movement in pixels by a hand ten times smaller is ten times more
    gate.reset()
    gate.update(0.0, small)
    assert gate.update(0.3, small + np.array([2, 0, 0], np.float32)) == pytest.approx(0.2)
    assert gate.update(0.1, small) is None  # time went backwards: start over


def test_letters_are_parsed_and_checked() -> None:
    assert parse_letters("A,m, N,t") == ("A", "M", "N", "T")
    assert parse_letters("amnt") == ("A", "M", "N", "T")
    with pytest.raises(DataError, match="--letters"):
        parse_letters("A,7")
    for word in ("del", "A,space", "NOTHING"):  # class names, not the shorthand for their letters
        with pytest.raises(DataError, match="not one of them"):
            parse_letters(word)
    with pytest.raises(DataError, match="twice"):
        CollectConfig(("A", "A"))


@pytest.mark.parametrize("case", ["unknown letter", "missing source", "unwritable out", "no hand", "not a dataset",
                                  "truncated landmarks", "landmarks gone", "sessions not a list", "folder in use",
                                  "port in use"])
def test_bad_input_is_one_error_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     signing: tuple[Path, dict[str, list[np.ndarray]]]) -> None:
    video, shown = signing
    out = tmp_path / "out"
    args = ["collect", "--source", str(video), "--out", str(out), "--letters", "A", *FAST]
    holder: CollectedWriter | None = None
    if case in ("truncated landmarks", "landmarks gone", "sessions not a list", "folder in use", "port in use"):
        existing = CollectedWriter(out)  # an existing dataset with one sample (a session with none leaves nothing)
        hand = HandTracker().process(shown["A"][0])
        assert hand is not None
        existing.add("A", shown["A"][0], hand)
        existing.close()
    if case == "truncated landmarks":
        (out / "landmarks.npz").write_bytes(b"PK\x03\x04 cut short")
    elif case == "landmarks gone":  # the manifest remembers samples whose rows are gone: never start afresh
        manifest = json.loads((out / "collect.json").read_text())
        (out / "collect.json").write_text(json.dumps({**manifest, "samples": 3}))
        (out / "landmarks.npz").unlink()
    elif case == "sessions not a list":  # hand-edited: resuming must not append to it
        manifest = json.loads((out / "collect.json").read_text())
        (out / "collect.json").write_text(json.dumps({**manifest, "sessions": "x"}))
    elif case == "folder in use":
        holder = CollectedWriter(out)  # a session still writing (its flock held)
    elif case == "port in use":
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        args += ["--web", "--port", str(server.getsockname()[1])]
    if case == "unknown letter":
        args[args.index("A")] = "A,Ä"
    elif case == "missing source":
        args[2] = str(tmp_path / "nowhere.mp4")
    elif case == "unwritable out":
        blocker = tmp_path / "file"
        blocker.write_text("a file, not a folder")
        args[4] = str(blocker / "sub")
    elif case == "no hand":
        blank = tmp_path / "blank.avi"
        writer = cv2.VideoWriter(str(blank), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
        for _ in range(10):
            writer.write(np.full((240, 320, 3), 90, np.uint8))
        writer.release()
        args[2] = str(blank)
    elif case == "not a dataset":
        out.mkdir()
        (out / "notes.txt").write_text("somebody else's folder")
    before = {path.name: path.read_bytes() for path in out.glob("*") if path.is_file()}
    try:
        assert main(args) == 2
    finally:
        if holder is not None:
            holder.close()
        if case == "port in use":
            server.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asl-edge collect: error: "), err
    expected = {"unknown letter": "--letters", "missing source": "nowhere.mp4", "unwritable out": "cannot write to",
                "no hand": "no hand seen", "not a dataset": "not a collect dataset",
                "truncated landmarks": "not a readable collect landmarks file", "landmarks gone": "records 3 samples",
                "sessions not a list": "collect.json: `sessions` is 'x'",
                "folder in use": "another `asl-edge collect` is writing", "port in use": "--port"}[case]
    assert expected in err[0]
    if case not in ("no hand", "folder in use"):  # a refused session leaves the folder as it was, byte for byte
        assert {path.name: path.read_bytes() for path in out.glob("*") if path.is_file()} == before
    if case == "no hand":  # a failed session leaves no collect.json (nor the folder it made)
        assert not out.exists()


def test_j_and_z_are_asked_for_by_default_as_strokes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """J and Z are recorded as strokes (tests/live/test_motion_profile.py), so the default list has all 26 letters and
    no note says otherwise."""
    blank = tmp_path / "blank.avi"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(3):
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    assert main(["collect", "--source", str(blank), "--out", str(tmp_path / "a"), "--no-window"]) == 2
    out, err = capsys.readouterr()
    asked = next(line for line in out.splitlines() if line.startswith("collecting 10 samples of "))
    letters = asked.removeprefix("collecting 10 samples of ").split(" into ")[0].split(", ")
    assert len(letters) == 26 and {"I", "J", "D", "Y", "Z"} <= set(letters)
    assert not [line for line in err.splitlines() if line.startswith("note:")]


def test_keys_redo_skip_and_finish_in_the_drawn_view(photos: dict[str, list[np.ndarray]],
                                                     tmp_path: Path) -> None:
    """The window's path without a window: a sink that sees the drawn frames and presses keys on given frames."""
    video = tmp_path / "keys.avi"
    shown = write_signing_video(video, {"A": photos["A"], "B": photos["B"][:3]})
    # 10 frames a second. A: gap 0-11, photos at 12, 18, 24, 30, 36; B: gap 42-53, photos from 54.
    # A's first sample comes at frame 15; r on frame 16 undoes it and restarts A's countdown (to frame 27), so A's
    # two samples are photos 3 and 4 (frames 27, 33). s on frame 50 skips B before its photos; q on frame 56
    # finishes during L's countdown. RecordingSink numbers frames from 1.
    sink = RecordingSink(keys={17: ord("r"), 51: ord("s"), 57: ord("q")})
    lines: list[str] = []
    session = CollectSession(CollectConfig(LETTERS, samples=2, countdown_s=1.0, interval_s=0.4))
    writer = CollectedWriter(tmp_path / "keys")
    result = run_collect(parse_source(str(video)), HandTracker(), writer, session, [sink], lines.append)
    assert result.finished_by == "finish" and len(sink.frames) == 57 + 1  # + the final view
    samples = read_collected(tmp_path / "keys")
    redone = [line.removeprefix("redo: removed ") for line in lines if line.startswith("redo: removed")]
    assert len(redone) == 1 and redone[0].startswith("A-") and redone[0] not in set(samples.ids)
    assert not any(path.exists() for path in sample_paths(tmp_path / "keys", "A", redone[0]))
    assert "B: skipped" in lines and samples.counts() == {"A": 2}
    # The letters left short, skipped B included, and how to add them.
    assert f"finished before B (0/2), {', '.join(f'{k} (0/2)' for k in LETTERS[2:])} had their samples; run collect " \
           f"again with --letters {','.join(LETTERS[1:])} to add them" in result.notes
    stored = [cv2.imread(str(sample_paths(tmp_path / "keys", "A", str(i))[0])) for i in samples.ids]
    assert [photo_shown(frame, shown) for frame in stored if frame is not None] == [("A", 2), ("A", 3)]
    # What the user saw: the prompt band and progress drawn over the frame, and the page's state per frame.
    assert sink.frames[20].shape == (480, 640, 3) and not np.array_equal(sink.frames[20], shown["A"][1])
    first, last, final = sink.states[0], sink.states[-2], sink.states[-1]
    assert first["letter"] == "A" and first["phase"] == "countdown" and first["countdown"] == 1
    assert "fist" in str(first["description"])
    assert last["letter"] == "L" and last["progress"] == [["A", 2, 2], ["B", 0, 2], ["L", 0, 2]]
    assert last["samples"] == 2
    assert final["phase"] == "done" and final["letter"] is None
    assert final["status"] == "finished (finish): 2 samples saved"


def test_resume_reports_images_a_kill_left_without_a_row(signing: tuple[Path, dict[str, list[np.ndarray]]],
                                                         tmp_path: Path) -> None:
    _, shown = signing
    hand = HandTracker().process(shown["B"][0])
    assert hand is not None
    writer = CollectedWriter(tmp_path / "d")
    kept = writer.add("B", shown["B"][0], hand)
    writer.close()
    # What a kill between a sample's jpgs and its npz row leaves: a crop whose id is in no row.
    stray = sample_paths(tmp_path / "d", "B", "B-19990101T000000-0")[1]
    stray.write_bytes(sample_paths(tmp_path / "d", "B", kept)[1].read_bytes())
    resumed = CollectedWriter(tmp_path / "d")
    assert resumed.orphans() == [stray] and list(resumed.samples.ids) == [kept]
    assert len(resumed.manifest["sessions"]) == 2


def test_either_hand_is_collected_and_left_crops_are_mirrored(photos: dict[str, list[np.ndarray]],
                                                              tmp_path: Path) -> None:
    """The same photos mirrored are the other hand: both are recorded, handedness says which, and the crops of
    the mirrored hand are flipped back, so the crop dataset holds one orientation (as `run` feeds an image model)."""
    handedness, crops = [], []
    for name, mirror in (("as-is", False), ("mirrored", True)):
        video = tmp_path / f"{name}.avi"
        write_signing_video(video, {"L": [cv2.flip(p, 1) if mirror else p for p in photos["L"][:2]]})
        out = tmp_path / name
        assert main(["collect", "--source", str(video), "--out", str(out), "--letters", "L", "--samples", "2",
                     *FAST]) == 0
        samples = read_collected(out)
        assert samples.counts() == {"L": 2}
        handedness.append(samples.handedness)
        crops.append([cv2.imread(str(sample_paths(out, "L", str(i))[1])) for i in samples.ids])
    assert ((handedness[0] >= 0.5) != (handedness[1] >= 0.5)).all()
    for plain, mirrored in zip(*crops, strict=True):
        assert plain is not None and mirrored is not None
        back = cv2.resize(mirrored, plain.shape[1::-1])
        # Flipped back: close to the unmirrored crop, far from its mirror image.
        assert np.abs(plain.astype(int) - back).mean() < 0.5 * np.abs(plain.astype(int) - plain[:, ::-1]).mean()


def test_a_network_source_says_it_is_connecting_before_it_fails(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Like `run`, collect names a camera or stream it is opening (which can take seconds) before opening it."""
    with socket.socket() as probe:  # a port nothing listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}/stream.mjpg"
    assert main(["collect", "--source", uri, "--out", str(tmp_path / "out"), "--letters", "A", "--no-window"]) != 0
    out, err = capsys.readouterr()
    assert f"connecting to {parse_source(uri).describe()} ..." in out
    assert len([line for line in err.splitlines() if "error:" in line]) == 1
    assert not (tmp_path / "out").exists()

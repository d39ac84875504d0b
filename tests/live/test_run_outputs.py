"""`asl-edge run`'s output files (--save, --events, --transcript) as a user meets them: an output that names the
source or another output is refused before anything is written, and a full drive ends in one `error:` line
naming the file, with nothing half-written or empty left behind and an earlier file at that path untouched."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.runtime.live.display import unreadable_video
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SAMPLE_CLIP = REPO / "asl_edge" / "assets" / "sample_clip.mp4"  # signs HELLO: the bundled chain commits letters
IMAGE_MODEL = REPO / "asl_edge" / "assets" / "asl_default.onnx"  # with --hand off: fast, and runs on any frame
DRIVE_SIZE = 24 * 1024  # the size of the new-user test's full drive


def asl_edge(*args: str, cwd: Path, prefix: tuple[str, ...] = (),
             preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*prefix, sys.executable, "-m", "asl_edge", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=180, check=False, preexec_fn=preexec_fn)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return [line for line in result.stderr.splitlines() if "error:" in line]


def write_clip(path: Path, frames: int = 30, size: tuple[int, int] = (320, 240)) -> Path:
    """A short synthetic clip encoded by OpenCV (mp4v): noise, so every annotated frame costs kilobytes."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, size)
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- outputs that name the source or each other ------------------------------------------------------------
def _hard_link(folder: Path) -> str:
    os.link(folder / "self.mp4", folder / "hard.mp4")
    return "hard.mp4"


def _symlink(folder: Path) -> str:
    (folder / "link.mp4").symlink_to("self.mp4")
    return "link.mp4"


SAME_AS_SOURCE: list[tuple[str, Callable[[Path], str]]] = [
    ("--save", lambda folder: "self.mp4"),
    ("--save", lambda folder: "./self.mp4"),
    ("--save", lambda folder: "sub/../self.mp4"),
    ("--save", lambda folder: str(folder / "self.mp4")),
    ("--save", _symlink),
    ("--save", _hard_link),
    ("--events", lambda folder: "self.mp4"),
    ("--events", _symlink),
    ("--transcript", lambda folder: "./self.mp4"),
]


@pytest.mark.parametrize(("option", "name"), SAME_AS_SOURCE)
def test_an_output_that_is_the_source_is_refused(tmp_path: Path, option: str, name: Callable[[Path], str]) -> None:
    clip = write_clip(tmp_path / "self.mp4")
    (tmp_path / "sub").mkdir()
    path = name(tmp_path)
    before = digest(clip)
    listing = sorted(p.name for p in tmp_path.iterdir())
    result = asl_edge("run", "--source", "self.mp4", "--model", str(IMAGE_MODEL), "--hand", "off", "--no-window",
                      "--max-frames", "30", option, path, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    # The option, the path as written (a Path option drops a leading ./), and the fix.
    shown = path if option == "--events" else str(Path(path))
    assert errors[0].startswith(f"asl-edge run: error: {option} {shown} is the --source file (self.mp4)"), errors[0]
    assert "write elsewhere, e.g." in errors[0]
    assert digest(clip) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # nothing opened for writing, nothing created
    assert "model:" not in result.stdout  # refused before the model loads


def test_the_source_given_as_a_file_url_is_protected_too(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "self.mp4")
    before = digest(clip)
    result = asl_edge("run", "--source", f"file://{clip}", "--model", str(IMAGE_MODEL), "--hand", "off",
                      "--no-window", "--save", "self.mp4", cwd=tmp_path)
    assert result.returncode == 2 and len(error_lines(result)) == 1, result.stderr
    assert "--save self.mp4 is the --source file" in result.stderr
    assert digest(clip) == before


@pytest.mark.parametrize(("first", "second", "message"), [
    (("--save", "out.mp4"), ("--events", "./out.mp4"), "--save and --events both name out.mp4 (as ./out.mp4)"),
    (("--save", "out.mp4"), ("--transcript", "out.mp4"), "--save and --transcript both name out.mp4"),
    (("--events", "log.txt"), ("--transcript", "sub/../log.txt"),
     "--events and --transcript both name log.txt (as sub/../log.txt)"),
])
def test_two_outputs_naming_one_file_are_refused(tmp_path: Path, first: tuple[str, str], second: tuple[str, str],
                                                 message: str) -> None:
    write_clip(tmp_path / "clip.mp4")
    (tmp_path / "sub").mkdir()
    result = asl_edge("run", "--source", "clip.mp4", "--model", str(IMAGE_MODEL), "--hand", "off", "--no-window",
                      *first, *second, cwd=tmp_path)
    assert result.returncode == 2
    errors = error_lines(result)
    assert errors == [f"asl-edge run: error: {message}; give each its own file"], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "sub"]


# -- a full drive -----------------------------------------------------------------------------------------
@dataclass
class FullDrive:
    """A folder on a drive with DRIVE_SIZE bytes (or none, `fill`) free, and a way to run asl-edge there.

    "tmpfs": a real 24 KiB tmpfs, mounted in a private mount namespace (`unshare --user --mount`, as root or
    with user namespaces), so writes fail with ENOSPC exactly as on the new-user test's drive. Its files vanish
    with the namespace, so the command's shell lists them (name -> content) before it ends.
    "ulimit": where no tmpfs can be mounted, RLIMIT_FSIZE (`ulimit -f`) caps each file the run writes at the
    same size (0 with `fill`), so the real writers (OpenCV's encoder, the transcript, the events file) hit a
    failed write at the same place; the kernel reports EFBIG ("File too large") instead of ENOSPC, and the
    same checks apply (one error line naming the file, nothing half-written or empty left)."""

    kind: str
    folder: Path

    def run(self, *args: str, seed: dict[str, bytes] | None = None,
            fill: bool = False) -> tuple[subprocess.CompletedProcess[str], dict[str, bytes]]:
        """asl-edge ARGS with the drive's folder as the working folder, after writing `seed` there; returns the
        result and the folder's files afterwards."""
        seed = seed or {}
        if self.kind == "ulimit":
            for name, data in seed.items():
                (self.folder / name).write_bytes(data)
            limit = 0 if fill else DRIVE_SIZE

            def cap_file_size() -> None:  # Python ignores SIGXFSZ, so a write past the cap fails with EFBIG
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

            result = asl_edge(*args, cwd=self.folder, preexec_fn=cap_file_size)
            return result, {p.name: p.read_bytes() for p in self.folder.iterdir()}
        staging = self.folder.parent / "seed"
        staging.mkdir()
        for name, data in seed.items():
            (staging / name).write_bytes(data)
        fill_command = 'dd if=/dev/zero of=.fill bs=1k 2>/dev/null; ' if fill else ""
        lister = ("import json, pathlib; print('LISTING:' + json.dumps({p.name: p.read_bytes().hex() "
                  "for p in pathlib.Path('.').iterdir() if p.name != '.fill'}))")
        # `cd` again: the working folder is the one under the mount until it is entered anew
        script = (f'mount -t tmpfs -o size={DRIVE_SIZE} tmpfs "{self.folder}" 2>/dev/null || exit 97; '
                  f'cd "{self.folder}" && cp -a "{staging}/." . && {fill_command}"$@"; rc=$?; '
                  f'"{sys.executable}" -c "{lister}"; exit $rc')
        prefix = ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh")
        result = asl_edge(*args, cwd=self.folder, prefix=prefix)
        if result.returncode == 97:
            pytest.skip("no user namespaces to mount a tmpfs in (the ulimit variant still runs)")
        listing = json.loads(result.stdout.rsplit("LISTING:", 1)[1])
        return result, {name: bytes.fromhex(data) for name, data in listing.items()}


@pytest.fixture(params=["tmpfs", "ulimit"])
def full_drive(request: pytest.FixtureRequest, tmp_path: Path) -> FullDrive:
    if request.param == "tmpfs" and shutil.which("unshare") is None:
        pytest.skip("unshare is not installed (the ulimit variant still runs)")
    folder = tmp_path / "drive"
    folder.mkdir()
    return FullDrive(request.param, folder)


def expected_reason(drive: FullDrive) -> str:
    return "No space left on device [ENOSPC]" if drive.kind == "tmpfs" else "File too large [EFBIG]"


@pytest.mark.parametrize("name", ["x.mp4", "x.avi"])
def test_a_video_that_does_not_fit_is_not_left_half_written(full_drive: FullDrive, tmp_path: Path,
                                                           name: str) -> None:
    clip = write_clip(tmp_path / "clip.mp4")
    result, files = full_drive.run("run", "--source", str(clip), "--model", str(IMAGE_MODEL), "--hand", "off",
                                   "--no-window", "--max-frames", "30", "--save", name)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith(f"asl-edge run: error: the video {name} could not be "
                                                     "written: "), result.stderr
    assert "(disk full?)" in errors[0] and "--save somewhere else" in errors[0]
    assert "spelled:" not in result.stdout  # no result printed as if all went well
    assert files == {}  # neither the video nor its temporary file


def test_a_failed_video_leaves_the_earlier_file_at_its_path(full_drive: FullDrive, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4")
    earlier = b"an earlier recording"
    result, files = full_drive.run("run", "--source", str(clip), "--model", str(IMAGE_MODEL), "--hand", "off",
                                   "--no-window", "--max-frames", "30", "--save", "kept.avi",
                                   seed={"kept.avi": earlier})
    assert result.returncode == 2 and len(error_lines(result)) == 1, result.stderr
    assert "the video kept.avi could not be written" in result.stderr
    assert files == {"kept.avi": earlier}


@pytest.mark.parametrize(("outputs", "failing"), [
    (("--transcript", "t.txt"), "cannot write the transcript t.txt: "),  # at the first letter
    (("--events", "e.jsonl"), "cannot write the events file e.jsonl: "),  # at the run_start line
    (("--events", "e.jsonl", "--transcript", "t.txt"), "cannot write the events file e.jsonl: "),
    # The video's encoder starts at the first frame, before any letter: its header does not fit.
    (("--transcript", "t.txt", "--save", "x.mp4"), "cannot write video x.mp4: "),
])
def test_transcript_and_events_on_a_full_drive(full_drive: FullDrive, outputs: tuple[str, ...], failing: str) -> None:
    result, files = full_drive.run("run", "--source", str(SAMPLE_CLIP), "--no-window", "--no-suggest",
                                   "--max-frames", "45", *outputs, fill=True)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith(f"asl-edge run: error: {failing}"), result.stderr
    assert errors[0].startswith(f"asl-edge run: error: {failing}{expected_reason(full_drive)}; "), errors[0]
    assert files == {}  # nothing got in: no empty t.txt or e.jsonl, no video, no temporary file


def test_an_existing_transcript_keeps_its_text_on_a_full_drive(full_drive: FullDrive) -> None:
    earlier = b"EARLIER RUN\n"
    result, files = full_drive.run("run", "--source", str(SAMPLE_CLIP), "--no-window", "--no-suggest",
                                   "--max-frames", "45", "--transcript", "t.txt", seed={"t.txt": earlier},
                                   fill=True)
    if full_drive.kind == "tmpfs":  # the file's last page has room for a few letters: the run may succeed
        assert result.returncode in (0, 2), result.stderr
    else:
        assert result.returncode == 2 and "cannot write the transcript t.txt" in result.stderr, result.stderr
    assert files["t.txt"].startswith(earlier) and set(files) == {"t.txt"}


# -- the check itself, on real encodings cut short ------------------------------------------------------------
@pytest.mark.parametrize(("name", "codec"), [("cut.mp4", "mp4v"), ("cut.mov", "mp4v"), ("cut.avi", "MJPG"),
                                             ("cut.mkv", "MJPG")])
@pytest.mark.parametrize("kept", [0.5, 0.95])
def test_a_video_cut_short_does_not_read_back(tmp_path: Path, name: str, codec: str, kept: float) -> None:
    """What a full drive leaves: the file's start without its end. An MP4 or MOV (index last) does not open; an
    AVI or MKV opens and decodes its first frames, but not its last."""
    path = tmp_path / name
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), 10.0, (160, 120))
    rng = np.random.default_rng(1)
    for _ in range(20):
        writer.write(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    writer.release()
    assert unreadable_video(path, 20) is None
    with path.open("r+b") as file:
        file.truncate(int(path.stat().st_size * kept))
    if not cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) and path.suffix in (".avi", ".mkv"):
        pytest.skip("without FFmpeg only the first frame is checked")
    assert unreadable_video(path, 20) in ("the file does not open", "its last frame (of 20) does not read back")


# -- a source cut short ------------------------------------------------------------------------------------
def test_a_source_video_cut_short_spells_what_is_there_then_fails(tmp_path: Path) -> None:
    """An interrupted copy of a clip: run spells the part that reads (on screen and in --transcript), then says the
    file ended early in one `error:` line and exits 2, so a script does not take the part for the whole."""
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (160, 120))
    rng = np.random.default_rng(2)
    for _ in range(30):
        writer.write(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    writer.release()
    whole = asl_edge("run", "--source", str(clip), "--model", str(IMAGE_MODEL), "--hand", "off", "--no-window",
                     cwd=tmp_path)
    assert whole.returncode == 0 and error_lines(whole) == [] and "30 frames in" in whole.stdout
    with clip.open("r+b") as file:
        file.truncate(clip.stat().st_size * 2 // 3)
    cut = asl_edge("run", "--source", str(clip), "--model", str(IMAGE_MODEL), "--hand", "off", "--no-window",
                   "--transcript", "spelled.txt", cwd=tmp_path)
    assert cut.returncode == 2
    errors = error_lines(cut)
    assert len(errors) == 1 and f"video file {clip} ended after " in errors[0] and "of 30 frames" in errors[0]
    assert "spelled up to there only" in errors[0] and "ffmpeg -i IN" in errors[0]
    frames = int(cut.stdout.split(" frames in ")[0].rsplit("\n", 1)[-1])
    assert 0 < frames < 30 and "spelled: " in cut.stdout
    assert (tmp_path / "spelled.txt").is_file()  # the part's transcript is kept (empty: noise spells nothing)
    # --fps replaces the frames' times, not the container's: the cut is still seen.
    paced = asl_edge("run", "--source", str(clip), "--model", str(IMAGE_MODEL), "--hand", "off",
                     "--no-window", "--fps", "5", cwd=tmp_path)
    assert paced.returncode == 2 and "of 30 frames" in error_lines(paced)[0]


def test_a_source_video_that_opens_but_gives_no_frame_fails(tmp_path: Path) -> None:
    """An MP4 with its index first (faststart), cut inside its first frame: it opens, announces its frames and
    decodes none."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command line (make media)")
    clip = tmp_path / "fast.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t",
                    "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip)], check=True)
    clip.write_bytes(clip.read_bytes()[:3000])
    result = asl_edge("run", "--source", str(clip), "--model", str(IMAGE_MODEL), "--hand", "off", "--no-window",
                      cwd=tmp_path)
    assert result.returncode == 2 and "0 frames in" in result.stdout
    assert error_lines(result)[0].startswith(f"asl-edge run: error: video file {clip} ended after 0 of 30 frames")

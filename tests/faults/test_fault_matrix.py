"""The fault matrix: every expected failure kind, driven through the real CLI (`python -m asl_edge ...`).

Each row is a `Case`: the argv (with {placeholders} for the shared fixtures), an optional setup that
builds the bad input in the case's own folder, and the part of the message the user must see. Every row
checks the same contract (issue 13): a non-zero exit (or the stated code), exactly one `error:` line that
contains the expected text, no traceback, no OpenCV/FFmpeg log lines, no half-written file (`*.tmp`,
`*.partial*`) left, the files named in `absent` absent and every file the setup made (the "previous
results") byte-identical afterwards.

To add a kind (stale run folders, --spec, stalled streams, ...), append a Case to CASES; `wrap` runs a row
on a fresh tmpfs ("enospc": 64 KiB, so writes fail with ENOSPC; "readonly": mounted read-only) through
`unshare`, which needs user namespaces (the rows skip where they are missing). `no_torch` runs a row with
torch and torchvision unimportable, as on a Jetson runtime image.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.run_folder import LOCK_NAME
from tests.conftest import DATA_DIR, REPO

BUNDLED_MODEL = REPO / "asl_edge" / "assets" / "asl_default.onnx"
SAMPLE_CLIP = REPO / "asl_edge" / "assets" / "sample_clip.mp4"
MOUNT = "/tmp/asl-edge-fault-mount"  # the tmpfs mount point of `wrap` rows (private to their namespace)
# Makes torch unimportable in the child, the way it is missing on a Jetson runtime image.
NO_TORCH_SITECUSTOMIZE = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision"):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None
sys.meta_path.insert(0, _NoTorch())
"""
LOG_PREFIXES = ("[ WARN", "[ERROR", "[ INFO", "[OPENCV", "[h264", "[mov", "[mjpeg")


@dataclass(frozen=True)
class Case:
    """One expected failure: run `asl-edge ARGV` after `setup(case_dir)` and expect `message` in its
    one error line (exit code `code`, or any non-zero when None)."""

    name: str
    argv: tuple[str, ...]
    message: str
    setup: Callable[[Path], None] | None = None
    code: int | None = None
    absent: tuple[str, ...] = ()  # paths (relative to the case folder, or {mount}/...) that must not exist
    env: dict[str, str] = field(default_factory=dict)
    no_torch: bool = False
    wrap: str | None = None  # None, "enospc" or "readonly"


# -- setups: each builds its bad input (and any earlier results that must survive) in the case folder ------
def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return setup


def _truncated_model(folder: Path) -> None:
    (folder / "model.onnx").write_bytes(BUNDLED_MODEL.read_bytes()[:4000])


def _short_csv(folder: Path) -> None:
    (folder / "short.csv").write_text("label,pixel1,pixel2\n0,1,2\n")


def _previous_report(folder: Path) -> None:
    """An earlier `eval --out report` result, which a failed evaluation must leave as it was."""
    (folder / "report").mkdir()
    (folder / "report" / "metrics.json").write_text('{"top1": 0.9}\n')


def _corrupt_checkpoint(folder: Path) -> None:
    (folder / "ck.pt").write_bytes(b"PK\x03\x04 a zip header, then garbage")
    _previous_report(folder)


def _earlier_run(folder: Path) -> None:
    """A finished training in run/ (its files' names are what makes it one), which a failed train must not move."""
    (folder / "run").mkdir()
    (folder / "run" / "metrics.json").write_text('{"top1": 0.9}\n')
    (folder / "run" / "checkpoint.pt").write_bytes(b"earlier weights")


# Locks the setups below hold for the rest of the session, as a live asl-edge process would.
_HELD_LOCKS: list[int] = []


def _run_in_use(folder: Path) -> None:
    """run/ locked by another process (this test process plays it), which a second writer must not touch."""
    _earlier_run(folder)
    fd = os.open(folder / "run" / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": os.getpid(), "job": "train", "started": "2026-12-01T00:00:00+00:00"}).encode())
    _HELD_LOCKS.append(fd)


def _run_with_export(folder: Path) -> None:
    """A run folder copied to a Jetson: its checkpoint and its ONNX export."""
    (folder / "run").mkdir()
    (folder / "run" / "checkpoint.pt").write_bytes(b"weights a Jetson without torch cannot read")
    shutil.copy(BUNDLED_MODEL, folder / "run" / "model.onnx")


def _truncated_model_and_report(folder: Path) -> None:
    _truncated_model(folder)
    _previous_report(folder)


def _corrupt_images(folder: Path) -> None:
    for label in ("A", "B"):
        (folder / "data" / label).mkdir(parents=True)
        (folder / "data" / label / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


def _empty_folder(folder: Path) -> None:
    (folder / "empty").mkdir()


def _mismatched_weights(folder: Path) -> None:
    import torch

    torch.save({"features.0.0.weight": torch.zeros(2, 2, 3, 3)}, folder / "weights.pt")


def _garbage_video(folder: Path) -> None:
    (folder / "bad.mp4").write_bytes(bytes(range(256)) * 64)


def _byo_model(folder: Path) -> None:
    """A model from elsewhere (tests.byo_models: tf2onnx's NHWC layout, fixed batch 1, no asl-edge metadata)."""
    from tests.byo_models import tf2onnx_style_classifier

    weights = np.random.default_rng(0).random((24, 1, 28, 28, 1)).astype(np.float32)
    tf2onnx_style_classifier(folder / "model.onnx", weights)


def _byo_model_and_sidecar(folder: Path) -> None:
    _byo_model(folder)
    (folder / "model.spec.json").write_text('{"labels": ["edited", "by", "hand"]}\n')


def _byo_model_and_broken_sidecar(folder: Path) -> None:
    _byo_model(folder)
    (folder / "model.spec.json").write_text('{"labels": ["A", "B"],\n')


def _one_image_per_class(folder: Path) -> None:
    """A Sign Language MNIST CSV without a header, one row per letter: nothing left to validate on."""
    rows = np.random.default_rng(0).integers(0, 256, (3, 785))
    rows[:, 0] = np.arange(3)
    np.savetxt(folder / "letters.csv", rows, fmt="%d", delimiter=",")


def _byo_model_and_nchw_spec(folder: Path) -> None:
    import json

    from asl_edge.spec import SIGN_MNIST_LETTERS

    _byo_model(folder)
    (folder / "nchw.json").write_text(json.dumps({
        "labels": [c for c in SIGN_MNIST_LETTERS if c != "J"], "input_height": 28, "input_width": 28, "channels": 1,
        "color": "gray", "mean": [0.0], "std": [1.0], "scale": 1 / 255, "layout": "NCHW",
        "input_name": "conv2d_input", "output_name": "dense_1", "batch": 1}))


CASES: list[Case] = [
    # A missing optional package: one line naming it and how to install it.
    Case("torch-missing-train", ("train", "--data", "{data}", "--out", "run"), "needs torch (PyTorch)",
         no_torch=True, code=3, absent=("run/checkpoint.pt",)),
    Case("torch-missing-export", ("export", "{run}/checkpoint.pt", "--out", "out"), "needs torch",
         no_torch=True, code=3, absent=("out",)),
    # Cheap checks come first: these fail before torch would be imported (they pass with torch absent).
    Case("dataset-missing-before-torch", ("train", "--data", "nowhere", "--out", "run"),
         "dataset nowhere does not exist", no_torch=True, absent=("run",)),
    Case("export-missing-checkpoint-before-torch", ("export", "nowhere/checkpoint.pt", "--out", "out"),
         "checkpoint nowhere/checkpoint.pt does not exist", no_torch=True, absent=("out",)),
    Case("dataset-is-a-file", ("train", "--data", "/etc/passwd", "--out", "run"),
         "dataset /etc/passwd is a file, not a folder", no_torch=True, absent=("run",)),
    Case("augment-out-not-png-before-loading", ("augment", "--data", "{data}", "--out", "grid.jpg"),
         "must be a .png file", no_torch=True, absent=("grid.jpg",)),
    Case("augment-out-impossible-path", ("augment", "--data", "{data}", "--out", "afile/grid.png"),
         "afile: it is a file, not a folder", setup=_write("afile", b"x"), no_torch=True),
    Case("benchmark-bad-video-before-measuring",
         ("benchmark", "--model", "{model}", "--video", "bad.mp4", "--out", "bench"), "cannot open video file",
         setup=_garbage_video, absent=("bench",)),
    # Disk full and read-only folders: the path, the errno's meaning, nothing half-written.
    Case("disk-full-during-training",
         ("train", "--data", "{data}", "--out", "{mount}/run", "--arch", "aslcnn", "--image-size", "16",
          "--epochs", "1", "--workers", "0", "--batch-size", "8"),
         "No space left on device [ENOSPC]", wrap="enospc"),
    Case("disk-full-during-export", ("export", "{run}", "--out", "{mount}/out"),
         "No space left on device [ENOSPC]", wrap="enospc"),
    Case("save-video-read-only-folder",
         ("run", "--model", "{model}", "--source", "{clip}", "--save", "{mount}/out.mp4", "--no-window",
          "--hand", "off"), "Read-only file system [EROFS]", wrap="readonly"),
    # Pretrained weights: offline, and a state_dict of another shape.
    Case("weights-imagenet-offline",
         ("train", "--data", "{data}", "--out", "run", "--arch", "mobilenet_v3_small", "--weights", "imagenet",
          "--image-size", "32", "--epochs", "1", "--workers", "0"),
         "cannot download the ImageNet weights of mobilenet_v3_small",
         env={"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "TORCH_HOME": "torch-home"},
         absent=("run",)),
    Case("weights-mismatched-state-dict",
         ("train", "--data", "{data}", "--out", "run", "--arch", "mobilenet_v3_small", "--weights", "weights.pt",
          "--image-size", "32", "--epochs", "1", "--workers", "0"),
         "weights file weights.pt does not fit mobilenet_v3_small", setup=_mismatched_weights,
         absent=("run",)),  # not even a folder holding the failed start's train.log
    # Calibration data that no --calib-images value can fix.
    Case("int8-calibration-class-missing",
         ("export", "{run}/checkpoint.pt", "--data", "{one_class}", "--precision", "int8", "--out", "out"),
         "has no images in the training split", absent=("out/model.int8.onnx",)),
    # Corrupt and truncated models, bad data: the earlier report stays as it was.
    Case("corrupt-checkpoint", ("eval", "ck.pt", "--data", "{data}", "--out", "report"),
         "is not an asl-edge checkpoint", setup=_corrupt_checkpoint),
    Case("truncated-onnx", ("eval", "model.onnx", "--data", "{data}", "--hand", "off", "--out", "report"),
         "model.onnx", setup=_truncated_model_and_report),
    Case("eval-recorded-dataset-missing", ("eval", "{model}", "--hand", "off"),
         "does not exist; pass --data with a folder of class folders"),  # the model's recorded path, seen from here
    Case("eval-compare-with-itself", ("eval", "{model}", "--compare", "{model}", "--data", "{data}"),
         "is the model being evaluated; compare it with another model"),
    Case("csv-wrong-columns", ("eval", "{model}", "--data", "short.csv", "--hand", "off"),
         "expected 785 columns (label,pixel1..pixel784), got 3", setup=_short_csv),
    Case("dataset-without-validation-images", ("train", "--data", "letters.csv", "--out", "run", "--epochs", "1"),
         "has no validation images: no class has 2 or more images", setup=_one_image_per_class, absent=("run",)),
    Case("empty-dataset-folder", ("eval", "{model}", "--data", "empty", "--hand", "off"),
         "has no class sub-folders", setup=_empty_folder),
    Case("corrupt-images-only", ("eval", "{model}", "--data", "data", "--hand", "off"),
         "no readable images", setup=_corrupt_images),
    # Live sources and the web view.
    Case("missing-camera", ("run", "--model", "{model}", "--source", "/dev/video9", "--no-window"),
         "camera device /dev/video9 does not exist"),
    Case("unreachable-stream-no-opencv-log-lines",
         ("run", "--model", "{model}", "--source", "http://127.0.0.1:9/stream.mjpg", "--no-window", "--hand", "off"),
         "cannot open camera http://127.0.0.1:9/stream.mjpg"),
    Case("transcript-disk-full", ("run", "--model", "{model}", "--source", "{clip}", "--transcript", "/dev/full",
                                  "--no-window", "--hand", "off"),
         "cannot write the transcript /dev/full: No space left on device [ENOSPC]"),
    Case("port-in-use", ("run", "--model", "{model}", "--source", "{clip}", "--web", "--port", "{busy_port}",
                         "--no-window", "--hand", "off"), "Address already in use"),
    # Out-of-range options name the option.
    Case("threshold-out-of-range", ("run", "--model", "{model}", "--source", "{clip}", "--threshold", "1.5",
                                    "--no-window", "--hand", "off"), "(--threshold) 1.5 must be in (0, 1]"),
    Case("epochs-out-of-range", ("train", "--data", "{data}", "--epochs", "0", "--out", "run"),
         "epochs: 0 must be an integer >= 1", absent=("run/checkpoint.pt",)),
    # Bring your own model: a model without a spec says how to write one; a written spec is never replaced;
    # a spec that disagrees with the graph names the field to change.
    Case("onnx-without-spec", ("eval", "model.onnx", "--data", "{data}", "--hand", "off"),
         "carries no ModelSpec (metadata key 'asl_edge.model_spec'): write one with `asl-edge spec model.onnx`",
         setup=_byo_model),
    Case("spec-template-never-overwrites", ("spec", "model.onnx"), "model.spec.json already exists and is kept",
         setup=_byo_model_and_sidecar),
    Case("build-empty-onnx", ("build", "model.onnx"), "no graph in its 0 bytes", setup=_write("model.onnx", b"")),
    Case("benchmark-empty-onnx", ("benchmark", "--model", "model.onnx", "--out", "bench"), "no graph in its 0 bytes",
         setup=_write("model.onnx", b""), absent=("bench",)),
    Case("build-checkpoint-not-onnx", ("build", "{run}/checkpoint.pt"), "is a PyTorch checkpoint, not an ONNX model"),
    Case("benchmark-of-a-dataset-folder", ("benchmark", "--model", "data"), "nothing to measure",
         setup=_corrupt_images, absent=("data/benchmark",)),  # an empty data/benchmark would be a class folder
    Case("train-into-a-run-folder-holding-a-training", ("train", "--data", "{data}", "--out", "run"),
         "run already holds a training (checkpoint.pt, metrics.json", setup=_earlier_run, no_torch=True,
         absent=("run/previous-1",)),
    Case("train-into-a-run-folder-in-use", ("train", "--data", "{data}", "--out", "run", "--exist-ok"),
         "is in use by another asl-edge process (pid", setup=_run_in_use, absent=("run/previous-1",)),
    Case("export-into-a-run-folder-in-use", ("export", "run/checkpoint.pt", "--out", "run"),
         "is in use by another asl-edge process (pid", setup=_run_in_use),
    Case("crop-weight-out-of-range-without-crop-model",
         ("eval", str(REPO / "asl_edge" / "assets" / "asl_landmarks.onnx"), "--data", "{data}", "--crop-weight", "2"),
         "--crop-weight 2.0 must be between 0 and 1",
         no_torch=True),
    Case("train-resume-without-a-run", ("train", "--data", "{data}", "--out", "run", "--resume"),
         "nothing to resume: run/last.pt does not exist", no_torch=True, absent=("run",)),
    Case("train-exist-ok-bad-option-moves-nothing",
         ("train", "--data", "{data}", "--out", "run", "--exist-ok", "--epochs", "0"),
         "epochs: 0 must be an integer >= 1", setup=_earlier_run, absent=("run/previous-1",)),
    Case("torch-missing-eval-of-a-run-names-its-export", ("eval", "run", "--data", "{data}"),
         "or evaluate its ONNX export, which needs no torch: `asl-edge eval run/model.onnx`",
         setup=_run_with_export, no_torch=True, code=3),
    Case("eval-failure-leaves-no-out-folder",
         ("eval", "model.onnx", "--data", "{data}", "--hand", "off", "--out", "report"), "model.onnx",
         setup=_write("model.onnx", b""), absent=("report",)),
    # Output written into the input: curves.png in a class folder would be trained on as a photo next time.
    Case("train-out-inside-dataset", ("train", "--data", "data", "--out", "data/A", "--epochs", "1"),
         "--out data/A is inside the dataset data (--data)", setup=_corrupt_images, no_torch=True,
         absent=("data/A/train.log", "data/A/curves.png")),
    Case("augment-out-inside-dataset", ("augment", "--data", "data", "--out", "data/B/grid.png"),
         "--out data/B/grid.png is inside the dataset data (--data)", setup=_corrupt_images, no_torch=True,
         absent=("data/B/grid.png",)),
    Case("benchmark-out-inside-dataset", ("benchmark", "--model", "{model}", "--data", "data", "--out", "data/A/bench"),
         "--out data/A/bench is inside the dataset data (--data)", setup=_corrupt_images, absent=("data/A/bench",)),
    Case("run-model-is-a-run-folder", ("run", "--model", "run", "--source", "{clip}", "--no-window"),
         "run is a folder, not a model file; pass one of its files, e.g. run/model.onnx", setup=_run_with_export),
    Case("spec-file-not-text", ("eval", "model.onnx", "--spec", "model.onnx", "--data", "{data}", "--hand", "off"),
         "spec file model.onnx is not UTF-8 text", setup=_byo_model),
    Case("spec-sidecar-not-json", ("eval", "model.onnx", "--data", "{data}", "--hand", "off"),
         "invalid ModelSpec: not JSON", setup=_byo_model_and_broken_sidecar),
    Case("spec-disagrees-with-graph", ("build", "model.onnx", "--spec", "nchw.json"),
         'is NHWC but the spec says layout NCHW; set "layout": "NHWC"', setup=_byo_model_and_nchw_spec),
]


# -- shared fixtures: tiny real data, a tiny trained run, a busy port ---------------------------------------
def _tiny_dataset(root: Path, labels: tuple[str, ...], per_class: int = 8) -> Path:
    """`per_class` real photos per label, shrunk to 64x64 so every command on them is quick."""
    for label in labels:
        (root / label).mkdir(parents=True)
        for path in sorted((DATA_DIR / label).glob("*.jpg"))[:per_class]:
            image = cv2.imread(str(path))
            assert image is not None, path
            cv2.imwrite(str(root / label / path.name), cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA))
    return root


def asl_edge(argv: list[str], cwd: Path, env: dict[str, str] | None = None, no_torch: bool = False,
             prefix: list[str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter."""
    child_env = {**os.environ, "ASL_EDGE_PROGRESS": "plain", **(env or {})}
    if no_torch:
        blocker = cwd / ".no-torch"
        blocker.mkdir(exist_ok=True)
        (blocker / "sitecustomize.py").write_text(NO_TORCH_SITECUSTOMIZE)
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker), str(REPO),
                                                                child_env.get("PYTHONPATH", "")]))
    command = [*(prefix or []), sys.executable, "-m", "asl_edge", *argv]
    return subprocess.run(command, cwd=cwd, env=child_env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _tmpfs_prefix(kind: str) -> list[str]:
    """unshare + a private tmpfs at MOUNT for one command; after it, the mount's listing goes to stdout."""
    options = "size=64k" if kind == "enospc" else "ro,size=64k"
    script = (f'mkdir -p {MOUNT} && mount -t tmpfs -o {options} tmpfs {MOUNT} || exit 97; "$@"; rc=$?; '
              f'echo "MOUNT-LISTING:"; ls -A {MOUNT}; exit $rc')
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]


# The oldest lane (make test-oldest) has no torch, as a Jetson runtime has none: the cases that train, export or
# read a checkpoint skip there, and every case of the runtime's commands (run, demo, eval of ONNX, spec, doctor)
# still runs. A case that simulates a missing torch (no_torch) runs in both lanes.
HAS_TORCH = importlib.util.find_spec("torch") is not None
TORCH_COMMANDS = ("train", "export", "augment")
TORCH_SETUPS: tuple[Callable[[Path], None], ...] = (_mismatched_weights,)


def needs_torch(case: Case) -> bool:
    """Whether a case can reach its error only with torch installed: it uses the trained run, or (unless it is
    about torch being missing) runs a command or reads a file that needs torch before the error it checks."""
    if any("{run}" in arg for arg in case.argv):
        return True
    if case.no_torch:
        return False
    return (case.argv[0] in TORCH_COMMANDS or any(arg.endswith(".pt") for arg in case.argv)
            or case.setup in TORCH_SETUPS)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared dataset not found at {DATA_DIR}; set ASL_EDGE_DATA")
    root = tmp_path_factory.mktemp("faults")
    data = _tiny_dataset(root / "data", ("A", "B", "C"))
    one_class = _tiny_dataset(root / "one-class", ("A",))
    return {"data": str(data), "one_class": str(one_class), "model": str(BUNDLED_MODEL), "clip": str(SAMPLE_CLIP),
            "mount": MOUNT, "root": str(root)}


@pytest.fixture(scope="module")
def trained(shared: dict[str, str]) -> dict[str, str]:
    """The shared data plus a one-epoch training of it in `run` (and its output in `train_output`)."""
    if not HAS_TORCH:
        pytest.skip("needs torch to train (this lane has none, like a Jetson runtime)")
    root = Path(shared["root"])
    # Progress as a user's log file gets it: stdout and stderr are pipes, not a terminal.
    result = asl_edge(["train", "--data", shared["data"], "--out", str(root / "run"), "--arch", "aslcnn",
                       "--image-size", "16", "--epochs", "1", "--workers", "0", "--batch-size", "8"], root,
                      env={"ASL_EDGE_PROGRESS": "auto"})
    assert result.returncode == 0, result.stderr
    return {**shared, "run": str(root / "run"), "train_output": result.stdout + result.stderr}


@pytest.fixture()
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and ".no-torch" not in p.parts}


def _leftovers(names: list[str]) -> list[str]:
    """Half-written files: atomic writes' temporaries, partial videos, export's staging folders."""
    return [n for n in names if n.endswith(".tmp") or ".partial" in n or Path(n).name.startswith(".export-")]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fault(case: Case, shared: dict[str, str], busy_port: int, tmp_path: Path,
               request: pytest.FixtureRequest) -> None:
    if needs_torch(case) and not HAS_TORCH:
        pytest.skip("needs torch (this lane has none, like a Jetson runtime)")
    if any("{run}" in arg for arg in case.argv):
        shared = request.getfixturevalue("trained")
    if case.setup is not None:
        case.setup(tmp_path)
    before = _snapshot(tmp_path)
    values = {**shared, "busy_port": str(busy_port)}
    argv = [arg.format(**values) for arg in case.argv]
    env = {k: str(tmp_path / v) if k == "TORCH_HOME" else v for k, v in case.env.items()}
    prefix = _tmpfs_prefix(case.wrap) if case.wrap else None
    if prefix and shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    result = asl_edge(argv, tmp_path, env=env, no_torch=case.no_torch, prefix=prefix)
    if prefix and result.returncode == 97:
        pytest.skip(f"no user namespaces here to mount a tmpfs: {result.stderr.strip()}")

    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    if case.code is None:
        assert result.returncode != 0, output
    else:
        assert result.returncode == case.code, output
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"asl-edge {argv[0]}: error: "), errors[0]
    assert case.message in errors[0], errors[0]
    assert not [line for line in output.splitlines() if line.startswith(LOG_PREFIXES)], output
    # Nothing half-written, nothing the user had before changed, nothing that should not exist.
    assert not _leftovers([str(p) for p in tmp_path.rglob("*")]), sorted(tmp_path.rglob("*"))
    if case.wrap:
        listing = result.stdout.split("MOUNT-LISTING:", 1)[-1].split()
        assert not _leftovers(listing), listing
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    for path in case.absent:
        assert not (tmp_path / path.format(**values)).exists(), path


def test_matrix_covers_every_kind() -> None:
    """The kinds issue 13 lists, each with at least one row (a guard against a row silently dropped)."""
    names = {case.name for case in CASES}
    for kind in ("torch-missing", "disk-full-during-training", "disk-full-during-export", "weights-imagenet",
                 "weights-mismatched", "augment-out",
                 "save-video-read-only", "int8-calibration", "corrupt-checkpoint", "truncated-onnx", "csv",
                 "empty-dataset", "corrupt-images", "missing-camera", "port-in-use", "out-of-range",
                 "before-torch", "before-measuring", "no-opencv-log-lines", "run-folder-holding", "in-use",
                 "spec", "out-inside-dataset"):
        assert any(kind in name for name in names), kind


def test_eval_of_an_onnx_model_needs_no_torch(shared: dict[str, str], tmp_path: Path) -> None:
    """`eval model.onnx` on a Jetson image without PyTorch: scores, and reads the data it was given."""
    result = asl_edge(["eval", shared["model"], "--data", shared["data"], "--hand", "off", "--split", "all"],
                      tmp_path, no_torch=True)
    assert result.returncode == 0, result.stderr
    assert "top-1" in result.stdout and "on 24 images" in result.stdout, result.stdout


def test_eval_of_a_run_uses_the_dataset_it_records(trained: dict[str, str], tmp_path: Path) -> None:
    """`eval RUN` without --data scores the run's own held-out split, like `export` does."""
    result = asl_edge(["eval", trained["run"]], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"on {trained['data']} [val" in result.stdout, result.stdout


def test_kill_9_then_resume(trained: dict[str, str], tmp_path: Path) -> None:
    """A training killed with SIGKILL leaves loadable checkpoints under their real names (atomic writes),
    and --resume continues from the last finished epoch."""
    from asl_edge.train.checkpoint import load_checkpoint

    out = tmp_path / "run"
    argv = [sys.executable, "-m", "asl_edge", "train", "--data", trained["data"], "--out", str(out), "--arch",
            "aslcnn", "--image-size", "16", "--epochs", "500", "--workers", "0", "--batch-size", "8"]
    process = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (out / "last.pt").is_file() and load_checkpoint(out / "last.pt").epoch >= 1:
                break
            time.sleep(0.2)
        assert process.poll() is None, "training ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    last = load_checkpoint(out / "last.pt")  # whole files under the real names, whenever the kill came
    best = load_checkpoint(out / "checkpoint.pt")
    assert last.epoch >= 1 and 1 <= best.epoch <= last.epoch + 1
    resumed = asl_edge(["train", "--data", trained["data"], "--out", str(out), "--arch", "aslcnn", "--image-size",
                        "16", "--epochs", str(last.epoch + 1), "--workers", "0", "--batch-size", "8", "--resume"],
                       tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch {last.epoch}" in resumed.stdout, resumed.stdout
    assert load_checkpoint(out / "last.pt").epoch >= last.epoch + 1
    assert "Traceback" not in resumed.stderr


def test_plain_progress_lines_not_carriage_returns(trained: dict[str, str]) -> None:
    """Training's output in a log file (the shared run's): whole lines only, no tqdm carriage-return redraws."""
    assert "\r" not in trained["train_output"]
    assert "epoch 1/1" in trained["train_output"]


def test_video_library_logs_show_with_verbose(shared: dict[str, str], tmp_path: Path) -> None:
    """--verbose brings OpenCV's and FFmpeg's own lines back for diagnosis (they are hidden by default)."""
    argv = ["run", "--model", shared["model"], "--source", "http://127.0.0.1:9/stream.mjpg", "--no-window",
            "--hand", "off"]
    quiet = asl_edge(argv, tmp_path)
    verbose = asl_edge([*argv, "--verbose"], tmp_path)
    assert quiet.returncode == verbose.returncode != 0
    assert len(quiet.stderr.splitlines()) == 1, quiet.stderr
    # Both streams: OpenCV 4.5's logger and its FFmpeg callback print INFO and "[OPENCV:FFMPEG:16]" lines to
    # stdout, where 5.x prints them to stderr.
    def library_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
        return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith(LOG_PREFIXES)]

    assert not library_lines(quiet), quiet.stdout + quiet.stderr
    assert library_lines(verbose), verbose.stdout + verbose.stderr


def test_export_after_a_killed_export_cleans_its_staging(trained: dict[str, str], tmp_path: Path) -> None:
    """kill -9 mid-export leaves a .export-* staging folder (files not yet verified); the next export of that
    folder, holding its lock, removes it, and writes the real files."""
    run = Path(shutil.copytree(trained["run"], tmp_path / "run"))
    staging = run / ".export-k1ll3d"
    staging.mkdir()
    (staging / "model.onnx").write_bytes(b"half of an ONNX file")
    result = asl_edge(["export", str(run), "--precision", "fp32"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert not _leftovers([str(p) for p in run.rglob("*")]), sorted(run.rglob("*"))
    assert (run / "model.onnx").stat().st_size > 1000


def test_sigterm_stops_a_run_like_ctrl_c(tmp_path: Path) -> None:
    """`docker stop` / systemd send SIGTERM: the run stops as on Ctrl-C, so its --save video is closed and renamed
    into place (readable, every frame so far) and its --transcript holds the text, no .partial file left."""
    argv = [sys.executable, "-m", "asl_edge", "run", "--model", str(BUNDLED_MODEL), "--source", str(SAMPLE_CLIP),
            "--soak", "120", "--hand", "off", "--save", "out.mp4", "--transcript", "spelled.txt"]
    process = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Until the word is in the transcript (and so frames in the video): a fixed wait raced the run on a
        # loaded machine, which had spelled only HELL a second after the video appeared.
        transcript = tmp_path / "spelled.txt"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (transcript.is_file() and transcript.read_text().startswith("HELLO")):
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped by interrupt" in out and "Traceback" not in err, out + err
    assert not _leftovers([p.name for p in tmp_path.iterdir()]), sorted(tmp_path.iterdir())
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 10
    capture.release()
    assert (tmp_path / "spelled.txt").read_text().startswith("HELLO")

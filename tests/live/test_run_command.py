"""`asl-edge run` and `asl-edge demo` as a user runs them: exit codes, one-line errors, no torch needed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import onnx
import pytest

from asl_edge.spec import ONNX_METADATA_KEY
from tests.conftest import REPO, run_without_torch
from tests.live.conftest import ClipMaker

pytestmark = pytest.mark.slow


def asl_edge(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asl_edge", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


def test_run_with_onnx_works_without_torch(default_model: Path, make_clip: ClipMaker, tmp_path: Path) -> None:
    clip = make_clip("CAB")
    saved = tmp_path / "annotated.avi"
    result = run_without_torch(
        "import sys\n"
        "import asl_edge.runtime\n"
        "from asl_edge.runtime.live import capture, display, latency, overlay, pipeline\n"
        "from asl_edge.runtime.live import sample_clip, sources, spelling\n"
        "from asl_edge.runtime.backends import onnxruntime_backend\n"
        "from asl_edge.apps.commands import run, demo\n"
        "from asl_edge.apps.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('torch imported:', any(m == 'torch' or m.startswith('torch.') for m in sys.modules))\n"
        "raise SystemExit(code)\n",
        "run", "--source", clip.path, "--model", str(default_model), "--no-window", "--save", str(saved),
        cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "spelled: 'CAB'" in result.stdout and "torch imported: False" in result.stdout
    # Printed live, headless: one line per commit with only the new letter.
    assert [line for line in result.stdout.splitlines() if line.startswith("commit: ")] == [
        "commit: C", "commit: A", "commit: B"]
    for stage in ("capture", "preprocess", "infer", "postprocess", "render"):
        assert f"\n{stage} " in result.stdout  # the latency summary
    assert saved.is_file() and saved.stat().st_size > 10_000


def test_pytorch_backend_without_torch_says_what_to_install(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"x")
    result = run_without_torch("import sys\nfrom asl_edge.apps.cli import main\nraise SystemExit(main(sys.argv[1:]))",
                               "run", "--source", str(REPO / "asl_edge/assets/sample_clip.mp4"),
                               "--model", str(checkpoint), "--no-window", cwd=REPO)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "asl-edge run: error: the PyTorch backend needs torch, which is not installed: "
        "pip install 'asl-edge[workstation]'"]


def test_source_that_cannot_be_opened(default_model: Path, tmp_path: Path) -> None:
    result = asl_edge("run", "--source", str(tmp_path / "nope.mp4"), "--model", str(default_model), "--no-window")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"asl-edge run: error: source {tmp_path / 'nope.mp4'} does not exist: pass a camera (0, /dev/video0, "
        "csi://0), an rtsp:// URL, a video file or an image folder"]
    result = asl_edge("run", "--source", "/dev/video99", "--model", str(default_model), "--no-window")
    assert result.returncode == 2 and "camera device /dev/video99 does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def _rewrite_spec(model: Path, out: Path, value: str | None) -> Path:
    proto = onnx.load(str(model))
    for prop in list(proto.metadata_props):
        if prop.key == ONNX_METADATA_KEY:
            proto.metadata_props.remove(prop)
    if value is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, value
    onnx.save(proto, str(out))
    return out


@pytest.mark.parametrize(("spec_json", "message"), [
    (None, "carries no ModelSpec (metadata key 'asl_edge.model_spec')"),
    ('{"labels": ["A"], "input_height": 28, "input_width": 28}', "invalid ModelSpec field 'labels'"),
    ("{not json", "invalid ModelSpec: not JSON"),
])
def test_model_with_missing_or_invalid_spec(default_model: Path, tmp_path: Path, spec_json: str | None,
                                            message: str) -> None:
    model = _rewrite_spec(default_model, tmp_path / "model.onnx", spec_json)
    result = asl_edge("run", "--source", str(REPO / "asl_edge/assets/sample_clip.mp4"), "--model", str(model),
                      "--no-window")
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asl-edge run: error: ") and message in lines[0]


def test_demo_spells_the_bundled_clip() -> None:
    word = json.loads((REPO / "asl_edge/assets/sample_clip.json").read_text())["word"]
    result = asl_edge("demo", "--no-window")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"demo: spelled {word!r} correctly" in result.stdout


def test_demo_stopped_with_ctrl_c_is_interrupted_not_failed(tmp_path: Path) -> None:
    """Ctrl-C once read as the demo spelling the wrong word (exit 1); every command exits 130 for it."""
    import signal

    # -u: "model: ..." must reach the pipe when printed, not when the demo ends
    # A suite started in the background (`make test &`) ignores SIGINT, and a child inherits that; with a handler
    # here the child starts with the default one instead (handlers do not survive exec, "ignored" does).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        demo = subprocess.Popen([sys.executable, "-u", "-m", "asl_edge", "demo", "--no-window"], cwd=REPO,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert demo.stdout is not None
    first = demo.stdout.readline()  # "model: ..." once the chain is loaded and the clip plays
    demo.send_signal(signal.SIGINT)
    out, err = demo.communicate(timeout=60)
    assert first.startswith("model: "), first + out + err
    assert demo.returncode == 130, out + err
    # In the frame loop the demo says what it had spelled; just before it, the CLI says "interrupted".
    assert "interrupted" in err and "expected" not in out


def test_demo_with_a_missing_clip_names_it() -> None:
    result = asl_edge("demo", "--clip", "nope.mp4")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["asl-edge demo: error: --clip nope.mp4 does not exist; pass a "
                                                  "spelling clip with a .json card beside it, or leave --clip out "
                                                  "for the bundled one"]


def test_transcript_dash_is_standard_output_alone(default_model: Path, make_clip: ClipMaker, tmp_path: Path) -> None:
    clip = make_clip("CAB")
    run = ("run", "--source", clip.path, "--model", str(default_model), "--no-window", "--no-suggest")
    result = asl_edge(*run, "--transcript", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "CAB\n"  # the transcript alone: commits and the summary went to stderr
    assert "commit: C" in result.stderr and "spelled: 'CAB'" in result.stderr
    assert not (tmp_path / "-").exists()
    # Both on standard output would interleave JSON and text: refused before the model loads.
    result = asl_edge(*run, "--transcript", "-", "--events", "-", cwd=tmp_path)
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "asl-edge run: error: --events - and --transcript - both want standard output; send one of them to a "
        "file, e.g. --transcript spelled.txt"]


def test_each_run_appended_to_an_events_file_starts_with_a_run_start_line(default_model: Path,
                                                                          make_clip: ClipMaker,
                                                                          tmp_path: Path) -> None:
    clip = make_clip("CAB")
    events = tmp_path / "events.jsonl"
    for _ in range(2):
        result = asl_edge("run", "--source", clip.path, "--model", str(default_model), "--no-window",
                          "--no-suggest", "--events", str(events))
        assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    starts = [i for i, line in enumerate(lines) if line["type"] == "run_start"]
    assert starts == [0, len(lines) // 2]
    for start in starts:
        record = lines[start]
        assert set(record) == {"type", "time", "source", "decoder", "model"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", record["time"])  # as README shows
        assert (record["source"], record["decoder"], record["model"]) == (clip.path, "hold", str(default_model))
        assert datetime.fromisoformat(record["time"]).tzinfo is not None
    assert [line["label"] for line in lines[1:starts[1]] if line["type"] == "letter"] == ["C", "A", "B"]

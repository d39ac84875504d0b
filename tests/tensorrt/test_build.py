"""`asl-edge build` without TensorRT or a GPU: the real CLI's message, the ONNX facts, the version table
and the engine cache (with the TensorRT compile step replaced, since there is no TensorRT here)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from asl_edge.errors import ModelError
from asl_edge.export.onnx_facts import OnnxFacts, read_onnx_facts
from asl_edge.export.trt_builder import BuildProgress, build_or_reuse, check_buildable, flags_for, typing_for
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, DeviceFacts, check_engine, manifest_path
from tests.tensorrt.onnx_models import tiny_classifier
from tests.tensorrt.test_engine_manifest import ORIN


def tensorrt_loads() -> bool:
    try:
        import tensorrt
    except ImportError:
        return False
    return hasattr(tensorrt, "__version__")


@pytest.mark.skipif(tensorrt_loads(), reason="TensorRT is installed here; this checks the message without it")
def test_build_without_tensorrt_is_one_line_through_the_real_cli(tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "model.onnx")
    env = {**os.environ, "ASL_EDGE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "asl_edge", "build", str(onnx)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("asl-edge build: error: building a TensorRT engine needs TensorRT, which is not "
                               "installed")
    assert "JetPack" in lines[0] and "pip install tensorrt" in lines[0]
    assert "Traceback" not in done.stderr


def test_build_of_a_missing_onnx_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tmp_path / "nope.onnx")]) == 2
    assert "nope.onnx does not exist" in capsys.readouterr().err


def test_bad_build_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx = tiny_classifier(tmp_path / "model.onnx")
    assert main(["build", str(onnx), "--max-batch", "2", "--opt-batch", "4"]) == 2
    assert "--opt-batch must be in 1..2" in capsys.readouterr().err


def test_onnx_facts_come_from_metadata_or_the_graph(tmp_path: Path) -> None:
    facts = read_onnx_facts(tiny_classifier(tmp_path / "a.onnx", precision="fp16", fp16_weights=True))
    assert (facts.precision, facts.carries_precision) == ("fp16", True)
    assert facts.spec is not None and facts.spec.labels == ("A", "B", "C")
    assert facts.sha256 == hashlib.sha256((tmp_path / "a.onnx").read_bytes()).hexdigest()
    assert "(MatMul)" in facts.node_names[-2]
    untagged_qdq = read_onnx_facts(tiny_classifier(tmp_path / "b.onnx", precision=None, qdq=True))
    assert (untagged_qdq.precision, untagged_qdq.carries_precision) == ("int8", False)
    untagged_fp16 = read_onnx_facts(tiny_classifier(tmp_path / "c.onnx", precision=None, fp16_weights=True))
    assert (untagged_fp16.precision, untagged_fp16.carries_precision) == ("fp16", False)
    with pytest.raises(ModelError, match="precision is 'int4'"):
        read_onnx_facts(tiny_classifier(tmp_path / "d.onnx", precision="int4"))
    (tmp_path / "e.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        read_onnx_facts(tmp_path / "e.onnx")


@pytest.mark.parametrize(("major", "carries", "precision", "strong", "flags"), [
    (8, True, "fp32", False, ()),
    (8, True, "fp16", False, ("FP16",)),
    (8, True, "int8", False, ("INT8", "FP16")),
    (10, True, "fp16", True, ()),
    (10, True, "int8", True, ()),
    (10, False, "int8", False, ("INT8", "FP16")),
    (10, False, "fp32", False, ()),
    (11, True, "int8", True, ()),
    (11, False, "fp32", True, ()),
])
def test_typing_and_flags_per_tensorrt_version(major: int, carries: bool, precision: str, strong: bool,
                                               flags: tuple[str, ...]) -> None:
    assert typing_for(major, carries) is strong
    assert flags_for(major, precision, strong) == flags


def test_what_cannot_be_built_is_refused_before_tensorrt_runs(tmp_path: Path) -> None:
    untagged = read_onnx_facts(tiny_classifier(tmp_path / "a.onnx", precision=None, fp16_weights=True))
    with pytest.raises(ModelError, match="TensorRT 11 takes precision from the graph only"):
        check_buildable(untagged, 11, BuildOptions())
    check_buildable(untagged, 10, BuildOptions())  # 10.x sets the FP16 flag instead
    fp32 = read_onnx_facts(tiny_classifier(tmp_path / "b.onnx"))
    with pytest.raises(ModelError, match="DLA runs only FP16 and INT8"):
        check_buildable(fp32, 10, BuildOptions(dla_core=0))


class RecordingCompiler:
    """Stands in for TensorRT's compile step (absent here): returns a plan derived from the ONNX bytes."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, tuple[str, ...]]] = []

    def __call__(self, facts: OnnxFacts, options: BuildOptions, strongly_typed: bool, flags: tuple[str, ...],
                 timing_cache: object, on_phase: object) -> bytes:
        self.calls.append((strongly_typed, flags))
        return b"plan:" + facts.path.read_bytes()[:64]


def test_second_build_reuses_and_changed_onnx_rebuilds(tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "model.onnx", precision="int8", qdq=True)
    compiler, lines = RecordingCompiler(), list[str]()
    first = build_or_reuse(read_onnx_facts(onnx), ORIN, BuildOptions(), tmp_path / "cache",
                           compile_plan=compiler, log=lines.append)
    assert not first.reused and compiler.calls == [(True, ())]  # 10.x, precision carried: strongly typed
    assert first.engine_path.parent == tmp_path / "cache"
    assert check_engine(first.engine_path, ORIN).precision == "int8"
    assert any("building a int8 engine" in line and "strongly typed network" in line for line in lines)

    again = build_or_reuse(read_onnx_facts(onnx), ORIN, BuildOptions(), tmp_path / "cache", compile_plan=compiler,
                           log=lines.append, out=tmp_path / "copy.engine")
    assert again.reused and again.engine_path == first.engine_path and len(compiler.calls) == 1
    assert check_engine(tmp_path / "copy.engine", ORIN).engine_sha256 == first.manifest.engine_sha256

    tiny_classifier(onnx, precision="int8", qdq=True, seed=7)  # re-exported
    changed = build_or_reuse(read_onnx_facts(onnx), ORIN, BuildOptions(), tmp_path / "cache",
                             compile_plan=compiler, log=lines.append)
    assert not changed.reused and changed.engine_path != first.engine_path and len(compiler.calls) == 2

    on_trt8 = DeviceFacts(**{**ORIN.__dict__, "tensorrt_version": "8.6.2"})
    build_or_reuse(read_onnx_facts(onnx), on_trt8, BuildOptions(), tmp_path / "cache", compile_plan=compiler,
                   log=lines.append)
    assert compiler.calls[-1] == (False, ("INT8", "FP16"))


def test_a_damaged_cached_engine_is_rebuilt(tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "model.onnx")
    compiler, lines = RecordingCompiler(), list[str]()
    first = build_or_reuse(read_onnx_facts(onnx), ORIN, BuildOptions(), tmp_path, compile_plan=compiler,
                           log=lines.append)
    manifest_path(first.engine_path).write_text("{")
    second = build_or_reuse(read_onnx_facts(onnx), ORIN, BuildOptions(), tmp_path, compile_plan=compiler,
                            log=lines.append)
    assert not second.reused and len(compiler.calls) == 2
    assert any(line.startswith("not reusing the cached engine: Refusing engine") for line in lines)
    check_engine(second.engine_path, ORIN)


def test_progress_prints_elapsed_time_and_phase() -> None:
    lines: list[str] = []
    progress = BuildProgress(lines.append, every_s=0.05)
    with progress.running():
        progress.on_phase("Building engine")
        import time

        time.sleep(0.2)
    assert lines and all(line.startswith("  still building") for line in lines)
    assert "(Building engine)" in lines[-1]

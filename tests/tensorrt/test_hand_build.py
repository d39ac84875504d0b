"""`asl-edge build` of the hand models without TensorRT or a GPU: which engines are planned per TensorRT
version, their manifests (role, source ONNX) and cache keys, through the real cache with the TensorRT
compile step replaced; and old manifests without a role still loading as classifiers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import onnx
import pytest

from asl_edge.apps.cli import main
from asl_edge.errors import ModelError
from asl_edge.export.onnx_facts import HAND_ROLES, hand_model_facts, read_fixed_shape_facts, read_onnx_facts
from asl_edge.export.trt_builder import build_chain_or_reuse, chain_hand_variant, hand_build_options
from asl_edge.runtime.backends.tensorrt.manifest import (
    BuildOptions,
    EngineManifest,
    cache_key,
    cached_engine_path,
    check_engine,
    read_manifest,
)
from asl_edge.runtime.hand.models import hand_model_paths
from asl_edge.spec import ONNX_PRECISION_KEY, make_landmark_spec
from tests.tensorrt.onnx_models import tiny_classifier
from tests.tensorrt.test_build import RecordingCompiler
from tests.tensorrt.test_engine_manifest import ORIN

TRT11 = replace(ORIN, tensorrt_version="11.4.0")


def test_hand_models_have_fixed_shapes_and_no_spec() -> None:
    paths = hand_model_paths("lite")
    palm, landmark = (read_fixed_shape_facts(path, role) for path, role in zip(paths, HAND_ROLES, strict=True))
    assert (palm.input_name, palm.input_shape, palm.spec, palm.role) == ("image", (1, 3, 192, 192), None,
                                                                         "palm_detector")
    assert (landmark.input_name, landmark.input_shape, landmark.role) == ("image", (1, 3, 224, 224), "hand_landmarks")
    assert (palm.precision, palm.carries_precision) == ("fp32", False)
    assert any("(Conv)" in name for name in palm.node_names)


def test_a_dynamic_input_without_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="needs fixed dims"):
        read_fixed_shape_facts(tiny_classifier(tmp_path / "dyn.onnx"), "palm_detector")


@pytest.mark.parametrize("version", ["8.6.2", "10.3.0"])
def test_trt8_and_10_build_the_shipped_graph_with_the_fp16_flag(tmp_path: Path, version: str) -> None:
    here = replace(ORIN, tensorrt_version=version)
    planned = hand_model_facts("lite", int(version.split(".", maxsplit=1)[0]), tmp_path)
    assert [f.path for f in planned] == list(hand_model_paths("lite"))
    assert all((f.precision, f.carries_precision, f.source) == ("fp16", False, None) for f in planned)
    compiler, lines = RecordingCompiler(), list[str]()
    results = build_chain_or_reuse(None, planned, here, BuildOptions(max_batch=8, opt_batch=4), tmp_path,
                                   compile_plan=compiler, log=lines.append)
    assert compiler.calls == [(False, ("FP16",)), (False, ("FP16",))]
    for facts, result in zip(planned, results, strict=True):
        options = hand_build_options(BuildOptions(max_batch=8, opt_batch=4))
        assert (options.max_batch, options.opt_batch) == (1, 1)
        key = cache_key(facts.sha256, here, "fp16", options)
        assert result.engine_path == cached_engine_path(tmp_path, facts.path, key)
        manifest = check_engine(result.engine_path, here)
        assert (manifest.role, manifest.precision, manifest.spec, manifest.strongly_typed) == (
            facts.role, "fp16", None, False)
        assert manifest.onnx_sha256 == facts.sha256 and manifest.device.tensorrt_version == version
        assert manifest.rebuild_command() == "asl-edge build --hand-models lite"
    assert any("fp16 palm_detector engine" in line for line in lines)
    again = build_chain_or_reuse(None, planned, here, BuildOptions(), tmp_path, compile_plan=compiler,
                                 log=lines.append)
    assert all(r.reused for r in again) and len(compiler.calls) == 2


def test_trt11_builds_an_fp16_graph_with_float32_io_once(tmp_path: Path) -> None:
    planned = hand_model_facts("lite", 11, tmp_path)
    for facts, shipped in zip(planned, hand_model_paths("lite"), strict=True):
        assert facts.path.parent == tmp_path / "fp16-onnx" and facts.source == shipped
        assert (facts.precision, facts.carries_precision) == ("fp16", True)
        model = onnx.load(str(facts.path))
        assert {p.key: p.value for p in model.metadata_props}[ONNX_PRECISION_KEY] == "fp16"
        io = [*model.graph.input, *model.graph.output]
        assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in io)
        assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    mtimes = [f.path.stat().st_mtime_ns for f in planned]
    assert [f.path.stat().st_mtime_ns for f in hand_model_facts("lite", 11, tmp_path)] == mtimes  # reused
    compiler = RecordingCompiler()
    results = build_chain_or_reuse(None, planned, TRT11, BuildOptions(), tmp_path / "engines",
                                   compile_plan=compiler, log=lambda line: None)
    assert compiler.calls == [(True, ()), (True, ())]
    manifest = check_engine(results[1].engine_path, TRT11)
    assert manifest.role == "hand_landmarks" and manifest.strongly_typed
    assert manifest.source_onnx_path == str(hand_model_paths("lite")[1])
    assert manifest.source_onnx_sha256 == planned[1].source_sha256 != manifest.onnx_sha256


def test_a_landmarks_model_brings_the_full_hand_models(tmp_path: Path) -> None:
    image = read_onnx_facts(tiny_classifier(tmp_path / "image.onnx"))
    assert chain_hand_variant(image, None) is None
    assert chain_hand_variant(image, "lite") == "lite"
    landmark_spec = make_landmark_spec(("A", "B", "C"), 5)
    assert chain_hand_variant(replace(image, spec=landmark_spec), None) == "full"
    assert chain_hand_variant(None, None) is None


def test_chain_builds_hand_models_before_the_classifier(tmp_path: Path) -> None:
    classifier = read_onnx_facts(tiny_classifier(tmp_path / "model.onnx"))
    compiler = RecordingCompiler()
    results = build_chain_or_reuse(classifier, hand_model_facts("lite", 10, tmp_path), ORIN, BuildOptions(),
                                   tmp_path / "cache", out=tmp_path, compile_plan=compiler, log=lambda line: None)
    assert [r.manifest.role for r in results] == ["palm_detector", "hand_landmarks", "classifier"]
    assert all(len(r.copies) == 1 and r.copies[0].parent == tmp_path for r in results)
    assert results[-1].manifest.spec == classifier.spec


def test_build_without_model_or_hand_models_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build"]) == 2
    assert "--hand-models" in capsys.readouterr().err


def test_manifest_round_trip_with_role_and_old_manifests_without_it(tmp_path: Path) -> None:
    compiler = RecordingCompiler()
    hand = build_chain_or_reuse(None, hand_model_facts("lite", 10, tmp_path)[:1], ORIN, BuildOptions(), tmp_path,
                                compile_plan=compiler, log=lambda line: None)[0]
    data = json.loads(hand.manifest.to_json())
    assert data["role"] == "palm_detector" and data["model_spec"] is None
    assert EngineManifest.from_dict(data) == replace(hand.manifest, built_at=data["built_at"])
    assert read_manifest(hand.engine_path).role == "palm_detector"

    classifier = build_chain_or_reuse(read_onnx_facts(tiny_classifier(tmp_path / "m.onnx")), [], ORIN,
                                      BuildOptions(), tmp_path, compile_plan=compiler, log=lambda line: None)[0]
    old = json.loads(classifier.manifest.to_json())
    for name in ("role", "source_onnx_path", "source_onnx_sha256"):
        del old[name]
    loaded = EngineManifest.from_dict(old)
    assert loaded.role == "classifier" and loaded.spec == classifier.manifest.spec
    with pytest.raises(ModelError, match="model_spec is null"):
        EngineManifest.from_dict({**old, "model_spec": None})
    with pytest.raises(ModelError, match="role 'decoder'"):
        EngineManifest.from_dict({**data, "role": "decoder"})


def test_the_tensorrt_backend_refuses_a_hand_engine() -> None:
    from asl_edge.runtime.backends.tensorrt.backend import TensorRTBackend

    manifest = EngineManifest(device=ORIN, precision="fp16", strongly_typed=False, spec=None, onnx_path="p.onnx",
                              onnx_sha256="0" * 64, engine_sha256="0" * 64, role="palm_detector")
    with pytest.raises(ModelError, match="palm_detector engine, not a classifier"):
        TensorRTBackend(object(), None, object(), manifest)  # type: ignore[arg-type]


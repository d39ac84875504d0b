"""What the engine builder knows about an ONNX file before TensorRT sees it (`OnnxFacts`): the ModelSpec and
precision from `asl_edge.onnx_header`, the sha256 the engine cache keys on, the node names TensorRT's parse
errors are matched against; and for the MediaPipe hand models (no ModelSpec, one fixed-shape input) the
facts of an FP16 build on this TensorRT (`hand_model_facts`, see trt_builder's module docstring).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from asl_edge.artifacts import atomic_write_bytes, sha256_file
from asl_edge.errors import ModelError, require
from asl_edge.onnx_header import (
    Provenance,
    header_of_model,
    load_onnx_model,
    not_a_file_error,
    read_onnx_header,
    spec_override,
    stale_reason,
    write_onnx_header,
)
from asl_edge.runtime.backends.model_io import ModelIO, check_drivable, check_spec
from asl_edge.runtime.backends.tensorrt.manifest import CLASSIFIER, default_engine_cache
from asl_edge.runtime.hand.models import HAND_ROLES, hand_model_paths
from asl_edge.spec import ModelSpec

HAND_PRECISION = "fp16"
FP16_ONNX_FOLDER = "fp16-onnx"
PURPOSE = "building a TensorRT engine"


@dataclass(frozen=True)
class OnnxFacts:
    """What the builder needs to know about an ONNX file before TensorRT sees it."""

    path: Path
    sha256: str
    spec: ModelSpec | None  # None for a model without asl-edge metadata (the hand models)
    precision: str
    carries_precision: bool  # True when the precision comes from asl-edge's metadata
    node_names: tuple[str, ...] = ()  # "Conv_3 (Conv)" per node, to name a node in TensorRT's parse errors
    role: str = CLASSIFIER
    input: str = ""  # the input tensor's name where there is no ModelSpec to say it
    input_shape: tuple[int, ...] = ()  # its fixed shape, likewise
    source: Path | None = None  # the shipped ONNX this graph was converted from (FP16 hand graphs)
    source_sha256: str | None = None
    fixed_batch: int | None = None  # the graph's batch dimension when it is a number, else the spec's "batch"
    # (engines then take only it)
    provenance: Provenance = field(default_factory=Provenance)  # the checkpoint it was exported from

    @property
    def input_name(self) -> str:
        return self.spec.input_name if self.spec is not None else self.input


def _node_names(model: Any) -> tuple[str, ...]:
    return tuple(f"{n.name or '<unnamed>'} ({n.op_type})" for n in model.graph.node)


def read_onnx_facts(path: str | os.PathLike[str], spec: ModelSpec | None = None) -> OnnxFacts:
    """Spec, precision and node names from the onnx package, or the metadata alone from onnxruntime
    (a Jetson often has onnxruntime but not onnx): `asl_edge.onnx_header` reads both. The spec is `spec`
    (--spec), else the sidecar MODEL.spec.json, else the embedded one (onnx_header.resolve_spec), checked
    against the graph's input and output before TensorRT sees it (model_io.check_spec)."""
    onnx_path = Path(path)
    if not onnx_path.is_file():
        raise not_a_file_error(onnx_path)
    sha = sha256_file(onnx_path)
    override = spec_override(onnx_path, spec)
    # The graph is checked for what asl-edge can drive before a spec is read: no spec fixes a two-input model.
    if importlib.util.find_spec("onnx") is None:
        io = ModelIO.from_path(onnx_path)
        check_drivable(io)
        header = read_onnx_header(onnx_path, override=override)
        node_names: tuple[str, ...] = ()
    else:
        model = load_onnx_model(onnx_path, PURPOSE)
        io = ModelIO.from_onnx(model, str(onnx_path))
        check_drivable(io)
        header = header_of_model(model, str(onnx_path), override=override)
        node_names = _node_names(model)
    model_spec = cast(ModelSpec, header.spec)  # need_spec: never None
    check_spec(io, model_spec)
    return OnnxFacts(onnx_path, sha, model_spec, header.precision, header.stated, node_names,
                     fixed_batch=io.fixed_batch or model_spec.fixed_batch, provenance=header.provenance)


def check_current_export(facts: OnnxFacts, warn: Callable[[str], None]) -> None:
    """Refuse to build a stale export: an ONNX whose recorded checkpoint sha256 differs from the checkpoint.pt
    beside it (the run was retrained or resumed after the export). One that records none is built after a
    warning, since nothing can tell whether it is current."""
    checkpoint = facts.path.parent / "checkpoint.pt"
    if facts.spec is None or not checkpoint.is_file():
        return
    reason = stale_reason(facts.path, facts.provenance, checkpoint, sha256_file(checkpoint))
    if reason is None:
        return
    if facts.provenance.checkpoint_sha256 is not None:
        raise ModelError(f"{reason}, then build again")
    warn(f"warning: {reason}")


def read_fixed_shape_facts(path: str | os.PathLike[str], role: str) -> OnnxFacts:
    """Facts of an ONNX model without a ModelSpec: one input of fixed shape (no batch profile is needed,
    the engine is built for exactly that shape) and the precision its graph or metadata says."""
    onnx_path = Path(path)
    if not onnx_path.is_file():
        raise ModelError(f"ONNX model {onnx_path} does not exist")
    sha = sha256_file(onnx_path)
    model = load_onnx_model(onnx_path, f"reading the {role} ONNX model")
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if len(inputs) != 1:
        raise ModelError(f"{onnx_path} has inputs {[i.name for i in inputs]}; the {role} model has one")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) if d.HasField("dim_value") else -1 for d in dims)
    if not shape or any(d <= 0 for d in shape):
        raise ModelError(f"{onnx_path} input {inputs[0].name} has shape {shape}; building it needs fixed dims")
    header = header_of_model(model, str(onnx_path), need_spec=False)
    return OnnxFacts(onnx_path, sha, None, header.precision, header.stated, _node_names(model),
                     role=role, input=inputs[0].name, input_shape=shape)


def fp16_graph(facts: OnnxFacts, folder: str | os.PathLike[str]) -> OnnxFacts:
    """An FP16 copy of an FP32 graph (float32 input and outputs), tagged fp16, kept in `folder` under the
    source's sha256 so a later build reuses it; its facts name the source it came from."""
    target = Path(folder) / f"{facts.path.stem}.{facts.sha256[:16]}.fp16.onnx"
    if not target.is_file():
        float16 = require("onnxconverter_common.float16", "the FP16 hand graph", "pip install onnxconverter-common")
        import warnings

        model = load_onnx_model(facts.path, "the FP16 hand graph")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
            model = float16.convert_float_to_float16(model, keep_io_types=True)
        write_onnx_header(model, None, HAND_PRECISION)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, model.SerializeToString())
    converted = read_fixed_shape_facts(target, facts.role)
    if (converted.input, converted.input_shape) != (facts.input, facts.input_shape):
        raise ModelError(f"the FP16 copy {target} changed the input of {facts.path}; delete it and build again")
    return replace(converted, source=facts.path, source_sha256=facts.sha256)


def hand_model_facts(variant: str, trt_major: int, cache_dir: str | os.PathLike[str] | None = None,
                     ) -> list[OnnxFacts]:
    """The palm detector's and landmark model's facts, ready for an FP16 build on this TensorRT
    (the FP16 flag on 8.x/10.x, an FP16 graph on 11.x: see the module docstring)."""
    cache = Path(cache_dir) if cache_dir is not None else default_engine_cache()
    planned = []
    for role, path in zip(HAND_ROLES, hand_model_paths(variant), strict=True):
        facts = read_fixed_shape_facts(path, role)
        if facts.precision == HAND_PRECISION and facts.carries_precision:
            planned.append(facts)
        elif trt_major >= 11:
            planned.append(fp16_graph(facts, cache / FP16_ONNX_FOLDER))
        else:
            planned.append(replace(facts, precision=HAND_PRECISION, carries_precision=False))
    return planned

"""ONNX Runtime backend: the TensorRT, CUDA or CPU execution provider, whichever exists.

The ModelSpec comes from --spec, else a sidecar MODEL.spec.json, else the model's metadata (written by
`asl-edge export`), and is checked against the graph's own inputs and outputs (model_io.check_spec); the
graph's precision comes from its metadata. `device` reports the provider that actually runs, not the one
asked for: onnxruntime falls back silently when a provider fails to load.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, cast

import numpy as np

from asl_edge.errors import AslEdgeError, ModelError, require
from asl_edge.onnx_header import header_from_metadata, open_cpu_session, sidecar_spec_path, spec_override
from asl_edge.runtime.backends.base import Backend, InferenceError
from asl_edge.runtime.backends.evaluation import EVAL_BATCH
from asl_edge.runtime.backends.model_io import ModelIO, check_drivable, check_spec
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, default_engine_cache
from asl_edge.spec import ModelSpec

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
PROVIDER_ORDER = ("tensorrt", "cuda", "cpu")
MIB = 1 << 20


def batch_profile(input_name: str, sample_shape: tuple[int, ...], max_batch: int) -> dict[str, str]:
    """TensorRT EP shape profile for batch 1..max_batch; without one it rebuilds its engine per new batch size."""
    sample = "x".join(map(str, sample_shape))
    return {"trt_profile_min_shapes": f"{input_name}:1x{sample}",
            "trt_profile_opt_shapes": f"{input_name}:1x{sample}",
            "trt_profile_max_shapes": f"{input_name}:{max_batch}x{sample}"}


def provider_list(available: list[str], provider: str = "auto", precision: str = "fp32",
                  engine_cache: str | os.PathLike[str] | None = None,
                  profile: dict[str, str] | None = None) -> list[Any]:
    """Providers to ask onnxruntime for, best first, with the options each needs (reference §6)."""
    if provider == "auto":
        wanted = [p for p in PROVIDER_ORDER if PROVIDER_NAMES[p] in available]
    else:
        if provider not in PROVIDER_NAMES:
            raise ModelError(f"unknown provider '{provider}'; choose auto, {', '.join(PROVIDER_NAMES)}")
        if PROVIDER_NAMES[provider] not in available:
            raise ModelError(f"onnxruntime here has no {PROVIDER_NAMES[provider]} (it has {', '.join(available)}); "
                             "install onnxruntime-gpu (the Jetson Zoo build on a Jetson) or use --provider auto")
        # Nodes the first provider cannot take go to the next ones, so keep the rest of the chain.
        wanted = list(PROVIDER_ORDER[PROVIDER_ORDER.index(provider):])
        wanted = [p for p in wanted if PROVIDER_NAMES[p] in available]
    providers: list[Any] = []
    for name in wanted:
        if name == "tensorrt":
            cache = Path(engine_cache or default_engine_cache())
            cache.mkdir(parents=True, exist_ok=True)
            workspace_mib = BuildOptions().workspace_mib  # the same limit as `asl-edge build`
            providers.append((PROVIDER_NAMES[name], {
                "device_id": 0,
                "trt_max_workspace_size": workspace_mib * MIB,
                # Q/DQ graphs carry their own scales; fp16 lets TensorRT use half precision elsewhere.
                "trt_fp16_enable": precision in ("fp16", "int8"),
                "trt_int8_enable": precision == "int8",
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": True,
                **(profile or {}),
            }))
        elif name == "cuda":
            providers.append((PROVIDER_NAMES[name], {"device_id": 0}))
        else:
            providers.append(PROVIDER_NAMES[name])
    return providers


def _session_options(ort: Any, threads: int | None) -> Any:
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def onnxruntime_reason(exc: Exception) -> str:
    """The readable part of an onnxruntime failure's first line: the failing node and its status message without
    the "[ONNXRuntimeError] : 1 : FAIL :" prefix and the C++ source location and assertion, e.g. "Reshape node: The
    input tensor cannot be reshaped to the requested shape. Input shape:{2,3,1,1}, requested shape:{1,3}"."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    line = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", line)
    node = re.search(r"running (\S+) node\..*?Status Message: (.*)$", line)
    if node:
        message = re.sub(r"^\S+:\d+ .*? was false\. ", "", node.group(2))
        line = f"{node.group(1)} node: {message}"
    return line[:240]


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, session: Any, spec: ModelSpec, precision: str, source: str = "the model",
                 spec_file: str | None = None) -> None:
        """`spec_file` says where the spec came from, for the fix of a failed run (default: the sidecar or the
        --spec file)."""
        super().__init__(spec, precision=precision, device=session.get_providers()[0])
        self.session = session
        self.providers: list[str] = session.get_providers()
        self.io = ModelIO.from_session(session, source)
        output = check_spec(self.io, spec)
        self._input_name = self.io.input.name
        self._output_name = output.name
        self._source = source
        self._spec_file = spec_file or f"{sidecar_spec_path(source)} beside the model, or the --spec file"

    @property
    def fixed_batch(self) -> int | None:
        return self.io.fixed_batch or self.spec.fixed_batch

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], provider: str = "auto", threads: int | None = None,
                  spec: ModelSpec | None = None, engine_cache: str | os.PathLike[str] | None = None,
                  max_batch: int = EVAL_BATCH) -> OnnxRuntimeBackend:
        """`spec` (from --spec) overrides the sidecar MODEL.spec.json, which overrides the embedded spec
        (asl_edge.onnx_header.resolve_spec)."""
        ort = require("onnxruntime", "the ONNX Runtime backend",
                      "pip install onnxruntime (onnxruntime-gpu on a GPU machine, the Jetson Zoo wheel on a Jetson)")
        # Read the metadata first (cheap) so the right provider options can be chosen. This CPU session inspects
        # the model (and runs it when the CPU is the only provider) with onnxruntime's own log silenced: its lines
        # would print before, and repeat, the one error line of a model it cannot load. A GPU session below keeps
        # onnxruntime's log: it says why a provider failed to start.
        probe = open_cpu_session(path, _session_options(ort, threads))
        graph = ModelIO.from_session(probe, str(path))
        check_drivable(graph)  # a model no spec can make runnable is said so, before a spec is asked for
        metadata = probe.get_modelmeta().custom_metadata_map
        override = spec_override(path, spec)
        header = header_from_metadata(metadata, str(path), override=override)
        # Where the spec came from: where a failed run's fix (`_run_failure`) is made.
        sidecar = sidecar_spec_path(path)
        if spec is not None:
            spec_file = "the --spec file"
        elif override is not None:
            spec_file = str(sidecar)
        else:
            spec_file = f"{sidecar}, which `asl-edge spec {path}` writes as a copy of the spec embedded in the model"
        spec = cast(ModelSpec, header.spec)  # need_spec: never None
        precision = header.precision
        check_spec(graph, spec)  # before any GPU provider is started
        # TensorRT EP engines are tied to the onnxruntime build (and the TensorRT it was built against).
        cache = Path(engine_cache or default_engine_cache()) / f"onnxruntime-{ort.__version__}"
        # A graph with a fixed batch has static shapes: the TensorRT EP needs no batch profile for it.
        # A spec's fixed batch (a graph that leaves the batch open but runs only that one) caps the profile.
        profile = None if graph.fixed_batch else batch_profile(spec.input_name, spec.input_shape,
                                                               spec.fixed_batch or max_batch)
        providers = provider_list(ort.get_available_providers(), provider, precision, cache, profile)
        if providers == ["CPUExecutionProvider"]:
            session = probe
        else:
            session = ort.InferenceSession(str(path), _session_options(ort, threads), providers=providers)
        running = session.get_providers()[0]
        if provider != "auto" and running != PROVIDER_NAMES[provider]:
            # onnxruntime falls back silently (an "EP Error" in its log) when a provider fails to load.
            raise ModelError(f"onnxruntime could not start {PROVIDER_NAMES[provider]} and fell back to {running} "
                             "(its log above says why: often a missing libnvinfer or CUDA library); "
                             "use --provider auto to accept the fallback")
        return cls(session, spec, precision, str(path), spec_file)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        try:
            (probs,) = self.session.run([self._output_name], {self._input_name: batch})
        except Exception as exc:  # onnxruntime's own exception types (Fail, RuntimeException) are not importable
            if "allocate" in str(exc):
                wanted = re.search(r"buffer of size (\d+)", str(exc))
                size = f": {int(wanted.group(1)) / 2**30:.1f} GiB asked for" if wanted else ""
                raise AslEdgeError(f"{self._source}: onnxruntime ran out of memory for a batch of {batch.shape[0]}"
                                   f"{size}; use smaller batches (e.g. benchmark --batch 1,32)") from None
            raise self._run_failure(batch.shape, exc) from None
        probs = np.asarray(probs, dtype=np.float32)
        # Some converters keep singleton axes, e.g. (N, 1, 1, classes) from a Keras 1x1 conv head.
        return probs.reshape(probs.shape[0], -1) if probs.ndim > 2 else probs

    def _run_failure(self, shape: tuple[int, ...], exc: Exception) -> InferenceError:
        """onnxruntime's failure to run a batch, as one line naming the model, the batch shape and the fix: a
        batch above 1 on a graph that leaves the batch open is most often a model that runs only one input at a
        time (a Reshape to a fixed [1, ...]), which "batch": 1 in its spec makes every command respect."""
        reason = onnxruntime_reason(exc)
        dims = "x".join(map(str, shape))
        if shape[0] > 1 and self.fixed_batch is None:
            fix = (f"the graph leaves the batch open, but the model fails on {shape[0]} inputs at once: if it runs "
                   f"one at a time, set \"batch\": 1 in its spec ({self._spec_file}), so that every command sends it "
                   "one input per call")
        else:
            fix = ("the model itself fails on this input, which asl-edge feeds it as its spec says: check the spec "
                   "against how the model was exported, or re-export the model")
        return InferenceError(f"onnxruntime failed to run {self._source} on a batch of shape {dims} ({reason}); "
                              f"{fix}", tuple(shape), reason)

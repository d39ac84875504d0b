"""The two hand models behind one small interface (`detect`, `landmarks`), with two implementations:

- `OnnxHandModels`: the ONNX files shipped in the package on ONNX Runtime (TensorRT, CUDA or CPU
  execution provider, whichever exists, as for the classifier; the TensorRT provider in FP16 by default,
  its engines cached in the asl-edge engine cache folder).
- `TensorRTHandModels`: the FP16 engines `asl-edge build --hand-models full|lite` built and recorded in
  the engine cache, found by their manifests (`find_hand_engines`: role, shipped ONNX's sha256, and
  check_engine's TensorRT/GPU/platform match), run by runtime/trt_engine.EngineRunner (one input, N
  named outputs).

`HandModels.bundled(variant, backend=...)` and `HandModels.from_engines(palm, landmarks)` make either.
Input and output names and ranges: `asl_edge/assets/hands/ORIGIN.md`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.artifacts import sha256_file
from asl_edge.errors import EngineMismatchError, ModelError, require
from asl_edge.runtime.backends.onnxruntime_backend import provider_list
from asl_edge.runtime.backends.tensorrt.manifest import (
    DeviceFacts,
    EngineManifest,
    check_engine,
    default_engine_cache,
    read_manifest,
)

VARIANTS = ("full", "lite")
BACKENDS = ("onnxruntime", "tensorrt")
# The manifest roles of the two engines, in the order of hand_model_paths (palm detector, landmark model).
HAND_ROLES = ("palm_detector", "hand_landmarks")
PALM_OUTPUTS = ("regressors", "scores")
LANDMARK_OUTPUTS = ("landmarks", "presence", "handedness")
LANDMARK_INPUT_SIZE = 224
NUM_LANDMARKS = 21


# Package data of asl_edge (asl_edge/assets), wherever the package is installed.
ASSETS = Path(str(resources.files("asl_edge") / "assets"))
HAND_ASSETS = ASSETS / "hands"
# The bundled image classifier (40x40 gray, fixed box): the chain's fallback for frames without a hand.
BUNDLED_IMAGE_MODEL = ASSETS / "asl_default.onnx"
# The bundled landmark classifier (29 classes, 111 landmark features): the default model of run and demo.
BUNDLED_LANDMARK_MODEL = ASSETS / "asl_landmarks.onnx"


def hand_model_paths(variant: str = "full") -> tuple[Path, Path]:
    """(palm detector, landmark model) ONNX paths of a bundled variant ("full" or "lite")."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown hand model variant '{variant}'; choose {' or '.join(VARIANTS)}")
    folder = HAND_ASSETS
    return folder / f"palm_detection_{variant}.onnx", folder / f"hand_landmark_{variant}.onnx"


@dataclass(frozen=True)
class LandmarkOutput:
    """One crop's landmark model outputs: landmarks (21, 3) in crop pixels, presence and handedness in [0, 1]."""

    landmarks: np.ndarray
    presence: float
    handedness: float


class HandModels:
    """detect and landmarks on batch-1 float32 NCHW RGB [0, 1]; an implementation supplies `_run`.

    `device`: the ONNX Runtime provider or the GPU's name; `describe()`: where they run, in words
    ("onnxruntime CPUExecutionProvider", "TensorRT 10.3.0 on Orin (fp16 engines)").
    """

    backend = ""
    device = ""
    paths: tuple[Path, Path] = (Path(), Path())

    @classmethod
    def bundled(cls, variant: str = "full", provider: str = "auto", threads: int | None = None,
                precision: str = "fp16", backend: str = "onnxruntime",
                cache_dir: str | os.PathLike[str] | None = None, device_index: int = 0) -> HandModels:
        """The shipped models of `variant`: on ONNX Runtime, or (backend "tensorrt") from the engines
        `asl-edge build --hand-models VARIANT` left in the engine cache."""
        if backend == "tensorrt":
            return TensorRTHandModels.from_cache(variant, cache_dir, device_index)
        if backend != "onnxruntime":
            raise ModelError(f"hand model backend {backend!r}: choose {' or '.join(BACKENDS)}")
        return OnnxHandModels(*hand_model_paths(variant), provider=provider, threads=threads, precision=precision)

    @classmethod
    def from_engines(cls, palm_engine: str | os.PathLike[str], landmark_engine: str | os.PathLike[str],
                     device_index: int = 0) -> HandModels:
        """The two engines (each checked against its manifest first) on TensorRT."""
        return TensorRTHandModels(palm_engine, landmark_engine, device_index)

    def detect(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, 3, 192, 192) -> regressors (2016, 18) and score logits (2016,)."""
        regressors, scores = self._run(0, tensor, PALM_OUTPUTS)
        return regressors.reshape(-1, regressors.shape[-1]), scores.reshape(-1)

    def landmarks(self, tensor: np.ndarray) -> LandmarkOutput:
        """(1, 3, 224, 224) -> 21 landmarks in crop pixels, presence and handedness probabilities."""
        landmarks, presence, handedness = self._run(1, tensor, LANDMARK_OUTPUTS)
        return LandmarkOutput(landmarks.reshape(NUM_LANDMARKS, 3), float(presence.ravel()[0]),
                              float(handedness.ravel()[0]))

    def _run(self, model: int, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        """Model 0 (palm detector) or 1 (landmark model) on `tensor` -> the named outputs, in order."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.backend} {self.device}"

    def close(self) -> None:
        """Release what the models hold (GPU buffers for TensorRT); idempotent."""

    def __enter__(self) -> HandModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OnnxHandModels(HandModels):
    """The palm detector and the landmark model as ONNX Runtime sessions."""

    backend = "onnxruntime"

    def __init__(self, palm_path: str | os.PathLike[str], landmark_path: str | os.PathLike[str],
                 provider: str = "auto", threads: int | None = None, precision: str = "fp16",
                 engine_cache: str | os.PathLike[str] | None = None) -> None:
        """`precision` and `engine_cache` reach only the TensorRT execution provider (FP16 by default, as
        `asl-edge build --hand-models` builds them); CUDA and CPU run the FP32 graphs as they are."""
        ort = require("onnxruntime", "the hand stage", "pip install onnxruntime (the Jetson Zoo wheel on a Jetson)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = provider_list(ort.get_available_providers(), provider, precision=precision,
                                  engine_cache=engine_cache)
        self.paths = (Path(palm_path), Path(landmark_path))
        try:
            self._sessions = (ort.InferenceSession(str(palm_path), options, providers=providers),
                              ort.InferenceSession(str(landmark_path), options, providers=providers))
        except Exception as exc:  # onnxruntime raises its own Fail/NoSuchFile/InvalidProtobuf types
            raise ModelError(f"cannot load the hand models {palm_path}, {landmark_path}: "
                             f"{str(exc).splitlines()[0][:200]}") from exc
        self.device = str(self._sessions[0].get_providers()[0])

    def _run(self, model: int, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        session: Any = self._sessions[model]
        return list(session.run(list(outputs), {"image": np.ascontiguousarray(tensor, np.float32)}))


def find_hand_engines(variant: str, here: DeviceFacts,
                      cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """(palm detector, landmark model) engines that `asl-edge build --hand-models VARIANT` left in the
    engine cache for this TensorRT, GPU and platform, each checked with check_engine.

    Candidates are the cache's `<shipped onnx stem>.*.engine` files (the build names them after the
    compiled graph, whose stem starts with the shipped one also for the FP16 copy made on TensorRT 11)
    whose manifest has the role and was built from the shipped ONNX as it is now; the newest usable one
    wins, so engines built with other build options count too. Raises ModelError (none there) or
    EngineMismatchError (there, but refused), each one line naming the build command.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_engine_cache()
    build = f"asl-edge build --hand-models {variant}"
    found = []
    for role, onnx_path in zip(HAND_ROLES, hand_model_paths(variant), strict=True):
        shipped_sha = sha256_file(onnx_path)
        candidates = sorted(cache.glob(f"{onnx_path.stem}.*.engine") if cache.is_dir() else [],
                            key=lambda p: p.stat().st_mtime, reverse=True)
        refusal: EngineMismatchError | None = None
        chosen = None
        for engine in candidates:
            try:
                manifest = read_manifest(engine)
            except EngineMismatchError as exc:
                refusal = refusal or exc
                continue
            if manifest.role != role or _built_from(manifest) != shipped_sha:
                continue  # another variant's or model's engine, or one of an older copy of the package
            try:
                # TensorRT < 11 compiled the shipped graph itself: its sha256 is checked here too.
                check_engine(engine, here, onnx_sha256=shipped_sha if manifest.source_onnx_sha256 is None else None)
            except EngineMismatchError as exc:
                refusal = refusal or exc
                continue
            chosen = engine
            break
        if chosen is None:
            if refusal is not None:
                raise refusal
            raise ModelError(f"no TensorRT {role} engine for the {variant} hand models in {cache} for TensorRT "
                             f"{here.tensorrt_version} on {here.gpu_name}; build them with: {build}")
        found.append(chosen)
    return found[0], found[1]


def _built_from(manifest: EngineManifest) -> str:
    """sha256 of the shipped ONNX an engine came from (the FP16 copy's source on TensorRT 11)."""
    return manifest.source_onnx_sha256 or manifest.onnx_sha256


class TensorRTHandModels(HandModels):
    """The two FP16 engines on TensorRT, one execution context each, on one CUDA device and stream.

    As for the classifier's TensorRT backend, every call makes the GPU current on the calling thread
    (the tracker runs on the pipeline's inference thread) and a lock keeps the contexts to one caller.
    """

    backend = "tensorrt"

    def __init__(self, palm_engine: str | os.PathLike[str], landmark_engine: str | os.PathLike[str],
                 device_index: int = 0) -> None:
        from asl_edge.runtime.backends.tensorrt.cuda_device import open_cuda_device
        from asl_edge.runtime.backends.tensorrt.support import tensorrt_version

        purpose = "the hand models on TensorRT"
        version = tensorrt_version(purpose)
        cuda = open_cuda_device(device_index, purpose)
        self._cuda = cuda
        self._lock = threading.Lock()
        self.paths = (Path(palm_engine), Path(landmark_engine))
        try:
            here = DeviceFacts.here(version, cuda.name, cuda.compute_capability)
            manifests = [check_engine(path, here) for path in self.paths]
            for manifest, role, path in zip(manifests, HAND_ROLES, self.paths, strict=True):
                if manifest.role != role:
                    raise ModelError(f"engine {path} is a {manifest.role} engine, not a {role} one; build the hand "
                                     "engines with: asl-edge build --hand-models full")
            from asl_edge.runtime.backends.tensorrt import (
                engine as trt_engine,  # imports tensorrt: only after tensorrt_version() vouched
            )

            keepalive = []
            runners = []
            with cuda.current():
                for manifest, path in zip(manifests, self.paths, strict=True):
                    runtime, engine = trt_engine.deserialize(path.read_bytes(), str(path), manifest.rebuild_command(),
                                                             manifest.options.dla_core)
                    keepalive.append((runtime, engine))
                    runners.append(trt_engine.EngineRunner(engine, cuda, expect_outputs=None))
            for runner, names, path in zip(runners, (PALM_OUTPUTS, LANDMARK_OUTPUTS), self.paths, strict=True):
                if not set(names) <= set(runner.outputs):
                    raise ModelError(f"engine {path} has outputs {runner.outputs}, not {list(names)}; rebuild with: "
                                     f"{manifests[0].rebuild_command()}")
        except BaseException:
            cuda.close()
            raise
        self._keepalive: list[Any] | None = keepalive
        self._runners: list[Any] | None = runners
        self.device = cuda.name
        self._description = f"TensorRT {version} on {cuda.name} ({manifests[0].precision} engines)"

    @classmethod
    def from_cache(cls, variant: str = "full", cache_dir: str | os.PathLike[str] | None = None,
                   device_index: int = 0) -> TensorRTHandModels:
        """The engines of `variant` in the engine cache (see find_hand_engines) for this device."""
        from asl_edge.runtime.backends.tensorrt.cuda_device import open_cuda_device
        from asl_edge.runtime.backends.tensorrt.support import tensorrt_version

        hand_model_paths(variant)  # an unknown variant is refused before any GPU work
        purpose = "the hand models on TensorRT"
        version = tensorrt_version(purpose)
        cuda = open_cuda_device(device_index, purpose)
        try:
            here = DeviceFacts.here(version, cuda.name, cuda.compute_capability)
        finally:
            cuda.close()
        return cls(*find_hand_engines(variant, here, cache_dir), device_index=device_index)

    def describe(self) -> str:
        return self._description

    def _run(self, model: int, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        with self._lock:
            if self._runners is None:
                raise ModelError("the TensorRT hand models are closed")
            with self._cuda.current():
                got = self._runners[model].run_all(np.ascontiguousarray(tensor, np.float32))
        return [got[name] for name in outputs]

    def close(self) -> None:
        with self._lock:
            if self._runners is None:
                return
            with self._cuda.current():
                # Execution contexts and engines go before the buffers they point into.
                self._runners = None
                self._keepalive = None
            self._cuda.close()

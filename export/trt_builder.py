"""`asl-edge build`: compile an ONNX graph's precision to a TensorRT engine, cached with its manifest.

The precision is the graph's (metadata key asl_edge.precision written by `asl-edge export`): an FP16
graph makes an FP16 engine, a Q/DQ graph an INT8 one. How that is told to TensorRT depends on its
version (`typing_for`, `PRECISION_FLAGS`); the TensorRT calls themselves are in trt_compile.py, which
is imported only once TensorRT is known to load. Engines are cached under a key of everything that
makes them differ, so building an unchanged ONNX again reuses the engine and a changed one rebuilds.

The hand models (MediaPipe palm detector and landmark model, shipped as FP32 ONNX without a ModelSpec)
go through the same compile step and cache as FP16 engines (`hand_model_facts`, `build_chain`), and
their manifests say their role. How FP16 reaches TensorRT follows the version, as for classifiers:
- TensorRT 8.x and 10.x: the shipped FP32 graph, weakly typed, with the FP16 builder flag.
- TensorRT 11 (always strongly typed, no FP16 flag): an FP16 copy of the graph with float32 input and
  outputs (onnxconverter-common's float16 converter, as `asl-edge export` makes FP16 classifiers),
  written once per shipped graph into the engine cache's `fp16-onnx` folder and built from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from asl_edge import __version__
from asl_edge.artifacts import atomic_write_bytes, atomic_write_text
from asl_edge.errors import EngineMismatchError, ModelError
from asl_edge.export.onnx_facts import (
    PURPOSE,
    OnnxFacts,
    check_current_export,
    hand_model_facts,
    read_onnx_facts,
)
from asl_edge.run_folder import folder_lock
from asl_edge.runtime.backends.tensorrt.backend import TensorRTBackend
from asl_edge.runtime.backends.tensorrt.cuda_device import open_cuda_device
from asl_edge.runtime.backends.tensorrt.loaders import EngineFromPath, EngineSource
from asl_edge.runtime.backends.tensorrt.manifest import (
    CLASSIFIER,
    BuildOptions,
    DeviceFacts,
    EngineManifest,
    cache_key,
    cached_engine_path,
    check_engine,
    default_engine_cache,
    manifest_path,
)
from asl_edge.runtime.backends.tensorrt.support import tensorrt_major, tensorrt_version
from asl_edge.spec import ModelSpec

# Builder flags for a weakly typed network (TensorRT 8.x, or 10.x with a graph that does not say its
# precision). Q/DQ graphs need INT8, and FP16 lets the layers between them run in half precision.
PRECISION_FLAGS: dict[str, tuple[str, ...]] = {"fp32": (), "fp16": ("FP16",), "int8": ("INT8", "FP16")}


def hand_build_options(options: BuildOptions) -> BuildOptions:
    """The classifier's options for a hand model: its input is fixed at batch 1, so no batch profile."""
    return replace(options, max_batch=1, opt_batch=1)


def typing_for(trt_major: int, carries_precision: bool) -> bool:
    """Strongly typed network? Always on 11.x; on 10.x when the graph carries its precision; never on 8.x."""
    if trt_major >= 11:
        return True
    return trt_major == 10 and carries_precision


def flags_for(trt_major: int, precision: str, strongly_typed: bool) -> tuple[str, ...]:
    """The BuilderFlag names a build sets: none when the network is strongly typed (or on 11.x)."""
    if strongly_typed or trt_major >= 11:
        return ()
    return PRECISION_FLAGS[precision]


def describe_typing(trt_major: int, precision: str, strongly_typed: bool) -> str:
    if strongly_typed:
        return f"strongly typed network ({precision} from the graph)"
    flags = flags_for(trt_major, precision, strongly_typed)
    return f"builder flags {'+'.join(flags)}" if flags else "fp32 network, no precision flags"


def check_buildable(facts: OnnxFacts, trt_major: int, options: BuildOptions) -> None:
    """Refuse, before any TensorRT work, what this TensorRT cannot build."""
    if trt_major >= 11 and not facts.carries_precision and facts.precision != "fp32":
        raise ModelError(f"{facts.path} looks {facts.precision} but does not say so in its metadata; TensorRT 11 "
                         "takes precision from the graph only: export it with `asl-edge export`")
    if facts.fixed_batch is not None and options.max_batch > facts.fixed_batch:
        raise ModelError(f"{facts.path} has a fixed batch of {facts.fixed_batch}, so --max-batch {options.max_batch} "
                         f"cannot be built; use --max-batch {facts.fixed_batch} (or re-export with a dynamic batch)")
    if options.dla_core is not None and facts.precision == "fp32":
        raise ModelError("DLA runs only FP16 and INT8 layers: build the fp16 or int8 ONNX from `asl-edge export` "
                         "for --dla-core")


@dataclass
class BuildResult:
    engine_path: Path
    manifest: EngineManifest
    reused: bool
    seconds: float = 0.0
    copies: list[Path] = field(default_factory=list)


class BuildProgress:
    """Prints elapsed time (and the builder's current phase where TensorRT reports it) every few seconds."""

    def __init__(self, log: Callable[[str], None], every_s: float = 10.0) -> None:
        self.log = log
        self.every_s = every_s
        self.phase = ""
        self._done = threading.Event()
        self._start = time.monotonic()

    def on_phase(self, phase: str) -> None:
        self.phase = phase

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def _beat(self) -> None:
        while not self._done.wait(self.every_s):
            phase = f" ({self.phase})" if self.phase else ""
            self.log(f"  still building{phase}: {self.elapsed():.0f} s")

    @contextmanager
    def running(self) -> Iterator[BuildProgress]:
        thread = threading.Thread(target=self._beat, name="asl-edge-build-progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._done.set()
            thread.join()


def write_engine(engine_path: Path, plan: bytes, manifest: EngineManifest) -> None:
    """Engine first, manifest last, each atomically: an engine without a valid manifest is never used."""
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(engine_path, plan)
    atomic_write_text(manifest_path(engine_path), manifest.to_json())


def copy_engine(engine_path: Path, out: Path) -> Path:
    if out.is_dir():
        out = out / engine_path.name
    for source, target in ((engine_path, out), (manifest_path(engine_path), manifest_path(out))):
        with open(source, "rb") as handle:
            atomic_write_bytes(target, handle.read())
    return out


def _print(line: str) -> None:
    print(line, flush=True)  # progress lines must show while a build runs for minutes


# (onnx facts, options, strongly typed, flag names, timing cache, phase callback) -> serialized engine
CompilePlan = Callable[[OnnxFacts, BuildOptions, bool, tuple[str, ...], "str | os.PathLike[str] | None",
                        Callable[[str], None]], bytes]


def compile_with_tensorrt(facts: OnnxFacts, options: BuildOptions, strongly_typed: bool, flags: tuple[str, ...],
                          timing_cache: str | os.PathLike[str] | None, on_phase: Callable[[str], None]) -> bytes:
    from asl_edge.export import trt_compile  # imports tensorrt: only once tensorrt_version() vouched for it

    return trt_compile.compile_onnx(facts.path, facts.input_name, options, strongly_typed, flags,
                                    facts.node_names, timing_cache, on_phase)


def build_engine(onnx_path: str | os.PathLike[str], options: BuildOptions | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
                 timing_cache: str | os.PathLike[str] | None = None, force: bool = False, device_index: int = 0,
                 log: Callable[[str], None] | None = None, spec: ModelSpec | None = None) -> BuildResult:
    """Return the cached engine of this ONNX for this GPU, building it first if needed. `spec` (--spec)
    overrides the model's sidecar and embedded spec (onnx_facts.read_onnx_facts)."""
    options = options or BuildOptions()
    facts = read_onnx_facts(onnx_path, spec)
    check_current_export(facts, log or _print)
    version = tensorrt_version(PURPOSE)
    check_buildable(facts, tensorrt_major(version), options)
    cuda = open_cuda_device(device_index, PURPOSE)
    here = DeviceFacts.here(version, cuda.name, cuda.compute_capability)
    cuda.close()  # only its facts were needed: TensorRT builds on the runtime's primary context
    return build_or_reuse(facts, here, options, cache_dir, out, timing_cache, force, log)


@dataclass(frozen=True)
class EngineFromOnnx:
    """An engine source (runtime.backends.tensorrt.loaders) that builds the engine of an ONNX file for this GPU,
    or reuses the cached one: `TensorRTBackend.load(EngineFromOnnx(path))` runs an ONNX model on TensorRT."""

    onnx: Path
    options: BuildOptions = field(default_factory=BuildOptions)
    cache_dir: Path | None = None
    log: Callable[[str], None] | None = None
    spec: ModelSpec | None = None  # --spec: over the ONNX file's sidecar and embedded spec

    def __call__(self) -> Path:
        return build_engine(self.onnx, self.options, self.cache_dir, log=self.log, spec=self.spec).engine_path


def tensorrt_backend(model: str | os.PathLike[str], options: BuildOptions | None = None,
                     log: Callable[[str], None] | None = None, spec: ModelSpec | None = None) -> TensorRTBackend:
    """The TensorRT backend of an engine file, or of an ONNX file built (or reused from the cache) first:
    the one path `run` and the benchmark open TensorRT models through. `options.max_batch` is the largest
    batch wanted; an ONNX graph whose batch is fixed is built for exactly that batch instead (the backend
    then splits and pads, Backend.infer). `spec` (--spec) overrides the model's own."""
    path = Path(model)
    options = options or BuildOptions()
    if path.suffix.lower() == ".onnx":
        fixed = read_onnx_facts(path, spec).fixed_batch
        if fixed is not None:
            options = replace(options, max_batch=fixed, opt_batch=fixed)
        source: EngineSource = EngineFromOnnx(path, options, log=log, spec=spec)
    else:
        source = EngineFromPath(path)
    return TensorRTBackend.load(source, spec=spec)


def build_or_reuse(facts: OnnxFacts, here: DeviceFacts, options: BuildOptions,
                   cache_dir: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
                   timing_cache: str | os.PathLike[str] | None = None, force: bool = False,
                   log: Callable[[str], None] | None = None,
                   compile_plan: CompilePlan = compile_with_tensorrt) -> BuildResult:
    """The cache: reuse the engine whose key and manifest match, else compile, write and record one."""
    log = log or _print
    major = tensorrt_major(here.tensorrt_version)
    cache = Path(cache_dir) if cache_dir is not None else default_engine_cache()
    engine_path = cached_engine_path(cache, facts.path, cache_key(facts.sha256, here, facts.precision, options))
    if engine_path.is_file() and not force:
        try:
            manifest = check_engine(engine_path, here, onnx_sha256=facts.sha256)
        except EngineMismatchError as exc:
            log(f"not reusing the cached engine: {exc}")
        else:
            log(f"reusing cached engine {engine_path} (same ONNX, TensorRT {here.tensorrt_version}, {here.gpu_name})")
            return BuildResult(engine_path, manifest, reused=True,
                               copies=[copy_engine(engine_path, Path(out))] if out is not None else [])

    strongly_typed = typing_for(major, facts.carries_precision)
    flags = flags_for(major, facts.precision, strongly_typed)
    what = "" if facts.role == CLASSIFIER else f" {facts.role}"
    log(f"building a {facts.precision}{what} engine from {facts.path} with TensorRT {here.tensorrt_version} on "
        f"{here.gpu_name}: {describe_typing(major, facts.precision, strongly_typed)}, batch 1..{options.max_batch}. "
        "This takes minutes on a Jetson.")
    progress = BuildProgress(log)
    with progress.running():
        plan = compile_plan(facts, options, strongly_typed, flags, timing_cache, progress.on_phase)
    manifest = EngineManifest(
        device=here, precision=facts.precision, strongly_typed=strongly_typed, spec=facts.spec,
        onnx_path=str(facts.path), onnx_sha256=facts.sha256, engine_sha256=hashlib.sha256(plan).hexdigest(),
        options=options, timing_cache=None if timing_cache is None else str(timing_cache),
        asl_edge_version=__version__, role=facts.role,
        source_onnx_path=None if facts.source is None else str(facts.source), source_onnx_sha256=facts.source_sha256,
        checkpoint_sha256=facts.provenance.checkpoint_sha256)
    write_engine(engine_path, plan, manifest)
    log(f"built {engine_path} ({len(plan) / 1e6:.1f} MB) in {progress.elapsed():.0f} s")
    return BuildResult(engine_path, manifest, reused=False, seconds=progress.elapsed(),
                       copies=[copy_engine(engine_path, Path(out))] if out is not None else [])


def chain_hand_variant(facts: OnnxFacts | None, hand_models: str | None) -> str | None:
    """The hand models to build with the classifier: those asked for, else "full" for a landmarks model."""
    if hand_models is not None:
        return hand_models
    if facts is not None and facts.spec is not None and facts.spec.inputs == "landmarks":
        return "full"
    return None


def build_chain_or_reuse(facts: OnnxFacts | None, hand_facts: Sequence[OnnxFacts], here: DeviceFacts,
                         options: BuildOptions, cache_dir: str | os.PathLike[str] | None = None,
                         out: str | os.PathLike[str] | None = None,
                         timing_cache: str | os.PathLike[str] | None = None, force: bool = False,
                         log: Callable[[str], None] | None = None,
                         compile_plan: CompilePlan = compile_with_tensorrt) -> list[BuildResult]:
    """Every engine of the chain through build_or_reuse: hand models first (batch 1; copied to `out` only
    when it is a folder), the classifier last."""
    results = []
    hand_out = out if out is not None and Path(out).is_dir() else None
    for hand in hand_facts:
        check_buildable(hand, tensorrt_major(here.tensorrt_version), options)
        results.append(build_or_reuse(hand, here, hand_build_options(options), cache_dir, hand_out, timing_cache,
                                      force, log, compile_plan))
    if facts is not None:
        results.append(build_or_reuse(facts, here, options, cache_dir, out, timing_cache, force, log, compile_plan))
    return results


def build_chain(onnx_path: str | os.PathLike[str] | None, hand_models: str | None = None,
                options: BuildOptions | None = None, cache_dir: str | os.PathLike[str] | None = None,
                out: str | os.PathLike[str] | None = None, timing_cache: str | os.PathLike[str] | None = None,
                force: bool = False, device_index: int = 0,
                log: Callable[[str], None] | None = None, spec: ModelSpec | None = None) -> list[BuildResult]:
    """`asl-edge build`: the classifier (if given) and the hand models it needs (or those asked for).
    `spec` (--spec) overrides the classifier's sidecar and embedded spec."""
    options = options or BuildOptions()
    facts = read_onnx_facts(onnx_path, spec) if onnx_path is not None else None
    if facts is not None:
        check_current_export(facts, log or _print)
    variant = chain_hand_variant(facts, hand_models)
    if facts is None and variant is None:
        raise ModelError("give an ONNX model, or --hand-models full|lite, to build")
    version = tensorrt_version(PURPOSE)
    major = tensorrt_major(version)
    if facts is not None:
        check_buildable(facts, major, options)
    hand_facts = hand_model_facts(variant, major, cache_dir) if variant is not None else []
    cuda = open_cuda_device(device_index, PURPOSE)
    here = DeviceFacts.here(version, cuda.name, cuda.compute_capability)
    cuda.close()
    # Copies into --out are locked against other asl-edge writers of that folder (asl_edge.run_folder).
    lock = folder_lock(_out_folder(Path(out)), "build") if out is not None else contextlib.nullcontext()
    with lock:
        return build_chain_or_reuse(facts, hand_facts, here, options, cache_dir, out, timing_cache, force, log)


def _out_folder(out: Path) -> Path:
    """The folder an --out copy goes to: --out itself when it is a folder, else its parent."""
    return out if out.is_dir() else (out.parent if str(out.parent) else Path("."))


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Remove every cached engine and manifest; returns how many engines went."""
    cache = Path(cache_dir) if cache_dir is not None else default_engine_cache()
    engines = list(cache.glob("*.engine")) if cache.is_dir() else []
    for engine in engines:
        engine.unlink(missing_ok=True)
        manifest_path(engine).unlink(missing_ok=True)
    return len(engines)


__all__ = ["PRECISION_FLAGS", "BuildOptions", "BuildResult", "EngineFromOnnx", "build_chain", "build_chain_or_reuse",
           "build_engine", "build_or_reuse", "check_buildable", "clear_cache", "flags_for", "tensorrt_backend",
           "typing_for"]

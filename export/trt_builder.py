"""`asl-edge build`: compile an ONNX graph's precision to a TensorRT engine, cached with its manifest.

The precision is the graph's (metadata key asl_edge.precision written by `asl-edge export`): an FP16
graph makes an FP16 engine, a Q/DQ graph an INT8 one. How that is told to TensorRT depends on its
version (`typing_for`, `PRECISION_FLAGS`); the TensorRT calls themselves are in trt_compile.py, which
is imported only once TensorRT is known to load. Engines are cached under a key of everything that
makes them differ, so building an unchanged ONNX again reuses the engine and a changed one rebuilds.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from asl_edge import __version__
from asl_edge.artifacts import atomic_write_bytes, atomic_write_text, sha256_file, spec_from_metadata
from asl_edge.errors import EngineMismatchError, MissingDependencyError, ModelError
from asl_edge.runtime.cuda_device import open_cuda_device
from asl_edge.runtime.engine_manifest import (
    PRECISIONS,
    BuildOptions,
    DeviceFacts,
    EngineManifest,
    cache_key,
    cached_engine_path,
    check_engine,
    default_engine_cache,
    manifest_path,
)
from asl_edge.runtime.tensorrt_support import tensorrt_major, tensorrt_version
from asl_edge.spec import ONNX_PRECISION_KEY, ModelSpec

PURPOSE = "building a TensorRT engine"
# Builder flags for a weakly typed network (TensorRT 8.x, or 10.x with a graph that does not say its
# precision). Q/DQ graphs need INT8, and FP16 lets the layers between them run in half precision.
PRECISION_FLAGS: dict[str, tuple[str, ...]] = {"fp32": (), "fp16": ("FP16",), "int8": ("INT8", "FP16")}
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}


@dataclass(frozen=True)
class OnnxFacts:
    """What the builder needs to know about an ONNX file before TensorRT sees it."""

    path: Path
    sha256: str
    spec: ModelSpec
    precision: str
    carries_precision: bool  # True when the precision comes from asl-edge's metadata
    node_names: tuple[str, ...] = ()  # "Conv_3 (Conv)" per node, to name a node in TensorRT's parse errors


def _precision_of(metadata: dict[str, str], op_types: set[str], has_fp16_weights: bool,
                  source: str) -> tuple[str, bool]:
    stated = metadata.get(ONNX_PRECISION_KEY)
    if stated is not None:
        if stated not in PRECISIONS:
            raise ModelError(f"{source} says its precision is {stated!r}; expected one of {', '.join(PRECISIONS)}")
        return stated, True
    if op_types & QDQ_OPS:
        return "int8", False
    return ("fp16" if has_fp16_weights else "fp32"), False


def read_onnx_facts(path: str | os.PathLike[str]) -> OnnxFacts:
    """Spec, precision and node names from the onnx package, or the metadata alone from onnxruntime
    (a Jetson often has onnxruntime but not onnx)."""
    onnx_path = Path(path)
    if not onnx_path.is_file():
        raise ModelError(f"ONNX model {onnx_path} does not exist; export one with `asl-edge export`")
    sha = sha256_file(onnx_path)
    try:
        import onnx
    except ImportError:
        return _facts_from_onnxruntime(onnx_path, sha)
    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError and others for a bad file
        raise ModelError(f"{onnx_path} is not a readable ONNX model ({type(exc).__name__}); "
                         "re-export it with `asl-edge export`") from exc
    metadata = {p.key: p.value for p in model.metadata_props}
    nodes = model.graph.node
    fp16_weights = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    precision, stated = _precision_of(metadata, {n.op_type for n in nodes}, fp16_weights, str(onnx_path))
    return OnnxFacts(onnx_path, sha, spec_from_metadata(metadata, str(onnx_path)), precision, stated,
                     tuple(f"{n.name or '<unnamed>'} ({n.op_type})" for n in nodes))


def _facts_from_onnxruntime(onnx_path: Path, sha: str) -> OnnxFacts:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnx or onnxruntime", "reading the ONNX model's metadata",
                                     "pip install onnx (or onnxruntime)") from None
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/InvalidProtobuf types
        raise ModelError(f"{onnx_path} is not a loadable ONNX model: {str(exc).splitlines()[0][:200]}") from exc
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    precision, stated = _precision_of(metadata, set(), False, str(onnx_path))
    return OnnxFacts(onnx_path, sha, spec_from_metadata(metadata, str(onnx_path)), precision, stated)


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

    return trt_compile.compile_onnx(facts.path, facts.spec.input_name, options, strongly_typed, flags,
                                    facts.node_names, timing_cache, on_phase)


def build_engine(onnx_path: str | os.PathLike[str], options: BuildOptions | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
                 timing_cache: str | os.PathLike[str] | None = None, force: bool = False, device_index: int = 0,
                 log: Callable[[str], None] | None = None) -> BuildResult:
    """Return the cached engine of this ONNX for this GPU, building it first if needed."""
    options = options or BuildOptions()
    facts = read_onnx_facts(onnx_path)
    version = tensorrt_version(PURPOSE)
    check_buildable(facts, tensorrt_major(version), options)
    cuda = open_cuda_device(device_index, PURPOSE)
    here = DeviceFacts.here(version, cuda.name, cuda.compute_capability)
    cuda.close()  # only its facts were needed: TensorRT builds on the runtime's primary context
    return build_or_reuse(facts, here, options, cache_dir, out, timing_cache, force, log)


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
    log(f"building a {facts.precision} engine from {facts.path} with TensorRT {here.tensorrt_version} on "
        f"{here.gpu_name}: {describe_typing(major, facts.precision, strongly_typed)}, batch 1..{options.max_batch}. "
        "This takes minutes on a Jetson.")
    progress = BuildProgress(log)
    with progress.running():
        plan = compile_plan(facts, options, strongly_typed, flags, timing_cache, progress.on_phase)
    manifest = EngineManifest(
        device=here, precision=facts.precision, strongly_typed=strongly_typed, spec=facts.spec,
        onnx_path=str(facts.path), onnx_sha256=facts.sha256, engine_sha256=hashlib.sha256(plan).hexdigest(),
        options=options, timing_cache=None if timing_cache is None else str(timing_cache),
        asl_edge_version=__version__)
    write_engine(engine_path, plan, manifest)
    log(f"built {engine_path} ({len(plan) / 1e6:.1f} MB) in {progress.elapsed():.0f} s")
    return BuildResult(engine_path, manifest, reused=False, seconds=progress.elapsed(),
                       copies=[copy_engine(engine_path, Path(out))] if out is not None else [])


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Remove every cached engine and manifest; returns how many engines went."""
    cache = Path(cache_dir) if cache_dir is not None else default_engine_cache()
    engines = list(cache.glob("*.engine")) if cache.is_dir() else []
    for engine in engines:
        engine.unlink(missing_ok=True)
        manifest_path(engine).unlink(missing_ok=True)
    return len(engines)


__all__ = ["PRECISION_FLAGS", "BuildOptions", "BuildResult", "build_engine", "build_or_reuse", "check_buildable",
           "clear_cache", "flags_for", "read_onnx_facts", "typing_for"]

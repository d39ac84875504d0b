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

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from asl_edge import __version__
from asl_edge.artifacts import atomic_write_bytes, atomic_write_text, sha256_file, spec_from_metadata
from asl_edge.errors import EngineMismatchError, MissingDependencyError, ModelError, require
from asl_edge.runtime.backends.tensorrt.cuda_device import open_cuda_device
from asl_edge.runtime.backends.tensorrt.manifest import (
    CLASSIFIER,
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
from asl_edge.runtime.backends.tensorrt.support import tensorrt_major, tensorrt_version
from asl_edge.spec import ONNX_PRECISION_KEY, ModelSpec

# The hand models' roles in the manifest, in the order of hand_model_paths (palm detector, landmark model).
HAND_ROLES = ("palm_detector", "hand_landmarks")
HAND_PRECISION = "fp16"
FP16_ONNX_FOLDER = "fp16-onnx"

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
    spec: ModelSpec | None  # None for a model without asl-edge metadata (the hand models)
    precision: str
    carries_precision: bool  # True when the precision comes from asl-edge's metadata
    node_names: tuple[str, ...] = ()  # "Conv_3 (Conv)" per node, to name a node in TensorRT's parse errors
    role: str = CLASSIFIER
    input: str = ""  # the input tensor's name where there is no ModelSpec to say it
    input_shape: tuple[int, ...] = ()  # its fixed shape, likewise
    source: Path | None = None  # the shipped ONNX this graph was converted from (FP16 hand graphs)
    source_sha256: str | None = None

    @property
    def input_name(self) -> str:
        return self.spec.input_name if self.spec is not None else self.input


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


def read_fixed_shape_facts(path: str | os.PathLike[str], role: str) -> OnnxFacts:
    """Facts of an ONNX model without a ModelSpec: one input of fixed shape (no batch profile is needed,
    the engine is built for exactly that shape) and the precision its graph or metadata says."""
    onnx_path = Path(path)
    if not onnx_path.is_file():
        raise ModelError(f"ONNX model {onnx_path} does not exist")
    sha = sha256_file(onnx_path)
    onnx = require("onnx", f"reading the {role} ONNX model", "pip install onnx")
    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError and others for a bad file
        raise ModelError(f"{onnx_path} is not a readable ONNX model ({type(exc).__name__})") from exc
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if len(inputs) != 1:
        raise ModelError(f"{onnx_path} has inputs {[i.name for i in inputs]}; the {role} model has one")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) if d.HasField("dim_value") else -1 for d in dims)
    if not shape or any(d <= 0 for d in shape):
        raise ModelError(f"{onnx_path} input {inputs[0].name} has shape {shape}; building it needs fixed dims")
    metadata = {p.key: p.value for p in model.metadata_props}
    nodes = model.graph.node
    fp16_weights = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    precision, stated = _precision_of(metadata, {n.op_type for n in nodes}, fp16_weights, str(onnx_path))
    return OnnxFacts(onnx_path, sha, None, precision, stated,
                     tuple(f"{n.name or '<unnamed>'} ({n.op_type})" for n in nodes),
                     role=role, input=inputs[0].name, input_shape=shape)


def fp16_graph(facts: OnnxFacts, folder: str | os.PathLike[str]) -> OnnxFacts:
    """An FP16 copy of an FP32 graph (float32 input and outputs), tagged fp16, kept in `folder` under the
    source's sha256 so a later build reuses it; its facts name the source it came from."""
    target = Path(folder) / f"{facts.path.stem}.{facts.sha256[:16]}.fp16.onnx"
    if not target.is_file():
        onnx = require("onnx", "the FP16 hand graph", "pip install onnx onnxconverter-common")
        float16 = require("onnxconverter_common.float16", "the FP16 hand graph", "pip install onnxconverter-common")
        import warnings

        model = onnx.load(str(facts.path))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
            model = float16.convert_float_to_float16(model, keep_io_types=True)
        entry = model.metadata_props.add()
        entry.key, entry.value = ONNX_PRECISION_KEY, HAND_PRECISION
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
    from asl_edge.runtime.hand.models import hand_model_paths

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
        source_onnx_path=None if facts.source is None else str(facts.source), source_onnx_sha256=facts.source_sha256)
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
                log: Callable[[str], None] | None = None) -> list[BuildResult]:
    """`asl-edge build`: the classifier (if given) and the hand models it needs (or those asked for)."""
    options = options or BuildOptions()
    facts = read_onnx_facts(onnx_path) if onnx_path is not None else None
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
    return build_chain_or_reuse(facts, hand_facts, here, options, cache_dir, out, timing_cache, force, log)


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Remove every cached engine and manifest; returns how many engines went."""
    cache = Path(cache_dir) if cache_dir is not None else default_engine_cache()
    engines = list(cache.glob("*.engine")) if cache.is_dir() else []
    for engine in engines:
        engine.unlink(missing_ok=True)
        manifest_path(engine).unlink(missing_ok=True)
    return len(engines)


__all__ = ["HAND_ROLES", "PRECISION_FLAGS", "BuildOptions", "BuildResult", "build_chain", "build_chain_or_reuse",
           "build_engine", "build_or_reuse", "check_buildable", "clear_cache", "flags_for", "hand_model_facts",
           "read_fixed_shape_facts", "read_onnx_facts", "typing_for"]

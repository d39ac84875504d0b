"""The one reader and writer of what asl-edge stores in an ONNX file's `metadata_props`: the ModelSpec
(`ONNX_METADATA_KEY`), the graph's precision (`ONNX_PRECISION_KEY`) and its provenance (`Provenance`: the
sha256 of the checkpoint it was exported from, and for FP16/INT8 that of the FP32 file it was derived from,
so a consumer can tell a model's own exports from stale or unrelated files beside it).

`read_onnx_header(path)` reads a file with the onnx package where it is installed (a workstation), which
also lets it infer the precision of a graph that does not state one; else with onnxruntime (a Jetson often
has onnxruntime but not onnx). Code that already holds a parsed model or an onnxruntime session passes its
metadata map to `header_from_metadata`, so the keys, the defaults and the checks live only here.

A model from elsewhere has no spec in its metadata: its spec comes from a file, `--spec SPEC.json` or the
sidecar MODEL.spec.json beside it, and the precedence (--spec > sidecar > embedded) lives here too
(`spec_override`, `resolve_spec`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from asl_edge.errors import MissingDependencyError, ModelError, SpecError, require
from asl_edge.spec import ONNX_METADATA_KEY, ONNX_PRECISION_KEY, PRECISIONS, ModelSpec

# The operators of a Q/DQ (INT8) graph.
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
REEXPORT = "re-export it with `asl-edge export`"
# Provenance keys (sha256 hex digests, 64 lowercase characters).
CHECKPOINT_SHA256_KEY = "asl_edge.checkpoint_sha256"
SOURCE_ONNX_SHA256_KEY = "asl_edge.source_onnx_sha256"


@dataclass(frozen=True)
class Provenance:
    """What a derived ONNX file came from: the sha256 of the checkpoint it was exported from, and for an
    FP16/INT8 graph the sha256 of the FP32 ONNX file it was derived from. None where not recorded (files
    from before asl-edge recorded provenance, or made elsewhere, like the MediaPipe hand models)."""

    checkpoint_sha256: str | None = None
    source_onnx_sha256: str | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Provenance:
        return cls(metadata.get(CHECKPOINT_SHA256_KEY) or None, metadata.get(SOURCE_ONNX_SHA256_KEY) or None)

    @property
    def recorded(self) -> bool:
        return self.checkpoint_sha256 is not None or self.source_onnx_sha256 is not None


@dataclass(frozen=True)
class OnnxHeader:
    """What an ONNX file says about itself: its ModelSpec (None where it carries none and none was
    required, e.g. the MediaPipe hand models) and its precision, one of `PRECISIONS`; `stated` is True when
    the precision comes from asl-edge's metadata rather than from the graph's operators and weights."""

    spec: ModelSpec | None
    precision: str
    stated: bool
    provenance: Provenance = field(default_factory=Provenance)


# Whether `asl-edge spec` can write a spec for a model that carries none is told by its graph
# (asl_edge.runtime.backends.model_io.template_spec), a layer above this one: model_io installs the function
# that says it (`set_missing_spec_advice`) when it is imported, as every command that opens a model does.
_missing_spec_advice: list[Callable[[str], str | None]] = []


def set_missing_spec_advice(advice: Callable[[str], str | None]) -> None:
    """Install `advice(source)`: the end of the "carries no ModelSpec" line for the model file `source` (from
    ':' or ','), or None for the default fix, `asl-edge spec MODEL.onnx`."""
    _missing_spec_advice[:] = [advice]


def spec_from_metadata(metadata: Mapping[str, str], source: str) -> ModelSpec:
    """The ModelSpec stored under ONNX_METADATA_KEY in a model's metadata map.
    Raises SpecError naming `source` when it is missing or invalid; for a missing one the fix is `asl-edge spec`
    only where it can write one for the graph (`set_missing_spec_advice`)."""
    text = metadata.get(ONNX_METADATA_KEY)
    if text is None:
        advice = _missing_spec_advice[0](source) if _missing_spec_advice else None
        raise SpecError(f"{source} carries no ModelSpec (metadata key '{ONNX_METADATA_KEY}')" + (
            advice or f": write one with `asl-edge spec {source}` (then check its labels), or pass --spec SPEC.json"))
    try:
        return ModelSpec.from_json(text)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from exc


# A spec file beside a model, read automatically: MODEL.onnx -> MODEL.spec.json.
SIDECAR_SUFFIX = ".spec.json"


def sidecar_spec_path(model: str | os.PathLike[str]) -> Path:
    """Where a model's sidecar spec lives: the model's path with its suffix replaced by .spec.json."""
    return Path(model).with_suffix(SIDECAR_SUFFIX)


def load_spec_file(path: str | os.PathLike[str]) -> ModelSpec:
    """A ModelSpec JSON file (--spec, or a sidecar). Raises SpecError naming the file and the bad field."""
    fresh = "write a fresh template with `asl-edge spec MODEL.onnx --out NEW.spec.json`"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}; write one with "
                        "`asl-edge spec MODEL.onnx`") from exc
    except UnicodeDecodeError as exc:  # a binary file passed by mistake (the model itself, say)
        raise SpecError(f"spec file {path} is not UTF-8 text (a ModelSpec is JSON); {fresh}") from exc
    try:
        return ModelSpec.from_json(text)
    except SpecError as exc:
        raise SpecError(f"spec file {path}: {exc}; fix it, or {fresh}") from exc


def spec_override(model: str | os.PathLike[str], spec: ModelSpec | None = None) -> ModelSpec | None:
    """The spec that replaces the one embedded in a model file, first found of: `spec` (the --spec
    SPEC.json option, already loaded) and the sidecar MODEL.spec.json beside the model; None when neither
    exists and the embedded spec counts."""
    if spec is not None:
        return spec
    sidecar = sidecar_spec_path(model)
    return load_spec_file(sidecar) if sidecar.is_file() else None


def resolve_spec(model: str | os.PathLike[str], metadata: Mapping[str, str],
                 spec: ModelSpec | None = None) -> ModelSpec:
    """A model's ModelSpec by precedence: --spec (`spec`), then the sidecar MODEL.spec.json, then the spec
    embedded in its `metadata` (the ONNX file's metadata_props). Raises SpecError when none is found or the
    one found is invalid."""
    return spec_override(model, spec) or spec_from_metadata(metadata, str(model))


def header_from_metadata(metadata: Mapping[str, str], source: str, *, need_spec: bool = True,
                         op_types: Collection[str] = (), fp16_weights: bool = False,
                         override: ModelSpec | None = None) -> OnnxHeader:
    """The header from a metadata map. Without a stated precision it is inferred: a graph with Q/DQ
    operators is int8, one with float16 weights fp16, anything else (or an unseen graph) fp32.
    Raises ModelError for a stated precision asl-edge does not know, SpecError for a missing spec when
    `need_spec`. `override` (from spec_override) is the spec instead of the embedded one."""
    stated = metadata.get(ONNX_PRECISION_KEY)
    if stated is not None and stated not in PRECISIONS:
        raise ModelError(f"{source} says its precision is {stated!r}; expected one of {', '.join(PRECISIONS)}")
    if stated is not None:
        precision = stated
    elif QDQ_OPS.intersection(op_types):
        precision = "int8"
    else:
        precision = "fp16" if fp16_weights else "fp32"
    if override is not None:  # --spec or a sidecar (spec_override): the embedded spec is not even parsed
        spec: ModelSpec | None = override
    else:
        spec = spec_from_metadata(metadata, source) if need_spec or ONNX_METADATA_KEY in metadata else None
    return OnnxHeader(spec, precision, stated is not None, Provenance.from_metadata(metadata))


def load_onnx_model(path: str | os.PathLike[str], purpose: str = "reading an ONNX model") -> Any:
    """The onnx.ModelProto of a file, weights kept external where they are. Raises MissingDependencyError
    without the onnx package and ModelError for a file that is missing or not an ONNX model."""
    onnx = require("onnx", purpose, "pip install onnx (or 'asl-edge[workstation]')")
    if not os.path.isfile(path):
        raise not_a_file_error(path)
    if Path(path).suffix == ".pt":  # a checkpoint where an ONNX belongs: name the command that converts it
        raise ModelError(f"{path} is a PyTorch checkpoint, not an ONNX model; export it first with "
                         f"`asl-edge export {path}` and pass the model.onnx it writes")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError and others for a bad file
        raise ModelError(f"{path} is not a readable ONNX model ({type(exc).__name__}: not an ONNX model file, or a "
                         "damaged one); pass the .onnx file a converter wrote (`asl-edge export`, torch.onnx.export, "
                         "tf2onnx)") from exc
    # Protobuf decodes an empty file (and some cut-off ones) as a valid, empty message: no graph at all.
    if not model.HasField("graph") or not model.graph.node:
        size = os.path.getsize(path)
        raise ModelError(f"{path} is not a readable ONNX model (no graph in its {size} bytes: an empty or "
                         f"cut-off file?); {REEXPORT}")
    return model


def header_of_model(model: Any, source: str, need_spec: bool = True,
                    override: ModelSpec | None = None) -> OnnxHeader:
    """The header of a parsed onnx.ModelProto, the precision inferred from its graph when not stated."""
    from onnx import TensorProto

    return header_from_metadata({p.key: p.value for p in model.metadata_props}, source, need_spec=need_spec,
                                override=override,
                                op_types={n.op_type for n in model.graph.node},
                                fp16_weights=any(t.data_type == TensorProto.FLOAT16 for t in model.graph.initializer))


def read_onnx_header(path: str | os.PathLike[str], need_spec: bool = True,
                     override: ModelSpec | None = None) -> OnnxHeader:
    """Spec and precision of an ONNX file, with the onnx package or, without it, onnxruntime's CPU provider.
    Raises ModelError for a missing or unreadable file, SpecError for a missing spec when `need_spec`,
    MissingDependencyError when neither package is installed."""
    try:
        import onnx  # noqa: F401  (probe: the onnx package reads the graph, not only the metadata)
    except ImportError:
        return header_from_metadata(_onnxruntime_metadata(path), str(path), need_spec=need_spec, override=override)
    return header_of_model(load_onnx_model(path), str(path), need_spec, override)


# onnxruntime's OrtLoggingLevel: 0 verbose, 1 info, 2 warning (its default), 3 error, 4 fatal.
ORT_LOG_FATAL = 4


def not_a_file_error(path: str | os.PathLike[str], kind: str = "ONNX model", suffixes: Collection[str] = (".onnx",),
                     missing_fix: str = "export one with `asl-edge export`") -> ModelError:
    """The error for a model path that is not a file: a folder (even one named like a model, m/dir.onnx) is
    called a folder, with a model file in it to pass instead where it holds one (`suffixes`); anything else
    does not exist."""
    folder = Path(path)
    if folder.is_dir():
        inside = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file())
        fix = (f"pass a model file in it, e.g. {inside[0]}" if inside else
               f"pass the path of a model file ({', '.join(suffixes)}); this folder holds none")
        return ModelError(f"{path} is a folder, not {'an' if kind[0] in 'AEIOU' else 'a'} {kind} file; {fix}")
    return ModelError(f"{kind} {path} does not exist; {missing_fix}")


def open_cpu_session(path: str | os.PathLike[str], options: Any = None) -> Any:
    """An onnxruntime.InferenceSession of `path` on the CPU provider, for reading the model's metadata, inputs and
    outputs (and running it on the CPU). onnxruntime's own log is silenced below FATAL in `options` (new ones
    when None): a model it cannot load would print its ERROR line before asl-edge's one error line, which
    carries the same reason. Raises ModelError (missing or unloadable file, a folder), MissingDependencyError
    (no onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnx or onnxruntime", "reading an ONNX model",
                                     "pip install onnx (or onnxruntime)") from None
    if not os.path.isfile(path):
        raise not_a_file_error(path)
    if options is None:
        options = ort.SessionOptions()
    options.log_severity_level = ORT_LOG_FATAL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/InvalidProtobuf types
        if "INVALID_PROTOBUF" in str(exc):  # not an ONNX file at all: a text file, an image, a checkpoint
            raise ModelError(f"{path} is not an ONNX model file (onnxruntime cannot parse it as one); pass the .onnx "
                             "file a converter wrote (`asl-edge export`, torch.onnx.export, tf2onnx)") from exc
        raise ModelError(f"{path} is not a loadable ONNX model: {str(exc).splitlines()[0][:200]}") from exc


def _onnxruntime_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    return dict(open_cpu_session(path).get_modelmeta().custom_metadata_map)


def read_onnx_spec(path: str | os.PathLike[str]) -> ModelSpec:
    """The ModelSpec of an ONNX file (`read_onnx_header(path).spec`)."""
    return cast(ModelSpec, read_onnx_header(path).spec)  # need_spec=True: never None


def set_onnx_metadata(model: Any, key: str, value: str) -> None:
    """Set one entry of an in-memory onnx.ModelProto's metadata_props, replacing an old one."""
    for prop in list(model.metadata_props):
        if prop.key == key:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = key, value


def remove_onnx_metadata(model: Any, key: str) -> None:
    """Remove one entry of an in-memory onnx.ModelProto's metadata_props, if present."""
    for prop in [p for p in model.metadata_props if p.key == key]:
        model.metadata_props.remove(prop)


def write_onnx_header(model: Any, spec: ModelSpec | None, precision: str,
                      provenance: Provenance | None = None) -> None:
    """Store the spec (when there is one), the precision and the provenance in an in-memory onnx.ModelProto's
    metadata_props; provenance keys it does not record are removed, so a copied graph never keeps its
    source's."""
    if precision not in PRECISIONS:
        raise ModelError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if spec is not None:
        set_onnx_metadata(model, ONNX_METADATA_KEY, spec.to_json())
    set_onnx_metadata(model, ONNX_PRECISION_KEY, precision)
    if provenance is None:
        return
    for key, value in ((CHECKPOINT_SHA256_KEY, provenance.checkpoint_sha256),
                       (SOURCE_ONNX_SHA256_KEY, provenance.source_onnx_sha256)):
        if value is None:
            remove_onnx_metadata(model, key)
        else:
            set_onnx_metadata(model, key, value)


def short_sha(digest: str | None) -> str:
    """The first 12 hex digits of a sha256, as messages show it; 'none' when absent."""
    return digest[:12] if digest else "none"


def export_target(checkpoint: str | os.PathLike[str]) -> Path:
    """What `asl-edge export` is given to re-export a checkpoint into the folder it lives in: the run folder
    for a checkpoint.pt, else the checkpoint file itself."""
    path = Path(checkpoint)
    return path.parent if path.name == "checkpoint.pt" else path


def stale_reason(onnx_path: str | os.PathLike[str], provenance: Provenance, checkpoint: str | os.PathLike[str],
                 checkpoint_sha256: str) -> str | None:
    """Why `onnx_path` (a path, or a word such as "it" where the line already names the file) is not an export
    of `checkpoint`: one clause naming both digests and the fix; None when its recorded checkpoint sha256 is the
    checkpoint's."""
    if provenance.checkpoint_sha256 == checkpoint_sha256:
        return None
    fix = f"re-export with `asl-edge export {export_target(checkpoint)} --precision all`"
    if provenance.checkpoint_sha256 is None:
        return (f"{onnx_path} records no checkpoint sha256 (exported before asl-edge recorded provenance, or "
                f"not by asl-edge), so nothing says it is an export of {checkpoint}; {fix}")
    return (f"{onnx_path} is not an export of {checkpoint} (a stale export, or another model's): it records "
            f"checkpoint sha256 {short_sha(provenance.checkpoint_sha256)}, {checkpoint} is "
            f"{short_sha(checkpoint_sha256)}; {fix}")

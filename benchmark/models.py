"""Which model files a benchmark measures: a model's own checkpoint, ONNX graphs and engines, and nothing else.

The precision of an ONNX file is read from its metadata (written by `asl-edge export`) and that of an
engine from its manifest, so files are recognised by what they are, not by their names. A file beside the
model counts as one of its exports only by provenance (asl_edge.artifacts.Provenance): it records the sha256
of the same checkpoint, or, beside a bare ONNX model, the sha256 of that FP32 file as the graph it was
derived from. Every other file there (a stale export of an earlier checkpoint, an unrelated model, a
broken file, an export from before provenance was recorded) is skipped and named with the reason, one
line each; nothing beside the model can abort the run. Missing ONNX precisions are exported from the
run's checkpoint where the export extra (torch, onnx) is installed; on a Jetson without it the user is
told which `asl-edge export` command makes them on a workstation.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from asl_edge.artifacts import sha256_file
from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.onnx_header import Provenance, export_target, read_onnx_header, short_sha, stale_reason
from asl_edge.progress import Log
from asl_edge.runtime.backends.tensorrt.manifest import read_manifest
from asl_edge.spec import PRECISIONS

CHECKPOINT_NAME = "checkpoint.pt"
FP32_EXPORT_NAME = "model.onnx"  # what `asl-edge export` names the FP32 graph (asl_edge.export.pipeline)
ENGINE_SUFFIXES = (".engine", ".plan")
CHECKPOINT_SUFFIXES = (".pt", ".pth")
# What `asl-edge export` needs beyond the runtime: torch for the graph, onnx and its converters for FP16/INT8.
EXPORT_MODULES = ("torch", "onnx", "onnxruntime", "onnxconverter_common")



@dataclass(frozen=True)
class OnnxFile:
    """One ONNX file's identity: its sha256, the precision and the provenance its metadata states."""

    path: Path
    sha256: str
    precision: str
    provenance: Provenance

    def record(self) -> dict[str, str | None]:
        return {"file": str(self.path), "sha256": self.sha256, "precision": self.precision,
                "checkpoint_sha256": self.provenance.checkpoint_sha256,
                "source_onnx_sha256": self.provenance.source_onnx_sha256}


@dataclass(frozen=True)
class Reference:
    """What this model's own exports must record: the checkpoint's sha256 and/or its FP32 file's sha256."""

    checkpoint_sha256: str | None = None
    fp32_sha256: str | None = None
    checkpoint: Path | None = None  # for the messages: the checkpoint the digest is of
    named: Path | None = None  # for the messages: the ONNX file the user named


@dataclass
class ModelFiles:
    """The files found for one model; `folder` is set for a run folder (where exports may be written)."""

    checkpoint: Path | None = None
    onnx: dict[str, Path] = field(default_factory=dict)
    engines: dict[str, Path] = field(default_factory=dict)
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)
    reference: Reference = field(default_factory=Reference)
    identities: dict[Path, OnnxFile] = field(default_factory=dict)  # of the ONNX files measured
    skipped: dict[Path, str] = field(default_factory=dict)  # file -> why it is not this model's

    def skip(self, path: Path, why: str) -> None:
        self.skipped[path] = why
        self.notes.append(f"skipped {path.name}: {why}")

    def provenance(self) -> dict[str, object]:
        """For benchmark.json: the checkpoint's digest, each measured file's identity, each skipped file."""
        return {"checkpoint": None if self.checkpoint is None else str(self.checkpoint),
                "checkpoint_sha256": self.reference.checkpoint_sha256,
                "files": [self.identities[p].record() for p in sorted(self.identities)],
                "skipped": {str(p): why for p, why in sorted(self.skipped.items())}}


def read_onnx_file(path: Path) -> OnnxFile:
    """The identity of an ONNX file (asl_edge.onnx_header reads it, with onnx or onnxruntime); ModelError for a
    file that cannot be read."""
    header = read_onnx_header(path, need_spec=False)
    return OnnxFile(path, sha256_file(path), header.precision, header.provenance)


def not_own(candidate: OnnxFile, reference: Reference) -> str | None:
    """Why `candidate` is not one of the reference model's exports, or None when its provenance says it is."""
    recorded = candidate.provenance
    if reference.fp32_sha256 is not None and reference.fp32_sha256 in (candidate.sha256,
                                                                        recorded.source_onnx_sha256):
        return None
    if reference.checkpoint_sha256 is not None:
        if reference.checkpoint is not None:
            return stale_reason("it", recorded, reference.checkpoint, reference.checkpoint_sha256)
        if recorded.checkpoint_sha256 == reference.checkpoint_sha256:
            return None
    named = reference.named.name if reference.named is not None else "the model"
    if not recorded.recorded:
        return (f"records no provenance (exported before asl-edge recorded it, or not by asl-edge), so nothing "
                f"says it is an export of {named}")
    return (f"another model: it records checkpoint sha256 {short_sha(recorded.checkpoint_sha256)} and source "
            f"ONNX sha256 {short_sha(recorded.source_onnx_sha256)}, {named} is "
            f"{short_sha(reference.checkpoint_sha256 or reference.fp32_sha256)}")


def _add(found: dict[str, Path], precision: str, path: Path, notes: list[str]) -> None:
    if precision in found:
        notes.append(f"{path.name} is a second {precision} model beside {found[precision].name}; measuring only "
                     f"{found[precision].name}")
    else:
        found[precision] = path


def _scan_folder(folder: Path, files: ModelFiles, skip: set[Path]) -> None:
    """Take the folder's ONNX files and engines that are this model's (files.reference); skip and name the rest."""
    for path in sorted(folder.glob("*.onnx")):
        if path in skip:
            continue
        try:
            candidate = read_onnx_file(path)
        except ModelError as exc:
            files.skip(path, str(exc).replace(f"{path} is", "it is", 1))
            continue
        why = not_own(candidate, files.reference)
        if why is not None:
            files.skip(path, why)
            continue
        files.identities[path] = candidate
        _add(files.onnx, candidate.precision, path, files.notes)
    own_onnx = {files.identities[p].sha256 for p in files.onnx.values()}
    for path in sorted(p for p in folder.iterdir() if p.suffix in ENGINE_SUFFIXES):
        if path in skip:
            continue
        try:
            manifest = read_manifest(path)
        except ModelError as exc:
            files.skip(path, str(exc))
            continue
        ours = manifest.onnx_sha256 in own_onnx or (
            manifest.checkpoint_sha256 is not None and manifest.checkpoint_sha256 == files.reference.checkpoint_sha256)
        if not ours:
            files.skip(path, f"built from {manifest.onnx_path} (sha256 {short_sha(manifest.onnx_sha256)}), which is "
                             "not one of this model's exports; rebuild with `asl-edge build` from a current export")
            continue
        _add(files.engines, manifest.precision, path, files.notes)


def _checkpoint_reference(checkpoint: Path) -> Reference:
    return Reference(checkpoint_sha256=sha256_file(checkpoint), checkpoint=checkpoint)


def _folder_reference(folder: Path, files: ModelFiles) -> Reference:
    """A run folder without checkpoint.pt (exports copied to a Jetson): its model.onnx is the reference."""
    fp32 = folder / FP32_EXPORT_NAME
    if not fp32.is_file():
        files.notes.append(f"no {CHECKPOINT_NAME} or {FP32_EXPORT_NAME} in {folder} to tell this model's exports "
                           "from other files: pass the ONNX file itself with --model")
        return Reference(named=fp32)
    try:
        named = read_onnx_file(fp32)
    except ModelError as exc:
        files.notes.append(f"no {CHECKPOINT_NAME} and a broken {FP32_EXPORT_NAME} in {folder} ({exc}): pass the "
                           "ONNX file itself with --model")
        return Reference(named=fp32)
    return Reference(named.provenance.checkpoint_sha256, named.sha256 if named.precision == "fp32" else None,
                     named=fp32)


def _named_onnx(path: Path, files: ModelFiles) -> None:
    """An ONNX file named by the user: it is measured whatever it records; its siblings only when they are its
    own, and the checkpoint beside it (the PyTorch row) only when it is the one the file was exported from."""
    named = read_onnx_file(path)
    fp32_sha = named.sha256 if named.precision == "fp32" else named.provenance.source_onnx_sha256
    files.reference = Reference(named.provenance.checkpoint_sha256, fp32_sha, named=path)
    files.onnx[named.precision] = path
    files.identities[path] = named
    beside = path.parent / CHECKPOINT_NAME
    if beside.is_file():
        why = stale_reason(path, named.provenance, beside, sha256_file(beside))
        if why is None:
            files.checkpoint = beside
            files.reference = Reference(named.provenance.checkpoint_sha256, fp32_sha, beside, path)
        else:
            files.notes.append(f"warning: {why}; the PyTorch row of {beside} is left out, as it is not this "
                               "model")
    _scan_folder(path.parent, files, skip={path})
    files.engines.clear()  # engines are measured when asked for by name or found in a run folder


def find_model_files(model: str | os.PathLike[str]) -> ModelFiles:
    """A run folder (checkpoint.pt, *.onnx, *.engine); an ONNX file and its siblings of other precisions;
    an engine; or a checkpoint and the files beside it. Only the model's own files are taken (see the module
    docstring); the others are in `skipped` and `notes`."""
    path = Path(model)
    if not path.exists():
        raise ModelError(f"model {path} does not exist: pass a run folder, an .onnx, an .engine or a checkpoint.pt")
    files = ModelFiles()
    suffix = path.suffix.lower()
    if path.is_dir():
        files.folder = path
        checkpoint = path / CHECKPOINT_NAME
        files.checkpoint = checkpoint if checkpoint.is_file() else None
        files.reference = _checkpoint_reference(checkpoint) if files.checkpoint else _folder_reference(path, files)
        _scan_folder(path, files, skip=set())
    elif suffix == ".onnx":
        _named_onnx(path, files)
    elif suffix in ENGINE_SUFFIXES:
        files.engines[read_manifest(path).precision] = path
    elif suffix in CHECKPOINT_SUFFIXES:
        files.folder = path.parent
        files.checkpoint = path
        files.reference = _checkpoint_reference(path)
        _scan_folder(path.parent, files, skip=set())
    else:
        raise ModelError(f"cannot benchmark {path}: pass a run folder, an .onnx, an .engine or a checkpoint.pt")
    return files


def importable(module: str) -> bool:
    """Whether a module is installed, without importing it (an import hook that refuses it counts as no)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def export_available() -> bool:
    return all(importable(name) for name in EXPORT_MODULES)


def export_line(files: ModelFiles, precisions: tuple[str, ...]) -> str:
    return f"asl-edge export {export_target(files.checkpoint or Path('RUN'))} --precision {','.join(precisions)}"


def export_missing(files: ModelFiles, wanted: tuple[str, ...], data: str | None, progress: Log) -> ModelFiles:
    """Export the wanted ONNX precisions a run folder lacks from its checkpoint, when that is possible here;
    otherwise note the command that makes them. Returns the files found afterwards."""
    missing = tuple(p for p in PRECISIONS if p in wanted and p not in files.onnx)
    if not missing or files.folder is None or files.checkpoint is None:
        if missing and files.checkpoint is None and not files.onnx:
            files.notes.append("no ONNX model and no checkpoint.pt to export one from")
        return files
    if not export_available():
        files.notes.append(f"no {', '.join(missing)} ONNX model and no export tools here (torch, onnx): make them on "
                           f"a workstation with `{export_line(files, missing)}`")
        return files
    from asl_edge.export.pipeline import FILE_NAMES, ExportOptions, export_all

    # Export writes FP32 and the missing precisions; it must not overwrite a skipped file (nothing is lost).
    in_the_way = [FILE_NAMES[p] for p in PRECISIONS if p in ("fp32", *missing)
                  and files.folder / FILE_NAMES[p] in files.skipped]
    if in_the_way:
        files.notes.append(f"not exporting {', '.join(missing)}: that would overwrite {', '.join(in_the_way)} in "
                           f"{files.folder}, which this model's provenance does not match (see the skipped lines); "
                           f"re-export with `{export_line(files, PRECISIONS)}` (or move them away), then benchmark "
                           "again")
        return files
    progress(f"exporting {', '.join(missing)} ONNX from {files.checkpoint} (as `{export_line(files, missing)}`)")
    options = ExportOptions(precisions=("fp32", *(p for p in missing if p != "fp32")), data=data)
    try:
        export_all(files.checkpoint, files.folder, options, progress=lambda message: progress(f"  export: {message}"))
    except AslEdgeError as exc:
        raise AslEdgeError(f"exporting the missing precisions failed: {exc} (run `{export_line(files, missing)}` "
                           "with the options it needs, then benchmark again)") from exc
    return find_model_files(files.checkpoint)

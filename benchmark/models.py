"""Which model files a benchmark measures: a run folder's checkpoint, ONNX graphs and engines, or one file.

The precision of an ONNX file is read from its metadata (written by `asl-edge export`) and that of an
engine from its manifest, so files are recognised by what they are, not by their names. Missing ONNX
precisions are exported from the run's checkpoint where the export extra (torch, onnx) is installed; on
a Jetson without it the user is told which `asl-edge export` command makes them on a workstation.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.onnx_header import read_onnx_header
from asl_edge.progress import Log
from asl_edge.runtime.backends.tensorrt.manifest import read_manifest
from asl_edge.spec import PRECISIONS

CHECKPOINT_NAME = "checkpoint.pt"
ENGINE_SUFFIXES = (".engine", ".plan")
CHECKPOINT_SUFFIXES = (".pt", ".pth")
# What `asl-edge export` needs beyond the runtime: torch for the graph, onnx and its converters for FP16/INT8.
EXPORT_MODULES = ("torch", "onnx", "onnxruntime", "onnxconverter_common")



@dataclass
class ModelFiles:
    """The files found for one model; `folder` is set for a run folder (where exports may be written)."""

    checkpoint: Path | None = None
    onnx: dict[str, Path] = field(default_factory=dict)
    engines: dict[str, Path] = field(default_factory=dict)
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)


def onnx_precision(path: Path) -> str:
    """The precision an ONNX file's metadata states (fp32 when it states none)."""
    return read_onnx_header(path, need_spec=False).precision


def _add(found: dict[str, Path], precision: str, path: Path, notes: list[str]) -> None:
    if precision in found:
        notes.append(f"{path.name} is a second {precision} model beside {found[precision].name}; measuring only "
                     f"{found[precision].name}")
    else:
        found[precision] = path


def _scan_folder(folder: Path, files: ModelFiles, skip: set[Path]) -> None:
    for path in sorted(folder.glob("*.onnx")):
        if path not in skip:
            _add(files.onnx, onnx_precision(path), path, files.notes)
    for path in sorted(p for p in folder.iterdir() if p.suffix in ENGINE_SUFFIXES):
        if path in skip:
            continue
        try:
            _add(files.engines, read_manifest(path).precision, path, files.notes)
        except ModelError as exc:
            files.notes.append(f"skipping engine {path.name}: {exc}")


def find_model_files(model: str | os.PathLike[str]) -> ModelFiles:
    """A run folder (checkpoint.pt, *.onnx, *.engine); an ONNX file and its siblings of other precisions;
    an engine; or a checkpoint and the files beside it."""
    path = Path(model)
    if not path.exists():
        raise ModelError(f"model {path} does not exist: pass a run folder, an .onnx, an .engine or a checkpoint.pt")
    files = ModelFiles()
    suffix = path.suffix.lower()
    if path.is_dir():
        files.folder = path
        checkpoint = path / CHECKPOINT_NAME
        files.checkpoint = checkpoint if checkpoint.is_file() else None
        _scan_folder(path, files, skip=set())
    elif suffix == ".onnx":
        files.onnx[onnx_precision(path)] = path  # the named file wins over a sibling of its precision
        sibling_checkpoint = path.parent / CHECKPOINT_NAME
        files.checkpoint = sibling_checkpoint if sibling_checkpoint.is_file() else None
        _scan_folder(path.parent, files, skip={path})
        files.engines.clear()  # engines are measured when asked for by name or found in a run folder
    elif suffix in ENGINE_SUFFIXES:
        files.engines[read_manifest(path).precision] = path
    elif suffix in CHECKPOINT_SUFFIXES:
        files.folder = path.parent
        files.checkpoint = path
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


def export_command(files: ModelFiles, precisions: tuple[str, ...]) -> str:
    checkpoint = files.checkpoint or Path("RUN/checkpoint.pt")
    return f"asl-edge export {checkpoint} --precision {','.join(precisions)}"


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
                           f"a workstation with `{export_command(files, missing)}`")
        return files
    from asl_edge.export.pipeline import ExportOptions, export_all

    progress(f"exporting {', '.join(missing)} ONNX from {files.checkpoint} (as `{export_command(files, missing)}`)")
    options = ExportOptions(precisions=("fp32", *(p for p in missing if p != "fp32")), data=data)
    try:
        export_all(files.checkpoint, files.folder, options, progress=lambda message: progress(f"  export: {message}"))
    except AslEdgeError as exc:
        raise AslEdgeError(f"exporting the missing precisions failed: {exc} (run `{export_command(files, missing)}` "
                           "with the options it needs, then benchmark again)") from exc
    found = find_model_files(files.folder)
    found.checkpoint = files.checkpoint
    return found

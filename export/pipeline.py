"""`export_all`: a checkpoint to verified FP32, FP16 and INT8 ONNX files and a report, in one folder.

Steps: load the checkpoint; rebuild its held-out validation split (and, for INT8, a calibration set
from the training split); export FP32 and prove parity with PyTorch; derive the requested precisions;
check the INT8 graph against TensorRT's Q/DQ rules; evaluate every file with ONNX Runtime; write the
report. Everything is written to a hidden staging folder inside the output folder and renamed into
place only when every step has passed, so a failure leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asl_edge.artifacts import atomic_write_json, atomic_write_text, ensure_writable_dir, sha256_file
from asl_edge.datasets import (
    EvaluationSet,
    HeldOutSplit,
    LabelledImages,
    check_dataset_path,
    check_out_outside_datasets,
    dataset_holding,
    recorded_split,
)
from asl_edge.errors import AslEdgeError, DataError, ModelError
from asl_edge.export import onnx_export
from asl_edge.export.evaluate import executed_operators, onnx_probabilities
from asl_edge.export.fp16 import to_fp16
from asl_edge.export.int8 import CalibrationOptions, calibration_set, quantize_int8
from asl_edge.export.parity import DEFAULT_TOLERANCE, Comparison, require_parity, torch_probabilities
from asl_edge.export.qdq_rules import qdq_violations
from asl_edge.export.report import ExportReport, PrecisionResult
from asl_edge.metrics import classification_report
from asl_edge.onnx_header import Provenance, read_onnx_header, short_sha
from asl_edge.progress import Log
from asl_edge.run_folder import folder_lock
from asl_edge.spec import PRECISIONS, ModelSpec

if TYPE_CHECKING:
    from asl_edge.export.landmark_export import LandmarkData

FILE_NAMES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}
REPORT_JSON, REPORT_MARKDOWN = "export_report.json", "export_report.md"



def parse_precisions(text: str) -> tuple[str, ...]:
    """'fp16,int8' or 'all' -> the precisions in canonical order. FP32 is always included: the other
    graphs are derived from it and measured against it."""
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    if names == ["all"]:
        return PRECISIONS
    unknown = sorted(set(names) - set(PRECISIONS))
    if unknown or not names:
        raise AslEdgeError(f"unknown precision '{unknown[0] if unknown else text}'; choose from "
                           f"{', '.join(PRECISIONS)}, a comma-separated list, or all")
    return tuple(p for p in PRECISIONS if p in {"fp32", *names})


@dataclass(frozen=True)
class ExportOptions:
    precisions: tuple[str, ...] = PRECISIONS
    data: str | None = None  # default: the dataset recorded in the checkpoint
    val: str | None = None  # an explicit validation set instead of a split of `data`
    val_fraction: float | None = None  # default: the checkpoint's, else 0.2
    seed: int | None = None  # default: the checkpoint's, else 0
    opset: int = onnx_export.DEFAULT_OPSET
    exporter: str = "torchscript"
    simplify: bool = True
    tolerance: float = DEFAULT_TOLERANCE
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)
    # The evaluation and calibration options the command line was given (apps/commands/export.py), by flag
    # ("--data", "--calib-images"): a landmarks run refuses those it has no use for instead of passing over them.
    # Library callers (benchmark, train --export) leave it empty.
    given: frozenset[str] = frozenset()
    # --precision named int8 itself (not through all): a landmarks run without calib_features.npz is then an
    # error instead of an export without INT8.
    int8_required: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.precisions) - set(PRECISIONS))
        if unknown or "fp32" not in self.precisions:
            raise AslEdgeError(f"precisions must include fp32 and come from {', '.join(PRECISIONS)}")
        if self.exporter not in onnx_export.EXPORTERS:
            raise AslEdgeError(f"unknown exporter '{self.exporter}'; choose one of "
                               f"{', '.join(onnx_export.EXPORTERS)}")
        if self.opset < onnx_export.MIN_OPSET:
            raise AslEdgeError(f"opset {self.opset} is too old: TensorRT's per-channel Q/DQ needs opset "
                               f"{onnx_export.MIN_OPSET} or newer")
        if not self.tolerance > 0:
            raise AslEdgeError(f"parity tolerance {self.tolerance} must be positive")


def _evaluation_data(spec: ModelSpec, options: ExportOptions) -> EvaluationSet:
    """The held-out images every precision is measured on, the training part for calibration, and how."""
    split = recorded_split(spec.trained_on, options.data, options.val, options.val_fraction, options.seed)
    if split is None:
        raise DataError("the checkpoint records no dataset; pass --data with the folder or CSV it was trained on")
    if not os.path.exists(split.data):
        raise DataError(f"dataset {split.data} does not exist; pass --data with the folder or CSV the model was "
                        "trained on")
    train, held_out = split.load()
    description = {"data": split.data, "split": split.describe(), "val": split.val, "val_fraction": split.val_fraction,
                   "seed": split.seed, "images": len(held_out)}
    return EvaluationSet(held_out.relabel(spec.labels), description, train.relabel(spec.labels))


def _build_fp16(fp32: Any, spec: ModelSpec, calibration: LabelledImages | None, options: ExportOptions) -> Any:
    return to_fp16(fp32, spec)


def _build_int8(fp32: Any, spec: ModelSpec, calibration: LabelledImages | None, options: ExportOptions) -> Any:
    if calibration is None:
        raise ModelError("INT8 needs calibration images")
    model = quantize_int8(fp32, spec, calibration, options.calibration)
    violations = qdq_violations(model)
    if violations:
        raise ModelError(f"the INT8 graph breaks {len(violations)} TensorRT Q/DQ rule(s), first: {violations[0]}")
    return model


# Precision -> how its graph is derived from the checked FP32 graph.
DERIVED_BUILDERS: dict[str, Callable[[Any, ModelSpec, LabelledImages | None, ExportOptions], Any]] = {
    "fp16": _build_fp16,
    "int8": _build_int8,
}


def export_all(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str],
               options: ExportOptions | None = None, progress: Log = print) -> ExportReport:
    """Write the requested precisions and export_report.{json,md} into `out`; return the report.

    Every input is checked before `out` is made: the checkpoint, the options (a landmarks run refuses those that
    choose photos, ExportOptions.given), its data, and that `out` is outside every dataset the export knows
    (check_out_outside_datasets). `out` is locked against other asl-edge writers meanwhile (asl_edge.run_folder),
    from the start where it exists already. Every file records the
    checkpoint's sha256, and FP16/INT8 also the FP32 file's (asl_edge.onnx_header.Provenance); ONNX files of
    other precisions left in `out` that are not this checkpoint's exports are named, and left as they are."""
    options = options or ExportOptions()
    if Path(checkpoint).is_dir():  # a training run folder
        checkpoint = Path(checkpoint) / "checkpoint.pt"
    if not Path(checkpoint).is_file():
        raise ModelError(f"checkpoint {checkpoint} does not exist; pass the checkpoint.pt (or the folder) of a "
                         "training run from `asl-edge train`")
    with contextlib.ExitStack() as held:
        if Path(out).is_dir():  # it may be in use (a training writing the run folder): said before reading anything
            held.enter_context(folder_lock(out, "export"))
        # The checkpoint first (it says which options apply: a landmarks run reads no photos), then every input is
        # checked before `out` is made.
        loaded, checkpoint_sha = _load(Path(checkpoint), progress)
        landmarks = None
        if loaded.spec.inputs == "landmarks":
            from asl_edge.export.landmark_export import landmark_data

            landmarks = landmark_data(checkpoint, loaded.spec, options, progress)
        else:
            if options.data is not None:
                check_dataset_path(options.data, option="--data")
            if options.val is not None:
                check_dataset_path(options.val, option="--val")
        datasets = _datasets(loaded.spec, options)
        run_folder = Path(checkpoint).parent
        check_out_outside_datasets(out, datasets,
                                   example="exports" if dataset_holding(run_folder, datasets) else str(run_folder))
        with folder_lock(out, "export"):  # held already where `out` existed
            out_dir = ensure_writable_dir(out)
            if landmarks is not None:
                report = _export_landmarks(str(checkpoint), checkpoint_sha, loaded.model, loaded.spec, landmarks,
                                           out_dir, options, progress)
            else:
                report = _export_locked(Path(checkpoint), checkpoint_sha, loaded.model, loaded.spec, out_dir,
                                        options, progress)
    written = {r.precision for r in report.results}
    for precision in PRECISIONS:
        leftover = Path(out) / FILE_NAMES[precision]
        if precision not in written and leftover.exists():
            why = _not_this_export(leftover, report.checkpoint_sha256)
            if why:
                progress(f"warning: {why}; it was left as it is: re-export it with `asl-edge export {checkpoint} "
                         f"--out {out} --precision {precision}` or remove it")
    return report


def _load(checkpoint: Path, progress: Log) -> tuple[Any, str]:
    """The checkpoint (asl_edge.train.checkpoint.Checkpoint) and the sha256 of the file it was read from."""
    from asl_edge.train.checkpoint import load_checkpoint

    progress(f"loading checkpoint {checkpoint}")
    checkpoint_sha = sha256_file(checkpoint) if checkpoint.is_file() else None
    loaded = load_checkpoint(checkpoint)
    if checkpoint_sha is None or sha256_file(checkpoint) != checkpoint_sha:
        raise ModelError(f"{checkpoint} changed while it was being read (a training is writing it?); wait for the "
                         "training to finish, then export again")
    return loaded, checkpoint_sha


def _datasets(spec: ModelSpec, options: ExportOptions) -> list[tuple[str, str]]:
    """(path, what) of every dataset the export knows, which `out` must stay outside: the --data and --val it is
    given and those the checkpoint records it was trained and validated on (one that no longer exists is passed
    over by check_out_outside_datasets)."""
    given = [(str(path), option) for path, option in ((options.data, "--data"), (options.val, "--val"))
             if path is not None]
    recorded = HeldOutSplit.recorded(spec.trained_on)
    if recorded is None:
        return given
    return [*given, *((d, "the checkpoint's training data") for d in recorded.datasets),
            *([(recorded.val, "the checkpoint's validation set")] if recorded.val else [])]


def _not_this_export(path: Path, checkpoint_sha256: str | None) -> str | None:
    """Why an ONNX file is not an export of the checkpoint with this sha256, or None when it is."""
    try:
        recorded = read_onnx_header(path, need_spec=False).provenance.checkpoint_sha256
    except AslEdgeError:
        return f"{path} is not a readable ONNX model"
    if recorded is None:
        return f"{path} records no checkpoint (an export from before asl-edge recorded provenance)"
    if recorded != checkpoint_sha256:
        return (f"{path} is a stale export of another checkpoint (sha256 {short_sha(recorded)}, this one is "
                f"{short_sha(checkpoint_sha256)})")
    return None


STAGING_PREFIX = ".export-"


def _new_staging(out_dir: Path) -> Path:
    """A fresh staging folder in `out_dir`, whose files are renamed into place once all are verified.

    Called holding `out_dir`'s lock (folder_lock), so any staging folder already there belongs to no live
    export: it is what a killed one (kill -9, power loss) left, and is removed first."""
    for stale in out_dir.glob(f"{STAGING_PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=out_dir, prefix=STAGING_PREFIX))


def _export_locked(checkpoint: Path, checkpoint_sha: str, model: Any, spec: ModelSpec, out_dir: Path,
                   options: ExportOptions, progress: Log) -> ExportReport:
    """An image model, with `out_dir` locked: the held-out split and calibration images, then every graph."""
    wants_int8 = "int8" in options.precisions
    if wants_int8:
        options.calibration.check_classes(spec.num_classes)
    progress("loading the validation split" + (" and the calibration images" if wants_int8 else ""))
    evaluation = _evaluation_data(spec, options)
    calibration = None
    if wants_int8 and evaluation.train is not None:
        calibration = calibration_set(evaluation.train, options.calibration)

    staging = _new_staging(out_dir)
    try:
        report = _export_into(staging, str(checkpoint), checkpoint_sha, model, spec, evaluation,
                              calibration, options, progress)
        for name in [*(FILE_NAMES[p] for p in options.precisions), REPORT_JSON, REPORT_MARKDOWN]:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _export_landmarks(checkpoint: str, checkpoint_sha: str, model: Any, spec: ModelSpec, data: LandmarkData,
                      out_dir: Path,
                      options: ExportOptions, progress: Log) -> ExportReport:
    """A landmarks model: FP32, FP16 and INT8 against the run's held-out feature vectors, which `data`
    (landmark_export.LandmarkData) holds, read and checked (export/landmark_export.py)."""
    from asl_edge.export.landmark_export import export_landmarks_into

    staging = _new_staging(out_dir)
    try:
        report = export_landmarks_into(staging, checkpoint, checkpoint_sha, model, spec, data, FILE_NAMES, options,
                                       progress)
        for name in [*(FILE_NAMES[p] for p in data.precisions), REPORT_JSON, REPORT_MARKDOWN]:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _export_into(staging: Path, checkpoint: str, checkpoint_sha: str, model: Any, spec: ModelSpec,
                 evaluation: EvaluationSet, calibration: LabelledImages | None, options: ExportOptions,
                 progress: Log) -> ExportReport:
    val = evaluation.held_out
    progress(f"exporting FP32 ONNX ({options.exporter} exporter, opset {options.opset})")
    fp32 = onnx_export.export_fp32(model, spec, options.opset, options.exporter, options.simplify)
    onnx_export.save(fp32, staging / FILE_NAMES["fp32"], spec, "fp32", Provenance(checkpoint_sha))
    derived_from = Provenance(checkpoint_sha, sha256_file(staging / FILE_NAMES["fp32"]))

    progress(f"checking parity with PyTorch on {len(val)} validation images")
    reference = torch_probabilities(model, spec, val)
    # Parity is checked on the optimised session: what the runtime's ONNX Runtime backend will run.
    parity = Comparison.of(reference, onnx_probabilities(staging / FILE_NAMES["fp32"], val, optimise=True))
    require_parity(parity, options.tolerance, "the FP32 ONNX graph")

    for precision in options.precisions:
        if precision in DERIVED_BUILDERS:
            what = (f"calibrating INT8 ({options.calibration.method}, {len(calibration or [])} training images)"
                    if precision == "int8" else f"converting to {precision.upper()}")
            progress(what)
            derived = DERIVED_BUILDERS[precision](fp32, spec, calibration, options)
            onnx_export.save(derived, staging / FILE_NAMES[precision], spec, precision, derived_from)

    results = []
    graph_probs: dict[str, np.ndarray] = {}
    for precision in options.precisions:  # fp32 first: the others are compared with it
        path = staging / FILE_NAMES[precision]
        progress(f"evaluating {precision} with ONNX Runtime on {len(val)} validation images")
        probs = graph_probs[precision] = onnx_probabilities(path, val, optimise=False)
        versus_fp32 = Comparison.of(graph_probs["fp32"], probs)
        cpu_probs = onnx_probabilities(path, val, optimise=True)
        results.append(PrecisionResult(
            precision=precision, file=FILE_NAMES[precision], size_bytes=path.stat().st_size,
            sha256=sha256_file(path), top1=classification_report(probs, val.labels, spec.labels).top1,
            max_prob_diff_vs_fp32=versus_fp32.max_abs_diff, agreement_vs_fp32=versus_fp32.top1_agreement,
            top1_ort_cpu=classification_report(cpu_probs, val.labels, spec.labels).top1,
            executed_operators=executed_operators(path)))

    calibration_info: dict[str, Any] = {}
    if calibration is not None:
        cal = options.calibration
        calibration_info = {"method": cal.method, "images": len(calibration),
                            "per_class": len(calibration) // len(calibration.classes), "source": "training split",
                            "seed": cal.seed, "reduce_range": cal.reduce_range,
                            **({"percentile": cal.percentile} if cal.method == "percentile" else {})}
    report = ExportReport(
        checkpoint=checkpoint, checkpoint_sha256=checkpoint_sha, arch=spec.arch, exporter=options.exporter,
        opset=options.opset,
        simplified=options.simplify, evaluation=evaluation.description,
        parity={**parity.to_dict(), "tolerance": options.tolerance},
        pytorch_top1=classification_report(reference, val.labels, spec.labels).top1,
        calibration=calibration_info, results=results)
    atomic_write_json(staging / REPORT_JSON, report.to_dict())
    atomic_write_text(staging / REPORT_MARKDOWN, report.markdown())
    return report

"""Export a landmarks model (arch landmark_mlp): FP32, FP16 and INT8 ONNX of (N, num_features) -> probabilities.

The held-out data is the run's `val_features.npz` (feature vectors and labels written by landmark training
next to checkpoint.pt), so export needs neither the photos nor the hand stage. INT8 is calibrated the image
models' way (export/int8.py, Q/DQ, checked against TensorRT's rules) on the run's `calib_features.npz`, a
seeded sample of un-augmented training-split feature vectors; a run without that file exports no INT8 (an
error when --precision names int8 itself). `read_features` is the one reader of both files: it checks them
before anything is exported or written.
"""

from __future__ import annotations

import os
import shlex
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.artifacts import atomic_write_json, atomic_write_text, sha256_file
from asl_edge.datasets import DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION, HeldOutSplit
from asl_edge.errors import DataError, ModelError, require
from asl_edge.export import onnx_export
from asl_edge.export.fp16 import to_fp16
from asl_edge.export.int8 import feature_batches, quantize_int8_batches
from asl_edge.export.parity import Comparison, require_parity
from asl_edge.export.qdq_rules import qdq_violations
from asl_edge.export.report import ExportReport, PrecisionResult
from asl_edge.metrics import classification_report
from asl_edge.onnx_header import Provenance
from asl_edge.spec import PRECISIONS, ModelSpec

VAL_FEATURES = "val_features.npz"  # the same name as asl_edge.train.landmarks.VAL_FEATURES
CALIB_FEATURES = "calib_features.npz"  # the same name as asl_edge.train.landmarks.CALIB_FEATURES
# What each file is, for the messages.
ROLES = {VAL_FEATURES: "the held-out feature vectors the export checks parity and scores on",
         CALIB_FEATURES: "the training-split feature vectors INT8 is calibrated on"}
# Export options that choose photos (evaluation split, calibration images): a landmarks run has no use for them.
UNUSED_OPTIONS = ("--data", "--val", "--val-fraction", "--seed", "--calib-images")


@dataclass(frozen=True)
class FeatureFile:
    """One checked val_features.npz or calib_features.npz: (N, num_features) finite float32 feature vectors,
    (N,) int64 labels within the model's classes, N >= 1, and for val_features.npz the (N,) index of the
    dataset each sample came from where the run wrote it (asl_edge.train.personalise reads it as two hold-outs)."""

    path: Path
    features: np.ndarray
    labels: np.ndarray
    dataset: np.ndarray | None = None


@dataclass(frozen=True)
class LandmarkData:
    """What a landmarks export reads, checked before anything is exported: the held-out features, the
    calibration features (None without INT8) and the precisions it will write."""

    held_out: FeatureFile
    calibration: FeatureFile | None
    precisions: tuple[str, ...]


def retrain_fix(checkpoint: str | os.PathLike[str], spec: ModelSpec) -> str:
    """How to make the run's feature files again: the `asl-edge train` command that made the run, from what its
    spec records, into a new folder beside it."""
    run = Path(checkpoint).parent
    if run.name in ("", ".."):
        run = run.resolve()
    new_out = shlex.quote(str(run.with_name(f"{run.name}-retrained")))
    trained_on = spec.trained_on
    personalised = trained_on.get("personalised")
    if isinstance(personalised, dict) and personalised.get("start_model") and personalised.get("user_data"):
        command = (f"asl-edge train --init-from {shlex.quote(str(personalised['start_model']))} --data "
                   f"{shlex.quote(str(personalised['user_data']))} --out {new_out}")
        return (f"retrain the run into a new folder with the command that made it: `{command}` (its metrics.json "
                "records the other options it was personalised with)")
    split = HeldOutSplit.recorded(trained_on)
    if split is None:
        return ("retrain the run into a new folder with the command that made it: `asl-edge train --input landmarks "
                f"--data DATASET --out {new_out}`")
    parts = ["asl-edge train --input landmarks", *(f"--data {shlex.quote(d)}" for d in split.datasets)]
    weights = trained_on.get("dataset_weights")
    if isinstance(weights, list) and len(weights) == len(split.datasets) and any(w != 1 for w in weights):
        parts += [f"--dataset-weight {w:g}" for w in weights]
    if split.val_fraction != DEFAULT_VAL_FRACTION:
        parts.append(f"--val-fraction {split.val_fraction:g}")
    if split.seed != DEFAULT_SPLIT_SEED:
        parts.append(f"--seed {split.seed}")
    if isinstance(trained_on.get("epochs"), int):
        parts.append(f"--epochs {trained_on['epochs']}")
    parts.append(f"--out {new_out}")
    # The recorded paths are as training saw them, relative to the folder it ran in, not to this one.
    elsewhere = "" if all(Path(d).exists() for d in split.datasets) else (
        f"; {', '.join(d for d in split.datasets if not Path(d).exists())} as training saw it: run the command from "
        "the folder training ran in, or give --data where that data is now")
    return (f"retrain the run into a new folder with the command that made it: `{' '.join(parts)}` (its "
            f"metrics.json records any other options it was trained with{elsewhere})")


def read_features(checkpoint: str | os.PathLike[str], spec: ModelSpec, name: str,
                  alternative: str = "") -> FeatureFile:
    """The run's `name` (VAL_FEATURES or CALIB_FEATURES) beside the checkpoint, checked; one DataError naming the
    file, what is wrong with it and the fix (retrain_fix, then `alternative`) otherwise."""
    path = Path(checkpoint).parent / name

    def bad(problem: str) -> DataError:
        return DataError(f"{path} ({ROLES[name]}) {problem}; {retrain_fix(checkpoint, spec)}{alternative}")

    if not path.is_file():
        raise bad("is missing")
    if not zipfile.is_zipfile(path):  # np.load would read an .npy array, or try (and refuse) a pickle
        raise bad("is not an .npz archive (no readable zip directory: a truncated or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            for key in ("features", "labels"):
                if key not in keys:
                    raise bad(f"holds no '{key}' array (it holds: {', '.join(sorted(keys)) or 'nothing'})")
            arrays = {key: data[key] for key in ("features", "labels", "dataset") if key in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise bad(f"cannot be read as an .npz archive ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
                  if str(exc) else f"cannot be read as an .npz archive ({type(exc).__name__})") from exc
    features, labels = arrays["features"], arrays["labels"]
    if features.dtype.kind not in "fiu" or features.ndim != 2 or features.shape[1:] != spec.input_shape:
        raise bad(f"holds features of shape {features.shape} ({features.dtype}), not the model's "
                  f"(N, {spec.num_features}) numbers")
    if len(features) == 0:
        raise bad("holds no feature vectors (0 rows)")
    if labels.dtype.kind not in "iu":
        raise bad(f"holds labels of type {labels.dtype}, not integer class indices")
    if labels.shape != (len(features),):
        raise bad(f"holds labels of shape {labels.shape} for {len(features)} feature vectors, not one each")
    features = features.astype(np.float32)
    finite = np.isfinite(features)
    if not finite.all():
        rows = int((~finite).any(axis=1).sum())
        raise bad(f"holds NaN or infinite values in {rows} of its {len(features)} feature vectors")
    outside = labels[(labels < 0) | (labels >= spec.num_classes)]
    if len(outside):
        raise bad(f"holds labels outside the model's {spec.num_classes} classes (0 to {spec.num_classes - 1}): "
                  f"{', '.join(str(v) for v in np.unique(outside)[:5])}")
    dataset = arrays.get("dataset")
    if dataset is not None and (dataset.dtype.kind not in "iu" or dataset.shape != (len(features),)
                                or (dataset < 0).any()):
        raise bad(f"holds a 'dataset' array of shape {dataset.shape} ({dataset.dtype}), not one dataset index "
                  f"(0 or more) for each of its {len(features)} feature vectors")
    return FeatureFile(path, features, labels.astype(np.int64),
                       None if dataset is None else dataset.astype(np.int64))


def check_options(checkpoint: str | os.PathLike[str], options: Any) -> None:
    """Refuse the export options a landmarks run has no use for (they choose photos) when the command line gave
    them (`options.given`), rather than passing over them."""
    given = [flag for flag in UNUSED_OPTIONS if flag in options.given]
    if not given:
        return
    calibrates = "--calib-images" in given
    names = given[0] if len(given) == 1 else f"{', '.join(given[:-1])} and {given[-1]}"
    folder = Path(checkpoint).parent
    raise DataError(f"{names} {'does' if len(given) == 1 else 'do'} not apply to a landmarks run, which the export "
                    f"scores on the held-out feature vectors its training recorded ({folder / VAL_FEATURES})"
                    + (f" and calibrates INT8 on the training-split ones it recorded ({folder / CALIB_FEATURES})"
                       if calibrates else "")
                    + f"; leave {'it' if len(given) == 1 else 'them'} out")


def landmark_data(checkpoint: str | os.PathLike[str], spec: ModelSpec, options: Any,
                  progress: Callable[[str], None]) -> LandmarkData:
    """Check the options and read the run's feature files, before anything is exported or written. A run without
    calib_features.npz exports no INT8: with a message when INT8 came with --precision all (or from a library
    caller), a DataError when --precision named int8 itself (`options.int8_required`)."""
    check_options(checkpoint, options)
    precisions: Sequence[str] = options.precisions
    without_int8 = ", or leave int8 out of --precision (e.g. --precision fp32,fp16)"
    calibration = None
    if "int8" in precisions:
        calib_path = Path(checkpoint).parent / CALIB_FEATURES
        if calib_path.is_file() or options.int8_required:
            calibration = read_features(checkpoint, spec, CALIB_FEATURES, without_int8)
        else:
            progress(f"skipping INT8: {calib_path} is missing ({ROLES[CALIB_FEATURES]}); "
                     f"{retrain_fix(checkpoint, spec)}")
            precisions = tuple(p for p in precisions if p != "int8")
    held_out = read_features(checkpoint, spec, VAL_FEATURES)
    return LandmarkData(held_out, calibration, tuple(p for p in precisions if p in PRECISIONS))


def held_out_parts(held_out: FeatureFile, spec: ModelSpec) -> dict[str, np.ndarray]:
    """A personalised run's val_features.npz mixes two hold-outs (asl_edge.train.personalise): name -> (N,) mask of
    each, so every top-1 can be said of the samples it was measured on. Empty for any other run."""
    record = spec.trained_on.get("personalised")
    if not isinstance(record, dict) or held_out.dataset is None:
        return {}
    which = held_out.dataset
    yours = which == which.max()  # the person's samples are the last dataset index (personalise writes it so)
    return {"the original hold-out": ~yours, "your held-out samples": yours}


def ort_probabilities(path: Path, spec: ModelSpec, features: np.ndarray, optimise: bool) -> np.ndarray:
    ort = require("onnxruntime", "evaluating ONNX models", "pip install onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimise
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    probs: np.ndarray = session.run([spec.output_name], {spec.input_name: features})[0]
    return probs.astype(np.float32)


def export_landmarks_into(staging: Path, checkpoint: str, checkpoint_sha: str, model: Any, spec: ModelSpec,
                          data: LandmarkData, file_names: dict[str, str], options: Any,
                          progress: Callable[[str], None]) -> ExportReport:
    """Write the FP32 (and FP16, INT8: `data.precisions`) graphs and the report into `staging`; return the
    report. `data` is what `landmark_data` read and checked. Every graph records `checkpoint_sha`, FP16 and
    INT8 also the FP32 file's sha256 (asl_edge.onnx_header.Provenance)."""
    import torch

    written = data.precisions
    features, labels = data.held_out.features, data.held_out.labels
    progress(f"exporting FP32 ONNX ({options.exporter} exporter, opset {options.opset})")
    fp32 = onnx_export.export_fp32(model, spec, options.opset, options.exporter, options.simplify)
    onnx_export.save(fp32, staging / file_names["fp32"], spec, "fp32", Provenance(checkpoint_sha))
    derived_from = Provenance(checkpoint_sha, sha256_file(staging / file_names["fp32"]))
    with torch.no_grad():
        reference = torch.softmax(model.eval()(torch.from_numpy(features)), dim=1).numpy()
    progress(f"checking parity with PyTorch on {len(features)} held-out feature vectors")
    parity = Comparison.of(reference, ort_probabilities(staging / file_names["fp32"], spec, features, True))
    require_parity(parity, options.tolerance, "the FP32 ONNX graph")
    if "fp16" in written:
        progress("converting to FP16")
        onnx_export.save(to_fp16(fp32, spec), staging / file_names["fp16"], spec, "fp16", derived_from)
    calibration_info: dict[str, Any] = {}
    if "int8" in written and data.calibration is not None:
        calib = data.calibration.features
        cal = options.calibration
        progress(f"calibrating INT8 ({cal.method}, {len(calib)} training-split feature vectors)")
        int8 = quantize_int8_batches(fp32, spec, feature_batches(calib, cal.batch_size), cal)
        violations = qdq_violations(int8)
        if violations:
            raise ModelError(f"the INT8 graph breaks {len(violations)} TensorRT Q/DQ rule(s), first: "
                             f"{violations[0]}")
        onnx_export.save(int8, staging / file_names["int8"], spec, "int8", derived_from)
        calibration_info = {"method": cal.method, "feature_vectors": len(calib), "source": f"training split "
                            f"({CALIB_FEATURES})", "reduce_range": cal.reduce_range}
    results, probs_by = [], {}
    parts = held_out_parts(data.held_out, spec)
    for precision in written:
        path = staging / file_names[precision]
        probs = probs_by[precision] = ort_probabilities(path, spec, features, optimise=False)
        versus = Comparison.of(probs_by["fp32"], probs)
        cpu = ort_probabilities(path, spec, features, optimise=True)
        results.append(PrecisionResult(
            precision=precision, file=file_names[precision], size_bytes=path.stat().st_size,
            sha256=sha256_file(path), top1=classification_report(probs, labels, spec.labels).top1,
            max_prob_diff_vs_fp32=versus.max_abs_diff, agreement_vs_fp32=versus.top1_agreement,
            top1_ort_cpu=classification_report(cpu, labels, spec.labels).top1,
            top1_parts={name: float((probs[mask].argmax(1) == labels[mask]).mean()) for name, mask in parts.items()
                        if mask.any()}))
    fp16 = [r for r in results if r.precision == "fp16"]
    if fp16 and fp16[0].agreement_vs_fp32 < 0.99:
        raise ModelError(f"the FP16 graph agrees with FP32 on only {fp16[0].agreement_vs_fp32:.2%} of the "
                         "held-out samples")
    split = HeldOutSplit.recorded(spec.trained_on) or HeldOutSplit(("the training datasets",))
    report = ExportReport(
        checkpoint=checkpoint, checkpoint_sha256=checkpoint_sha, arch=spec.arch, exporter=options.exporter,
        opset=options.opset,
        simplified=options.simplify,
        evaluation={"data": ", ".join(split.datasets) + _personal_part(spec),
                    "split": f"held-out {split.val_fraction} of each, seed {split.seed} ({VAL_FEATURES})",
                    "images": len(features),
                    **({"parts": {name: int(mask.sum()) for name, mask in parts.items()}} if parts else {}),
                    **({"int8_calibration": calibration_info} if calibration_info else {})},
        parity={**parity.to_dict(), "tolerance": options.tolerance},
        pytorch_top1=classification_report(reference, labels, spec.labels).top1, results=results)
    atomic_write_json(staging / "export_report.json", report.to_dict())
    atomic_write_text(staging / "export_report.md", report.markdown())
    return report


def _personal_part(spec: ModelSpec) -> str:
    """A personalised model's held-out samples are part of val_features.npz too (asl_edge.train.personalise)."""
    record = spec.trained_on.get("personalised")
    if not isinstance(record, dict):
        return ""
    return (f" + {len(record.get('held_out_ids', []))} held-out samples of {record.get('user_data')} (the last "
            f"{record.get('held_out')} of each letter)")

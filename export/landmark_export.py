"""Export a landmarks model (arch landmark_mlp): FP32, FP16 and INT8 ONNX of (N, num_features) -> probabilities.

The held-out data is the run's `val_features.npz` (feature vectors and labels written by landmark training
next to checkpoint.pt), so export needs neither the photos nor the hand stage. INT8 is calibrated the image
models' way (export/int8.py, Q/DQ, checked against TensorRT's rules) on the run's `calib_features.npz`, a
seeded sample of un-augmented training-split feature vectors; runs older than that file skip INT8.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.artifacts import atomic_write_json, atomic_write_text, sha256_file
from asl_edge.datasets import HeldOutSplit
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


def load_val_features(checkpoint: str | os.PathLike[str], spec: ModelSpec,
                      name: str = VAL_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    path = Path(checkpoint).parent / name
    if not path.is_file():
        raise DataError(f"{path} is missing: a landmarks model is exported with the feature vectors its "
                        "training run wrote next to checkpoint.pt")
    with np.load(path) as data:
        features, labels = data["features"].astype(np.float32), data["labels"].astype(np.int64)
    if features.ndim != 2 or features.shape[1:] != spec.input_shape:
        raise DataError(f"{path}: features of shape {features.shape} do not fit the model's (N, {spec.num_features})")
    return features, labels


def held_out_parts(checkpoint: str | os.PathLike[str], spec: ModelSpec) -> dict[str, np.ndarray]:
    """A personalised run's val_features.npz mixes two hold-outs (asl_edge.train.personalise): name -> (N,) mask of
    each, so every top-1 can be said of the samples it was measured on. Empty for any other run."""
    record = spec.trained_on.get("personalised")
    path = Path(checkpoint).parent / VAL_FEATURES
    if not isinstance(record, dict) or not path.is_file():
        return {}
    with np.load(path) as data:
        if "dataset" not in data:
            return {}
        which = data["dataset"].astype(np.int64)
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
                          precisions: tuple[str, ...], file_names: dict[str, str], options: Any,
                          progress: Callable[[str], None]) -> tuple[ExportReport, tuple[str, ...]]:
    """Write the FP32 (and FP16, INT8) graphs and the report into `staging`; return the report and the
    precisions written (INT8 is skipped with a message when the run has no calib_features.npz). Every graph
    records `checkpoint_sha`, FP16 and INT8 also the FP32 file's sha256 (asl_edge.onnx_header.Provenance)."""
    import torch

    calib_path = Path(checkpoint).parent / CALIB_FEATURES
    if "int8" in precisions and not calib_path.is_file():
        progress(f"skipping INT8: {calib_path} is missing (a run from before INT8 support); retrain the "
                 "landmarks model with `asl-edge train --input landmarks` to write it")
        precisions = tuple(p for p in precisions if p != "int8")
    written = tuple(p for p in precisions if p in PRECISIONS)
    features, labels = load_val_features(checkpoint, spec)
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
    if "int8" in written:
        calib, _ = load_val_features(checkpoint, spec, CALIB_FEATURES)
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
    parts = held_out_parts(checkpoint, spec)
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
    return report, written


def _personal_part(spec: ModelSpec) -> str:
    """A personalised model's held-out samples are part of val_features.npz too (asl_edge.train.personalise)."""
    record = spec.trained_on.get("personalised")
    if not isinstance(record, dict):
        return ""
    return (f" + {len(record.get('held_out_ids', []))} held-out samples of {record.get('user_data')} (the last "
            f"{record.get('held_out')} of each letter)")

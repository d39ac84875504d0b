"""FP32 graph to an INT8 Q/DQ graph that TensorRT's ONNX parser accepts, calibrated on real images.

ONNX Runtime's quantize_static does the work with every setting passed explicitly (its defaults have
changed between releases and are asymmetric): QDQ format, INT8 activations and weights, symmetric
(zero points 0), per-channel weight scales, float bias. The calibration images come from the training
split, drawn evenly from every class; the validation split stays unseen until the evaluation.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.datasets import LabelledImages, per_class_sample
from asl_edge.errors import AslEdgeError, DataError, ModelError, require
from asl_edge.export.onnx_export import WORKSTATION_HINT, check_graph
from asl_edge.preprocess import preprocess_batches
from asl_edge.spec import ModelSpec

# Option name -> the onnxruntime.quantization.CalibrationMethod member.
CALIBRATION_METHODS = {"percentile": "Percentile", "minmax": "MinMax", "entropy": "Entropy"}
# Operators whose inputs get Q/DQ pairs. Softmax stays float: quantizing probabilities to steps of
# 1/127 would blur exactly what the runtime thresholds on.
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul", "Add", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool",
                 "Flatten", "Reshape", "Relu", "Clip")


# The default calibration set: 20 training photos of each class of the bundled model's ASL alphabet data
# (29 classes: A-Z, space, del, nothing), so 580 in all. A model with other classes gets the same total,
# divided evenly over its classes by `calibration_set`; --calib-images changes the total.
CALIBRATION_IMAGES_PER_CLASS = 20
ALPHABET_CLASSES = 29


@dataclass(frozen=True)
class CalibrationOptions:
    images: int = CALIBRATION_IMAGES_PER_CLASS * ALPHABET_CLASSES  # in all, split evenly over the classes
    method: str = "percentile"
    batch_size: int = 32  # images per calibration run
    seed: int = 0
    percentile: float = 99.999  # the percentile method's clipping point
    # 7-bit weights: for ONNX Runtime on x86 CPUs without VNNI, whose INT8 kernels saturate otherwise.
    reduce_range: bool = False

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise AslEdgeError(f"unknown calibration method '{self.method}'; "
                               f"choose one of {', '.join(CALIBRATION_METHODS)}")
        if self.images < 1:
            raise AslEdgeError(f"--calib-images {self.images}: INT8 calibration needs at least 1 image (default "
                               f"{CalibrationOptions.images}; leave INT8 out with --precision fp32,fp16)")
        if self.batch_size < 1:
            raise AslEdgeError(f"calibration batch size {self.batch_size} must be at least 1")
        if not 0.0 < self.percentile <= 100.0:
            raise AslEdgeError(f"calibration percentile {self.percentile} must be in (0, 100]")

    def check_classes(self, num_classes: int) -> None:
        if self.images < num_classes:
            raise DataError(f"too few calibration images: {self.images} cannot cover the model's {num_classes} "
                            f"classes; pass --calib-images {num_classes} or more")


def calibration_set(train: LabelledImages, options: CalibrationOptions) -> LabelledImages:
    """`options.images` training images drawn evenly from every class (the same count from each)."""
    num_classes = len(train.classes)
    options.check_classes(num_classes)
    per_class = options.images // num_classes
    counts = train.class_counts()
    short = {name: n for name, n in counts.items() if n < per_class}
    if short:
        name, have = min(short.items(), key=lambda item: item[1])
        if have == 0:  # no --calib-images value can help: the class itself is missing from the data
            raise DataError(f"cannot calibrate INT8: class '{name}' has no images in the training split; add "
                            f"images of '{name}' to the dataset, or export without int8 (--precision fp32,fp16)")
        raise DataError(f"too few calibration images: {per_class} per class requested but class '{name}' has "
                        f"{have} in the training split; lower --calib-images to {have * num_classes} or less")
    return train.subset(per_class_sample(train.labels, per_class, options.seed))


class _OneBatch:
    """onnxruntime's CalibrationDataReader protocol for a single batch: get_next() -> {input: batch}, then None."""

    def __init__(self, input_name: str, batch: np.ndarray) -> None:
        self._feed: dict[str, np.ndarray] | None = {input_name: batch}

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed, self._feed = self._feed, None
        return feed


def _calibrator_settings(options: CalibrationOptions) -> dict[str, Any]:
    """Settings for onnxruntime's calibrators. quantize_static cannot pass histogram sizes, and its entropy
    default (128 bins searched for 128 quantized bins) has a single candidate, the full range: the same
    result as min-max. Entropy here uses TensorRT's calibrator sizes (2048 bins, 128 quantized bins)."""
    symmetric: dict[str, Any] = {"symmetric": True}  # zero points must be 0
    return {
        "minmax": symmetric,
        "entropy": {**symmetric, "num_bins": 2048, "num_quantized_bins": 128},
        "percentile": {**symmetric, "num_bins": 2048, "percentile": options.percentile},
    }[options.method]


def _calibrate(prepared: Path, scratch: Path, batches: Iterable[np.ndarray], spec: ModelSpec,
               options: CalibrationOptions, method: Any) -> Path:
    """Run the calibrator one batch at a time (the histogram calibrators otherwise hold every activation of
    every image in memory) and save the tensor ranges where quantize_static reads them."""
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    calibrator = create_calibrator(prepared, list(QUANTIZED_OPS), augmented_model_path=str(scratch / "augmented.onnx"),
                                   calibrate_method=method, providers=["CPUExecutionProvider"],
                                   extra_options=_calibrator_settings(options))
    for batch in batches:
        calibrator.collect_data(_OneBatch(spec.input_name, batch))
    ranges = scratch / "ranges.json"
    save_tensors_data(calibrator.compute_data(), ranges)
    return ranges


def quantize_int8(fp32_model: Any, spec: ModelSpec, calibration: LabelledImages,
                  options: CalibrationOptions) -> Any:
    """A Q/DQ INT8 onnx.ModelProto of a checked FP32 model, calibrated on `calibration`."""
    batches = preprocess_batches(calibration.images, spec, options.batch_size)
    return quantize_int8_batches(fp32_model, spec, batches, options)


def feature_batches(features: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """(N, ...) float32 model inputs (landmark feature vectors, say) in calibration batches."""
    array = np.ascontiguousarray(features, dtype=np.float32)
    for start in range(0, len(array), batch_size):
        yield array[start:start + batch_size]


def quantize_int8_batches(fp32_model: Any, spec: ModelSpec, batches: Iterable[np.ndarray],
                          options: CalibrationOptions) -> Any:
    """quantize_int8 calibrated on ready float32 input batches for `spec.input_name` (any input kind).
    `options.images` and `options.seed` are unused here: the caller chose the batches."""
    onnx = require("onnx", "INT8 quantization", WORKSTATION_HINT)
    quantization = require("onnxruntime.quantization", "INT8 quantization", WORKSTATION_HINT)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = getattr(quantization.CalibrationMethod, CALIBRATION_METHODS[options.method])
    with tempfile.TemporaryDirectory(prefix="asl-edge-int8-") as scratch_name:
        scratch = Path(scratch_name)
        source, prepared, quantized = (scratch / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        # From a file: quant_pre_process moves a ModelProto's weights to external data in place.
        onnx.save(fp32_model, str(source))
        # Shape inference so every tensor that should be quantized has a known type and rank.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        try:
            # The histogram calibrators print their progress; the export prints its own steps.
            with contextlib.redirect_stdout(io.StringIO()):
                ranges = _calibrate(prepared, scratch, batches, spec, options, method)
            _quantize_static(quantization, prepared, quantized, ranges, options, method)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"INT8 quantization failed: {str(exc).splitlines()[0][:200]}") from exc
        model = onnx.load(str(quantized))
    _drop_unused_domains(model)
    check_graph(model, spec, "the INT8 graph")
    return model


def _quantize_static(quantization: Any, prepared: Path, quantized: Path, ranges: Path,
                     options: CalibrationOptions, method: Any) -> None:
    """quantize_static with every setting TensorRT depends on passed explicitly (reference/tensorrt.md §2b)."""
    quantization.quantize_static(
        str(prepared), str(quantized), None,
        calibration_cache_path=str(ranges),  # the ranges _calibrate measured
        quant_format=quantization.QuantFormat.QDQ,
        op_types_to_quantize=list(QUANTIZED_OPS),
        per_channel=True,
        reduce_range=options.reduce_range,
        activation_type=quantization.QuantType.QInt8,
        weight_type=quantization.QuantType.QInt8,
        calibrate_method=method,
        extra_options={
            "ActivationSymmetric": True,  # onnxruntime's default is asymmetric; TensorRT needs zero points 0
            "WeightSymmetric": True,
            "QuantizeBias": False,  # an int32-bias DequantizeLinear is rejected by TensorRT
        },
    )


def _drop_unused_domains(model: Any) -> None:
    """quant_pre_process declares every onnxruntime operator domain; keep the ones the graph uses, so
    TensorRT's parser sees a plain ONNX graph."""
    used = {node.domain for node in model.graph.node} | {"", "ai.onnx"}
    for entry in list(model.opset_import):
        if entry.domain not in used:
            model.opset_import.remove(entry)

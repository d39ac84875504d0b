"""`asl-edge export CHECKPOINT`: verified ONNX in FP32, FP16 and INT8 (Q/DQ), with accuracy per precision."""

from __future__ import annotations

import argparse
from pathlib import Path

from asl_edge.errors import DataError
from asl_edge.export.int8 import CALIBRATION_METHODS, CalibrationOptions
from asl_edge.export.onnx_export import DEFAULT_OPSET, EXPORTERS
from asl_edge.export.parity import DEFAULT_TOLERANCE
from asl_edge.export.pipeline import REPORT_MARKDOWN, ExportOptions, export_all, parse_precisions

_DEFAULT_CALIBRATION = CalibrationOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a training run folder, or its checkpoint.pt")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the ONNX files and the report (default: the run folder)")
    parser.add_argument("--precision", default="fp32",
                        help="fp32, fp16, int8, a comma-separated list, or all (fp32 is always written: the others "
                             "are derived from it and compared with it; default: fp32)")
    data = parser.add_argument_group("evaluation data (default: what the checkpoint records)")
    data.add_argument("--data", default=None, help="the dataset the model was trained on (folder or CSV)")
    data.add_argument("--val", default=None, help="an explicit validation set instead of a split of --data")
    data.add_argument("--val-fraction", type=float, default=None, help="held-out fraction (default: as trained)")
    data.add_argument("--seed", type=int, default=None, help="split seed (default: as trained)")
    calib = parser.add_argument_group("INT8 calibration (images from the training split, evenly per class)")
    calib.add_argument("--calib-images", type=int, default=None,
                       help=f"calibration images in all (default: {_DEFAULT_CALIBRATION.images})")
    calib.add_argument("--calib-method", choices=tuple(CALIBRATION_METHODS), default=_DEFAULT_CALIBRATION.method,
                       help=f"range calibration method (default: {_DEFAULT_CALIBRATION.method}; entropy, as "
                            "onnxruntime implements it, clips hard and lost 5 points on the default model)")
    calib.add_argument("--calib-percentile", type=float, default=_DEFAULT_CALIBRATION.percentile,
                       help=f"clipping percentile of --calib-method percentile "
                            f"(default: {_DEFAULT_CALIBRATION.percentile})")
    calib.add_argument("--int8-reduce-range", action="store_true",
                       help="7-bit weights, for ONNX Runtime INT8 on x86 CPUs without VNNI (not needed for TensorRT)")
    graph = parser.add_argument_group("graph")
    graph.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                       help=f"ONNX opset (default: {DEFAULT_OPSET}, the newest TensorRT 8.6 reads)")
    graph.add_argument("--exporter", choices=tuple(EXPORTERS), default="torchscript",
                       help="torch's ONNX exporter (default: torchscript; see asl_edge.export.onnx_export)")
    graph.add_argument("--no-simplify", action="store_true", help="skip onnxslim")
    graph.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                       help=f"max probability difference PyTorch vs FP32 ONNX (default: {DEFAULT_TOLERANCE:g})")


def run(args: argparse.Namespace) -> int:
    precisions = parse_precisions(args.precision)
    images = args.calib_images if args.calib_images is not None else _DEFAULT_CALIBRATION.images
    calibration = CalibrationOptions(images=images, method=args.calib_method,
                                     percentile=args.calib_percentile, reduce_range=args.int8_reduce_range)
    if "int8" not in precisions and (calibration != _DEFAULT_CALIBRATION or args.calib_images is not None):
        # They were ignored without a word: no INT8 model, so nothing to calibrate.
        raise DataError(f"the INT8 calibration options set how the INT8 model is calibrated, but --precision "
                        f"{args.precision} builds none; add int8, e.g. --precision int8 or --precision all")
    options = ExportOptions(
        precisions=precisions, data=args.data, val=args.val, val_fraction=args.val_fraction,
        seed=args.seed, opset=args.opset, exporter=args.exporter, simplify=not args.no_simplify,
        tolerance=args.tolerance, calibration=calibration,
        # What a landmarks run refuses rather than passes over (asl_edge.export.landmark_export).
        given=frozenset(flag for flag, value in (("--data", args.data), ("--val", args.val),
                                                 ("--val-fraction", args.val_fraction), ("--seed", args.seed),
                                                 ("--calib-images", args.calib_images)) if value is not None),
        int8_required="int8" in {p.strip().lower() for p in args.precision.split(",")})
    run_folder = args.checkpoint if args.checkpoint.is_dir() else args.checkpoint.parent
    out = args.out if args.out is not None else run_folder
    report = export_all(args.checkpoint, out, options, progress=lambda message: print(f"- {message}", flush=True))
    print()
    print(report.console())
    print(f"\nwrote {', '.join(r.file for r in report.results)} and {REPORT_MARKDOWN} to {out}")
    return 0

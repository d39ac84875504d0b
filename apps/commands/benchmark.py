"""asl-edge benchmark --model RUN_FOLDER_OR_MODEL: latency and accuracy per backend x precision, and end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from asl_edge.apps.options import add_provider_option, add_spec_option, spec_from_args
from asl_edge.artifacts import atomic_write_json, atomic_write_text, output_dir
from asl_edge.benchmark.suite import BACKENDS, HAND_VARIANTS, BenchmarkOptions
from asl_edge.benchmark.timing import CV_WARNING, TimingPlan
from asl_edge.errors import AslEdgeError
from asl_edge.spec import PRECISIONS

JSON_NAME, MARKDOWN_NAME, PLOT_NAME = "benchmark.json", "benchmark.md", "benchmark.png"


def _names(allowed: tuple[str, ...], what: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> tuple[str, ...]:
        names = [n.strip().lower() for n in text.split(",") if n.strip()]
        if names == ["all"]:
            return allowed
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} '{unknown[0] if unknown else text}'; choose from "
                                             f"{', '.join(allowed)} (comma-separated) or all")
        return tuple(n for n in allowed if n in names)

    return parse


def _batch_size_list(text: str) -> tuple[int, ...]:
    try:
        sizes = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch '{text}' must be comma-separated integers, e.g. 1,32") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("--batch sizes must be 1 or more")
    return tuple(sizes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path,
                        help="a run folder (checkpoint.pt, model*.onnx, *.engine), an .onnx (and its siblings of "
                             "other precisions), an .engine, or a checkpoint.pt")
    add_spec_option(parser)
    parser.add_argument("--backends", type=_names(BACKENDS, "backend"), default=BACKENDS,
                        help="which backends: pytorch, onnxruntime, tensorrt, comma-separated (default: all that "
                             "this machine has)")
    parser.add_argument("--precisions", type=_names(PRECISIONS, "precision"), default=PRECISIONS,
                        help="fp32, fp16, int8, comma-separated (default: all)")
    parser.add_argument("--batch", type=_batch_size_list, default=(1, 32),
                        help="batch sizes to time, comma-separated; the smallest gets the full latency table "
                             "(default: 1,32)")
    timing = parser.add_argument_group("timing (trtexec's method: warm up, then time every call)")
    timing.add_argument("--warmup", type=float, default=0.2, metavar="SECONDS",
                        help="warm-up time per measurement, at least 5 calls (default: 0.2)")
    timing.add_argument("--iterations", type=int, default=None,
                        help="time exactly this many calls (default: time for --duration)")
    timing.add_argument("--duration", type=float, default=2.0, metavar="SECONDS",
                        help="time calls for this long, at least 10 (default: 2)")
    timing.add_argument("--threads", type=int, default=None,
                        help="intra-op threads of ONNX Runtime and PyTorch (default: theirs, one per core)")
    add_provider_option(timing)
    data = parser.add_argument_group("accuracy")
    data.add_argument("--data", default=None,
                      help="evaluation dataset (default: the held-out split of the dataset the model records)")
    data.add_argument("--eval-limit", type=int, default=None, metavar="N",
                      help="evaluate on at most N held-out images per class (faster)")
    pipe = parser.add_argument_group("pipeline row")
    pipe.add_argument("--video", default=None,
                      help="video for the end-to-end row (default: the bundled sample clip)")
    pipe.add_argument("--pipeline-frames", type=int, default=200, help="frames to time end to end (default: 200)")
    pipe.add_argument("--no-pipeline", action="store_true",
                      help="skip the end-to-end rows (the fixed-box pipeline and the whole hand chain)")
    pipe.add_argument("--hand-models", type=_names(HAND_VARIANTS, "hand model variant"), default=(),
                      metavar="full,lite",
                      help="time the hand chain (palm detector, landmark model, classifier, and the whole chain "
                           "with tracking on and off) with these bundled hand models (default: full for a "
                           "landmarks model, none for an image model)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=None,
                        help="folder for benchmark.json, .md and .png (default: RUN_FOLDER/benchmark for a run "
                             "folder, else runs/benchmark)")
    output.add_argument("--compare", type=Path, default=None, metavar="OLD.json",
                        help="also print the change against an earlier run's benchmark.json")
    output.add_argument("--no-export", action="store_true",
                        help="measure only the ONNX files present; do not export missing precisions")


def default_out(model: Path) -> Path:
    return model / "benchmark" if model.is_dir() else Path("runs/benchmark")


def run(args: argparse.Namespace) -> int:
    from asl_edge.benchmark.plot import write_latency_plot
    from asl_edge.benchmark.report import compare, load_result, markdown_report, terminal_report
    from asl_edge.benchmark.suite import run_benchmark

    old = load_result(args.compare) if args.compare is not None else None  # a bad file fails before measuring
    if args.iterations is not None and args.iterations < 1:
        raise AslEdgeError(f"--iterations {args.iterations} must be at least 1")
    # Cheap checks before minutes of measuring: a bad --video or --data found at the end would lose every row.
    if args.video is not None and not args.no_pipeline:
        from asl_edge.runtime.live.sources import probe_source

        probe_source(args.video)
    if args.data is not None:
        from asl_edge.datasets import check_dataset_path, check_out_outside_datasets

        check_dataset_path(args.data, option="--data")
        if args.out is not None:  # benchmark.png in a class folder would be trained on as a photo
            check_out_outside_datasets(args.out, [(args.data, "--data")], example="runs/benchmark")
    options = BenchmarkOptions(
        backends=args.backends, precisions=args.precisions, batches=args.batch,
        timing=TimingPlan(warmup_s=args.warmup, iterations=args.iterations, duration_s=args.duration,
                          cv_warning=CV_WARNING),
        threads=args.threads, provider=args.provider, data=args.data, eval_limit=args.eval_limit, video=args.video,
        pipeline=not args.no_pipeline, pipeline_frames=args.pipeline_frames, export=not args.no_export,
        hand_models=args.hand_models, spec=spec_from_args(args))
    # Made (and proved writable) before minutes of measuring; removed again if nothing could be measured.
    with output_dir(args.out if args.out is not None else default_out(args.model)) as out:
        print(f"benchmarking {args.model}: {options.timing.describe()} per batch size", flush=True)
        result = run_benchmark(args.model, options, out, progress=lambda line: print(f"- {line}", flush=True))
    data = result.to_dict()
    atomic_write_json(out / JSON_NAME, data)
    atomic_write_text(out / MARKDOWN_NAME, markdown_report(data))
    plot_note = write_latency_plot(result, out / PLOT_NAME)
    print()
    print(terminal_report(data))
    if old is not None:
        print()
        print(compare(old, data))
    written = [JSON_NAME, MARKDOWN_NAME] + ([PLOT_NAME] if plot_note is None else [])
    print(f"\nwrote {', '.join(written)} to {out}" + (f" ({plot_note})" if plot_note else ""))
    return 0

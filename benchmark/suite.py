"""`run_benchmark`: every available backend x precision of one model, engine-only, plus the pipeline row.

For each row: load the backend, measure top-1 on the held-out split (the same split training and export
use, rebuilt from the ModelSpec's provenance), then time `backend.infer` on preprocessed real images at
each batch size. Rows that cannot be made here (no torch, no GPU, no TensorRT, no checkpoint) are left
out with a note saying why; torch is imported only for the PyTorch row.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asl_edge.artifacts import sha256_file
from asl_edge.benchmark.environment import environment_record
from asl_edge.benchmark.models import ENGINE_SUFFIXES, ModelFiles, export_missing, find_model_files, importable
from asl_edge.benchmark.timing import BenchmarkResult, BenchmarkRow, PipelineMeasurement, TimingPlan, measure
from asl_edge.datasets import EvaluationSet, HeldOutSplit, load_dataset, per_class_sample, recorded_split
from asl_edge.errors import AslEdgeError, DataError, MissingDependencyError
from asl_edge.preprocess import preprocess_batch
from asl_edge.progress import Log
from asl_edge.runtime.backends import BACKENDS as BACKEND_REGISTRY
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.backends.evaluation import evaluate_backend
from asl_edge.runtime.backends.tensorrt.cuda_device import NoGpuError
from asl_edge.runtime.backends.tensorrt.manifest import read_manifest
from asl_edge.runtime.hand.models import VARIANTS
from asl_edge.spec import PRECISIONS, ModelSpec

if TYPE_CHECKING:
    from asl_edge.benchmark.hand import HandBenchmark

BACKENDS = tuple(BACKEND_REGISTRY)
HAND_VARIANTS = VARIANTS  # the bundled hand models



@dataclass(frozen=True)
class BenchmarkOptions:
    backends: tuple[str, ...] = BACKENDS
    precisions: tuple[str, ...] = PRECISIONS
    batches: tuple[int, ...] = (1, 32)
    timing: TimingPlan = field(default_factory=TimingPlan)
    threads: int | None = None  # intra-op threads of ONNX Runtime and PyTorch; None: their defaults
    provider: str = "auto"
    data: str | None = None  # evaluation data; default: what the model records
    eval_limit: int | None = None  # images per class of the held-out split
    video: str | None = None  # pipeline row source; default: the bundled sample clip
    pipeline: bool = True
    pipeline_frames: int = 200
    export: bool = True  # export missing ONNX precisions where the export tools are installed
    # Hand-model variants to benchmark the chain with; () = "full" for a landmarks model, none for an image model.
    hand_models: tuple[str, ...] = ()
    # --spec: the ModelSpec of every ONNX row (over sidecars and embedded specs); None: each file's own.
    spec: ModelSpec | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.backends) - set(BACKENDS)) or sorted(set(self.precisions) - set(PRECISIONS))
        if unknown:
            raise AslEdgeError(f"unknown backend or precision '{unknown[0]}'; backends: {', '.join(BACKENDS)}; "
                               f"precisions: {', '.join(PRECISIONS)}")
        if not self.batches or min(self.batches) < 1:
            raise AslEdgeError("--batch sizes must be 1 or more")
        if self.threads is not None and self.threads < 1:
            raise AslEdgeError(f"--threads {self.threads} must be at least 1")
        if self.eval_limit is not None and self.eval_limit < 1:
            raise AslEdgeError(f"--eval-limit {self.eval_limit} must be at least 1")
        if self.pipeline_frames < 1:
            raise AslEdgeError(f"--pipeline-frames {self.pipeline_frames} must be at least 1")
        unknown_variants = sorted(set(self.hand_models) - set(HAND_VARIANTS))
        if unknown_variants:
            raise AslEdgeError(f"unknown hand model variant '{unknown_variants[0]}'; choose from "
                               f"{', '.join(HAND_VARIANTS)}")

    def to_dict(self) -> dict[str, Any]:
        return {"backends": list(self.backends), "precisions": list(self.precisions), "batches": list(self.batches),
                "timing": self.timing.to_dict(), "threads": self.threads, "provider": self.provider,
                "data": self.data, "eval_limit": self.eval_limit, "video": self.video, "pipeline": self.pipeline,
                "pipeline_frames": self.pipeline_frames, "hand_models": list(self.hand_models),
                "spec": self.spec.to_dict() if self.spec is not None else None}


def evaluation_set(spec: ModelSpec, data: str | None, eval_limit: int | None) -> EvaluationSet | None:
    """The held-out split the model was validated on (from its provenance); all of `data` when given, unless it
    is one of the model's training datasets (then its held-out split): the images `asl-edge eval --data` scores.
    None when the model names no dataset or the one it names is not on this machine."""
    recorded = HeldOutSplit.recorded(spec.trained_on)
    if data and recorded is None:
        return _whole_dataset(spec, data, eval_limit, "the model records no training split")
    if data and not (recorded is not None and recorded.includes(data)):
        return _whole_dataset(spec, data, eval_limit, "not data the model trained on")
    split = recorded_split(spec.trained_on, data)
    if split is None:
        return None
    if not os.path.exists(split.data):
        if data:
            raise DataError(f"evaluation data {data} does not exist; pass --data with the folder or CSV")
        return None
    held_out = split.load()[1].relabel(spec.labels)
    if eval_limit is not None:
        held_out = held_out.subset(per_class_sample(held_out.labels, eval_limit, split.seed))
    return EvaluationSet(held_out, {"data": split.data, "split": split.describe(), "images": len(held_out),
                                 "per_class_limit": eval_limit})


def _whole_dataset(spec: ModelSpec, data: str, eval_limit: int | None, why: str) -> EvaluationSet:
    """All of `data` for a model that records no training split (e.g. one brought with --spec) or did not train
    on it: nothing in it is known to have been trained on, so there is no held-out part to pick."""
    if not os.path.exists(data):
        raise DataError(f"evaluation data {data} does not exist; pass --data with the folder or CSV")
    images = load_dataset(data).relabel(spec.labels)
    if eval_limit is not None:
        images = images.subset(per_class_sample(images.labels, eval_limit))
    return EvaluationSet(images, {"data": data, "split": f"all ({why})",
                                  "images": len(images), "per_class_limit": eval_limit})


def timing_inputs(spec: ModelSpec, evaluation: EvaluationSet | None, batch: int) -> np.ndarray:
    """`batch` preprocessed held-out images (repeated if there are fewer), or seeded noise without data."""
    if evaluation is None:
        return np.random.default_rng(0).standard_normal((batch, *spec.input_shape)).astype(np.float32)
    images = evaluation.held_out.images[:batch]
    tensor = preprocess_batch(images, spec)
    return np.ascontiguousarray(np.resize(tensor, (batch, *tensor.shape[1:])))


# -- loading one row's backend ------------------------------------------------------------------------
def _pytorch(files: ModelFiles, precision: str, options: BenchmarkOptions, progress: Log) -> tuple[Backend, Path]:
    if files.checkpoint is None:
        raise AslEdgeError("no checkpoint.pt to run")
    if not importable("torch"):
        raise MissingDependencyError("torch", "the PyTorch reference row", "pip install 'asl-edge[workstation]'")
    if precision != "fp32":
        raise AslEdgeError("PyTorch runs the checkpoint in fp32 only")
    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    return load_backend(files.checkpoint, "pytorch"), files.checkpoint


def _onnxruntime(files: ModelFiles, precision: str, options: BenchmarkOptions,
                 progress: Log) -> tuple[Backend, Path]:
    path = files.onnx.get(precision)
    if path is None:
        raise AslEdgeError(f"no {precision} ONNX model")
    return load_backend(path, "onnxruntime", options.spec, provider=options.provider, threads=options.threads,
                        max_batch=max(options.batches)), path


def _tensorrt(files: ModelFiles, precision: str, options: BenchmarkOptions, progress: Log) -> tuple[Backend, Path]:
    path = files.engines.get(precision) or files.onnx.get(precision)
    if path is None:
        raise AslEdgeError(f"no {precision} engine or ONNX model to build one from")
    from asl_edge.export.trt_builder import tensorrt_backend
    from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions

    # An ONNX file is built once into the engine cache, for the largest batch timed (a graph with a fixed batch:
    # for that batch, and the sizes it cannot take are not timed); later benchmarks reuse it.
    backend = tensorrt_backend(path, BuildOptions(max_batch=max(options.batches), opt_batch=1), log=progress,
                               spec=options.spec)
    return backend, backend.engine_path or path


ROW_LOADERS: dict[str, Callable[[ModelFiles, str, BenchmarkOptions, Log], tuple[Backend, Path]]] = {
    "pytorch": _pytorch,
    "onnxruntime": _onnxruntime,
    "tensorrt": _tensorrt,
}


def _row_keys(options: BenchmarkOptions) -> list[tuple[str, str]]:
    # PyTorch is the fp32 reference; it has no other precision.
    return [(backend, precision) for backend in BACKENDS if backend in options.backends
            for precision in PRECISIONS if precision in options.precisions
            and (backend != "pytorch" or precision == "fp32")]


def timed_batches(backend: Backend, batches: tuple[int, ...]) -> tuple[tuple[int, ...], list[str]]:
    """The batch sizes to time on this backend, and a one-line reason for each one skipped: a model with a
    fixed batch B runs only B per call (other sizes would time B-sized calls in a loop), so it is timed at B."""
    fixed = backend.fixed_batch
    if fixed is None:
        return batches, []
    skipped = [b for b in batches if b != fixed]
    notes = [f"{backend.name} {backend.precision}: batch {b} not timed: the model takes a fixed batch of {fixed}"
             for b in skipped]
    return (fixed,), notes


def measure_row(backend: Backend, file: Path, evaluation: EvaluationSet | None, options: BenchmarkOptions,
                notes: list[str] | None = None, checkpoint_sha256: str | None = None) -> BenchmarkRow:
    """Accuracy on the evaluation set, then latency per batch size (those the model takes; the reasons for
    the others are appended to `notes`)."""
    top1 = evaluate_backend(backend, evaluation.held_out).top1 if evaluation is not None else None
    # A backend that measures it (TensorRT: CUDA events) reports the GPU compute time too, as trtexec does.
    gpu_ms: Callable[[], float] | None = (lambda: backend.last_gpu_ms) if backend.measures_gpu_time else None
    row = BenchmarkRow(backend.name, backend.precision, backend.device, str(file), file.stat().st_size, top1,
                       sha256=sha256_file(file), checkpoint_sha256=checkpoint_sha256)
    batches, skipped = timed_batches(backend, options.batches)
    if notes is not None:
        notes.extend(skipped)
    for batch in batches:
        inputs = timing_inputs(backend.spec, evaluation, batch)
        row.timings.append(measure(functools.partial(backend.infer, inputs), batch, options.timing, gpu_ms))
    return row


def progress_line(row: BenchmarkRow) -> str:
    accuracy = f"top-1 {row.top1:.2%}" if row.top1 is not None else "top-1 n/a"
    parts = [f"{row.backend} {row.precision} on {row.device}: {accuracy}"]
    for timing in row.timings:
        latency = timing.host.summary()
        parts.append(f"batch {timing.batch} p50 {latency['p50']:.3f} ms ({timing.throughput:,.0f}/s)")
    return "; ".join(parts)


def run_benchmark(model: str | os.PathLike[str], options: BenchmarkOptions, out_dir: Path,
                  progress: Log = print) -> BenchmarkResult:
    """Measure every requested backend x precision of `model`, then the pipeline row."""
    load_before = os.getloadavg()
    files = find_model_files(model)
    wanted_onnx = options.precisions if {"onnxruntime", "tensorrt"} & set(options.backends) else ()
    for note in files.notes:  # before any long work: the user sees at once what is left out, and why
        progress(note)
    if options.export:
        files = export_missing(files, wanted_onnx, options.data, progress)
    notes = list(files.notes)
    rows: list[BenchmarkRow] = []
    evaluation: EvaluationSet | None = None
    spec: ModelSpec | None = None
    pipeline_source: tuple[str, str] | None = None  # (backend, precision) the pipeline row reuses
    unavailable: set[str] = set()  # backends whose library or device this machine lacks
    for backend_name, precision in _row_keys(options):
        if backend_name in unavailable:
            continue
        try:
            backend, path = ROW_LOADERS[backend_name](files, precision, options, progress)
        except (MissingDependencyError, NoGpuError) as exc:  # no torch, TensorRT or GPU: skip the whole backend
            unavailable.add(backend_name)
            notes.append(f"{backend_name}: not measured: {exc}")
            continue
        except AslEdgeError as exc:  # a row this machine cannot make: say why and measure the rest
            notes.append(f"{backend_name} {precision}: not measured: {exc}")
            continue
        with backend:
            if spec is None:
                spec = backend.spec
                evaluation = evaluation_set(spec, options.data, options.eval_limit) \
                    if spec.inputs == "image" else None
                if spec.inputs == "landmarks":
                    from asl_edge.benchmark.hand import EVAL_HINT

                    notes.append(f"no accuracy: this model reads hand landmarks, not images ({EVAL_HINT}); "
                                 "latency measured on seeded noise features")
                elif evaluation is None:
                    notes.append("no accuracy: the model's dataset is not on this machine (pass --data); "
                                 "latency measured on seeded noise")
                else:
                    progress(f"evaluation set: {evaluation.description['images']} images "
                             f"({evaluation.description['split']} of {evaluation.description['data']})")
            row = measure_row(backend, path, evaluation, options, notes, _recorded_checkpoint(files, path))
        rows.append(row)
        progress(progress_line(row))
        if backend_name == "onnxruntime" and (pipeline_source is None or precision == "fp32"):
            pipeline_source = (backend_name, precision)
    if not rows:
        # Why each row failed; the files left out were listed as the run began (a folder can hold dozens).
        failed = [note for note in notes if note not in files.notes] or notes
        listed = len(notes) - len(failed)
        raise AslEdgeError("nothing to measure: " + "; ".join(failed)
                           + (f" ({listed} other file(s) left out, listed above)" if listed else ""))
    pipeline = None
    landmarks_model = spec is not None and spec.inputs == "landmarks"
    if options.pipeline and landmarks_model:
        notes.append("no fixed-box pipeline row: this model reads hand landmarks; see the hand chain rows")
    elif options.pipeline and spec is not None:
        pipeline = _pipeline_row(files, options, evaluation, spec, pipeline_source or (rows[0].backend,
                                                                                       rows[0].precision),
                                 out_dir, progress)
    hand = None
    variants = options.hand_models or (("full",) if landmarks_model else ())
    if variants and spec is not None:
        hand, hand_notes = _hand_rows(files, options, evaluation, spec, variants,
                                      pipeline_source or (rows[0].backend, rows[0].precision), out_dir, progress)
        notes += hand_notes
    environment, environment_warnings = environment_record(load_before)
    return BenchmarkResult(model=str(model), created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           settings=options.to_dict(), environment=environment,
                           evaluation=evaluation.description if evaluation is not None else None, rows=rows,
                           pipeline=pipeline, notes=notes, environment_warnings=environment_warnings, hand=hand,
                           provenance=files.provenance())


def _recorded_checkpoint(files: ModelFiles, path: Path) -> str | None:
    """The checkpoint sha256 a measured file is (the checkpoint itself) or records (an ONNX file or engine)."""
    if path == files.checkpoint:
        return files.reference.checkpoint_sha256
    if path in files.identities:
        return files.identities[path].provenance.checkpoint_sha256
    if path.suffix in ENGINE_SUFFIXES:
        return read_manifest(path).checkpoint_sha256
    return None


def _pipeline_row(files: ModelFiles, options: BenchmarkOptions, evaluation: EvaluationSet | None, spec: ModelSpec,
                  source: tuple[str, str], out_dir: Path, progress: Log) -> PipelineMeasurement:
    from asl_edge.benchmark.pipeline import default_video, measure_pipeline

    video = Path(options.video) if options.video else default_video(
        out_dir, evaluation.held_out if evaluation is not None else None, spec.labels)
    backend, path = ROW_LOADERS[source[0]](files, source[1], options, progress)
    started = time.perf_counter()
    with backend:
        measured = measure_pipeline(video, backend, str(path), options.pipeline_frames)
    c2l, overhead = measured.capture_to_label.summary(), measured.overhead.summary()
    progress(f"pipeline ({backend.describe()}, {video.name}, {measured.frame_size[0]}x{measured.frame_size[1]}): "
             f"{measured.frames} frames in {time.perf_counter() - started:.1f} s; capture-to-label p50 "
             f"{c2l['p50']:.2f} ms; runtime overhead p50 {overhead['p50']:.2f} ms; {measured.fps:.0f} FPS")
    return measured


def _hand_rows(files: ModelFiles, options: BenchmarkOptions, evaluation: EvaluationSet | None, spec: ModelSpec,
               variants: tuple[str, ...], source: tuple[str, str], out_dir: Path,
               progress: Log) -> tuple[HandBenchmark, list[str]]:
    """The hand chain's models (ONNX Runtime) and, unless --no-pipeline, the whole chain per frame."""
    from asl_edge.benchmark.hand import run_hand_benchmark
    from asl_edge.benchmark.pipeline import default_video

    video = Path(options.video) if options.video else default_video(
        out_dir, evaluation.held_out if evaluation is not None else None, spec.labels)
    if source[0] != "onnxruntime":  # the chain's classifier runs where the hand models do
        source = ("onnxruntime", "fp32" if "fp32" in files.onnx else next(iter(files.onnx), "fp32"))
    backend, path = ROW_LOADERS[source[0]](files, source[1], options, progress)
    inputs = None if spec.inputs == "landmarks" else timing_inputs(spec, evaluation, 1)[0]
    with backend:
        return run_hand_benchmark(backend, path, video, variants, options.timing, inputs,
                                  options.pipeline_frames if options.pipeline else None, options.provider,
                                  options.threads, progress)

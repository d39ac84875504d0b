"""Evaluate a trained model on a dataset, optionally under a fixed-seed shift (`asl-edge eval`).

The held-out split is recomputed from what the checkpoint recorded (dataset, seed, fraction), so
`eval` on the training data scores exactly the images training never saw. A shift (`SHIFTS` in
augment.py) perturbs those images the same way for every model, which makes models comparable on
conditions they were not trained on.

Scoring a model file (.onnx, .engine) imports no torch: only checkpoints and --shift need it, and they
import it when used, so `asl-edge eval model.onnx` works on a Jetson image without PyTorch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from asl_edge.datasets import (
    EVAL_SPLITS,
    HeldOutSplit,
    LabelledImages,
    check_dataset_path,
    kept_side,
    load_dataset,
)
from asl_edge.errors import DataError, ModelError
from asl_edge.metrics import ClassificationReport, classification_report
from asl_edge.spec import ModelSpec

if TYPE_CHECKING:
    import torch



@dataclass
class EvaluationResult:
    """What `asl-edge eval` prints and records: the report, the model's spec, how many images of which split,
    the shift applied (None: none) and the dataset scored (given, or the one the model records)."""

    report: ClassificationReport
    spec: ModelSpec
    images: int
    split: str
    shift: str | None
    data: str = ""


def select_split(data: LabelledImages, spec: ModelSpec, data_path: str | os.PathLike[str],
                 split: str) -> tuple[LabelledImages, str]:
    """The images to score: the training run's held-out split ('val'), everything ('all'), or 'auto':
    the held-out split when `data_path` is the dataset the model was trained on with a split."""
    if split not in EVAL_SPLITS:
        raise DataError(f"unknown split '{split}'; choose one of {', '.join(EVAL_SPLITS)}")
    recorded = HeldOutSplit.recorded(spec.trained_on)
    if split == "auto":
        on_training_data = recorded is not None and recorded.is_stratified and recorded.includes(data_path)
        split = "val" if on_training_data else "all"
    if split == "all":
        return data, "all"
    held_out = recorded or HeldOutSplit((str(data_path),))
    return (data.subset(held_out.held_out_indices(data.labels)),
            f"val ({held_out.val_fraction:g} stratified, seed {held_out.seed})")


def predict_checkpoint(model: torch.nn.Module, spec: ModelSpec, data: LabelledImages,
                       batch_size: int = 256) -> np.ndarray:
    """(N, num_classes) probabilities of a PyTorch model on CPU: the softmax of `loop.predict_logits`."""
    import torch
    from torch.utils.data import DataLoader

    from asl_edge.train.data import PreprocessedImages
    from asl_edge.train.loop import predict_logits

    logits, _ = predict_logits(model, DataLoader(PreprocessedImages(data, spec), batch_size=batch_size),
                               torch.device("cpu"))
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


def evaluate_model(model_path: str | os.PathLike[str], data_path: str | os.PathLike[str] | None = None,
                   split: str = "auto", shift: str | None = None, shift_seed: int = 0,
                   default_data: str | os.PathLike[str] | None = None,
                   spec_override: ModelSpec | None = None) -> EvaluationResult:
    """Score a checkpoint (.pt, or a run folder holding checkpoint.pt) or any model file the runtime
    can open (.onnx, .engine) on a dataset: `data_path`, else the dataset the model records
    (spec.trained_on["dataset"]), else `default_data`. Raises DataError when there is none.
    `spec_override` (--spec) replaces a model file's own spec."""
    path = Path(model_path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if data_path is not None:
        check_dataset_path(data_path)  # before loading the model: a typo costs no model load
    score: Callable[[LabelledImages], np.ndarray]
    if path.suffix == ".pt":
        from asl_edge.train.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(path)
        spec = checkpoint.spec
        if spec.inputs == "landmarks":
            raise ModelError(f"{model_path} reads hand landmarks, which the runtime's hand chain makes from photos: "
                             f"export it (asl-edge export {path} --out {path.parent}) and evaluate "
                             f"{path.parent / 'model.onnx'}")

        def score(images: LabelledImages) -> np.ndarray:
            return predict_checkpoint(checkpoint.model, spec, images)
    else:
        from asl_edge.runtime.backends import load_backend
        from asl_edge.runtime.backends.evaluation import predict as predict_backend

        backend = load_backend(path, spec=spec_override)
        spec = backend.spec

        def score(images: LabelledImages) -> np.ndarray:
            with backend:
                return predict_backend(backend, images)
    data_path = evaluation_data(spec, data_path, default_data)
    data = load_dataset(data_path, max_side=kept_side(max(spec.input_height, spec.input_width)))
    data, split_name = select_split(data, spec, data_path, split)
    data = data.relabel(spec.labels)
    if shift is not None and shift != "none":
        from asl_edge.train.augment import shift_images  # torch: only shifted evaluations need it

        data = LabelledImages(shift_images(data.images, shift, shift_seed), data.labels, data.classes, data.sources)
    probs = score(data)
    report = classification_report(probs, data.labels, spec.labels)
    return EvaluationResult(report, spec, len(data), split_name, shift if shift != "none" else None, str(data_path))


def evaluation_data(spec: ModelSpec, data_path: str | os.PathLike[str] | None,
                    default_data: str | os.PathLike[str] | None = None) -> str:
    """The dataset to score on: the one given, else the one the model was trained on, else `default_data`."""
    recorded = HeldOutSplit.recorded(spec.trained_on)
    chosen = data_path or (recorded.data if recorded is not None else None) or default_data
    if chosen is None:
        raise DataError("the model records no training dataset; pass --data with a folder of class folders or a .csv")
    return str(check_dataset_path(chosen, option="--data"))  # a recorded or default one is fixed by --data too

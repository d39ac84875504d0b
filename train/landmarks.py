"""Train the landmark classifier: hand landmarks (from the hand stage) -> letter, with a small MLP.

Read top to bottom: `LandmarkSet` (one dataset's landmarks), `augment_landmarks` (numpy, on (N, 21, 3)
before features), `split_stratified`, `train_one_epoch` / `evaluate`, `fit_landmarks` (several datasets at
once, classes = the sorted union, a seeded stratified hold-out of each, best weights by held-out loss), and
`load_landmark_sets` (calls the hand stage's `load_landmark_dataset` per folder, imported lazily).

A run folder gets `checkpoint.pt` (weights + ModelSpec with inputs="landmarks"), `metrics.json` and
`val_features.npz` (the held-out feature vectors and labels, which `asl-edge export` uses for parity) and
`calib_features.npz` (up to 1024 un-augmented training-split feature vectors, which export calibrates INT8 on).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from asl_edge.artifacts import atomic_write, atomic_write_json
from asl_edge.datasets import DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION, HeldOutSplit, stratified_split
from asl_edge.errors import DataError
from asl_edge.landmark_features import FINGERS, NUM_FEATURES, PALM_MCPS, WRIST, landmark_features
from asl_edge.progress import Log
from asl_edge.run_folder import claim_training_folder
from asl_edge.spec import NOTHING, make_landmark_spec
from asl_edge.train.checkpoint import save_checkpoint
from asl_edge.train.config import check_loss_options
from asl_edge.train.models import LandmarkMlp

VAL_FEATURES = "val_features.npz"
CALIB_FEATURES = "calib_features.npz"  # a seeded sample of un-augmented training-split features, for INT8
CALIB_SAMPLES = 1024


class LandmarkDatasetLike(Protocol):
    """What the hand stage's `load_landmark_dataset` returns (and `LandmarkSet` is)."""

    @property
    def landmarks(self) -> np.ndarray: ...
    @property
    def handedness(self) -> np.ndarray: ...
    @property
    def found(self) -> np.ndarray: ...
    @property
    def labels(self) -> np.ndarray: ...
    @property
    def classes(self) -> Sequence[str]: ...


@dataclass
class LandmarkSet:
    landmarks: np.ndarray  # (N, 21, 3) float32, pixels
    handedness: np.ndarray  # (N,) float32, P(right hand)
    found: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N,) int64 into classes
    classes: list[str]
    paths: list[str] = field(default_factory=list)


# -- augmentation ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LandmarkAugment:
    roll_deg: float = 15.0  # in-plane rotation about the wrist
    yaw_deg: float = 20.0  # about the vertical (image y) axis
    pitch_deg: float = 20.0  # about the horizontal (image x) axis
    scale: float = 0.10
    jitter: float = 0.015  # per-point noise, share of the palm size
    finger_length: float = 0.08  # each finger's bones scaled by 1 ± this


def _rotation(roll: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(N,) angles in radians -> (N, 3, 3) rotation matrices Rz(roll) @ Ry(yaw) @ Rx(pitch)."""
    n = roll.shape[0]
    def mat(a: np.ndarray, axis: int) -> np.ndarray:
        c, s = np.cos(a), np.sin(a)
        m = np.tile(np.eye(3), (n, 1, 1))
        i, j = [k for k in range(3) if k != axis]
        m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s, s, c
        return m
    return mat(roll, 2) @ mat(yaw, 1) @ mat(pitch, 0)


def augment_landmarks(landmarks: np.ndarray, rng: np.random.Generator,
                      options: LandmarkAugment = LandmarkAugment()) -> np.ndarray:
    """A randomly varied copy of (N, 21, 3) landmarks: finger lengths, 3-D rotation about the wrist, scale,
    per-point jitter. No mirroring: the features mirror left hands to right ones anyway."""
    points = np.asarray(landmarks, dtype=np.float64)
    n = points.shape[0]
    wrist = points[:, WRIST:WRIST + 1]
    rel = points - wrist
    palm = np.linalg.norm(rel[:, list(PALM_MCPS)], axis=-1).mean(axis=1)
    # Finger lengths: each finger's bones beyond its base joint scaled, the chain rebuilt from the base.
    out = rel.copy()
    for chain in FINGERS:
        factor = 1.0 + rng.uniform(-options.finger_length, options.finger_length, size=(n, 1))
        for parent, child in itertools.pairwise(chain[1:]):
            out[:, child] = out[:, parent] + factor * (rel[:, child] - rel[:, parent])
    angles = [np.radians(rng.uniform(-d, d, size=n)) for d in (options.roll_deg, options.yaw_deg, options.pitch_deg)]
    out = np.einsum("nij,nkj->nki", _rotation(*angles), out)
    out *= (1.0 + rng.uniform(-options.scale, options.scale, size=(n, 1, 1)))
    out += rng.normal(0.0, options.jitter, size=out.shape) * palm[:, None, None]
    return (out + wrist).astype(np.float32)


# -- data --------------------------------------------------------------------------------------------------
def load_landmark_sets(folders: Sequence[str], cache_dir: Path | None = None) -> list[tuple[str, LandmarkDatasetLike]]:
    """(name, dataset) per folder, from the hand stage (asl_edge.runtime.hand.extract, imported here)."""
    try:
        from asl_edge.runtime.hand.extract import load_landmark_dataset
    except ImportError as exc:
        raise DataError(f"landmark training needs the hand stage (asl_edge.runtime.hand.extract): {exc}") from exc
    return [(str(folder), load_landmark_dataset(str(folder), cache_dir)) for folder in folders]


@dataclass(frozen=True)
class StackedLandmarks:
    """Several datasets' photos with a hand: landmarks (N, 21, 3) float32 pixels, handedness (N,) float32,
    labels (N,) int64 into the classes, weights (N,) float32 loss weights, dataset (N,) int64 index, held_out
    (N,) bool, and excluded: photos without a hand per dataset name."""

    landmarks: np.ndarray
    handedness: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    dataset: np.ndarray
    held_out: np.ndarray
    excluded: dict[str, int]


def stack_landmark_sets(datasets: Sequence[tuple[str, LandmarkDatasetLike]], classes: Sequence[str],
                        weights: Sequence[float], val_fraction: float, seed: int,
                        progress: Log = print) -> StackedLandmarks:
    """The photos with a hand of every dataset, stacked (StackedLandmarks).

    Every photo (found or not) is split the way `asl-edge train` splits an image model's data with this seed
    (`stratified_split` per dataset), so a chain of both is scored on photos neither model trained on, and a
    model fine-tuned from this one (personalisation) replays exactly the training part.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("lm", "hand", "y", "w", "set", "val")}
    excluded: dict[str, int] = {}
    for set_index, (name, ds) in enumerate(datasets):
        unknown = sorted(set(ds.classes) - set(classes))
        if unknown:
            raise DataError(f"{name} has classes the model does not know: {', '.join(unknown)}; train on folders "
                            "whose classes are among the model's labels")
        remap = np.array([list(classes).index(c) for c in ds.classes], dtype=np.int64).reshape(-1)
        found = np.asarray(ds.found, dtype=bool)
        excluded[name] = int((~found).sum())
        all_labels = remap[np.asarray(ds.labels, dtype=np.int64)]
        _, val_idx = stratified_split(all_labels, val_fraction, seed)
        in_val = np.zeros(len(all_labels), dtype=bool)
        in_val[val_idx] = True
        labels, is_val = all_labels[found], in_val[found]
        parts["lm"].append(np.asarray(ds.landmarks, dtype=np.float32)[found])
        parts["hand"].append(np.asarray(ds.handedness, dtype=np.float32)[found])
        parts["y"].append(labels)
        parts["w"].append(np.full(len(labels), weights[set_index], dtype=np.float32))
        parts["set"].append(np.full(len(labels), set_index, dtype=np.int64))
        parts["val"].append(is_val)
        progress(f"{name}: {len(found)} samples, {excluded[name]} without a hand excluded, "
                 f"{int(is_val.sum())} held out")
    lm, hand, y, w, which, val = (np.concatenate(parts[k]) for k in ("lm", "hand", "y", "w", "set", "val"))
    return StackedLandmarks(lm, hand, y, w, which, val, excluded)


# -- training ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LandmarkTrainConfig:
    epochs: int = 200
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    val_fraction: float = DEFAULT_VAL_FRACTION
    seed: int = DEFAULT_SPLIT_SEED
    dataset_weights: tuple[float, ...] = ()  # one per dataset (default 1 each): sample weights in the loss
    augment: LandmarkAugment | None = field(default_factory=LandmarkAugment)
    log_every: int = 25
    patience: int = 0  # stop after this many epochs without a better held-out loss; 0: never

    def __post_init__(self) -> None:
        check_loss_options(self)


def run_epoch(model: nn.Module, samples: int, batch_loss: Callable[[torch.Tensor], torch.Tensor],
              optimizer: torch.optim.Optimizer, scheduler: Any, batch_size: int, generator: torch.Generator) -> float:
    """One epoch over `samples` samples in a shuffled order: `batch_loss(indices)` gives each batch's scalar loss,
    one optimiser and scheduler step per batch; the mean loss per sample. Batches of one sample are skipped
    (BatchNorm needs two)."""
    model.train()
    order = torch.randperm(samples, generator=generator)
    total, seen = 0.0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        if len(idx) < 2:
            continue
        loss = batch_loss(idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


def train_one_epoch(model: nn.Module, features: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                    optimizer: torch.optim.Optimizer, scheduler: Any, label_smoothing: float, batch_size: int,
                    generator: torch.Generator) -> float:
    """One epoch of sample-weighted, label-smoothed cross-entropy (`run_epoch`); the mean loss."""
    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        losses = nn.functional.cross_entropy(model(features[idx]), targets[idx], reduction="none",
                                             label_smoothing=label_smoothing)
        w = weights[idx]
        return (losses * w).sum() / w.sum()

    return run_epoch(model, features.shape[0], batch_loss, optimizer, scheduler, batch_size, generator)


@torch.no_grad()
def evaluate(model: nn.Module, features: torch.Tensor, targets: torch.Tensor) -> tuple[float, np.ndarray]:
    """(mean cross-entropy, (N, C) probabilities) in eval mode."""
    model.eval()
    logits = model(features)
    loss = float(nn.functional.cross_entropy(logits, targets)) if len(targets) else float("nan")
    return loss, torch.softmax(logits, dim=1).numpy()


def check_dataset_weights(weights: Sequence[float], datasets: int) -> None:
    """One weight per dataset, each finite and >= 0, not all 0 (NaN or all-zero weights train a NaN model);
    DataError otherwise. Cheap: the CLI calls it before the hand stage reads any photo."""
    if len(weights) != datasets:
        raise DataError(f"{len(weights)} --dataset-weight value(s) for {datasets} --data folder(s)")
    bad = next((w for w in weights if not math.isfinite(w) or w < 0), None)
    if bad is not None:
        raise DataError(f"--dataset-weight {bad} is {'negative' if bad < 0 else 'not a finite number'}; weights "
                        "scale each dataset's share of the loss and must be finite, 0 or more")
    if not any(weights):
        raise DataError("every --dataset-weight is 0, so no sample counts in the loss; give at least one dataset a "
                        "weight above 0 (1 is the default)")


def fit_landmarks(datasets: Sequence[tuple[str, LandmarkDatasetLike]], out: str | os.PathLike[str],
                  config: LandmarkTrainConfig = LandmarkTrainConfig(), progress: Log = print,
                  exist_ok: bool = False) -> dict[str, Any]:
    """Train on several datasets at once; write checkpoint.pt, metrics.json, val_features.npz; return the metrics.

    `out` is locked against other asl-edge writers meanwhile; one that already holds a training is refused
    unless `exist_ok` (its files then move to out/previous-N/; see asl_edge.run_folder)."""
    with claim_training_folder(out, exist_ok=exist_ok, resumable=False):
        return _fit_landmarks(datasets, Path(out), config, progress)


def _fit_landmarks(datasets: Sequence[tuple[str, LandmarkDatasetLike]], out_dir: Path,
                   config: LandmarkTrainConfig, progress: Log) -> dict[str, Any]:
    if not datasets:
        raise DataError("no landmark datasets given")
    weights_per_set = config.dataset_weights or tuple(1.0 for _ in datasets)
    check_dataset_weights(weights_per_set, len(datasets))
    classes = sorted({c for _, ds in datasets for c in ds.classes})
    if len(classes) < 2:
        raise DataError(f"the data has {len(classes)} class ({', '.join(classes)}); a classifier needs at least 2 "
                        "letters: class folders of photos, or letters in a clip folder's labels.csv")
    stacked = stack_landmark_sets(datasets, classes, weights_per_set, config.val_fraction, config.seed, progress)
    lm, hand, y, w, which, val = (stacked.landmarks, stacked.handedness, stacked.labels, stacked.weights,
                                  stacked.dataset, stacked.held_out)
    excluded = stacked.excluded
    # "nothing" (photos without a hand) has no landmarks by definition; it stays a label so the spec matches
    # the image models' (the fallback reads those photos), and the chain reads a frame without a hand as it.
    empty = [name for name, count in zip(classes, np.bincount(y, minlength=len(classes)), strict=True)
             if not count and name != NOTHING]
    if empty:
        raise DataError(f"no sample of {', '.join(empty)} has a hand the hand stage finds (unreadable photos, or "
                        "hands out of view: see the lines above), so the model could not learn "
                        f"{'it' if len(empty) == 1 else 'them'}; add photos or clips where the whole hand is in view, "
                        "or remove those letters from the data")
    if (~val).sum() < 2 or val.sum() < 1:
        raise DataError(f"too few samples with a hand to train and validate on ({len(y)} with a hand, "
                        f"{sum(excluded.values())} without); add photos where the whole hand is in view, a few per "
                        "letter at least")

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    train_lm, train_hand = lm[~val], hand[~val]
    train_y, train_w = torch.from_numpy(y[~val]), torch.from_numpy(w[~val])
    val_x = torch.from_numpy(landmark_features(lm[val], hand[val]))
    val_y = torch.from_numpy(y[val])

    split = HeldOutSplit(tuple(name for name, _ in datasets), None, config.val_fraction, config.seed)
    spec = make_landmark_spec(classes, NUM_FEATURES, **split.provenance(),
                              dataset_weights=list(weights_per_set), excluded_no_hand=excluded,
                              epochs=config.epochs, features="asl_edge.landmark_features v1")
    model = LandmarkMlp(NUM_FEATURES, len(classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, sum(1 for s in range(0, len(train_y), config.batch_size)
                                 if len(train_y) - s >= 2))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                                    steps_per_epoch=steps_per_epoch)
    best_loss, best_epoch, best_state = math.inf, 0, None
    for epoch in range(1, config.epochs + 1):
        batch_lm = augment_landmarks(train_lm, rng, config.augment) if config.augment else train_lm
        train_x = torch.from_numpy(landmark_features(batch_lm, train_hand))
        train_loss = train_one_epoch(model, train_x, train_y, train_w, optimizer, scheduler, config.label_smoothing,
                                     config.batch_size, generator)
        val_loss, probs = evaluate(model, val_x, val_y)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if epoch % config.log_every == 0 or epoch in (1, config.epochs):
            top1 = float((probs.argmax(1) == val_y.numpy()).mean())
            progress(f"epoch {epoch}/{config.epochs}  train loss {train_loss:.4f}  val loss {val_loss:.4f}  "
                     f"val top-1 {top1:.4f}")
        if config.patience and epoch - best_epoch >= config.patience:
            progress(f"no better validation loss for {config.patience} epochs; stopping at epoch {epoch}")
            break
    if best_state is not None:  # None only if every validation loss was NaN
        model.load_state_dict(best_state)
    val_loss, probs = evaluate(model, val_x, val_y)
    metrics = _metrics(probs, y[val], which[val], [name for name, _ in datasets], classes)
    metrics.update({"best_epoch": best_epoch, "val_loss": val_loss, "excluded_no_hand": excluded,
                    "train_samples": int((~val).sum()), "val_samples": int(val.sum()),
                    "num_features": NUM_FEATURES, "config": _config_dict(config)})
    save_checkpoint(out_dir / "checkpoint.pt", model, spec.with_provenance(val_top1=metrics["val_top1"]),
                    metrics, epoch=best_epoch)
    atomic_write_json(out_dir / "metrics.json", metrics)
    save_npz(out_dir / VAL_FEATURES, features=val_x.numpy(), labels=y[val], dataset=which[val])
    # A separate generator, so the sample changes nothing the training above draws.
    calib = np.sort(np.random.default_rng(config.seed).permutation(len(train_lm))[:CALIB_SAMPLES])
    save_npz(out_dir / CALIB_FEATURES, features=landmark_features(train_lm[calib], train_hand[calib]),
              labels=y[~val][calib])
    progress(f"best epoch {best_epoch}: val loss {val_loss:.4f}, val top-1 {metrics['val_top1']:.4f}; "
             f"wrote {out_dir / 'checkpoint.pt'}")
    return metrics


def _metrics(probs: np.ndarray, labels: np.ndarray, which: np.ndarray, names: list[str],
             classes: list[str]) -> dict[str, Any]:
    correct = probs.argmax(1) == labels
    per_dataset = {name: float(correct[which == i].mean()) for i, name in enumerate(names) if (which == i).any()}
    per_class = {c: float(correct[labels == i].mean()) for i, c in enumerate(classes) if (labels == i).any()}
    return {"val_top1": float(correct.mean()), "val_top1_per_dataset": per_dataset,
            "val_top1_per_class": per_class, "classes": classes}


def _config_dict(config: LandmarkTrainConfig) -> dict[str, Any]:
    data = asdict(config)
    data["dataset_weights"] = list(config.dataset_weights)
    return json.loads(json.dumps(data))


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]

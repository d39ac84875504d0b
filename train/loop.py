"""The training loop: `train_one_epoch`, `evaluate`, `fit(config)`.

`fit` reads top to bottom: data, spec, model, optimiser and schedule, then epochs of training and
validation with early stopping on the validation loss. Every epoch writes `last.pt` (for --resume);
a better validation loss writes `checkpoint.pt` (what export and the runtime read). At the end the
best model's report goes into the run folder: metrics.json, per_class.md, confusion.png, curves.png.

Reproducibility: the random state (shuffling, augmentation, dropout) is re-seeded from (seed, epoch,
rank) at the start of every epoch, so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from asl_edge import __version__
from asl_edge.artifacts import ensure_writable_dir
from asl_edge.datasets import HeldOutSplit, load_splits
from asl_edge.errors import AslEdgeError
from asl_edge.metrics import ClassificationReport, classification_report
from asl_edge.spec import ModelSpec, make_spec
from asl_edge.train import distributed
from asl_edge.train.augment import get_preset
from asl_edge.train.checkpoint import load_checkpoint, save_checkpoint
from asl_edge.train.config import TrainConfig
from asl_edge.train.data import AugmentedImages, PreprocessedImages
from asl_edge.train.models import build_model, count_parameters
from asl_edge.train.report import write_report

CHECKPOINT, LAST = "checkpoint.pt", "last.pt"
MIN_IMPROVEMENT = 1e-4  # a validation loss must beat the best by this much to count as better
# oneDNN's convolution, batch norm and pooling kernels are faster on NHWC than on NCHW: measured 1.4x per
# training step for aslcnn at 28x28 on one CPU core, and NHWC is also what tensor cores want under AMP.
MEMORY_FORMAT = torch.channels_last


@dataclass
class LoopState:
    """What --resume needs besides the weights, optimiser and schedule."""

    epoch: int = 0  # epochs completed
    best_loss: float = math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def cpu_threads(config: TrainConfig) -> int:
    """The model's CPU threads: as asked, else torch's default less one core per loader worker. Measured on a
    busy 2-core machine: torch's 2 threads beside an augmenting process ran ~10x slower than 1 thread."""
    if config.threads:
        return config.threads
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - config.workers))


def lr_schedule(name: str, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier at each optimiser step. Written as a function of the step alone so a
    resumed run with more epochs continues on the longer curve."""
    total = max(total_steps, 1)
    if name == "onecycle":
        peak = max(1, round(0.3 * total))

        def onecycle(step: int) -> float:
            if step < peak:  # from lr/25 up to lr
                return 0.04 + 0.96 * step / peak
            progress = min(1.0, (step - peak) / max(1, total - peak))
            return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * progress))

        return onecycle
    warmup = max(1, min(round(0.05 * total), 500))

    def cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1 + math.cos(math.pi * progress))

    return cosine


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    # No weight decay on biases and normalisation parameters (1-D tensors), as usual for AdamW.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)


def train_one_epoch(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
                    criterion: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler,
                    device: torch.device, use_amp: bool, progress: tqdm | None = None) -> dict[str, float]:
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for batch_inputs, batch_labels in loader:
        inputs = batch_inputs.to(device, non_blocking=True, memory_format=MEMORY_FORMAT)
        labels = batch_labels.to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.float16) if use_amp else nullcontext():
            logits = model(inputs)
            loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total_loss += loss.item() * len(labels)
        correct += int((logits.argmax(1) == labels).sum())
        seen += len(labels)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return {"train_loss": total_loss / max(seen, 1), "train_acc": correct / max(seen, 1), "train_images": seen}


@torch.no_grad()
def predict_logits(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
            device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(logits, labels) of every sample, as numpy arrays."""
    model.eval()
    logits, labels = [], []
    for inputs, batch_labels in loader:
        logits.append(model(inputs.to(device, memory_format=MEMORY_FORMAT)).float().cpu())
        labels.append(batch_labels)
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(logits).numpy(), torch.cat(labels).numpy()


def evaluate(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], classes: tuple[str, ...],
             device: torch.device) -> tuple[float, ClassificationReport]:
    """(mean cross-entropy, report) on a dataset; the loss without label smoothing."""
    logits, labels = predict_logits(model, loader, device)
    tensor = torch.from_numpy(logits)
    loss = float(nn.functional.cross_entropy(tensor, torch.from_numpy(labels)))
    probs = torch.softmax(tensor, dim=1).numpy()
    return loss, classification_report(probs, labels, classes)


def _same_model(a: ModelSpec, b: ModelSpec) -> bool:
    return replace(a, trained_on={}) == replace(b, trained_on={})


def _resume(path: Path, spec: ModelSpec, model: nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler) -> LoopState:
    if not path.is_file():
        raise AslEdgeError(f"nothing to resume: {path} does not exist; drop --resume to start a new run")
    saved = load_checkpoint(path)
    if saved.resume_state is None:
        raise AslEdgeError(f"{path} holds no training state to resume from")
    if not _same_model(saved.spec, spec):
        raise AslEdgeError(f"{path} was trained as {saved.spec.arch} {saved.spec.input_width}x"
                           f"{saved.spec.input_height} {saved.spec.color} on other classes or settings; resume "
                           "with the same --arch/--image-size/--color/--data or use a new --out")
    state = saved.resume_state
    getattr(model, "module", model).load_state_dict(saved.model.state_dict())
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    loop = LoopState(**state["loop"])
    return loop


def _dataset_note(config: TrainConfig) -> dict[str, Any]:
    split = HeldOutSplit((str(config.data),), str(config.val) if config.val else None, config.val_fraction,
                         config.seed)
    return {**split.provenance(), "augment": config.augment, "hflip": config.hflip,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "asl_edge": __version__}


def _run_log(path: Path) -> Callable[[str], None]:
    """Print a line and append it to the run's train.log, which a resumed run continues."""

    def log(message: str) -> None:
        print(message, flush=True)
        with open(path, "a", encoding="utf-8") as file:
            file.write(message + "\n")

    return log


def fit(config: TrainConfig, on_epoch_end: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Train a model as `config` says; return the run folder (checkpoint.pt, last.pt, metrics.json, plots).

    `on_epoch_end(epoch, row)` is called after each epoch's files are written (rank 0 only)."""
    torch.set_num_threads(cpu_threads(config))
    group, device = distributed.start(config.device)
    try:
        return _fit(config, group, device, on_epoch_end)
    finally:
        distributed.stop(group)


def _fit(config: TrainConfig, group: distributed.ProcessGroup, device: torch.device,
         on_epoch_end: Callable[[int, dict[str, float]], None] | None) -> Path:
    out = Path(config.out)
    if group.is_main:
        ensure_writable_dir(out)
    log = _run_log(out / "train.log") if group.is_main else (lambda message: None)
    run_started = time.perf_counter()

    # Data: the held-out split is a pure function of (labels, seed, fraction), the same in every stage.
    train_data, val_data = load_splits(config.data, config.val, config.val_fraction, config.seed)
    spec = make_spec(train_data.classes, config.arch, config.image_size, config.color,
                     imagenet_stats=config.weights is not None, **_dataset_note(config))
    preset = get_preset(config.augment, config.hflip)
    train_set = AugmentedImages(train_data, spec, preset)
    val_loader = DataLoader(PreprocessedImages(val_data, spec), batch_size=256)
    sampler: DistributedSampler[Any] | None = None
    if group.enabled:  # each process trains on its own share of every epoch
        sampler = DistributedSampler(train_set, group.world_size, group.rank, seed=config.seed)
    shuffle_rng = torch.Generator()
    train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                              generator=shuffle_rng, num_workers=config.workers,
                              drop_last=len(train_set) // group.world_size > config.batch_size,
                              pin_memory=device.type == "cuda")  # workers restart each epoch: seeded per epoch
    log(f"data: {len(train_data)} training / {len(val_data)} validation images, {spec.num_classes} classes; "
        f"augment '{config.augment}'{' + hflip' if config.hflip else ''}")

    # Model, optimiser, schedule.
    seed_everything(config.seed)
    # Module.to's type hints leave out the memory_format keyword that it documents and accepts.
    model = build_model(spec, config.weights).to(device, memory_format=MEMORY_FORMAT)  # type: ignore[call-overload]
    log(f"model: {config.arch} {config.image_size}x{config.image_size} {config.color}, "
        f"{count_parameters(model) / 1e6:.2f} M parameters, on {device}"
        f"{f' x {group.world_size} processes' if group.enabled else ''}")
    if group.enabled:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_schedule(config.schedule, config.epochs * len(train_loader)))
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    state = LoopState()
    if config.resume:
        state = _resume(out / LAST, spec, model, optimizer, scheduler, scaler)
        log(f"resuming after epoch {state.epoch} (best validation loss {state.best_loss:.4f} "
            f"at epoch {state.best_epoch})")
    plain_model = getattr(model, "module", model)
    best_weights = copy.deepcopy(plain_model.state_dict())
    if config.resume and (out / CHECKPOINT).is_file():
        best_weights = load_checkpoint(out / CHECKPOINT).model.state_dict()

    stopped = state.epochs_without_improvement >= config.patience > 0
    while state.epoch < config.epochs and not stopped:
        epoch = state.epoch + 1
        seed_everything(config.seed * 100_003 + epoch * 1009 + group.rank)
        shuffle_rng.manual_seed(config.seed * 100_003 + epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        started = time.perf_counter()
        with tqdm(total=len(train_loader), desc=f"epoch {epoch}/{config.epochs}", leave=False, file=sys.stderr,
                  disable=not group.is_main, dynamic_ncols=True) as progress:
            row = train_one_epoch(model, train_loader, criterion, optimizer, scheduler, scaler, device, use_amp,
                                  progress)
        train_seconds = time.perf_counter() - started
        val_loss, report = evaluate(plain_model, val_loader, spec.labels, device)
        row.update(epoch=epoch, val_loss=val_loss, val_top1=report.top1, val_top3=report.top3,
                   lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - started,
                   train_images_per_s=row["train_images"] * group.world_size / max(train_seconds, 1e-9))
        state.history.append(row)
        state.epoch = epoch
        improved = val_loss < state.best_loss - MIN_IMPROVEMENT
        if improved:
            state.best_loss, state.best_epoch, state.epochs_without_improvement = val_loss, epoch, 0
            best_weights = copy.deepcopy(plain_model.state_dict())
        else:
            state.epochs_without_improvement += 1
        stopped = distributed.broadcast_flag(group, state.epochs_without_improvement >= config.patience > 0)
        if group.is_main:
            metrics = {"val_loss": val_loss, "top1": report.top1, "top3": report.top3, "epoch": epoch}
            if improved:
                save_checkpoint(out / CHECKPOINT, plain_model, spec, metrics, epoch)
            save_checkpoint(out / LAST, plain_model, spec, metrics, epoch, resume_state={
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "loop": state.__dict__, "config": config.to_dict()})
            log(f"epoch {epoch}/{config.epochs}  train loss {row['train_loss']:.3f} acc {row['train_acc']:.3f}"
                f"  | val loss {val_loss:.3f} top-1 {report.top1:.3f}  | {row['seconds']:.1f} s "
                f"({row['train_images_per_s']:.0f} img/s){'  *best' if improved else ''}")
            if on_epoch_end is not None:
                on_epoch_end(epoch, row)
        distributed.barrier(group)
    if stopped and state.epoch < config.epochs:
        log(f"early stop: no better validation loss for {config.patience} epochs")

    if group.is_main:
        plain_model.load_state_dict(best_weights)
        val_loss, report = evaluate(plain_model, val_loader, spec.labels, device)
        write_report(out, report, {"config": config.to_dict(), "spec": spec.to_dict(), "history": state.history,
                                   "best_epoch": state.best_epoch, "val_loss": val_loss,
                                   "parameters": count_parameters(plain_model)},
                     history=state.history, title=f"{config.arch} on {config.data}")
        log(f"best epoch {state.best_epoch}: validation top-1 {report.top1:.4f}, top-3 {report.top3:.4f}; "
            f"{time.perf_counter() - run_started:.0f} s; run folder {out}")
    distributed.barrier(group)
    return out

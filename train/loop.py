"""The training loop: `train_one_epoch`, `evaluate`, `fit(config)`.

`fit` reads top to bottom, one step per function (after torchvision's references/classification/train.py):
`load_data` (split, spec, loaders), `make_training` (model, optimiser, schedule), `restore` (--resume),
then `run_epoch` + `save_epoch` until the epochs run out or early stopping on the validation loss ends the
run, and `write_final_report`. Every epoch writes `last.pt` (for --resume);
a better validation loss writes `checkpoint.pt` (what export and the runtime read). At the end the
best model's report goes into the run folder: metrics.json, per_class.md, confusion.png, curves.png.

Reproducibility: the random state (shuffling, augmentation, dropout) is re-seeded from (seed, epoch,
rank) at the start of every epoch, so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import copy
import math
import os
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

from asl_edge import __version__
from asl_edge.artifacts import append_line, ensure_writable_dir
from asl_edge.datasets import HeldOutSplit, kept_side, load_splits
from asl_edge.errors import AslEdgeError
from asl_edge.metrics import ClassificationReport, classification_report
from asl_edge.progress import Progress
from asl_edge.run_folder import claim_training_folder, training_files
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


# The one-cycle schedule (Smith & Topin 2018) as torch.optim.lr_scheduler.OneCycleLR shapes it by default: up
# from lr / div_factor (25) over the first pct_start (30 %) of the steps, then a cosine down; it ends at 1e-4
# of lr here (OneCycleLR's default final_div_factor ends at 4e-6 of lr).
ONECYCLE_PEAK_AT, ONECYCLE_START, ONECYCLE_END = 0.3, 1 / 25, 1e-4
# The cosine schedule's linear warm-up: 5 % of the steps, at most 500, so the first updates from random weights
# and fresh AdamW moments stay small without delaying a long run.
WARMUP_FRACTION, WARMUP_MAX_STEPS = 0.05, 500
# Per-epoch seeds: distinct primes keep (seed, epoch, rank) triples from colliding for any realistic count.
SEED_STRIDE, EPOCH_STRIDE = 100_003, 1009
VAL_BATCH = 256  # validation needs no gradients, so a larger batch than training's costs little memory


def lr_schedule(name: str, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier at each optimiser step. Written as a function of the step alone so a
    resumed run with more epochs continues on the longer curve."""
    total = max(total_steps, 1)
    if name == "onecycle":
        peak = max(1, round(ONECYCLE_PEAK_AT * total))

        def onecycle(step: int) -> float:
            if step < peak:  # from lr/25 up to lr
                return ONECYCLE_START + (1 - ONECYCLE_START) * step / peak
            progress = min(1.0, (step - peak) / max(1, total - peak))
            return ONECYCLE_END + (1 - ONECYCLE_END) * 0.5 * (1 + math.cos(math.pi * progress))

        return onecycle
    warmup = max(1, min(round(WARMUP_FRACTION * total), WARMUP_MAX_STEPS))

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
                    device: torch.device, use_amp: bool, progress: Progress | None = None) -> dict[str, float]:
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
        append_line(path, message)

    return log


def fit(config: TrainConfig, on_epoch_end: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Train a model as `config` says; return the run folder (checkpoint.pt, last.pt, metrics.json, plots).

    The folder is locked against other asl-edge writers while training runs; one that already holds a
    training is refused unless `config.resume` or `config.exist_ok` (asl_edge.run_folder).

    `on_epoch_end(epoch, row)` is called after each epoch's files are written (rank 0 only)."""
    torch.set_num_threads(cpu_threads(config))
    group, device = distributed.start(config.device)
    try:
        # Only rank 0 writes: it alone locks the folder and applies the one-training rule (asl_edge.run_folder).
        with claim_training_folder(config.out, config.resume, config.exist_ok) if group.is_main else nullcontext():
            log_file = Path(config.out) / "train.log"
            had_log = log_file.exists()
            try:
                return _fit(config, group, device, on_epoch_end)
            except BaseException:
                # A start that failed before any checkpoint (bad weights, Ctrl-C in epoch 1) leaves no folder
                # holding only the log of that start: the lock's release then removes a folder it created.
                if group.is_main and not had_log and not training_files(config.out):
                    log_file.unlink(missing_ok=True)
                raise
    finally:
        distributed.stop(group)


@dataclass
class RunData:
    """Step 1 of a run: the split, the spec made from it, and the loaders."""

    spec: ModelSpec
    train_loader: DataLoader[Any]
    val_loader: DataLoader[Any]
    sampler: DistributedSampler[Any] | None
    shuffle_rng: torch.Generator


@dataclass
class Training:
    """Step 2: the model and what updates it."""

    model: nn.Module  # DistributedDataParallel-wrapped under torchrun
    plain_model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    use_amp: bool


def load_data(config: TrainConfig, group: distributed.ProcessGroup, device: torch.device,
              log: Callable[[str], None]) -> RunData:
    # The held-out split is a pure function of (labels, seed, fraction), the same in every stage.
    # Photos are shrunk as they are decoded: memory follows the model's input size, not the cameras'.
    train_data, val_data = load_splits(config.data, config.val, config.val_fraction, config.seed,
                                       max_side=kept_side(config.image_size))
    spec = make_spec(train_data.classes, config.arch, config.image_size, config.color,
                     imagenet_stats=config.weights is not None, **_dataset_note(config))
    train_set = AugmentedImages(train_data, spec, get_preset(config.augment, config.hflip))
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
    return RunData(spec, train_loader, DataLoader(PreprocessedImages(val_data, spec), batch_size=VAL_BATCH),
                   sampler, shuffle_rng)


def make_training(config: TrainConfig, data: RunData, group: distributed.ProcessGroup, device: torch.device,
                  log: Callable[[str], None]) -> Training:
    seed_everything(config.seed)
    # Module.to's type hints leave out the memory_format keyword that it documents and accepts.
    plain = build_model(data.spec, config.weights).to(device, memory_format=MEMORY_FORMAT)  # type: ignore[call-overload]
    log(f"model: {config.arch} {config.image_size}x{config.image_size} {config.color}, "
        f"{count_parameters(plain) / 1e6:.2f} M parameters, on {device}"
        f"{f' x {group.world_size} processes' if group.enabled else ''}")
    model = plain
    if group.enabled:
        model = DistributedDataParallel(plain, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_schedule(config.schedule, config.epochs * len(data.train_loader)))
    use_amp = config.amp and device.type == "cuda"
    return Training(model, plain, nn.CrossEntropyLoss(label_smoothing=config.label_smoothing), optimizer, scheduler,
                    torch.amp.GradScaler("cuda", enabled=use_amp), use_amp)


def restore(config: TrainConfig, out: Path, spec: ModelSpec, training: Training,
            log: Callable[[str], None]) -> tuple[LoopState, dict[str, Any]]:
    """(loop state, best weights so far): fresh, or from last.pt and checkpoint.pt under --resume."""
    if not config.resume:
        return LoopState(), copy.deepcopy(training.plain_model.state_dict())
    state = _resume(out / LAST, spec, training.model, training.optimizer, training.scheduler, training.scaler)
    log(f"resuming after epoch {state.epoch} (best validation loss {state.best_loss:.4f} at epoch {state.best_epoch})")
    if (out / CHECKPOINT).is_file():
        return state, load_checkpoint(out / CHECKPOINT).model.state_dict()
    return state, copy.deepcopy(training.plain_model.state_dict())


def run_epoch(epoch: int, config: TrainConfig, data: RunData, training: Training, group: distributed.ProcessGroup,
              device: torch.device) -> tuple[dict[str, float], ClassificationReport]:
    """Train one epoch and validate: (the history row, the validation report)."""
    seed_everything(config.seed * SEED_STRIDE + epoch * EPOCH_STRIDE + group.rank)
    data.shuffle_rng.manual_seed(config.seed * SEED_STRIDE + epoch)
    if data.sampler is not None:
        data.sampler.set_epoch(epoch)
    started = time.perf_counter()
    with Progress(len(data.train_loader), f"epoch {epoch}/{config.epochs}", unit="batch",
                  mode="auto" if group.is_main else "off") as progress:
        row = train_one_epoch(training.model, data.train_loader, training.criterion, training.optimizer,
                              training.scheduler, training.scaler, device, training.use_amp, progress)
    train_seconds = time.perf_counter() - started
    val_loss, report = evaluate(training.plain_model, data.val_loader, data.spec.labels, device)
    row.update(epoch=epoch, val_loss=val_loss, val_top1=report.top1, val_top3=report.top3,
               lr=training.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - started,
               train_images_per_s=row["train_images"] * group.world_size / max(train_seconds, 1e-9))
    return row, report


def save_epoch(out: Path, config: TrainConfig, spec: ModelSpec, training: Training, state: LoopState,
               row: dict[str, float], report: ClassificationReport, improved: bool) -> None:
    """checkpoint.pt when the model improved, last.pt (with what --resume needs) always."""
    metrics = {"val_loss": row["val_loss"], "top1": report.top1, "top3": report.top3, "epoch": row["epoch"]}
    epoch = int(row["epoch"])
    if improved:
        save_checkpoint(out / CHECKPOINT, training.plain_model, spec, metrics, epoch)
    save_checkpoint(out / LAST, training.plain_model, spec, metrics, epoch, resume_state={
        "optimizer": training.optimizer.state_dict(), "scheduler": training.scheduler.state_dict(),
        "scaler": training.scaler.state_dict(), "loop": state.__dict__, "config": config.to_dict(),
        "cwd": os.getcwd()})  # what the config's relative paths are relative to, for --resume from elsewhere


def _fit(config: TrainConfig, group: distributed.ProcessGroup, device: torch.device,
         on_epoch_end: Callable[[int, dict[str, float]], None] | None) -> Path:
    out = Path(config.out)
    if group.is_main:
        ensure_writable_dir(out)
    log = _run_log(out / "train.log") if group.is_main else (lambda message: None)
    run_started = time.perf_counter()
    data = load_data(config, group, device, log)
    training = make_training(config, data, group, device, log)
    state, best_weights = restore(config, out, data.spec, training, log)

    stopped = state.epochs_without_improvement >= config.patience > 0
    while state.epoch < config.epochs and not stopped:
        epoch = state.epoch + 1
        row, report = run_epoch(epoch, config, data, training, group, device)
        state.history.append(row)
        state.epoch = epoch
        improved = row["val_loss"] < state.best_loss - MIN_IMPROVEMENT
        if improved:
            state.best_loss, state.best_epoch, state.epochs_without_improvement = row["val_loss"], epoch, 0
            best_weights = copy.deepcopy(training.plain_model.state_dict())
        else:
            state.epochs_without_improvement += 1
        stopped = distributed.broadcast_flag(group, state.epochs_without_improvement >= config.patience > 0)
        if group.is_main:
            save_epoch(out, config, data.spec, training, state, row, report, improved)
            log(f"epoch {epoch}/{config.epochs}  train loss {row['train_loss']:.3f} acc {row['train_acc']:.3f}"
                f"  | val loss {row['val_loss']:.3f} top-1 {report.top1:.3f}  | {row['seconds']:.1f} s "
                f"({row['train_images_per_s']:.0f} img/s){'  *best' if improved else ''}")
            if on_epoch_end is not None:
                on_epoch_end(epoch, row)
        distributed.barrier(group)
    if stopped and state.epoch < config.epochs:
        log(f"early stop: no better validation loss for {config.patience} epochs")
    if group.is_main:
        write_final_report(out, config, data, training, state, best_weights, device, log, run_started)
    distributed.barrier(group)
    return out


def write_final_report(out: Path, config: TrainConfig, data: RunData, training: Training, state: LoopState,
                       best_weights: dict[str, Any], device: torch.device, log: Callable[[str], None],
                       run_started: float) -> None:
    """The best model's metrics.json, per_class.md and plots in the run folder."""
    model = training.plain_model
    model.load_state_dict(best_weights)
    val_loss, report = evaluate(model, data.val_loader, data.spec.labels, device)
    write_report(out, report, {"config": config.to_dict(), "spec": data.spec.to_dict(), "history": state.history,
                               "best_epoch": state.best_epoch, "val_loss": val_loss,
                               "parameters": count_parameters(model)},
                 history=state.history, title=f"{config.arch} on {config.data}")
    log(f"best epoch {state.best_epoch}: validation top-1 {report.top1:.4f}, top-3 {report.top3:.4f}; "
        f"{time.perf_counter() - run_started:.0f} s; run folder {out}")

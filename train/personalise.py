"""Personalise a landmark classifier: fine-tune a trained model on one person's own signs (the folder
`asl-edge collect` writes, `asl_edge.runtime.hand.collected`), replaying its original training data so that the letters
the person did not record, and other people's hands, are not forgotten.

Read top to bottom: `holdout_split` (which of the person's samples are kept for evaluation),
`PersonaliseConfig`, `personalise` (load the start model, stack the replay data exactly as the start model
was trained on it, fine-tune, write the run).

The mix: every epoch sees the whole training part of the original datasets (the split recorded in the start
model's spec, so the original hold-out stays unseen and measures forgetting) and the person's training samples,
repeated with fresh augmentation until they are about `user_share` of the epoch's samples, and weighted so
they carry exactly `user_share` of the loss (default 0.5: the person's hand counts as much as all the other
signers together). A smaller share changes too little for a hand the model gets systematically wrong (its
errors are on the person's few letters while the replay data is thousands of samples); the replay half keeps
the decision boundaries of the other letters where they were. The original datasets keep their relative weights
(`dataset_weights` of the start model).

Protecting what the person did not record: a few samples of some letters pull the decision boundaries toward those
letters, and letters next to them (S beside N and T) lost up to 20 points for one signer when only the weak letters
were recorded. Two terms keep the rest of the model where it was: on every replay sample the new model's
temperature-softened probabilities are pulled toward the start model's (distillation, `distill`), which keeps the
other letters' boundaries and not only their top-1; and the weights are pulled toward the start model's (L2-SP,
`anchor`) instead of toward zero (AdamW's weight decay, which is off by default here for that reason). After
training, every letter of both hold-outs is compared with the start model, and a letter that lost more than
`warn_drop` is named in one line.

The hold-out is per letter and chronological: the last `holdout` share of each letter's samples in recording
order. Consecutive camera frames are near-copies, so a random split would score the model on twins of its
training samples; the tail of each letter's recording is the closest thing to a new session.

A run folder gets the same files as a landmark training run (`checkpoint.pt`, `metrics.json`,
`val_features.npz` = the original hold-out plus the person's held-out samples, `calib_features.npz`), so
`asl-edge export RUN` works unchanged, and the spec's `trained_on["personalised"]` records the start model,
the person's folder and the held-out sample ids that `asl-edge eval --compare` scores.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asl_edge.artifacts import atomic_write_json, ensure_writable_dir, sha256_file
from asl_edge.datasets import HeldOutSplit
from asl_edge.errors import DataError
from asl_edge.landmark_features import landmark_features
from asl_edge.progress import Log
from asl_edge.runtime.hand.collected import LANDMARKS_FILE, CollectedSamples, flagged_ids
from asl_edge.spec import NOTHING
from asl_edge.train.checkpoint import save_checkpoint
from asl_edge.train.landmarks import (
    CALIB_FEATURES,
    CALIB_SAMPLES,
    VAL_FEATURES,
    LandmarkAugment,
    LandmarkDatasetLike,
    augment_landmarks,
    evaluate,
    run_epoch,
    save_npz,
    stack_landmark_sets,
)
from asl_edge.train.onnx_init import check_parity, load_start_model

PARITY_SAMPLES = 512
MAX_LR = 1.0  # far above any useful fine-tuning rate (default 1e-3); larger ones only diverge
# Far above the defaults (distill 1, anchor 1e-2, weight decay 0); the loss overflows long before 1e308.
MAX_WEIGHT, MAX_WEIGHT_DECAY = 1e3, 1.0
AT_RISK_PROB = 0.05  # see `at_risk` in _personalise


def _sha256_or_none(path: Path) -> str | None:
    """What a derived file came from: the file's sha256 (None for a run folder or a sample list built in memory)."""
    return sha256_file(path) if path.is_file() else None


def holdout_split(labels: np.ndarray, fraction: float) -> np.ndarray:
    """(N,) bool, True for held-out samples: per letter, the last round(n * fraction) of its n samples in
    recording order, at least 1 and at most n - 1 (a letter with one sample is only trained on)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"--holdout {fraction} must be between 0 and 1")
    held = np.zeros(len(labels), bool)
    for letter in np.unique(labels):
        members = np.flatnonzero(labels == letter)
        if len(members) >= 2:
            count = min(max(round(len(members) * fraction), 1), len(members) - 1)
            held[members[-count:]] = True
    return held


@dataclass(frozen=True)
class PersonaliseConfig:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3  # a third of training's peak: the start model is already where it should be for most letters
    # AdamW's decay pulls every weight toward zero, i.e. away from the start model; `anchor` pulls toward it.
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    # Weight of the distillation term on replay samples: KL(start model || new model) at `temperature`, scaled by
    # temperature^2 so its gradients match the cross-entropy's (Hinton et al. 2015). 0 turns it off.
    distill: float = 1.0
    temperature: float = 2.0
    # L2-SP (Li et al. 2018): anchor * sum of squared differences from the start model's weights. 0 turns it off.
    anchor: float = 1e-2
    # A letter whose top-1 on a hold-out falls by more than this (and by 2+ samples) is named at the end.
    warn_drop: float = 0.03
    holdout: float = 0.3
    user_share: float = 0.5
    seed: int = 0
    augment: LandmarkAugment | None = field(default_factory=LandmarkAugment)
    log_every: int = 5
    # The MLP is too small to gain from more threads, and on a busy CPU torch's spinning threads made each epoch
    # 6x slower here (2 threads, load 13 on 2 cores: 3.2 s against 0.5 s per epoch of 1,000 samples).
    threads: int = 1

    def __post_init__(self) -> None:
        # Checked here, before the replay data is loaded, so a typo costs no waiting.
        if not 0.0 < self.user_share < 1.0:
            raise DataError(f"--user-share {self.user_share} must be between 0 and 1 (the rest is the replay data)")
        if not 0.0 < self.holdout < 1.0:
            raise DataError(f"--holdout {self.holdout} must be between 0 and 1")
        # Written so that NaN fails too (every comparison with NaN is false): --distill nan, --anchor 1e308 or
        # --lr 1e9 trained a NaN model with exit 0, and --lr nan was a traceback from the optimizer.
        for option, value, top in (("--distill", self.distill, MAX_WEIGHT), ("--anchor", self.anchor, MAX_WEIGHT),
                                   ("--weight-decay", self.weight_decay, MAX_WEIGHT_DECAY)):
            if not 0 <= value <= top:
                raise DataError(f"{option} {value} must be 0 (off) up to {top:g}")
        if not 0 <= self.label_smoothing < 1:
            raise DataError(f"--label-smoothing {self.label_smoothing} must be in [0, 1)")
        if not 0 < self.lr <= MAX_LR:
            raise DataError(f"--lr {self.lr} must be a positive number up to {MAX_LR:g} (default {type(self).lr:g})")


def _user_top1(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    truth = np.array([list(classes).index(label) for label in labels], np.int64)
    correct = probs.argmax(1) == truth
    return {"top1": float(correct.mean()), "probs": probs,
            "per_letter": {str(k): float(correct[labels == k].mean()) for k in sorted(set(labels.tolist()))}}


def per_letter_top1(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, tuple[int, int]]:
    """letter -> (correct, samples) for (N, C) probabilities and (N,) class indices, letters present only."""
    correct = probs.argmax(1) == labels
    return {classes[k]: (int(correct[labels == k].sum()), int((labels == k).sum())) for k in np.unique(labels)}


def letters_worse(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
                  drop: float) -> list[tuple[str, float, float, int]]:
    """(letter, top-1 before, after, samples) of the letters whose top-1 fell by more than `drop` and by at
    least 2 samples (one sample of a small letter is noise, not forgetting), worst first."""
    worse = []
    for letter, (ok_before, count) in before.items():
        ok_after = after[letter][0]
        if count and (ok_before - ok_after) / count > drop and ok_before - ok_after >= 2:
            worse.append((letter, ok_before / count, ok_after / count, count))
    return sorted(worse, key=lambda row: row[2] - row[1])


def _protected_epoch(model: torch.nn.Module, teacher: torch.nn.Module, start_weights: list[torch.Tensor],
                     features: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, replay: torch.Tensor,
                     optimizer: torch.optim.Optimizer, scheduler: Any, config: PersonaliseConfig,
                     generator: torch.Generator) -> float:
    """One epoch of weighted cross-entropy plus the protection terms (module docstring); the mean loss."""
    import torch.nn.functional as F  # noqa: N812

    temp = config.temperature

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        logits = model(features[idx])
        rows = F.cross_entropy(logits, targets[idx], reduction="none", label_smoothing=config.label_smoothing)
        if config.distill:
            with torch.no_grad():
                soft = F.log_softmax(teacher(features[idx]) / temp, dim=1)
            kl = (soft.exp() * (soft - F.log_softmax(logits / temp, dim=1))).sum(1) * temp * temp
            rows = rows + config.distill * kl * replay[idx]
        w = weights[idx]
        loss = (rows * w).sum() / w.sum()
        if config.anchor:
            loss = loss + config.anchor * sum(((p - p0) ** 2).sum()
                                              for p, p0 in zip(model.parameters(), start_weights, strict=True))
        return loss

    return run_epoch(model, features.shape[0], batch_loss, optimizer, scheduler, config.batch_size, generator)


def personalise(start: str | os.PathLike[str], user: CollectedSamples, user_folder: str | os.PathLike[str],
                replay: Sequence[tuple[str, LandmarkDatasetLike]], out: str | os.PathLike[str],
                config: PersonaliseConfig = PersonaliseConfig(), progress: Log = print) -> dict[str, Any]:
    """Fine-tune the landmarks model at `start` (checkpoint.pt, run folder or FP32 .onnx) on `user`'s samples
    (read from the collect folder `user_folder`) with `replay` (the start model's training datasets) mixed in;
    write the run into `out`; return the metrics."""
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _personalise(start, user, str(user_folder), replay, Path(out), config, progress)
    finally:
        torch.set_num_threads(threads)


def _personalise(start: str | os.PathLike[str], user: CollectedSamples, user_folder: str,
                 replay: Sequence[tuple[str, LandmarkDatasetLike]], out_dir: Path, config: PersonaliseConfig,
                 progress: Log) -> dict[str, Any]:
    started = time.monotonic()
    if not replay:
        raise DataError("personalisation needs the start model's training data to replay; pass it with "
                        "--replay-data FOLDER")
    model, spec = load_start_model(start)
    classes = list(spec.labels)
    letters = list(user.counts())
    if not letters:
        raise DataError(f"{user_folder} holds no samples yet; record some with "
                        f"`asl-edge collect --source 0 --out {user_folder}`")
    unknown = sorted(set(letters) - set(classes))
    if unknown:
        raise DataError(f"{user_folder} has letters the model does not know: {', '.join(unknown)}; record only "
                        f"the model's labels ({', '.join(classes)})")
    base = dict(spec.trained_on)
    weights = list(base.get("dataset_weights") or [])
    if len(weights) != len(replay):
        weights = [1.0] * len(replay)
    recorded = HeldOutSplit.recorded(base) or HeldOutSplit(tuple(name for name, _ in replay))
    val_fraction, split_seed = recorded.val_fraction, recorded.seed
    stacked = stack_landmark_sets(replay, classes, weights, val_fraction, split_seed, progress)
    keep = ~stacked.held_out
    # Letters with no replayed sample drift wherever the person's samples push them, and no hold-out can show it
    # (the original hold-out is drawn from the replay data): typically --replay-data named a subset of the
    # start model's training data. (NOTHING, the photos without a hand, never has a landmark sample.)
    unreplayed = [c for i, c in enumerate(classes)
                  if c not in (*letters, NOTHING) and not (stacked.labels[keep] == i).any()]
    replay_lm, replay_hand, replay_y = stacked.landmarks[keep], stacked.handedness[keep], stacked.labels[keep]
    replay_val_x = landmark_features(stacked.landmarks[~keep], stacked.handedness[~keep])
    replay_val_y = stacked.labels[~keep]
    if Path(start).suffix == ".onnx":
        diff = check_parity(model, Path(start), spec, replay_val_x[:PARITY_SAMPLES])
        progress(f"weights read from {start}: PyTorch matches ONNX Runtime within {diff:.1e}")

    held = holdout_split(user.labels, config.holdout)
    user_y = np.array([classes.index(label) for label in user.labels], np.int64)
    user_lm, user_hand = user.landmarks[~held], user.handedness[~held]
    if not held.any():  # (a letter with n >= 2 samples always keeps n - 1 to train on)
        raise DataError(f"{user_folder} has no letter with 2 or more samples, so none can be held out to check the "
                        f"result; record more with `asl-edge collect --source 0 --out {user_folder} --samples 10`")
    user_val_x = landmark_features(user.landmarks[held], user.handedness[held])
    flagged = flagged_ids(user_folder)
    progress(f"{user_folder}: {len(user)} samples of {len(letters)} letter{'s' if len(letters) != 1 else ''}, "
             f"{int(held.sum())} held out (the last {config.holdout:.0%} of each letter)"
             + (f"; {len(flagged)} flagged in collect.json as looking like another letter's, left out" if flagged
                else ""))

    # The mix: the person's samples repeated to about user_share of each epoch, weighted to exactly that share.
    repeats = max(1, round(len(replay_y) * config.user_share / (1 - config.user_share) / len(user_lm)))
    replay_w = stacked.weights[keep] / stacked.weights[keep].sum() * (1 - config.user_share)
    user_w = np.full(len(user_lm) * repeats, config.user_share / (len(user_lm) * repeats), np.float32)
    train_hand = np.concatenate([replay_hand, np.tile(user_hand, repeats)])
    train_y = torch.from_numpy(np.concatenate([replay_y, np.tile(user_y[~held], repeats)]))
    is_replay = torch.from_numpy(np.arange(len(train_hand)) < len(replay_y)).float()
    weights_all = np.concatenate([replay_w, user_w]).astype(np.float32)
    train_w = torch.from_numpy(weights_all * len(weights_all))  # mean 1: the loss divides by each batch's sum
    progress(f"mix: {len(replay_y)} replay samples + {len(user_lm)} of yours x {repeats}, yours "
             f"{config.user_share:.0%} of the loss")

    user_val_t, user_val_yt = torch.from_numpy(user_val_x), torch.from_numpy(user_y[held])
    replay_val_t, replay_val_yt = torch.from_numpy(replay_val_x), torch.from_numpy(replay_val_y)
    before_user = _user_top1(evaluate(model, user_val_t, user_val_yt)[1], user.labels[held], classes)
    before_probs = evaluate(model, replay_val_t, replay_val_yt)[1]
    before_replay = float((before_probs.argmax(1) == replay_val_y).mean())
    # What each number below is measured on, named once: the two hold-outs differ in who signs and how many.
    names = [name for name, _ in replay]
    original = (f"original hold-out: {len(replay_val_y)} photos with a hand of {', '.join(Path(n).name for n in names)}"
                f", {recorded.val_fraction:.0%} split seed {recorded.seed}, never trained on")
    yours = f"your held-out samples: {len(user_val_x)}, the last {config.holdout:.0%} of each recorded letter"
    progress(f"before: {before_replay:.1%} on the {original}; {before_user['top1']:.1%} on {yours}")
    # Letters the person did not record that the start model saw in their recorded ones (a mean probability of
    # AT_RISK_PROB or more on that letter's samples: their G read as P, T or Q): the boundaries move toward those, and
    # no hold-out of theirs can show what it costs (issue 21: Q 86 % -> 33 % after recording only G, J, K, M, N, U).
    start_probs = evaluate(model, torch.from_numpy(landmark_features(user.landmarks, user.handedness)),
                           torch.from_numpy(user_y))[1]
    at_risk: dict[str, set[str]] = {}
    for letter in letters:
        mean = start_probs[user.labels == letter].mean(0)
        for index in np.flatnonzero(mean >= AT_RISK_PROB):
            if classes[index] not in letters:
                at_risk.setdefault(classes[index], set()).add(letter)
    teacher = copy.deepcopy(model).eval()
    start_weights = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = max(1, sum(1 for s in range(0, len(train_y), config.batch_size) if len(train_y) - s >= 2))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                                    steps_per_epoch=steps)
    for epoch in range(1, config.epochs + 1):
        lm = np.concatenate([replay_lm, np.tile(user_lm, (repeats, 1, 1))])
        batch_lm = augment_landmarks(lm, rng, config.augment) if config.augment else lm
        train_x = torch.from_numpy(landmark_features(batch_lm, train_hand))
        loss = _protected_epoch(model, teacher, start_weights, train_x, train_y, train_w, is_replay, optimizer,
                                scheduler, config, generator)
        if epoch % config.log_every == 0 or epoch in (1, config.epochs):
            _, probs = evaluate(model, replay_val_t, replay_val_yt)
            progress(f"epoch {epoch}/{config.epochs}  train loss {loss:.4f}  original hold-out top-1 "
                     f"{float((probs.argmax(1) == replay_val_y).mean()):.4f}")
    # The last epoch is kept: the person's hold-out is for evaluation only, never for picking an epoch.
    _, replay_probs = evaluate(model, replay_val_t, replay_val_yt)
    after_user = _user_top1(evaluate(model, user_val_t, user_val_yt)[1], user.labels[held], classes)
    original_letters = {"before": per_letter_top1(before_probs, replay_val_y, classes),
                        "after": per_letter_top1(replay_probs, replay_val_y, classes)}
    user_letters = {when: per_letter_top1(probs, user_y[held], classes) for when, probs in
                    (("before", before_user["probs"]), ("after", after_user["probs"]))}
    worse = [(f"{letter} {a:.0%} -> {b:.0%} of {n} ({where})", where) for where, table in
             (("original hold-out", original_letters), ("your held-out", user_letters))
             for letter, a, b, n in letters_worse(table["before"], table["after"], config.warn_drop)]
    seconds = time.monotonic() - started

    held_ids = user.ids[held].tolist()
    record = {"start_model": str(start), "start_sha256": _sha256_or_none(Path(start)),
              "user_data": str(user_folder), "user_letters": letters, "user_samples": len(user),
              "user_landmarks_sha256": _sha256_or_none(Path(user_folder) / LANDMARKS_FILE),
              "held_out": config.holdout, "held_out_ids": held_ids, "user_share": config.user_share,
              "repeats": repeats, "epochs": config.epochs, "lr": config.lr, "seed": config.seed}
    new_spec = replace(spec, trained_on={**base, "datasets": [name for name, _ in replay],
                                         "dataset_weights": weights, "personalised": record})
    metrics = {
        "seconds": seconds, "user_held_out_samples": len(held_ids), "user_train_samples": int((~held).sum()),
        "replay_train_samples": len(replay_y), "replay_held_out_samples": len(replay_val_y),
        "user_held_out_top1": {"before": before_user["top1"], "after": after_user["top1"]},
        "user_held_out_per_letter": {"before": before_user["per_letter"], "after": after_user["per_letter"]},
        "original_held_out_top1": {"before": before_replay,
                                   "after": float((replay_probs.argmax(1) == replay_val_y).mean())},
        "original_held_out_per_letter": {when: {k: {"correct": c, "samples": n} for k, (c, n) in table.items()}
                                         for when, table in original_letters.items()},
        "letters_worse": [text for text, _ in worse], "measured_on": {"original": original, "yours": yours},
        "letters_at_risk": {letter: sorted(mine) for letter, mine in sorted(at_risk.items())},
        "letters_not_replayed": unreplayed,
        "replay_datasets": names, "classes": classes, "config": json.loads(json.dumps(asdict(config))),
        "personalised": record}
    ensure_writable_dir(out_dir)
    save_checkpoint(out_dir / "checkpoint.pt", model, new_spec, metrics, epoch=config.epochs)
    atomic_write_json(out_dir / "metrics.json", metrics)
    # Export checks parity and scores each precision on these: the original hold-out and the person's.
    save_npz(out_dir / VAL_FEATURES, features=np.concatenate([replay_val_x, user_val_x]),
             labels=np.concatenate([replay_val_y, user_y[held]]),
             dataset=np.concatenate([stacked.dataset[~keep], np.full(len(held_ids), len(names))]))
    calib_lm = np.concatenate([replay_lm, user_lm])
    calib_hand = np.concatenate([replay_hand, user_hand])
    calib = np.sort(np.random.default_rng(config.seed).permutation(len(calib_lm))[:CALIB_SAMPLES])
    save_npz(out_dir / CALIB_FEATURES, features=landmark_features(calib_lm[calib], calib_hand[calib]),
             labels=np.concatenate([replay_y, user_y[~held]])[calib])
    progress(f"{yours}: {before_user['top1']:.1%} before, {after_user['top1']:.1%} after")
    progress(f"{original}: {before_replay:.1%} before, {metrics['original_held_out_top1']['after']:.1%} after")
    progress(f"{seconds:.1f} s; wrote {out_dir / 'checkpoint.pt'}")
    if worse:  # the one line the person must not miss: the model got worse at something
        progress(f"warning: worse than the start model on {', '.join(text for text, _ in worse)}; lower "
                 "--user-share, or record the letters you did not record too")
    else:
        progress(f"no letter of either hold-out lost more than {config.warn_drop:.0%} (and 2 samples)")
    if at_risk:
        progress("note: not recorded, so not measured for your hand: " + ", ".join(
            f"{letter} (the start model saw it in your {'/'.join(sorted(mine))})"
            for letter, mine in sorted(at_risk.items())) + "; record them too to check")
    if unreplayed:
        progress(f"warning: neither replayed nor recorded, so not protected or measured: {', '.join(unreplayed)}; "
                 "replay the start model's training data (leave out --replay-data for its default), or record "
                 "those letters too")
    return metrics

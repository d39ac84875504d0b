"""PNG figures: training curves, confusion matrix, a grid of augmented samples (matplotlib, Agg backend)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from asl_edge.artifacts import atomic_write_bytes
from asl_edge.errors import require


def _pyplot() -> Any:
    matplotlib = require("matplotlib", "drawing plots", "pip install 'asl-edge[workstation]'")
    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def _save(figure: Any, path: str | os.PathLike[str]) -> None:
    atomic_write_bytes(path, _png(figure))


def plot_curves(history: Sequence[dict[str, float]], path: str | os.PathLike[str], title: str = "") -> None:
    """Loss and accuracy per epoch, training and validation."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    loss_ax.plot(epochs, [r["train_loss"] for r in history], "o-", label="train (augmented, smoothed)")
    loss_ax.plot(epochs, [r["val_loss"] for r in history], "o-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.plot(epochs, [r["train_acc"] for r in history], "o-", label="train (augmented)")
    acc_ax.plot(epochs, [r["val_top1"] for r in history], "o-", label="validation top-1")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.01))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    _save(figure, path)


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: str | os.PathLike[str],
                   title: str = "") -> None:
    """Row-normalised confusion matrix (true class down, predicted across) with counts off the diagonal."""
    plt = _pyplot()
    n = len(classes)
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape, np.float64), where=rows > 0)
    side = max(5.0, 0.32 * n + 2)
    figure, ax = plt.subplots(figsize=(side, side))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=90)
    ax.set_yticks(range(n), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion (row-normalised)")
    for t, p in zip(*np.nonzero(confusion), strict=True):
        if t != p:
            ax.text(p, t, str(confusion[t, p]), ha="center", va="center", fontsize=7, color="darkred")
    _save(figure, path)


def plot_image_grid(images: Sequence[np.ndarray], captions: Sequence[str], columns: int,
                    path: str | os.PathLike[str], title: str = "") -> None:
    """uint8 BGR or gray images in a grid, one caption each."""
    plt = _pyplot()
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.75 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        if image.ndim == 3 and image.shape[2] == 3:
            ax.imshow(image[:, :, ::-1])
        else:
            ax.imshow(image.reshape(image.shape[0], image.shape[1]), cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=8)
    if title:
        figure.suptitle(title)
    _save(figure, path)


def plot_grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], path: str | os.PathLike[str],
                      ylabel: str = "top-1", title: str = "") -> None:
    """One group of bars per entry of `groups` (e.g. letters), one bar per series (e.g. models), values 0..1."""
    atomic_write_bytes(path, grouped_bars_png(groups, series, ylabel, title))


def grouped_bars_png(groups: Sequence[str], series: dict[str, Sequence[float]], ylabel: str = "top-1",
                     title: str = "") -> bytes:
    """`plot_grouped_bars`' PNG, for a caller that writes it together with other files."""
    plt = _pyplot()
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    figure, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(groups) * max(len(series), 1) + 2), 3.8))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, groups)
    ax.set(ylabel=ylabel, ylim=(0, 1.05), title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    return _png(figure)

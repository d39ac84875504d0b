"""The augmentation preview grid of `asl-edge augment`: originals beside random augmented copies."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from asl_edge.artifacts import ensure_writable_dir
from asl_edge.datasets import kept_side, load_dataset, per_class_sample
from asl_edge.errors import DataError
from asl_edge.preprocess import resize
from asl_edge.spec import make_spec


def check_grid_path(out: str | os.PathLike[str]) -> Path:
    """`out` when it names a .png file in a folder that exists (or can be made) and is writable."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise DataError(f"--out {out} must be a .png file (the grid is written as PNG)")
    if out.is_dir():
        raise DataError(f"--out {out} is a folder; name a .png file")
    ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    return out


def write_augmentation_grid(data_path: str | os.PathLike[str], out: str | os.PathLike[str], preset: str = "medium",
                            shift: str | None = None, hflip: bool = False, rows: int = 6, columns: int = 7,
                            size: int = 128, seed: int = 0) -> Path:
    """A PNG with `rows` images of different classes, each followed by `columns` augmented copies."""
    # torch and matplotlib are imported here, after the cheap checks `check_grid_path` allows callers first.
    import torch

    from asl_edge.train.augment import PRESETS, SHIFTS, Augmenter, get_preset
    from asl_edge.train.plots import plot_image_grid

    if rows < 1 or columns < 1 or not 16 <= size <= 512:
        raise DataError("--rows and --columns must be >= 1 and --size in 16..512")
    chosen = get_preset(shift, hflip, SHIFTS) if shift else get_preset(preset, hflip, PRESETS)
    out = check_grid_path(out)  # before loading: a wrong name costs no seconds of decoding
    data = load_dataset(data_path, max_side=kept_side(size))
    rng = np.random.default_rng(seed)
    candidates = per_class_sample(data.labels, 1, seed)
    picks = rng.permutation(candidates)[:rows]
    spec = make_spec(data.classes, "aslcnn", size, "rgb")
    augmenter = Augmenter(chosen)
    images, captions = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for index in picks:
            original = resize(data.images[index], spec)  # HxWx3 BGR, or HxWx1 for gray CSV rows
            label = data.classes[data.labels[index]]
            images.append(original)
            captions.append(f"{label} (original)")
            for _ in range(columns):
                images.append(augmenter(original))
                captions.append(label)
    name = f"shift '{shift}'" if shift else f"preset '{preset}'"
    plot_image_grid(images, captions, columns + 1, out, title=f"{name}{' + hflip' if hflip else ''}: "
                                                             f"{chosen.description}")
    return out

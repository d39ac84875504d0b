"""Fixtures for the runtime: the bundled model and spelling clips built from held-out validation photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from asl_edge.datasets import load_splits
from asl_edge.runtime.live.sample_clip import SpellingClip, make_spelling_clip

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "asl_edge" / "assets" / "asl_default.onnx"

ClipMaker = Callable[..., SpellingClip]


@pytest.fixture(scope="session")
def default_model() -> Path:
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def val_photos(data_dir: Path) -> dict[str, list[np.ndarray]]:
    """Validation photos by label: the split the bundled model was validated on, never trained on."""
    _, val = load_splits(data_dir, val_fraction=0.2, seed=0)
    photos: dict[str, list[np.ndarray]] = {name: [] for name in val.classes}
    for image, label in zip(val.images, val.labels, strict=True):
        photos[val.classes[label]].append(image)
    return photos


@pytest.fixture
def make_clip(tmp_path: Path, val_photos: dict[str, list[np.ndarray]]) -> ClipMaker:
    def make(word: str, name: str = "clip.mp4", **options: object) -> SpellingClip:
        return make_spelling_clip(val_photos, word, tmp_path / name, **options)  # type: ignore[arg-type]

    return make

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from asl_edge.datasets import load_dataset
from asl_edge.errors import DataError
from asl_edge.train.augment import PRESETS, SHIFTS, Augmenter, get_preset, shift_images


@pytest.fixture(scope="module")
def photos(small_image_folder: Path) -> list[np.ndarray]:
    return load_dataset(small_image_folder).images[::12]


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_keep_size_and_kind(name: str, photos: list[np.ndarray]) -> None:
    augment = Augmenter(get_preset(name))
    gray = photos[0][:, :, 1].copy()
    for image in (photos[0], gray, gray[:, :, None]):
        out = augment(image)
        assert out.shape == image.shape and out.dtype == np.uint8
    if name == "none":
        assert np.array_equal(augment(photos[0]), photos[0])


def test_augmentation_is_random_per_sample_and_seeded(photos: list[np.ndarray]) -> None:
    augment = Augmenter(get_preset("medium"))
    torch.manual_seed(0)
    first = [augment(photos[1]) for _ in range(4)]
    torch.manual_seed(0)
    again = [augment(photos[1]) for _ in range(4)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], first[1])
    assert all(float(np.abs(a.astype(int) - photos[1]).mean()) > 1 for a in first)


def test_hflip_is_off_by_default_and_mirrors_when_asked(photos: list[np.ndarray]) -> None:
    assert not any(preset.hflip for preset in PRESETS.values())
    flip = Augmenter(get_preset("none", hflip=True))
    torch.manual_seed(0)
    outs = [flip(photos[2]) for _ in range(8)]
    assert any(np.array_equal(o, photos[2][:, ::-1]) for o in outs)
    assert any(np.array_equal(o, photos[2]) for o in outs)


def test_shift_is_fixed_by_seed_and_leaves_global_rng_alone(photos: list[np.ndarray]) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(())
    torch.manual_seed(123)
    shifted = shift_images(photos, "heavy", seed=0)
    assert torch.rand(()) == expected_next
    assert all(np.array_equal(a, b) for a, b in zip(shifted, shift_images(photos, "heavy", seed=0), strict=True))
    assert not np.array_equal(shifted[0], shift_images(photos, "heavy", seed=1)[0])
    assert [s.shape for s in shifted] == [p.shape for p in photos]
    assert set(SHIFTS) == {"light", "heavy"}


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="unknown augmentation preset 'wild'"):
        get_preset("wild")


def test_the_cli_offers_exactly_the_shifts_augment_defines() -> None:
    from asl_edge.train.config import SHIFT_NAMES

    assert tuple(SHIFTS) == SHIFT_NAMES

"""Fixtures of the contract tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture()
def photos(tmp_path: Path, data_dir: Path) -> Path:
    """A, B and C, two real photographs each."""
    root = tmp_path / "photos"
    for label in "ABC":
        (root / label).mkdir(parents=True)
        for image in sorted((data_dir / label).glob("*.jpg"))[:2]:
            shutil.copy(image, root / label / image.name)
    return root

"""Shared fixtures: the real photographs in ../shared, small folders built from them, a torch blocker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("ASL_EDGE_DATA", REPO.parent / "shared" / "data" / "asl-alphabet-mini"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared dataset not found at {DATA_DIR}; set ASL_EDGE_DATA")
    return DATA_DIR


@pytest.fixture(scope="session")
def small_image_folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """5 classes x 12 real photographs, copied into a temporary image-folder dataset."""
    root = tmp_path_factory.mktemp("asl-small")
    for label in ("A", "B", "C", "L", "nothing"):
        (root / label).mkdir()
        for image in sorted((data_dir / label).glob("*.jpg"))[:12]:
            shutil.copy(image, root / label / image.name)
    return root


# Running code with torch made unimportable proves it can run on a Jetson image without PyTorch.
_BLOCK_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith(("torch.", "torchvision")):
            raise ImportError("torch is blocked for this test")
        return None
sys.meta_path.insert(0, _NoTorch())
"""


def run_without_torch(code: str, *args: str, cwd: Path | None = None,
                      timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Python `code` in a fresh interpreter where importing torch fails."""
    return subprocess.run([sys.executable, "-c", _BLOCK_TORCH + code, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, check=False)


def write_sign_mnist_csv(path: Path, data_dir: Path, letters: str = "ABCLY", per_class: int = 8,
                         photos: slice = slice(None)) -> Path:
    """A Kaggle Sign Language MNIST CSV (label,pixel1..pixel784) made from real photographs: each photo
    shrunk to 28x28 gray, labelled with its letter's index in A..Y (J=9 never occurs). `photos` picks from
    each letter's sorted file names before the first `per_class` are taken."""
    import cv2
    import numpy as np

    rows = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))]
    for letter in letters:
        for image_path in sorted((data_dir / letter).glob("*.jpg"))[photos][:per_class]:
            photo = cv2.imread(str(image_path))
            assert photo is not None, image_path
            gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
            small = cv2.resize(gray, (28, 28), interpolation=cv2.INTER_AREA)
            rows.append(",".join([str(ord(letter) - ord("A")), *map(str, small.reshape(-1).astype(np.int64))]))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="session")
def sign_mnist_csv(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """5 letters x 8 real photographs in the Sign Language MNIST CSV format."""
    return write_sign_mnist_csv(tmp_path_factory.mktemp("sign-mnist") / "sign_mnist.csv", data_dir)

"""DistributedDataParallel for real: two CPU processes under torchrun with the gloo backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asl_edge.train.checkpoint import load_checkpoint
from tests.conftest import REPO


@pytest.mark.slow
def test_torchrun_two_processes_train_one_epoch(tmp_path: Path, small_image_folder: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "asl_edge",
         "train", "--data", str(small_image_folder), "--out", str(out), "--arch", "aslcnn", "--image-size", "28",
         "--color", "gray", "--epochs", "1", "--batch-size", "8", "--device", "cpu"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    # Only rank 0 prints and writes: one summary line per epoch, one set of files.
    assert result.stdout.count("epoch 1/1") == 1 and "x 2 processes" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    # 48 training images, 8 per batch per process, 2 processes: 3 steps each, all 48 images seen.
    assert metrics["history"][0]["train_images"] == 24
    assert load_checkpoint(out / "checkpoint.pt").spec.arch == "aslcnn"

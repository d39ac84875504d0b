"""fit() end to end on real photographs: outputs, checkpoint format, resume after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from asl_edge.datasets import load_dataset
from asl_edge.errors import AslEdgeError
from asl_edge.preprocess import preprocess_batch
from asl_edge.train.checkpoint import load_checkpoint
from asl_edge.train.loop import fit, lr_schedule
from tests.train.conftest import tiny_config


def test_run_folder_holds_every_output(tiny_run: Path) -> None:
    names = {p.name for p in tiny_run.iterdir()}
    assert {"checkpoint.pt", "last.pt", "metrics.json", "per_class.md", "confusion.png", "curves.png",
            "train.log"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    for png in ("confusion.png", "curves.png"):
        assert (tiny_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3]
    assert len(metrics["per_class"]) == 5 and {"precision", "recall", "f1", "support"} <= set(metrics["per_class"][0])
    assert sum(row["support"] for row in metrics["per_class"]) == 15
    assert "| class | precision |" in (tiny_run / "per_class.md").read_text()
    log = (tiny_run / "train.log").read_text().splitlines()
    assert log[0].startswith("data: ") and sum(line.startswith("epoch ") for line in log) == 3
    assert log[-1].startswith("best epoch ")


def test_checkpoint_is_weights_only_and_predicts_like_metrics(tiny_run: Path, small_image_folder: Path) -> None:
    raw = torch.load(tiny_run / "checkpoint.pt", weights_only=True)
    assert raw["spec"]["arch"] == "aslcnn" and "resume_state" not in raw
    checkpoint = load_checkpoint(tiny_run / "checkpoint.pt")
    spec = checkpoint.spec
    assert (spec.input_height, spec.color, spec.labels) == (28, "gray", ("A", "B", "C", "L", "nothing"))
    assert spec.trained_on["seed"] == 0 and spec.trained_on["val_fraction"] == 0.25
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert checkpoint.epoch == metrics["best_epoch"]
    # The shared preprocessing on the held-out photos reproduces the reported accuracy.
    from asl_edge.datasets import stratified_split

    data = load_dataset(small_image_folder)
    _, val_idx = stratified_split(data.labels, 0.25, 0)
    with torch.no_grad():
        logits = checkpoint.model(torch.from_numpy(preprocess_batch([data.images[i] for i in val_idx], spec)))
    accuracy = float((logits.argmax(1).numpy() == data.labels[val_idx]).mean())
    assert accuracy == pytest.approx(metrics["top1"])


class SimulatedInterruptError(Exception):
    pass


def _stop_after_first_epoch(epoch: int, row: dict[str, float]) -> None:
    if epoch == 1:
        raise SimulatedInterruptError


@pytest.mark.parametrize("workers", [0, 1])
def test_resume_continues_exactly_where_it_stopped(tmp_path: Path, small_image_folder: Path, workers: int) -> None:
    straight = fit(tiny_config(small_image_folder, tmp_path / "straight", epochs=2, patience=0, workers=workers))
    with pytest.raises(SimulatedInterruptError):
        fit(tiny_config(small_image_folder, tmp_path / "resumed", epochs=2, patience=0, workers=workers),
            on_epoch_end=_stop_after_first_epoch)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt").epoch == 1
    resumed = fit(tiny_config(small_image_folder, tmp_path / "resumed", epochs=2, patience=0, workers=workers,
                              resume=True))
    history = json.loads((resumed / "metrics.json").read_text())["history"]
    expected = json.loads((straight / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    assert [row["train_loss"] for row in history] == pytest.approx([row["train_loss"] for row in expected])
    a, b = load_checkpoint(straight / "last.pt").model, load_checkpoint(resumed / "last.pt").model
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(x.float(), y.float(), atol=1e-6), name
    # More epochs than first planned: the run goes on from epoch 3 on the longer schedule.
    longer = fit(tiny_config(small_image_folder, tmp_path / "resumed", epochs=3, patience=0, workers=workers,
                             resume=True))
    assert [r["epoch"] for r in json.loads((longer / "metrics.json").read_text())["history"]] == [1, 2, 3]
    log = (longer / "train.log").read_text()  # one log across the interruption and both resumes
    assert [line.split()[1] for line in log.splitlines() if line.startswith("epoch ")] == ["1/2", "2/2", "3/3"]
    assert log.count("resuming after epoch") == 2


def test_resume_needs_a_previous_run_with_the_same_model(tmp_path: Path, small_image_folder: Path,
                                                         tiny_run: Path) -> None:
    with pytest.raises(AslEdgeError, match="nothing to resume"):
        fit(tiny_config(small_image_folder, tmp_path / "new", resume=True))
    import shutil

    shutil.copytree(tiny_run, tmp_path / "copy")
    with pytest.raises(AslEdgeError, match="resume with the same"):
        fit(tiny_config(small_image_folder, tmp_path / "copy", image_size=32, resume=True))


def test_sign_mnist_csv_trains(tmp_path: Path, sign_mnist_csv: Path) -> None:
    run = fit(tiny_config(sign_mnist_csv, tmp_path / "csv", epochs=1, augment="medium"))
    spec = load_checkpoint(run / "checkpoint.pt").spec
    assert len(spec.labels) == 24 and spec.labels[-1] == "Y"


@pytest.mark.parametrize("name", ["cosine", "onecycle"])
def test_schedules_warm_up_and_decay(name: str) -> None:
    factor = lr_schedule(name, 100)
    values = np.array([factor(step) for step in range(100)])
    peak = int(values.argmax())
    assert 0 < peak < 50 and values[0] < values[peak] and values[-1] < 0.05 and values.max() <= 1.0

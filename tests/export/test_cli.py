"""`asl-edge export` from the command line: the table, and one-line errors that leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from asl_edge.train.checkpoint import load_checkpoint, save_checkpoint


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fails_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str], expected: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("asl-edge export: error:") and expected in err, err


def test_export_fp16_prints_the_table(trained_checkpoint: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(trained_checkpoint), "--out", str(tmp_path), "--precision", "fp16"]) == 0
    out = capsys.readouterr().out
    assert "- exporting FP32 ONNX (torchscript exporter, opset 17)" in out
    assert "parity PyTorch vs FP32 ONNX" in out
    assert out.count("model.fp16.onnx") >= 1 and "model.int8.onnx" not in out
    assert leftovers(tmp_path) == ["export_report.json", "export_report.md", "model.fp16.onnx", "model.onnx"]


def test_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "checkpoint.pt"
    bogus.write_bytes(b"this is not a checkpoint")
    fails_with_one_line(["export", str(bogus), "--out", str(tmp_path / "out")], capsys, "is not an asl-edge checkpoint")
    assert leftovers(tmp_path / "out") == []


def test_a_checkpoint_without_its_spec_says_so(trained_checkpoint: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    payload = torch.load(trained_checkpoint, weights_only=True)
    del payload["spec"]
    nospec = tmp_path / "nospec.pt"
    torch.save(payload, nospec)
    fails_with_one_line(["export", str(nospec), "--out", str(tmp_path / "out")], capsys, "holds no ModelSpec")


def test_no_calibration_images_names_the_option(trained_checkpoint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fails_with_one_line(["export", str(trained_checkpoint), "--out", str(tmp_path / "out"), "--precision", "int8",
                         "--calib-images", "0"], capsys, "--calib-images 0: INT8 calibration needs at least 1 image")
    assert leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("option", [["--calib-images", "64"], ["--calib-method", "entropy"],
                                    ["--calib-percentile", "99.9"], ["--int8-reduce-range"]])
def test_calibration_options_without_int8_are_refused(option: list[str], trained_checkpoint: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """They were ignored without a word (the README's own calibration example built no INT8 model)."""
    fails_with_one_line(["export", str(trained_checkpoint), "--out", str(tmp_path / "out"), "--precision", "fp16",
                         *option], capsys, "but --precision fp16 builds none; add int8")
    assert not (tmp_path / "out").exists()


def test_unknown_architecture(trained_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import replace

    loaded = load_checkpoint(trained_checkpoint)
    foreign = tmp_path / "foreign.pt"
    save_checkpoint(foreign, loaded.model, replace(loaded.spec, arch="efficientnet_b9"))
    fails_with_one_line(["export", str(foreign), "--out", str(tmp_path / "out")], capsys,
                        "unknown architecture 'efficientnet_b9'")
    assert leftovers(tmp_path / "out") == []


@pytest.mark.parametrize(("count", "expected"), [("3", "cannot cover the model's 5 classes"),
                                                 ("400", "in the training split")])
def test_too_few_calibration_images(trained_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    count: str, expected: str) -> None:
    fails_with_one_line(["export", str(trained_checkpoint), "--out", str(tmp_path / "out"), "--precision", "int8",
                         "--calib-images", count], capsys, expected)
    assert leftovers(tmp_path / "out") == []


def test_unwritable_output_folder(trained_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    fails_with_one_line(["export", str(trained_checkpoint), "--out", str(blocker / "out")], capsys,
                        "cannot write to output folder")


def test_failed_parity_leaves_nothing_behind(trained_checkpoint: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # An impossible tolerance makes the parity step fail after the FP32 file was already written (staged).
    fails_with_one_line(["export", str(trained_checkpoint), "--out", str(tmp_path), "--precision", "all",
                         "--calib-images", "20", "--tolerance", "1e-30"], capsys, "differs from PyTorch")
    assert leftovers(tmp_path) == []


def test_missing_dataset_asks_for_data(trained_checkpoint: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fails_with_one_line(["export", str(trained_checkpoint), "--out", str(tmp_path), "--data",
                         str(tmp_path / "nowhere")], capsys, "pass --data")
    assert leftovers(tmp_path) == []


def test_files_left_from_an_earlier_export_are_pointed_out(trained_checkpoint: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.int8.onnx").write_bytes(b"from another model")
    assert main(["export", str(trained_checkpoint), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"- warning: {tmp_path / 'model.int8.onnx'} is not a readable ONNX model" in out
    assert "it was left as it is" in out
    assert (tmp_path / "model.int8.onnx").read_bytes() == b"from another model"  # the user's file, untouched

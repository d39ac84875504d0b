"""Provenance: every derived file records the checkpoint it came from, and the benchmark, export and build
take only a model's own exports. Real trainings, real exports, real ONNX Runtime sessions, the real CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import onnx
import pytest

from asl_edge.apps.cli import main
from asl_edge.artifacts import sha256_file
from asl_edge.export.trt_builder import build_or_reuse, read_onnx_facts
from asl_edge.onnx_header import CHECKPOINT_SHA256_KEY, SOURCE_ONNX_SHA256_KEY
from asl_edge.run_folder import LOCK_NAME
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, check_engine
from tests.benchmark.test_command import QUICK
from tests.tensorrt.test_build import RecordingCompiler
from tests.tensorrt.test_engine_manifest import ORIN

REPO_ASSETS = Path(__file__).resolve().parents[2] / "asl_edge" / "assets"
ONNX_ROWS = ["--backends", "onnxruntime", "--no-pipeline", "--no-export"]


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def copy_run(run: Path, target: Path) -> Path:
    shutil.copytree(run, target, ignore=shutil.ignore_patterns(LOCK_NAME, "benchmark"))
    return target


def retrain(run: Path) -> None:
    """Replace the run's checkpoint with another one, as a resumed or repeated training would."""
    from asl_edge.train.checkpoint import load_checkpoint, save_checkpoint

    loaded = load_checkpoint(run / "checkpoint.pt")
    weights = next(iter(loaded.model.parameters()))
    weights.data.add_(0.01)
    save_checkpoint(run / "checkpoint.pt", loaded.model, loaded.spec, loaded.metrics, loaded.epoch + 1)


def benchmark(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["benchmark", *args, *QUICK])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_export_records_its_checkpoint(exported_run: Path) -> None:
    checkpoint_sha = sha256_file(exported_run / "checkpoint.pt")
    fp32_sha = sha256_file(exported_run / "model.onnx")
    assert metadata(exported_run / "model.onnx")[CHECKPOINT_SHA256_KEY] == checkpoint_sha
    assert SOURCE_ONNX_SHA256_KEY not in metadata(exported_run / "model.onnx")
    for name in ("model.fp16.onnx", "model.int8.onnx"):
        recorded = metadata(exported_run / name)
        assert recorded[CHECKPOINT_SHA256_KEY] == checkpoint_sha
        assert recorded[SOURCE_ONNX_SHA256_KEY] == fp32_sha  # derived from exactly that FP32 file
    report = json.loads((exported_run / "export_report.json").read_text())
    assert report["checkpoint_sha256"] == checkpoint_sha
    assert checkpoint_sha in (exported_run / "export_report.md").read_text()


def test_the_engine_manifest_records_the_checkpoint(exported_run: Path, tmp_path: Path) -> None:
    built = build_or_reuse(read_onnx_facts(exported_run / "model.fp16.onnx"), ORIN, BuildOptions(), tmp_path,
                           compile_plan=RecordingCompiler(), log=lambda line: None)
    checkpoint_sha = sha256_file(exported_run / "checkpoint.pt")
    assert built.manifest.checkpoint_sha256 == checkpoint_sha
    assert check_engine(built.engine_path, ORIN).checkpoint_sha256 == checkpoint_sha  # read back from JSON


def test_benchmark_json_records_the_checkpoint_of_every_row(exported_run: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = benchmark(["--model", str(exported_run), "--out", str(tmp_path), "--backends",
                              "pytorch,onnxruntime", "--no-pipeline", "--no-export"], capsys)
    assert code == 0, out
    data = json.loads((tmp_path / "benchmark.json").read_text())
    checkpoint_sha = sha256_file(exported_run / "checkpoint.pt")
    assert data["provenance"]["checkpoint_sha256"] == checkpoint_sha and data["provenance"]["skipped"] == {}
    assert {(r["backend"], r["precision"]) for r in data["rows"]} == {
        ("pytorch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("onnxruntime", "int8")}
    for row in data["rows"]:
        assert row["checkpoint_sha256"] == checkpoint_sha
        assert row["sha256"] == sha256_file(row["file"])


def test_a_broken_file_and_an_unrelated_fp16_model_beside_it_are_skipped_and_named(
        exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(exported_run, tmp_path / "run")
    (run / "broken.onnx").write_bytes((run / "model.onnx").read_bytes()[:300])  # truncated
    # Another model's FP16 export: a real graph, tagged fp16, recording another checkpoint.
    other = onnx.load(str(run / "model.fp16.onnx"))
    for prop in other.metadata_props:
        if prop.key in (CHECKPOINT_SHA256_KEY, SOURCE_ONNX_SHA256_KEY):
            prop.value = hashlib.sha256(b"another model").hexdigest()
    onnx.save(other, str(run / "other.fp16.onnx"))
    (run / "model.fp16.onnx").unlink()  # so the unrelated one would be the only fp16 candidate
    code, out, err = benchmark(["--model", str(run), "--out", str(tmp_path / "bench"), "--precisions", "fp32,fp16",
                                *ONNX_ROWS], capsys)
    assert code == 0, out + err
    skipped = [line for line in out.splitlines() if line.startswith("- skipped ")]
    assert len(skipped) == 2, out
    assert skipped[0].startswith("- skipped broken.onnx: it is not a ")  # readable (onnx) or loadable (onnxruntime)
    assert "ONNX model" in skipped[0]
    assert skipped[1].startswith("- skipped other.fp16.onnx: ") and "(a stale export, or another model's)" in skipped[1]
    data = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert [(r["precision"], Path(r["file"]).name) for r in data["rows"]] == [("fp32", "model.onnx")]
    assert set(data["provenance"]["skipped"]) == {str(run / "broken.onnx"), str(run / "other.fp16.onnx")}


def test_a_stale_export_is_never_measured(exported_run: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(exported_run, tmp_path / "run")
    before = {p.name: sha256_file(p) for p in run.glob("*.onnx")}
    retrain(run)
    # Default options: the benchmark would export the missing precisions, but not over the stale files.
    code, out, err = benchmark(["--model", str(run), "--out", str(tmp_path / "bench"), "--backends",
                                "pytorch,onnxruntime", "--no-pipeline"], capsys)
    assert code == 0, out + err
    for name in ("model.onnx", "model.fp16.onnx", "model.int8.onnx"):
        assert f"- skipped {name}: it is not an export of {run / 'checkpoint.pt'} (a stale export" in out
    assert f"re-export with `asl-edge export {run} --precision all`" in out
    data = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert [r["backend"] for r in data["rows"]] == ["pytorch"]  # only the current checkpoint is measured
    assert data["rows"][0]["checkpoint_sha256"] == sha256_file(run / "checkpoint.pt")
    assert any(note.startswith("not exporting") for note in data["notes"])
    assert {p.name: sha256_file(p) for p in run.glob("*.onnx")} == before  # nothing overwritten


def test_benchmark_of_a_named_stale_onnx_warns_and_leaves_out_the_checkpoint(
        exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(exported_run, tmp_path / "run")
    retrain(run)
    code, out, _ = benchmark(["--model", str(run / "model.onnx"), "--out", str(tmp_path / "bench"),
                              "--backends", "pytorch,onnxruntime", "--no-pipeline", "--no-export"], capsys)
    assert code == 0, out
    assert f"- warning: {run / 'model.onnx'} is not an export of {run / 'checkpoint.pt'}" in out
    data = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert "pytorch" not in {r["backend"] for r in data["rows"]}  # the checkpoint beside it is another model


def test_bare_onnx_siblings_match_by_the_fp32_file_they_came_from(exported_run: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "jetson"
    folder.mkdir()
    for name in ("model.onnx", "model.fp16.onnx", "model.int8.onnx"):  # copied to a device without the checkpoint
        shutil.copy(exported_run / name, folder / name)
    shutil.copy(REPO_ASSETS / "asl_default.onnx", folder / "asl_default.onnx")  # no provenance
    code, out, _ = benchmark(["--model", str(folder / "model.onnx"), "--out", str(tmp_path / "bench"),
                              *ONNX_ROWS], capsys)
    assert code == 0, out
    data = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert [r["precision"] for r in data["rows"]] == ["fp32", "fp16", "int8"]
    assert "- skipped asl_default.onnx: records no provenance" in out
    assert "model.onnx" not in data["provenance"]["skipped"]


def test_export_names_stale_files_it_leaves(exported_run: Path, tmp_path: Path) -> None:
    from asl_edge.export.pipeline import ExportOptions, export_all

    run = copy_run(exported_run, tmp_path / "run")
    retrain(run)
    lines: list[str] = []
    report = export_all(run, run, ExportOptions(precisions=("fp32",)), progress=lines.append)
    assert metadata(run / "model.onnx")[CHECKPOINT_SHA256_KEY] == sha256_file(run / "checkpoint.pt")
    assert report.checkpoint_sha256 == sha256_file(run / "checkpoint.pt")
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 2 and all("stale export of another checkpoint" in w for w in warnings)
    assert any("--precision fp16" in w for w in warnings) and any("--precision int8" in w for w in warnings)


def test_build_refuses_a_stale_export(exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(exported_run, tmp_path / "run")
    retrain(run)
    assert main(["build", str(run / "model.fp16.onnx")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "model.fp16.onnx is not an export of" in lines[0] and f"`asl-edge export {run} --precision all`" in lines[0]


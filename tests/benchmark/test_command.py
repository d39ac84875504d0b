"""`asl-edge benchmark` end to end on a tiny real model: real ONNX Runtime sessions, real PyTorch, the real
pipeline over the bundled video; small iteration counts keep it quick."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import shutil
from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from asl_edge.benchmark.suite import evaluation_set
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.evaluation import evaluate_backend
from tests.conftest import REPO, run_without_torch

QUICK = ["--duration", "0.05", "--warmup", "0.01", "--batch", "1,4", "--pipeline-frames", "15"]
PERCENTILES = ("min", "p50", "p90", "p99", "max")


@pytest.fixture(scope="module")
def full_run(exported_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """One full benchmark of the exported run folder: (output folder, benchmark.json, what it printed)."""
    out = tmp_path_factory.mktemp("bench-out")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["benchmark", "--model", str(exported_run), "--out", str(out), *QUICK])
    assert code == 0, printed.getvalue()
    return out, json.loads((out / "benchmark.json").read_text()), printed.getvalue()


def test_writes_every_artifact_with_every_row(full_run: tuple[Path, dict, str]) -> None:
    out, data, printed = full_run
    assert (out / "benchmark.png").stat().st_size > 10_000
    rows = {(r["backend"], r["precision"]) for r in data["rows"]}
    assert rows == {("pytorch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("onnxruntime", "int8")}
    markdown = (out / "benchmark.md").read_text()
    for backend, precision in rows:
        assert f"| {backend} | {precision} |" in markdown
    assert "## Pipeline" in markdown and "capture-to-label" in markdown
    # The terminal table and one progress line per row.
    assert printed.count("- onnxruntime ") == 3 and "- pytorch fp32 on cpu" in printed
    assert "vs PyTorch" in printed and "runtime overhead" in printed
    assert any("tensorrt" in note for note in data["notes"])  # no TensorRT here: said, not hidden


def test_timings_are_complete_and_ordered(full_run: tuple[Path, dict, str]) -> None:
    _, data, _ = full_run
    for row in data["rows"]:
        assert row["size_bytes"] == Path(row["file"]).stat().st_size
        assert [t["batch"] for t in row["timings"]] == [1, 4]
        for timing in row["timings"]:
            latency = timing["latency_ms"]
            assert timing["calls"] >= 10 and timing["warmup_calls"] >= 5
            assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
            assert latency["min"] <= latency["mean"] <= latency["max"]
            assert timing["throughput"] > 0 and timing["gpu_ms"] is None
    pipeline = data["pipeline"]
    assert pipeline["frame_size"] == [640, 480] and pipeline["frames"] == 15
    assert set(pipeline["stages_ms"]) == {"capture", "preprocess", "infer", "postprocess", "render"}
    stages = pipeline["stages_ms"]
    c2l = pipeline["capture_to_label_ms"]
    assert c2l["mean"] == pytest.approx(sum(stages[s]["mean"] for s in ("preprocess", "infer", "postprocess")))
    overhead = pipeline["overhead_ms"]
    assert overhead["mean"] == pytest.approx(sum(stages[s]["mean"] for s in ("preprocess", "postprocess", "render")))
    for stats in (overhead, c2l):
        assert all(stats[low] <= stats[high] for low, high in itertools.pairwise(PERCENTILES))


def test_fp32_accuracy_is_what_runtime_evaluation_gives(exported_run: Path, full_run: tuple[Path, dict, str]) -> None:
    _, data, _ = full_run
    with load_backend(exported_run / "model.onnx") as backend:
        evaluation = evaluation_set(backend.spec, None, None)
        assert evaluation is not None
        expected = evaluate_backend(backend, evaluation.held_out).top1
    row = next(r for r in data["rows"] if (r["backend"], r["precision"]) == ("onnxruntime", "fp32"))
    assert row["top1"] == expected
    assert data["evaluation"]["images"] == len(evaluation.held_out)


def test_data_scored_is_the_data_eval_scores(exported_run: Path, small_image_folder: Path, tmp_path: Path) -> None:
    """--data of the training folder (however it is spelled): its held-out split; a copy under another name: all of
    it, as `asl-edge eval --data` scores them (the benchmark took a held-out fifth of any folder)."""
    from asl_edge.train.evaluation import evaluate_model

    other = tmp_path / "other-photos"
    shutil.copytree(small_image_folder, other)
    with load_backend(exported_run / "model.onnx") as backend:
        for data, split in ((small_image_folder, "held-out split"), (other, "all (not data the model trained on)")):
            evaluation = evaluation_set(backend.spec, str(data), None)
            assert evaluation is not None and evaluation.description["split"].startswith(split)
            assert evaluation.description["images"] == evaluate_model(exported_run / "model.onnx", data).images


def test_environment_is_recorded(full_run: tuple[Path, dict, str]) -> None:
    _, data, printed = full_run
    environment = data["environment"]
    assert environment["cpu"]["cores"] and environment["cpu"]["model"]
    assert environment["onnxruntime"]["version"] and environment["packages"]["torch"]
    assert {"gpus", "cuda", "tensorrt", "jetson", "load_average"} <= set(environment)
    assert len(environment["load_average"]["before"]) == 3
    assert "CPU: " in printed and "ONNX Runtime: " in printed


def test_compare_prints_the_change(exported_run: Path, full_run: tuple[Path, dict, str], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    old_json = full_run[0] / "benchmark.json"
    code = main(["benchmark", "--model", str(exported_run / "model.onnx"), "--out", str(tmp_path),
                 "--backends", "onnxruntime", "--precisions", "fp32", "--no-pipeline", "--compare", str(old_json),
                 "--eval-limit", "1",
                 *QUICK])
    printed = capsys.readouterr().out
    assert code == 0
    assert "change since" in printed
    assert "onnxruntime fp32 batch 1: p50 " in printed and "%)" in printed
    assert "onnxruntime fp32: top-1" in printed and "points)" in printed
    assert "pytorch fp32: not measured this time" in printed
    new = json.loads((tmp_path / "benchmark.json").read_text())
    assert [(r["backend"], r["precision"]) for r in new["rows"]] == [("onnxruntime", "fp32")]
    assert new["pipeline"] is None
    assert new["evaluation"]["images"] == 5 and new["evaluation"]["per_class_limit"] == 1  # 1 of each of 5 classes


def test_compare_says_when_the_runs_measured_other_models_or_data() -> None:
    from asl_edge.benchmark.report import compare

    def result(model: str, data: str) -> dict:
        return {"model": model, "created": "then", "evaluation": {"data": data}, "rows": []}

    assert "note:" not in compare(result("a.onnx", "photos"), result("a.onnx", "photos"))
    other_model = compare(result("a.onnx", "photos"), result("b.onnx", "photos"))
    assert "note: that run measured a.onnx, this one b.onnx" in other_model and "other data" not in other_model
    assert "note: top-1 was measured on other data then (photos) than now (more)" in compare(
        result("a.onnx", "photos"), result("a.onnx", "more"))


def test_exports_missing_precisions_from_the_checkpoint(checkpoint_only_run: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(checkpoint_only_run / "checkpoint.pt", run / "checkpoint.pt")
    code = main(["benchmark", "--model", str(run), "--backends", "onnxruntime", "--precisions", "fp32,fp16",
                 "--no-pipeline", *QUICK])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "exporting fp32, fp16 ONNX" in printed
    assert (run / "model.onnx").is_file() and (run / "model.fp16.onnx").is_file()
    data = json.loads((run / "benchmark" / "benchmark.json").read_text())  # default out: RUN/benchmark
    assert [r["precision"] for r in data["rows"]] == ["fp32", "fp16"]


def test_runs_without_torch(exported_run: Path, tmp_path: Path) -> None:
    code = ("import sys\nfrom asl_edge.apps.cli import main\n"
            "sys.exit(main(['benchmark', '--model', sys.argv[1], '--out', sys.argv[2], '--no-pipeline', "
            "'--duration', '0.05', '--warmup', '0.01', '--batch', '1']))")
    done = run_without_torch(code, str(exported_run), str(tmp_path), cwd=REPO)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert {r["backend"] for r in data["rows"]} == {"onnxruntime"}
    assert any(note.startswith("pytorch: not measured") and "torch" in note for note in data["notes"])


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "no/such/run"], "does not exist"),
    (["--compare", "no-such.json"], "cannot read benchmark results"),
    (["--iterations", "0"], "must be at least 1"),
])
def test_bad_input_is_one_line(exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               args: list[str], message: str) -> None:
    base = ["--model", str(exported_run)] if "--model" not in args else []
    code = main(["benchmark", *base, "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err

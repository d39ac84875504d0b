"""What `asl-edge spec` finds out by running the model, and what every command says about a model it cannot write a
spec for: a graph that leaves the batch open but runs only 1 input at a time gets "batch": 1 (and a run that fails
anyway names the model, the batch shape and that fix); a features model must read asl_edge.landmark_features'
vectors; a model without a spec is sent to `asl-edge spec` only where spec can write one, else told spec's own
reason; bad --out, --labels and files are one line with a fix. Each fix is followed to show that it works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from asl_edge.errors import ModelError, SpecError
from asl_edge.landmark_features import NUM_FEATURES
from asl_edge.onnx_header import sidecar_spec_path
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.base import InferenceError
from asl_edge.spec import ModelSpec
from tests.contracts.onnx_graphs import cli, error_text, save, value

NO_SPEC = "carries no ModelSpec (metadata key 'asl_edge.model_spec')"










CONV = {"w": np.random.default_rng(0).standard_normal((3, 3, 1, 1)).astype(np.float32)}


def image_model(path: Path, head: list[onnx.NodeProto], out_shape: list[int | str] | None, channels: int = 3,
                weights: dict[str, np.ndarray] | None = None, extra_outputs: int = 0,
                input_shape: list[int | str] | None = None) -> Path:
    """x (N, channels, 32, 32) -> GlobalAveragePool -> 1x1 Conv to 3 -> `head` (from "c", N x 3 x 1 x 1) -> y."""
    w = {"w": np.random.default_rng(0).standard_normal((3, channels, 1, 1)).astype(np.float32), **(weights or {})}
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]), helper.make_node("Conv", ["g", "w"], ["c"]),
             *head]
    nodes += [helper.make_node("Identity", ["y"], [f"y{i + 2}"]) for i in range(extra_outputs)]
    outputs = [value("y", out_shape)] + [value(f"y{i + 2}", out_shape) for i in range(extra_outputs)]
    return save(path, nodes, [value("x", input_shape or ["N", channels, 32, 32])], outputs, w)


def flat(path: Path, **kwargs: object) -> Path:
    return image_model(path, [helper.make_node("Flatten", ["c"], ["y"])], ["N", 3], **kwargs)  # type: ignore[arg-type]


def batch_one_only(path: Path) -> Path:
    """Says its batch is open, but reshapes to a fixed [1, 3]: runs 1 input, fails on 2."""
    return image_model(path, [helper.make_node("Reshape", ["c", "s"], ["y"])], ["N", 3],
                       weights={"s": np.array([1, 3], np.int64)})


def evaluate(model: Path, photos: Path, *options: str | Path) -> tuple[int, str, str]:
    return cli("eval", model, "--data", photos, "--hand", "off", *options)


# -- 1: a batch the graph leaves open but the model does not take -------------------------------------------------
def test_spec_writes_batch_1_for_a_model_that_runs_only_one_input_and_eval_then_runs(tmp_path: Path,
                                                                                     photos: Path) -> None:
    model = batch_one_only(tmp_path / "b1only.onnx")
    code, out, err = cli("spec", model, "--labels", "A,B,C")
    assert code == 0, err
    assert "batch: the graph leaves the batch open, but the model runs 1 input and fails on 2 at once (Reshape " \
           "node: " in out and 'wrote "batch": 1' in out
    assert ModelSpec.from_json(sidecar_spec_path(model).read_text()).batch == 1
    code, out, err = evaluate(model, photos)
    assert code == 0 and "top-1" in out, err
    with load_backend(model) as backend:
        assert backend.fixed_batch == 1 and backend.infer(np.zeros((5, 3, 32, 32), np.float32)).shape == (5, 3)


def test_a_model_that_takes_any_batch_keeps_batch_0(tmp_path: Path) -> None:
    model = flat(tmp_path / "any.onnx")
    code, out, err = cli("spec", model, "--labels", "A,B,C")
    assert code == 0 and "batch" not in out, err
    assert ModelSpec.from_json(sidecar_spec_path(model).read_text()).batch == 0


def test_scores_for_one_input_whatever_the_batch_also_get_batch_1(tmp_path: Path) -> None:
    # ReduceMean over the batch axis: (1, 3) scores for any batch, an OutputShapeError on 2 inputs.
    model = image_model(tmp_path / "mean.onnx", [helper.make_node("Flatten", ["c"], ["f"]),
                                                 helper.make_node("ReduceMean", ["f"], ["y"], axes=[0], keepdims=1)],
                        ["N", 3])
    code, out, err = cli("spec", model, "--labels", "A,B,C")
    assert code == 0 and "its output gives shape (1, 3) for 2 inputs" in out, err
    assert ModelSpec.from_json(sidecar_spec_path(model).read_text()).batch == 1


@pytest.mark.parametrize("how", ["sidecar", "flag"])
def test_a_failed_run_names_the_model_the_batch_and_the_fix_that_works(tmp_path: Path, photos: Path,
                                                                       how: str) -> None:
    model = batch_one_only(tmp_path / "b1only.onnx")
    spec = ModelSpec(labels=("A", "B", "C"), input_height=32, input_width=32, input_name="x", output_name="y")
    where = sidecar_spec_path(model) if how == "sidecar" else tmp_path / "my.json"
    where.write_text(spec.to_json())
    options = ("--spec", where) if how == "flag" else ()
    text = error_text("eval", *evaluate(model, photos, *options)[::2])
    assert text.startswith(f"onnxruntime failed to run {model} on a batch of shape 6x3x32x32 (Reshape node: The "
                           "input tensor cannot be reshaped to the requested shape."), text
    fix = f'set "batch": 1 in its spec ({where if how == "sidecar" else "the --spec file"})'
    assert fix in text
    code, _, err = cli("benchmark", "--model", model, *options, "--backends", "onnxruntime", "--precisions", "fp32",
                       "--no-pipeline", "--data", photos, "--out", tmp_path / "bench")
    assert fix in error_text("benchmark", code, err) and not (tmp_path / "bench").exists()
    where.write_text(json.dumps({**spec.to_dict(), "batch": 1}))  # the fix
    code, out, err = evaluate(model, photos, *options)
    assert code == 0 and "top-1" in out, err


def test_a_failed_run_of_one_input_offers_no_batch_fix(tmp_path: Path) -> None:
    # Reshape to [2, 3]: fails on 1 input (and 2 would be the wrong scores anyway); a spec written by hand.
    model = image_model(tmp_path / "b2.onnx", [helper.make_node("Reshape", ["c", "s"], ["y"])], ["N", 3],
                        weights={"s": np.array([2, 3], np.int64)})
    spec = ModelSpec(labels=("A", "B", "C"), input_height=32, input_width=32, input_name="x", output_name="y",
                     batch=1)
    sidecar_spec_path(model).write_text(spec.to_json())
    with load_backend(model) as backend, pytest.raises(InferenceError) as failure:
        backend.infer(np.zeros((1, 3, 32, 32), np.float32))
    assert failure.value.shape == (1, 3, 32, 32) and '"batch"' not in str(failure.value)
    assert "on a batch of shape 1x3x32x32" in str(failure.value) and "the model itself fails" in str(failure.value)


# -- 2: features other than asl_edge.landmark_features' ---------------------------------------------------------
def test_a_features_model_of_another_count_is_refused_with_the_fix(tmp_path: Path, photos: Path) -> None:
    def features(path: Path, count: int) -> Path:
        return save(path, [helper.make_node("MatMul", ["x", "m"], ["y"])], [value("x", ["N", count])],
                    [value("y", ["N", 3])], {"m": np.ones((count, 3), np.float32)})

    model = features(tmp_path / "feat63.onnx", 63)
    text = error_text("spec", *cli("spec", model)[::2])
    assert text == (f"{model} input 'x' ?x63 takes 63 features, but asl-edge feeds a landmarks model the "
                    f"{NUM_FEATURES} features of asl_edge.landmark_features (made from the hand stage's 21 "
                    "landmarks); train the classifier on those features, e.g. with `asl-edge train --input "
                    "landmarks`, and export it")
    assert not list(tmp_path.glob("*.json"))
    assert text in error_text("eval", *evaluate(model, photos)[::2])  # eval says spec's reason, not "asl-edge spec"
    good = features(tmp_path / "feat.onnx", NUM_FEATURES)
    code, _, err = cli("spec", good, "--labels", "A,B,C")
    assert code == 0, err
    with load_backend(good) as backend:
        assert backend.infer(np.zeros((4, NUM_FEATURES), np.float32)).shape == (4, 3)


# -- 3: "write one with `asl-edge spec`" only where spec can --------------------------------------------------------
@pytest.mark.parametrize(("name", "make", "reason"), [
    ("out33", lambda p: image_model(p, [helper.make_node("Flatten", ["c"], ["f"]),
                                        helper.make_node("Unsqueeze", ["f", "a"], ["u"]),
                                        helper.make_node("Expand", ["u", "e"], ["y"])], ["N", 3, 3],
                                    weights={"a": np.array([2], np.int64), "e": np.array([1, 3, 3], np.int64)}),
     "output 'y' ?x3x3 is not a classifier's"),
    ("out1", lambda p: image_model(p, [helper.make_node("Flatten", ["c"], ["f"]),
                                       helper.make_node("ReduceMean", ["f"], ["y"], axes=[1], keepdims=1)], ["N", 1]),
     "output 'y' ?x1 gives a single score, not one per class"),
    ("ch4", lambda p: flat(p, channels=4), "has 4 channels; asl-edge feeds 1 (gray) or 3 (RGB)"),
    ("two", lambda p: flat(p, extra_outputs=1), "has 2 outputs ('y' ?x3, 'y2' ?x3), so `asl-edge spec` cannot tell"),
    ("amb", lambda p: flat(p, input_shape=["N", 3, 32, 3]), "cannot tell its layout"),
])
def test_without_a_spec_a_model_spec_cannot_describe_gets_specs_own_reason(tmp_path: Path, photos: Path, name: str,
                                                                          make: object, reason: str) -> None:
    model = make(tmp_path / f"{name}.onnx")  # type: ignore[operator]
    refused = error_text("spec", *cli("spec", model)[::2])
    assert reason in refused and not list(tmp_path.glob("*.json"))
    for command, args in (("eval", ("eval", model, "--data", photos, "--hand", "off")),
                          ("run", ("run", "--model", model, "--source", photos / "A", "--no-window", "--hand", "off")),
                          ("build", ("build", model, "--out", tmp_path / "m.engine"))):
        text = error_text(command, *cli(*args)[::2])
        assert text == f"{model} {NO_SPEC}, and `asl-edge spec` cannot write one: {refused}", text
    assert not list(tmp_path.glob("*.json")) and not (tmp_path / "m.engine").exists()


def test_the_hand_written_spec_a_two_output_model_is_told_to_get_runs(tmp_path: Path, photos: Path) -> None:
    model = flat(tmp_path / "two.onnx", extra_outputs=1)
    text = error_text("eval", *evaluate(model, photos)[::2])
    assert f"write the spec by hand in {sidecar_spec_path(model)}" in text
    assert '"input_name": "x" and "output_name": the class-score output (\'y\' or \'y2\')' in text
    sidecar_spec_path(model).write_text(json.dumps({"labels": ["A", "B", "C"], "input_height": 32,
                                                    "input_width": 32, "input_name": "x", "output_name": "y2"}))
    code, out, err = evaluate(model, photos)
    assert code == 0 and "top-1" in out, err


@pytest.mark.parametrize(("option", "values"), [("--labels", ("--labels", "A,B,C")),
                                                ("--size", ("--size", "32", "32", "--labels", "A,B,C"))])
def test_a_model_spec_can_describe_with_an_option_is_sent_to_spec_with_that_option(tmp_path: Path, photos: Path,
                                                                                  option: str,
                                                                                  values: tuple[str, ...]) -> None:
    if option == "--labels":  # Reshape to its own Shape: the class count is unknown until it runs
        model = image_model(tmp_path / "open.onnx", [helper.make_node("Flatten", ["c"], ["f"]),
                                                     helper.make_node("Shape", ["f"], ["s"]),
                                                     helper.make_node("Reshape", ["f", "s"], ["y"])], None)
    else:
        model = flat(tmp_path / "dynhw.onnx", input_shape=["N", 3, "H", "W"])
    text = error_text("eval", *evaluate(model, photos)[::2])
    assert text.startswith(f"{model} {NO_SPEC}: write one with `asl-edge spec {model} {option} "), text
    code, _, err = cli("spec", model, *values)  # the fix (and the labels, which the line says to check)
    assert code == 0, err
    code, out, err = evaluate(model, photos)
    assert code == 0 and "top-1" in out, err


def test_a_model_spec_can_describe_still_gets_the_plain_fix(tmp_path: Path, photos: Path) -> None:
    model = flat(tmp_path / "plain.onnx")
    text = error_text("eval", *evaluate(model, photos)[::2])
    assert text == f"{model} {NO_SPEC}: write one with `asl-edge spec {model}` (then check its labels), or pass " \
                   "--spec SPEC.json"


# -- 4, 5: --out, --labels, sizes and files ---------------------------------------------------------------------------
def test_a_folder_as_out_is_called_a_folder_and_the_file_it_names_works(tmp_path: Path) -> None:
    model = flat(tmp_path / "nc.onnx")
    folder = tmp_path / "specs"
    folder.mkdir()
    text = error_text("spec", *cli("spec", model, "--out", folder)[::2])
    example = folder / "nc.spec.json"
    assert text == f"--out {folder} is a folder; --out names the spec file to write, e.g. --out {example}"
    assert not list(folder.iterdir())
    code, _, err = cli("spec", model, "--out", example)
    assert code == 0 and example.is_file(), err


@pytest.mark.parametrize(("labels", "message"), [
    ("A,A,B", "--labels A,A,B lists 'A' more than once; list each label once, in output order"),
    ("A,,B", "--labels A,,B has an empty label; list every class once"),
])
def test_bad_labels_say_how_to_list_them(tmp_path: Path, labels: str, message: str) -> None:
    model = flat(tmp_path / "nc.onnx")
    assert message in error_text("spec", *cli("spec", model, "--labels", labels)[::2])
    assert not sidecar_spec_path(model).exists()
    code, _, err = cli("spec", model, "--labels", "A,B,C")
    assert code == 0, err


def test_a_hand_written_spec_with_a_repeated_label_names_it() -> None:
    data = {"labels": ["A", "B", "A"], "input_height": 32, "input_width": 32}
    with pytest.raises(SpecError, match="labels must be unique, but 'A' is listed more than once; list each label"):
        ModelSpec.from_dict(data)


def test_a_size_outside_what_asl_edge_feeds_is_refused_with_the_range(tmp_path: Path) -> None:
    model = flat(tmp_path / "dynhw.onnx", input_shape=["N", 3, "H", "W"])
    text = error_text("spec", *cli("spec", model, "--labels", "A,B,C", "--size", "4", "4")[::2])
    assert text == "--size 4 4 is outside the 8..4096 pixels a side that asl-edge feeds; pass the size the model " \
                   "was trained on"
    code, _, err = cli("spec", model, "--labels", "A,B,C", "--size", "32", "32")
    assert code == 0, err


def test_a_file_that_is_no_onnx_model_is_said_so(tmp_path: Path, photos: Path) -> None:
    text_file = tmp_path / "text.onnx"
    text_file.write_text("this is not a model\n")
    for command, args in (("spec", ("spec", text_file)), ("eval", ("eval", text_file, "--data", photos))):
        text = error_text(command, *cli(*args)[::2])
        assert text == f"{text_file} is not an ONNX model file (onnxruntime cannot parse it as one); pass the .onnx " \
                       "file a converter wrote (`asl-edge export`, torch.onnx.export, tf2onnx)"
    with pytest.raises(ModelError, match="not an ONNX model file"):
        load_backend(text_file)
    assert not list(tmp_path.glob("*.json"))

"""`asl-edge spec` refuses, with the backends' own checks, graphs that eval would refuse or could not run (an
integer input, scores that are a scalar, 1-D or hold no class), so it never writes a spec the other commands
reject; a graph asl-edge cannot drive at all (two inputs, an input of unknown rank) is said so by every command,
with no spec offered as the fix; inapplicable options, folders named like models and onnxruntime's own log
lines get one clear error line. Each suggested fix is followed to show that it works."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from asl_edge.errors import ModelError
from asl_edge.landmark_features import NUM_FEATURES as FEATURES
from asl_edge.onnx_header import sidecar_spec_path
from asl_edge.runtime.backends import load_backend
from asl_edge.spec import ModelSpec
from tests.contracts.onnx_graphs import F, cli, error_text, save, value

DRIVES = "asl-edge drives a model with one float32 input"










def features_model(path: Path, classes: int = 3, features: int = FEATURES) -> Path:
    """(N, features) float32 -> MatMul -> Softmax: a landmark classifier."""
    weights = np.random.default_rng(0).random((features, classes)).astype(np.float32)
    return save(path, [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Softmax", ["m"], ["y"])],
                [value("x", ["N", features])], [value("y", ["N", classes])], {"w": weights})


def assert_spec_refused(model: Path, *options: str | Path) -> str:
    text = error_text("spec", *cli("spec", model, *options)[::2])
    assert not sidecar_spec_path(model).exists() and not list(model.parent.glob("*.json"))
    return text


# -- 2: what spec writes, eval can run -----------------------------------------------------------------------
def test_integer_inputs_are_refused_by_spec_with_evals_own_message(tmp_path: Path, data_dir: Path) -> None:
    int64 = save(tmp_path / "int64.onnx",
                 [helper.make_node("Cast", ["x"], ["xf"], to=F), helper.make_node("MatMul", ["xf", "w"], ["y"])],
                 [value("x", ["N", FEATURES], TensorProto.INT64)], [value("y", ["N", 3])],
                 {"w": np.ones((FEATURES, 3), np.float32)})
    uint8 = save(tmp_path / "uint8.onnx",
                 [helper.make_node("Cast", ["x"], ["xf"], to=F), helper.make_node("Flatten", ["xf"], ["flat"]),
                  helper.make_node("MatMul", ["flat", "w"], ["y"])],
                 [value("x", ["N", 3, 32, 32], TensorProto.UINT8)], [value("y", ["N", 3])],
                 {"w": np.ones((3 * 32 * 32, 3), np.float32)})
    for model, dtype in ((int64, "tensor(int64)"), (uint8, "tensor(uint8)")):
        text = assert_spec_refused(model, "--labels", "A,B,C")
        assert f"takes {dtype}; asl-edge feeds float32" in text and "export the model with a float32 input" in text
        # eval says exactly the same (one check), even with a spec written by hand beside the model
        assert error_text("eval", *cli("eval", model, "--data", data_dir, "--hand", "off")[::2]) == text


def test_scores_that_are_no_class_axis_are_refused(tmp_path: Path) -> None:
    scalar = save(tmp_path / "scalar.onnx", [helper.make_node("ReduceSum", ["x"], ["y"], keepdims=0)],
                  [value("x", ["N", FEATURES])], [value("y", [])])
    text = assert_spec_refused(scalar, "--labels", "A,B,C")
    assert "output 'y' gives shape () for a test batch of 1, not (1, classes) class scores" in text
    assert DRIVES in text and "--labels" not in text

    rank1 = save(tmp_path / "rank1.onnx", [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
                 [value("x", ["N", FEATURES])], [value("y", ["N"])], {"axes": np.array([1], np.int64)})
    assert "output 'y' ? is not a classifier's" in assert_spec_refused(rank1, "--labels", "A,B,C")

    empty = save(tmp_path / "no_classes.onnx", [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])],
                 [value("x", ["N", FEATURES])], [value("y", ["N", 0])],
                 {"s": np.array([0], np.int64), "e": np.array([0], np.int64), "a": np.array([1], np.int64)})
    text = assert_spec_refused(empty, "--labels", "A,B,C")
    assert "output 'y' ?x0 is not a classifier's" in text and "(N, classes)" in text
    # a spec written by hand does not make it run either: the backend refuses it before any batch
    spec = ModelSpec.from_dict({"labels": ["A", "B", "C"], "input_height": 8, "input_width": 8, "channels": 1,
                                "color": "gray", "mean": [0.0], "std": [1.0], "inputs": "landmarks",
                                "num_features": FEATURES, "input_name": "x", "output_name": "y"})
    with pytest.raises(ModelError, match="is not a classifier's"):
        load_backend(empty, spec=spec)


def test_an_output_of_unknown_shape_takes_labels_and_the_test_run_checks_their_count(tmp_path: Path) -> None:
    # Reshape to its own Shape: (N, 5) at run time, a shape onnxruntime cannot infer from the graph.
    model = save(tmp_path / "open.onnx", [helper.make_node("MatMul", ["x", "w"], ["m"]),
                                          helper.make_node("Shape", ["m"], ["shape"]),
                                          helper.make_node("Reshape", ["m", "shape"], ["y"])],
                 [value("x", ["N", FEATURES])], [value("y", None)], {"w": np.ones((FEATURES, 5), np.float32)})
    text = assert_spec_refused(model)
    assert "does not say how many classes it has; pass --labels" in text
    text = assert_spec_refused(model, "--labels", "A,B,C")
    assert "gives 5 class scores in a test run, but --labels lists 3; pass exactly 5 labels" in text
    code, _, err = cli("spec", model, "--labels", "A,B,C,D,E")  # the fix each line named
    assert code == 0, err
    spec = ModelSpec.from_json(sidecar_spec_path(model).read_text())
    with load_backend(model) as backend:
        assert backend.spec == spec and backend.infer(np.zeros((4, FEATURES), np.float32)).shape == (4, 5)


def test_scores_with_singleton_axes_before_the_classes_run_as_the_backend_flattens_them(tmp_path: Path) -> None:
    """A Keras 1x1 conv head gives N x 1 x 1 x classes: the backend reshapes it to (N, classes), so spec takes it."""
    weights = np.random.default_rng(1).random((FEATURES, 4)).astype(np.float32)
    model = save(tmp_path / "keras_head.onnx",
                 [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Reshape", ["m", "s"], ["y"])],
                 [value("x", ["N", FEATURES])], [value("y", ["N", 1, 1, 4])],
                 {"w": weights, "s": np.array([-1, 1, 1, 4], np.int64)})
    code, _, err = cli("spec", model, "--labels", "A,B,C,D")
    assert code == 0, err
    batch = np.random.default_rng(2).random((3, FEATURES)).astype(np.float32)
    with load_backend(model) as backend:
        np.testing.assert_allclose(backend.infer(batch), batch @ weights, rtol=1e-5)


# -- 3: a graph asl-edge cannot drive is said so, with no spec offered as the fix --------------------------------
def test_a_two_input_model_is_not_sent_to_asl_edge_spec(tmp_path: Path, data_dir: Path) -> None:
    model = save(tmp_path / "two_in.onnx", [helper.make_node("Add", ["a", "b"], ["y"])],
                 [value("a", ["N", 3]), value("b", ["N", 3])], [value("y", ["N", 3])])
    text = assert_spec_refused(model)
    assert text.startswith(f"{model} has 2 inputs ('a' ?x3, 'b' ?x3), so no spec can make asl-edge run it: {DRIVES}")
    assert "(N,3,H,W) or (N,H,W,3)" in text and "(N,F)" in text and "(N, classes)" in text
    evaluated = error_text("eval", *cli("eval", model, "--data", data_dir, "--hand", "off")[::2])
    assert evaluated == text and "asl-edge spec" not in evaluated
    code, _, err = cli("benchmark", "--model", model, "--backends", "onnxruntime", "--precisions", "fp32",
                       "--no-pipeline", "--data", data_dir, "--out", tmp_path / "bench")
    benchmarked = error_text("benchmark", code, err)
    assert text in benchmarked and "asl-edge spec" not in benchmarked and not (tmp_path / "bench").exists()


def test_an_input_of_unknown_rank_is_refused_the_same_with_or_without_labels(tmp_path: Path) -> None:
    model = save(tmp_path / "dyn_rank.onnx", [helper.make_node("Identity", ["x"], ["y"])],
                 [value("x", None)], [value("y", None)])
    plain = assert_spec_refused(model)
    assert plain == assert_spec_refused(model, "--labels", "A,B,C")
    assert f"input 'x' has no shape in the graph (rank unknown), so no spec can make asl-edge run it: {DRIVES}" \
        in plain and "--labels" not in plain


def test_a_graph_without_outputs_is_refused(tmp_path: Path) -> None:
    model = save(tmp_path / "no_out.onnx", [helper.make_node("Identity", ["x"], ["y"])],
                 [value("x", ["N", FEATURES])], [])
    assert f"has no outputs, so no spec can make asl-edge run it: {DRIVES}" in assert_spec_refused(model)


# -- 4: --size only where it applies ------------------------------------------------------------------------
def test_size_is_refused_for_a_features_model(tmp_path: Path) -> None:
    model = features_model(tmp_path / "rank2_features.onnx")
    text = assert_spec_refused(model, "--out", tmp_path / "x.json", "--size", "64", "64")
    assert "takes feature vectors (N, features), not images; --size 64 64 is only for an image model" in text
    assert text.endswith("drop --size")
    code, _, err = cli("spec", model, "--out", tmp_path / "x.json")  # dropped: written
    assert code == 0, err
    assert ModelSpec.from_json((tmp_path / "x.json").read_text()).num_features == FEATURES


# -- 5: a folder named like a model ---------------------------------------------------------------------------
def test_a_folder_named_like_a_model_is_called_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "dir.onnx"
    folder.mkdir(parents=True)
    text = error_text("spec", *cli("spec", folder)[::2])
    assert text == f"{folder} is a folder, not an ONNX model file; pass the path of a model file (.onnx); " \
                   "this folder holds none"
    inside = features_model(folder / "inner.onnx")
    text = error_text("spec", *cli("spec", folder)[::2])
    assert text == f"{folder} is a folder, not an ONNX model file; pass a model file in it, e.g. {inside}"
    assert not list(tmp_path.rglob("*.json"))
    code, _, err = cli("spec", inside, "--labels", "A,B,C")  # the file it names
    assert code == 0 and sidecar_spec_path(inside).is_file(), err


# -- 6: onnxruntime's own log lines ---------------------------------------------------------------------------
def test_onnxruntime_log_lines_do_not_precede_the_error_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import onnxruntime as ort

    model = save(tmp_path / "empty_graph.onnx", [], [value("x", ["N", FEATURES])], [])
    # Control: onnxruntime itself logs an [E:onnxruntime ...] line on stderr for this model at its default level.
    with pytest.raises(Exception, match="Exception during initialization"):
        ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert "[E:onnxruntime" in capfd.readouterr().err
    for command in (("spec", model), ("eval", model, "--data", tmp_path, "--hand", "off")):
        code, _, err = cli(*command)  # asl-edge's own line, through sys.stderr
        assert capfd.readouterr().err == ""  # nothing else on the process's stderr
        assert f"{model} is not a loadable ONNX model" in error_text(str(command[0]), code, err)
    with pytest.raises(ModelError, match="is not a loadable ONNX model"):
        load_backend(model)
    assert capfd.readouterr().err == ""


def test_good_models_still_get_their_spec_and_run(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assets = Path(__file__).resolve().parents[2] / "asl_edge" / "assets"
    for name in ("asl_default.onnx", "asl_landmarks.onnx"):
        model = Path(shutil.copy(assets / name, tmp_path / name))
        code, out, err = cli("spec", model)
        assert code == 0 and "a copy of the spec embedded" in out, err
        with load_backend(model) as backend:
            spec = ModelSpec.from_json(sidecar_spec_path(model).read_text())
            assert backend.spec == spec
            assert backend.infer(np.zeros((2, *spec.input_shape), np.float32)).shape == (2, spec.num_classes)
    assert capfd.readouterr().err == ""

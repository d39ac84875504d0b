"""`asl-edge spec MODEL.onnx`: a model that carries its spec gets an exact copy of it as the sidecar (a
template of guesses would silently override the real labels and normalisation); a graph that is not a
classifier, and a --size the graph does not leave open, are refused with one line and nothing written."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from asl_edge.apps.cli import main
from asl_edge.onnx_header import read_onnx_header, resolve_spec, sidecar_spec_path
from asl_edge.runtime.backends.model_io import ModelIO, check_spec
from asl_edge.spec import ONNX_METADATA_KEY, ModelSpec

ASSET = Path(__file__).resolve().parents[2] / "asl_edge" / "assets" / "asl_default.onnx"
EMBEDDED = ModelSpec.from_dict({"labels": ("A", "B", "C"), "input_height": 28, "input_width": 28, "channels": 1,
                                "color": "gray", "mean": (0.5,), "std": (0.5,), "layout": "NCHW",
                                "input_name": "x", "output_name": "probs", "batch": 1})


def cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def one_error_line(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1, err
    assert lines[0].startswith("asl-edge spec: error: ") and "Traceback" not in err
    return lines[0]


def save(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by older onnxruntime builds too
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def classifier(path: Path, *, metadata: dict[str, str] | None = None, trailing_ones: bool = False) -> Path:
    """1x1x28x28 -> Flatten -> MatMul (784x3) -> Softmax; with `trailing_ones` the scores come out 1x3x1x1."""
    weights = numpy_helper.from_array(np.random.default_rng(0).random((784, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Flatten", ["x"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    inits = [weights]
    if trailing_ones:
        inits.append(numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape"))
        nodes += [helper.make_node("Softmax", ["logits"], ["soft"]), helper.make_node("Reshape", ["soft", "shape"],
                                                                                      ["probs"])]
        out_shape = [1, 3, 1, 1]
    else:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"]))
        out_shape = [1, 3]
    graph = helper.make_graph(nodes, "classifier",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, out_shape)], inits)
    return save(graph, path, metadata)


def identity(path: Path) -> Path:
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "ident",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 28, 28])])
    return save(graph, path)


def test_a_model_with_an_embedded_spec_gets_an_exact_copy_as_its_sidecar(tmp_path: Path) -> None:
    model = Path(shutil.copy(ASSET, tmp_path / "asl_default.onnx"))
    embedded = read_onnx_header(model).spec
    assert embedded is not None
    code, out, err = cli("spec", model)
    assert code == 0, err
    sidecar = sidecar_spec_path(model)
    assert out.splitlines()[0] == (f"wrote {sidecar}: a copy of the spec embedded in {model} by `asl-edge export` "
                                   "(nothing guessed)")
    assert "placeholders" not in out and "guessed" not in out.replace("nothing guessed", "")
    assert ModelSpec.from_json(sidecar.read_text()) == embedded
    assert resolve_spec(model, {}) == embedded  # the sidecar now wins, and changes nothing


def test_the_copy_keeps_labels_and_normalisation_and_may_go_elsewhere(tmp_path: Path) -> None:
    model = classifier(tmp_path / "m.onnx", metadata={ONNX_METADATA_KEY: EMBEDDED.to_json()})
    code, out, err = cli("spec", model, "--out", tmp_path / "copy.json")
    assert code == 0 and "a copy of the spec embedded" in out and "--spec" in out, err
    written = json.loads((tmp_path / "copy.json").read_text())
    assert written == EMBEDDED.to_dict() and written["mean"] == [0.5] and written["labels"] == ["A", "B", "C"]
    assert not sidecar_spec_path(model).exists()


@pytest.mark.parametrize("option", [("--labels", "X,Y,Z"), ("--size", "28", "28")])
def test_labels_and_size_are_refused_for_a_model_that_carries_its_spec(tmp_path: Path,
                                                                       option: tuple[str, ...]) -> None:
    model = classifier(tmp_path / "m.onnx", metadata={ONNX_METADATA_KEY: EMBEDDED.to_json()})
    line = one_error_line(*cli("spec", model, *option)[::2])
    assert "carries its own spec" in line and f"`asl-edge spec {model}`" in line
    assert not sidecar_spec_path(model).exists()


def test_a_model_without_a_spec_still_gets_the_guessed_template(tmp_path: Path) -> None:
    model = classifier(tmp_path / "foreign.onnx")
    code, out, err = cli("spec", model)
    assert code == 0 and "placeholders class_0..class_2" in out and "copy" not in out, err
    spec = ModelSpec.from_json(sidecar_spec_path(model).read_text())
    assert spec.labels == ("class_0", "class_1", "class_2") and spec.mean == (0.0,)


def test_an_invalid_embedded_spec_gets_a_template_and_says_why(tmp_path: Path) -> None:
    model = classifier(tmp_path / "bad.onnx", metadata={ONNX_METADATA_KEY: '{"labels": "ABC"}'})
    code, out, err = cli("spec", model, "--labels", "A,B,C")
    assert code == 0 and "embedded in the model is invalid" in out, err
    assert ModelSpec.from_json(sidecar_spec_path(model).read_text()).labels == ("A", "B", "C")


def test_a_graph_that_is_not_a_classifier_is_refused(tmp_path: Path) -> None:
    model = identity(tmp_path / "ident.onnx")
    line = one_error_line(*cli("spec", model)[::2])
    assert "'y' 1x1x28x28 is not a classifier's" in line and "(N, classes)" in line
    assert not sidecar_spec_path(model).exists()


def test_scores_with_trailing_ones_count_their_classes(tmp_path: Path) -> None:
    model = classifier(tmp_path / "conv_head.onnx", trailing_ones=True)
    code, out, err = cli("spec", model)
    assert code == 0 and "placeholders class_0..class_2" in out, err
    spec = ModelSpec.from_json(sidecar_spec_path(model).read_text())
    assert check_spec(ModelIO.from_path(model), spec).shape == (1, 3, 1, 1)  # the backend's check agrees


def test_size_is_refused_where_the_graph_fixes_it(tmp_path: Path) -> None:
    model = classifier(tmp_path / "foreign24.onnx")
    line = one_error_line(*cli("spec", model, "--out", tmp_path / "s4.json", "--size", "64", "64")[::2])
    assert "fixes its size at 28x28" in line and "--size 64 64" in line and "drop --size" in line
    assert not (tmp_path / "s4.json").exists()
    code, _, err = cli("spec", model, "--out", tmp_path / "same.json", "--size", "28", "28")  # agrees: harmless
    assert code == 0, err

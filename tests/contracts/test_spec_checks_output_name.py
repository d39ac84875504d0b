"""The spec's `output_name` is checked against the graph where `input_name` is (model_io.check_spec, which the
ONNX Runtime backend and the engine builder share): a wrong one is refused by eval and benchmark with one line
naming the graph's output, and following that line makes the model run again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

from asl_edge.errors import SpecError
from asl_edge.onnx_header import read_onnx_spec, sidecar_spec_path
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.model_io import ModelIO, check_spec
from asl_edge.spec import ModelSpec
from tests.contracts.onnx_graphs import cli

ASSET = Path(__file__).resolve().parents[2] / "asl_edge" / "assets" / "asl_default.onnx"
FIX = 'set "output_name": "probabilities" in the spec'




def error_line(command: str, code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"asl-edge {command}: error: ")
    return lines[0]


def wrong_output_name(folder: Path) -> tuple[Path, ModelSpec]:
    """The bundled model with a sidecar that is its embedded spec but for "output_name": "logits"."""
    folder.mkdir(parents=True, exist_ok=True)
    model = Path(shutil.copy(ASSET, folder / "wrongout.onnx"))
    embedded = read_onnx_spec(model)
    assert embedded.output_name == "probabilities"
    sidecar = sidecar_spec_path(model)
    sidecar.write_text(json.dumps({**embedded.to_dict(), "output_name": "logits"}))
    return model, embedded


def test_check_spec_refuses_a_wrong_output_name_with_either_reader(tmp_path: Path) -> None:
    model, embedded = wrong_output_name(tmp_path)
    wrong = ModelSpec.from_json(sidecar_spec_path(model).read_text())
    readers = [ModelIO.from_path(model), ModelIO.from_onnx(onnx.load(str(model)), str(model))]  # ORT, build
    for graph in readers:
        assert check_spec(graph, embedded).name == "probabilities"
        with pytest.raises(SpecError) as caught:
            check_spec(graph, wrong)
        assert str(caught.value) == (f"{model}'s output is named 'probabilities' but the spec says output_name "
                                     f"'logits'; {FIX}")


def test_eval_refuses_a_wrong_output_name_and_runs_once_it_is_fixed(tmp_path: Path, photos: Path) -> None:
    model, _ = wrong_output_name(tmp_path / "m")
    line = error_line("eval", *cli("eval", model, "--data", photos, "--hand", "off")[::2])
    assert FIX in line
    with pytest.raises(SpecError, match="output_name 'logits'"):
        load_backend(model)
    # Follow the line: the model evaluates again.
    sidecar = sidecar_spec_path(model)
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "output_name": "probabilities"}))
    code, out, err = cli("eval", model, "--data", photos, "--hand", "off")
    assert code == 0 and "on 6 images" in out, err


def test_benchmark_refuses_a_wrong_output_name(tmp_path: Path, photos: Path) -> None:
    model, _ = wrong_output_name(tmp_path / "m")
    code, _, err = cli("benchmark", "--model", model, "--backends", "onnxruntime", "--precisions", "fp32",
                       "--batch", "1", "--no-pipeline", "--data", photos, "--out", tmp_path / "bench")
    line = error_line("benchmark", code, err)
    assert "onnxruntime fp32: not measured" in line and FIX in line
    assert not (tmp_path / "bench").exists()


def test_a_spec_naming_another_output_of_a_two_output_graph_still_names_them_all(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["probs"]), helper.make_node("Identity", ["x"], ["logits"])], "two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "two_out.onnx"
    onnx.save(model, str(path))
    spec = ModelSpec.from_dict({"labels": list("ABCD"), "input_height": 8, "input_width": 8, "channels": 1,
                                "color": "gray", "mean": [0.0], "std": [1.0], "scale": 1.0, "inputs": "landmarks",
                                "num_features": 4, "input_name": "x", "output_name": "scores"})
    with pytest.raises(SpecError, match=r"output_name 'scores' is none of .*'probs' \?x4, 'logits' \?x4"):
        check_spec(ModelIO.from_path(path), spec)
    for name in ("probs", "logits"):
        assert check_spec(ModelIO.from_path(path), ModelSpec.from_dict({**spec.to_dict(), "output_name": name})
                          ).name == name

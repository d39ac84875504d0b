"""ModelSpec layouts (NCHW/NHWC), tensor names and fixed batch sizes: the spec, preprocessing, the check of a
spec against a real ONNX graph, the backend's splitting and padding, and `asl-edge spec`'s guesses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from asl_edge.errors import ModelError, SpecError
from asl_edge.preprocess import preprocess, preprocess_batch
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.model_io import ModelIO, TensorInfo, check_spec, template_spec
from asl_edge.spec import ModelSpec, make_spec
from tests.byo_models import tf2onnx_style_classifier

LABELS = ("A", "B", "C")


def nhwc_spec(**overrides: object) -> ModelSpec:
    fields: dict[str, object] = {"labels": LABELS, "input_height": 8, "input_width": 8, "channels": 1,
                                 "color": "gray", "mean": (0.0,), "std": (1.0,), "layout": "NHWC",
                                 "input_name": "conv2d_input", "output_name": "dense_1", "batch": 1}
    fields.update(overrides)
    return ModelSpec.from_dict(fields)


def templates(layout: str = "NHWC", channels: int = 1, classes: int = 3) -> np.ndarray:
    sample = (8, 8, channels) if layout == "NHWC" else (channels, 8, 8)
    return np.random.default_rng(0).random((classes, 2, *sample)).astype(np.float32)


def test_old_spec_without_layout_or_batch_loads_as_nchw_with_any_batch() -> None:
    old = make_spec(LABELS, "aslcnn", 32, "rgb").to_dict()
    del old["layout"], old["batch"]
    spec = ModelSpec.from_dict(old)
    assert (spec.layout, spec.batch, spec.fixed_batch) == ("NCHW", 0, None)
    assert spec.input_shape == (3, 32, 32)
    assert nhwc_spec(channels=3, color="rgb", mean=(0, 0, 0), std=(1, 1, 1)).input_shape == (8, 8, 3)


def test_preprocess_gives_the_spec_layout(data_dir: Path) -> None:
    import cv2

    photo = cv2.imread(str(sorted((data_dir / "B").glob("*.jpg"))[0]))
    assert photo is not None
    nchw = make_spec(LABELS, "aslcnn", (24, 32), "rgb")
    nhwc = ModelSpec.from_dict({**nchw.to_dict(), "layout": "NHWC"})
    a, b = preprocess(photo, nchw), preprocess(photo, nhwc)
    assert a.shape == (3, 24, 32) and b.shape == (24, 32, 3) and b.flags.c_contiguous
    np.testing.assert_array_equal(b, a.transpose(1, 2, 0))
    assert preprocess_batch([photo, photo], nhwc).shape == (2, 24, 32, 3)


@pytest.mark.parametrize("fixed", [1, 2])
def test_fixed_batch_model_gets_exactly_its_batch(tmp_path: Path, fixed: int) -> None:
    """Any number of samples through a model whose graph fixes its batch: split, last part padded, rows kept
    in order; the results equal the same weights with a dynamic batch."""
    weights = templates()
    fixed_model = tf2onnx_style_classifier(tmp_path / "fixed.onnx", weights, batch=fixed)
    dynamic_model = tf2onnx_style_classifier(tmp_path / "dynamic.onnx", weights, batch=None)
    batch = np.random.default_rng(1).random((5, 8, 8, 1)).astype(np.float32)
    with load_backend(fixed_model, spec=nhwc_spec(batch=fixed)) as backend, \
            load_backend(dynamic_model, spec=nhwc_spec(batch=0)) as reference:
        assert backend.fixed_batch == fixed and reference.fixed_batch is None
        assert backend.accepts_batch(fixed) and not backend.accepts_batch(fixed + 3)
        got, expected = backend.infer(batch), reference.infer(batch)
        assert got.shape == (5, 3)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        # The graph's fixed batch counts even when the spec leaves the batch open.
    with load_backend(fixed_model, spec=nhwc_spec(batch=0)) as backend:
        assert backend.fixed_batch == fixed
        np.testing.assert_allclose(backend.infer(batch[:3]), expected[:3], rtol=1e-5, atol=1e-6)


def _both_readers(path: Path) -> list[ModelIO]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [ModelIO.from_session(session, str(path)), ModelIO.from_onnx(onnx.load(str(path)), str(path))]


@pytest.mark.parametrize(("change", "message"), [
    ({"labels": ("A", "B", "C", "D")}, "lists 4 labels but"),
    ({"layout": "NCHW"}, 'set "layout": "NHWC"'),
    ({"channels": 3, "color": "rgb", "mean": (0, 0, 0), "std": (1, 1, 1)}, 'set "color": "gray", "channels": 1'),
    ({"input_height": 16}, "takes 8x8 pixels (NHWC) but the spec says input_height 16"),
    ({"input_name": "input"}, 'set "input_name": "conv2d_input"'),
    ({"batch": 4}, 'has a fixed batch of 1 but the spec says batch 4; set "batch": 1'),
    ({"inputs": "landmarks", "num_features": 64}, "has 4 dims but the spec describes a landmarks model"),
])
def test_each_disagreement_with_the_graph_is_named(tmp_path: Path, change: dict[str, object], message: str) -> None:
    model = tf2onnx_style_classifier(tmp_path / "model.onnx", templates())
    good = nhwc_spec()
    bad = ModelSpec.from_dict({**good.to_dict(), **change})
    for io in _both_readers(model):
        assert check_spec(io, good).name == "dense_1"
        with pytest.raises(SpecError) as caught:
            check_spec(io, bad)
        assert message in str(caught.value) and "\n" not in str(caught.value)


def test_spec_file_errors_name_the_file(tmp_path: Path) -> None:
    from asl_edge.onnx_header import load_spec_file

    path = tmp_path / "model.spec.json"
    path.write_text('{"labels": "ABC", "input_height": 28, "input_width": 28}')
    with pytest.raises(SpecError, match=r"spec file .*model.spec.json: invalid ModelSpec field 'labels'"):
        load_spec_file(path)
    with pytest.raises(SpecError, match="asl-edge spec"):
        load_spec_file(tmp_path / "missing.json")


def test_template_guesses_layout_colour_labels_and_batch(tmp_path: Path) -> None:
    rgb = tf2onnx_style_classifier(tmp_path / "rgb.onnx", templates("NCHW", channels=3, classes=26), layout="NCHW",
                                   batch=None, input_name="images", output_name="probs")
    spec, notes = template_spec(ModelIO.from_path(rgb))
    assert (spec.layout, spec.color, spec.channels, spec.batch) == ("NCHW", "rgb", 3, 0)
    assert (spec.input_name, spec.output_name, spec.input_shape) == ("images", "probs", (3, 8, 8))
    assert spec.labels[0] == "A" and spec.labels[-1] == "Z" and any("check the order" in n for n in notes)

    odd = tf2onnx_style_classifier(tmp_path / "odd.onnx", templates(classes=7), batch=2)
    spec, notes = template_spec(ModelIO.from_path(odd))
    assert (spec.layout, spec.color, spec.batch, spec.input_shape) == ("NHWC", "gray", 2, (8, 8, 1))
    assert spec.labels == tuple(f"class_{i}" for i in range(7)) and any("placeholders" in n for n in notes)
    with pytest.raises(SpecError, match="--labels gives 2 labels"):
        template_spec(ModelIO.from_path(odd), labels=["A", "B"])


def test_template_needs_a_size_for_open_height_and_width() -> None:
    io = ModelIO("open.onnx", (TensorInfo("x", (None, None, None, 3), "tensor(float)"),),
                 (TensorInfo("y", (None, 5), "tensor(float)"),))
    with pytest.raises(ModelError, match="--size HEIGHT WIDTH"):
        template_spec(io)
    spec, _ = template_spec(io, size=(64, 48))
    assert spec.input_shape == (64, 48, 3) and spec.layout == "NHWC"

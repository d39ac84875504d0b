"""The one ONNX header reader: spec and precision from the onnx package, or from onnxruntime without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from asl_edge.errors import ModelError, SpecError
from asl_edge.onnx_header import read_onnx_header
from tests.tensorrt.onnx_models import tiny_classifier


def test_header_from_the_onnx_package_infers_an_unstated_precision(tmp_path: Path) -> None:
    stated = read_onnx_header(tiny_classifier(tmp_path / "a.onnx", precision="fp16", fp16_weights=True))
    assert (stated.precision, stated.stated) == ("fp16", True)
    assert stated.spec is not None and stated.spec.labels == ("A", "B", "C")
    qdq = read_onnx_header(tiny_classifier(tmp_path / "b.onnx", precision=None, qdq=True))
    assert (qdq.precision, qdq.stated) == ("int8", False)
    with pytest.raises(ModelError, match="precision is 'int4'"):
        read_onnx_header(tiny_classifier(tmp_path / "c.onnx", precision="int4"))


def test_header_from_onnxruntime_when_the_onnx_package_is_absent(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tiny_classifier(tmp_path / "a.onnx", precision="int8", qdq=True)
    untagged = tiny_classifier(tmp_path / "b.onnx", precision=None, qdq=True)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError, as on a bare Jetson
    header = read_onnx_header(path)
    assert (header.precision, header.stated) == ("int8", True) and header.spec is not None
    # onnxruntime sees only the metadata: an unstated precision reads as fp32.
    assert read_onnx_header(untagged).precision == "fp32"


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        read_onnx_header(tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match="does not exist"):
        read_onnx_header(tmp_path / "missing.onnx")
    import onnx

    model = onnx.load(str(tiny_classifier(tmp_path / "c.onnx")))
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "bare.onnx"))
    with pytest.raises(SpecError, match="carries no ModelSpec"):
        read_onnx_header(tmp_path / "bare.onnx")
    assert read_onnx_header(tmp_path / "bare.onnx", need_spec=False).spec is None

"""Helpers of the spec-check tests: tiny ONNX graphs written with onnx.helper, and the CLI run in-process with
its one error line taken apart."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from asl_edge.apps.cli import main

F = TensorProto.FLOAT


def cli(*args: str | Path) -> tuple[int, str, str]:
    """`asl-edge ARGS` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def error_text(command: str, code: int, err: str) -> str:
    """The one error line's text after `asl-edge COMMAND: error: `."""
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    prefix = f"asl-edge {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):]


def save(path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
         outputs: list[onnx.ValueInfoProto], weights: dict[str, np.ndarray] | None = None, opset: int = 13) -> Path:
    """The graph of `nodes` as an ONNX file at `path` (named after its stem), `weights` as initializers."""
    graph = helper.make_graph(nodes, path.stem, inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in (weights or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def value(name: str, shape: Sequence[int | str] | None, dtype: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)

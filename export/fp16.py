"""FP32 graph to an FP16 graph with float32 input and output, by onnxconverter-common's maintained converter.

The float32 interface stays, so the runtime feeds the same preprocessed batch to every precision and a
strongly typed TensorRT build (10.x, always on 11.x) runs the body in half precision.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from asl_edge.errors import require
from asl_edge.export.onnx_export import WORKSTATION_HINT, check_graph
from asl_edge.spec import ModelSpec


def to_fp16(fp32_model: Any, spec: ModelSpec) -> Any:
    """A float16 copy of a checked FP32 onnx.ModelProto; its input and output stay float32."""
    float16 = require("onnxconverter_common.float16", "FP16 conversion", WORKSTATION_HINT)
    with warnings.catch_warnings():
        # It warns once per weight below float16's range that it clamps to +-1e-7: expected, not news.
        warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
        # The converter edits the graph it is given; keep the caller's FP32 model untouched.
        model = float16.convert_float_to_float16(copy.deepcopy(fp32_model), keep_io_types=True)
    check_graph(model, spec, "the FP16 graph")
    return model

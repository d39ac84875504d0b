"""The process's TensorRT: its major version and its one logger, shared by the builder (export/trt_compile.py)
and the engine runner (engine.py).

Imports tensorrt at the top: import this module only after
asl_edge.runtime.backends.tensorrt.support.tensorrt_version() has confirmed TensorRT loads.
"""

from __future__ import annotations

import tensorrt as trt

from asl_edge.runtime.backends.tensorrt.support import parse_version

# The version paths of the builder and the runner branch on this (tests/tensorrt/trt_names.py reads them).
TRT_MAJOR = parse_version(trt.__version__)[0]
# One logger per process: TensorRT keeps a pointer to the first one it is given.
LOGGER = trt.Logger(trt.Logger.WARNING)
trt.init_libnvinfer_plugins(LOGGER, "")  # register the built-in plugins, as NVIDIA's samples do

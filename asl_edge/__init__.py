"""asl-edge: train, export, compile and run an ASL fingerspelling classifier on NVIDIA Jetson.

This package holds the contracts every stage shares (ModelSpec, preprocessing, errors, artifact I/O).
It never imports torch, so a Jetson runtime image can use it without PyTorch.
"""

from asl_edge.errors import AslEdgeError
from asl_edge.preprocess import preprocess, preprocess_batch
from asl_edge.spec import ModelSpec

__version__ = "0.1.0"

__all__ = ["AslEdgeError", "ModelSpec", "__version__", "preprocess", "preprocess_batch"]

"""PyTorch backend: the reference the other backends are compared with, straight from checkpoint.pt.

torch is imported only when this backend is used, so the runtime stays importable without it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from asl_edge.errors import ModelError, require
from asl_edge.runtime.backends.base import Backend
from asl_edge.spec import ModelSpec
from asl_edge.train.config import DEVICES


class PyTorchBackend(Backend):
    name = "pytorch"

    def __init__(self, model: Any, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, precision="fp32", device=device)
        self.model = model
        self._torch = require("torch", "the PyTorch backend", "pip install 'asl-edge[workstation]'")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], device: str = "auto") -> PyTorchBackend:
        torch = require("torch", "the PyTorch backend", "pip install 'asl-edge[workstation]'")
        from asl_edge.train.checkpoint import load_checkpoint

        if device not in DEVICES:
            raise ModelError(f"unknown device '{device}' for the PyTorch backend; choose {', '.join(DEVICES)}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise ModelError("--device cuda asked for, but this PyTorch sees no CUDA GPU; use --device cpu")
        checkpoint = load_checkpoint(path, map_location="cpu")
        model = checkpoint.model.to(device).eval()
        return cls(model, checkpoint.spec, device)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(batch).to(self.device))
            probs = torch.softmax(logits.float(), dim=1)
        return np.ascontiguousarray(probs.cpu().numpy(), dtype=np.float32)

"""The checkpoint file: weights + ModelSpec + metrics, loadable with torch.load(weights_only=True).

Two files per run: `checkpoint.pt` (the best model; what export and the runtime read) and `last.pt`
(adds optimizer, scheduler and loop state for --resume). Both are written atomically.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from asl_edge.artifacts import atomic_write_bytes
from asl_edge.errors import ModelError, SpecError
from asl_edge.spec import ModelSpec
from asl_edge.train.models import build_model

FORMAT = "asl-edge-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    model: nn.Module
    spec: ModelSpec
    metrics: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    # Present in last.pt only: optimizer/scheduler/scaler/loop state for resuming.
    resume_state: dict[str, Any] | None = None


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, spec: ModelSpec,
                    metrics: dict[str, Any] | None = None, epoch: int = 0,
                    resume_state: dict[str, Any] | None = None) -> None:
    # DDP/compiled wrappers keep the real module in .module / ._orig_mod; save the plain weights.
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "spec": spec.to_dict(),
        "model_state": {k: v.detach().cpu() for k, v in inner.state_dict().items()},
        "metrics": metrics or {},
        "epoch": epoch,
    }
    if resume_state is not None:
        payload["resume_state"] = resume_state
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getbuffer())


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> Checkpoint:
    """A checkpoint.pt, or a training run folder holding one."""
    if os.path.isdir(path):
        path = os.path.join(path, "checkpoint.pt")
    if not os.path.isfile(path):
        raise ModelError(f"checkpoint {path} does not exist; train one with `asl-edge train`")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # zip, pickle and unpickling errors all mean "not a checkpoint"
        raise ModelError(f"{path} is not an asl-edge checkpoint (torch.load failed: {type(exc).__name__}); "
                         "pass the checkpoint.pt of a training run") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path} is not an asl-edge checkpoint (no '{FORMAT}' marker); "
                         "pass the checkpoint.pt of a training run")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path} has checkpoint format {payload.get('format_version')}, this asl-edge reads "
                         f"{FORMAT_VERSION}; upgrade asl-edge")
    if not isinstance(payload.get("spec"), dict):
        raise ModelError(f"{path} holds no ModelSpec (its 'spec' entry is missing): the file is damaged or was not "
                         "written by `asl-edge train`; train again, or export the run's model.onnx instead")
    try:
        spec = ModelSpec.from_dict(payload["spec"])
    except (SpecError, KeyError) as exc:
        raise ModelError(f"{path}: its spec is not valid ({exc}); train again with this asl-edge") from exc
    model = build_model(spec)
    try:
        model.load_state_dict(payload["model_state"])
    except (RuntimeError, KeyError) as exc:
        raise ModelError(f"{path}: weights do not fit architecture '{spec.arch}' "
                         f"({str(exc).splitlines()[0]})") from exc
    model.eval()
    return Checkpoint(model=model, spec=spec, metrics=dict(payload.get("metrics", {})),
                      epoch=int(payload.get("epoch", 0)), resume_state=payload.get("resume_state"))

"""Several processes under `torchrun`: one DistributedDataParallel replica per process.

A plain `asl-edge train` is one process and none of this applies. `torchrun --nproc_per_node=N -m
asl_edge train ...` sets WORLD_SIZE, RANK and LOCAL_RANK; each process then trains on its share of the
batches (DistributedSampler), gradients are averaged, and only rank 0 writes files or prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from asl_edge.errors import AslEdgeError


@dataclass(frozen=True)
class ProcessGroup:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise AslEdgeError(f"environment variable {name}={value!r} is not an integer; launch with torchrun") from None


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise AslEdgeError("--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu or auto")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))


def start(device_choice: str) -> tuple[ProcessGroup, torch.device]:
    """Join the process group when launched by torchrun with more than one process."""
    group = ProcessGroup(_env_int("WORLD_SIZE", 1), _env_int("RANK", 0), _env_int("LOCAL_RANK", 0))
    device = pick_device(device_choice, group.local_rank)
    if group.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return group, device


def stop(group: ProcessGroup) -> None:
    if group.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(group: ProcessGroup) -> None:
    if group.enabled:
        dist.barrier()


def broadcast_flag(group: ProcessGroup, flag: bool) -> bool:
    """Rank 0's decision (e.g. stop early) for every process, so none waits for a step the others skip."""
    if not group.enabled:
        return flag
    holder = [flag]
    dist.broadcast_object_list(holder, src=0)
    return bool(holder[0])

"""Data parallel under ``torchrun`` / ``accelerate launch``: the process group and gradient averaging.

Every process joins a gloo (CPU) / nccl (GPU) group, takes ``batch[rank::N]`` of each planned batch,
and gradients (student and projection) are averaged before each optimizer step; only rank 0 writes
checkpoints, the log and the output dir. In-batch negatives are per process, as in DDP without gathering.
"""

from __future__ import annotations

import os

import torch


def dist_info() -> tuple[int, int]:
    """(rank, world size). Under ``torchrun`` (WORLD_SIZE > 1) joins the process group, gloo on CPU."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def pick_device(device: str = "auto") -> str:
    """``auto``: ``cuda`` when a GPU is visible (under ``torchrun``: this process's ``LOCAL_RANK`` GPU), else ``cpu``."""
    if device != "auto":
        return device
    if not torch.cuda.is_available():
        return "cpu"
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return f"cuda:{local}" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "cuda"


def average_gradients(opt, world: int) -> None:
    import torch.distributed as dist

    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def mean_across(value: torch.Tensor, world: int) -> torch.Tensor:
    import torch.distributed as dist

    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world


def barrier() -> None:
    import torch.distributed as dist

    dist.barrier()

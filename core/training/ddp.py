"""Multi-GPU training with torch DistributedDataParallel, started by `torchrun`.

`torchrun --nproc_per_node=N scripts/train.py ...` sets RANK, LOCAL_RANK and WORLD_SIZE;
each process drives one GPU (NCCL), or one CPU process (gloo) for testing. Every rank draws
its own batches (see `datasets.Mixture.plan`), so the global batch is N × batch size. Rank
0 alone logs, evaluates and writes checkpoints.
"""
from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when started by torchrun; returns (info, this process's device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), torch.device(device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        if torch.cuda.device_count() <= local:
            raise RuntimeError(f"torchrun started {world} processes but this machine shows "
                               f"{torch.cuda.device_count()} GPUs; lower --nproc_per_node")
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local), dev


def wrap(module: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """DDP around the module on more than one process; the module itself otherwise.

    find_unused_parameters: ablations and cached features leave parts of TAR unused.
    """
    if not info.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def all_true(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True when `flag` holds on every rank (so that all ranks take the same branch)."""
    if not info.enabled:
        return flag
    t = torch.tensor([0.0 if flag else 1.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() == 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()

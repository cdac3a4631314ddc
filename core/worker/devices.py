"""Choosing the torch device from the worker's --device option."""
from __future__ import annotations

from typing import Callable


def resolve_device(requested: str, warn: Callable[[str], None]) -> str:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU warns and uses the CPU."""
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got '{requested}'")
    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        built = torch.version.cuda
        why = "this torch build has no CUDA support" if not built else "no CUDA GPU is visible"
        warn(f"CUDA was asked for but {why}; running on the CPU instead (much slower)")
        return "cpu"
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    return requested

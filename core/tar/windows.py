"""Sliding T/L windows over a stream of per-frame features, holding only what is still needed.

A sequence of `count` positions (one person track's frames) is fed one position at a time;
the window of every centre c covers positions c − T//2 ... c + T//2, clamped to the
sequence (the edges are padded by repeating the first/last frame), and its local part is
the L positions centred on c.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch


def window_positions(center: int, length: int, count: int) -> list[int]:
    """Positions of the `length` window centred on `center` in a sequence of `count`, edges repeated."""
    half = length // 2
    return [min(max(center + d, 0), count - 1) for d in range(-half, half + 1)]


@dataclasses.dataclass
class Window:
    """One window's features, as references to the per-frame tensors (stacked only in a batch)."""

    center: int
    global_seq: tuple[torch.Tensor, ...]  # T × [Dg]
    local_seq: tuple[torch.Tensor, ...]  # L × [...]
    info: Any  # what was pushed with the centre frame


def stack_windows(windows: list[Window]) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (global [B, T, Dg], local [B, L, ...])."""
    return (torch.stack([torch.stack(w.global_seq) for w in windows]),
            torch.stack([torch.stack(w.local_seq) for w in windows]))


class SlidingWindows:
    """push(global [Dg], local [...], info) in position order -> the windows that became complete."""

    def __init__(self, count: int, seq_len: int, local_len: int):
        if count < 1:
            raise ValueError("a sequence needs at least one position")
        self.count, self.seq_len, self.local_len = count, seq_len, local_len
        self._global: dict[int, torch.Tensor] = {}
        self._local: dict[int, torch.Tensor] = {}
        self._info: dict[int, Any] = {}
        self._next = 0  # next position to be pushed
        self._center = 0  # next window centre to emit

    @property
    def complete(self) -> bool:
        """Every window was emitted."""
        return self._center >= self.count

    @property
    def held(self) -> int:
        """Positions whose local features are held (memory in use)."""
        return len(self._local)

    def push(self, global_feat: torch.Tensor, local_feat: torch.Tensor, info: Any = None) -> list[Window]:
        if self._next >= self.count:
            raise ValueError(f"all {self.count} positions were already pushed")
        pos = self._next
        self._global[pos], self._local[pos], self._info[pos] = global_feat, local_feat, info
        self._next += 1
        ready = []
        while self._center < self.count and min(self._center + self.seq_len // 2, self.count - 1) < self._next:
            c = self._center
            ready.append(Window(
                center=c,
                global_seq=tuple(self._global[p] for p in window_positions(c, self.seq_len, self.count)),
                local_seq=tuple(self._local[p] for p in window_positions(c, self.local_len, self.count)),
                info=self._info[c]))
            self._center += 1
        self._forget()
        return ready

    def _forget(self) -> None:
        """Drop what no later window reads (positions before its first clamped position)."""
        if self.complete:
            self._global.clear(), self._local.clear(), self._info.clear()
            return
        for store, length in ((self._global, self.seq_len), (self._local, self.local_len)):
            first_needed = max(self._center - length // 2, 0)
            for p in [p for p in store if p < first_needed]:
                del store[p]
        for p in [p for p in self._info if p < self._center]:
            del self._info[p]

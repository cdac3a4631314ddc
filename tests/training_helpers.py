"""Generated stand-ins for the files the training datasets come with (regressors, layouts)."""
from __future__ import annotations

import numpy as np

NUM_VERTICES = 6890


def generated_regressor(rows: int, seed: int = 0) -> np.ndarray:
    """A joint regressor in SPIN's layout [rows, 6890]: each joint a convex mix of 8 vertices."""
    rng = np.random.default_rng(seed)
    reg = np.zeros((rows, NUM_VERTICES))
    for j in range(rows):
        ids = rng.choice(NUM_VERTICES, 8, replace=False)
        w = rng.random(8)
        reg[j, ids] = w / w.sum()
    return reg

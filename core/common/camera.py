"""The camera of the footage: what is known or guessed about it."""
from __future__ import annotations

import math


def default_focal_length(width: int, height: int) -> float:
    """CLIFF's guess of an unknown focal length: the image diagonal, in pixels."""
    return float(math.hypot(width, height))

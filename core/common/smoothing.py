"""Jitter filters for keyed motion (numpy only): a zero-phase One-Euro filter.

The One-Euro filter (Casiez et al., CHI 2012) is a low-pass filter whose cutoff rises with
the signal's speed: still poses lose their jitter, fast moves keep their timing. Run
forwards and then backwards over a whole clip, its lag cancels (as with `filtfilt`).
Cutoffs are in hertz and every step uses the clip's frame interval, so a strength means
the same at 24 and at 60 fps.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import rotations


@dataclasses.dataclass(frozen=True)
class OneEuro:
    """Filter settings: `min_cutoff` Hz at rest, rising by `beta` Hz per unit/s of speed."""

    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0

    @classmethod
    def from_strength(cls, strength: float, beta: float = 0.5) -> "OneEuro | None":
        """One knob: 0 = off (None), 0.5 = a 1.5 Hz rest cutoff, 1 = 0.3 Hz.

        The rest cutoff falls geometrically from 8 Hz towards 0.3 Hz as strength goes
        from 0 to 1, so equal steps of the knob feel alike.
        """
        strength = float(strength)
        if not np.isfinite(strength) or strength < 0 or strength > 1:
            raise ValueError(f"smoothing strength must be between 0 and 1, got {strength!r}")
        if strength == 0:
            return None
        return cls(min_cutoff=8.0 * (0.3 / 8.0) ** strength, beta=beta)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, fps: float, settings: OneEuro) -> np.ndarray:
    """Causal One-Euro filter along axis 0.

    x [T, ..., D] samples at `fps` -> same shape. The speed that raises the cutoff is the
    norm over the last axis (a 3D position moves as one point, not three channels).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        return x.copy()
    if x.ndim == 2:
        return _one_euro_rows(x, fps, settings)
    dt = 1.0 / float(fps)
    a_d = float(_alpha(settings.d_cutoff, dt))
    gain, keep = a_d / dt, 1.0 - a_d
    k = 2.0 * math.pi * dt
    k_min, k_beta = k * settings.min_cutoff, k * settings.beta
    out = np.empty_like(x)
    out[0] = x[0]
    dx_hat = np.zeros(x.shape[1:])
    step = np.empty(x.shape[1:])
    speed = np.empty(x.shape[1:-1] + (1,))
    for t in range(1, x.shape[0]):  # in-place maths: this loop is the cost
        np.subtract(x[t], out[t - 1], out=step)
        dx_hat *= keep
        dx_hat += gain * step
        np.sqrt(np.einsum("...d,...d->...", dx_hat, dx_hat)[..., None], out=speed)
        c = k_min + k_beta * speed
        step *= c / (1.0 + c)
        np.add(out[t - 1], step, out=out[t])
    return out


def _one_euro_rows(x: np.ndarray, fps: float, settings: OneEuro) -> np.ndarray:
    """one_euro for x [T, D] in plain floats: per-step numpy calls cost more than the maths."""
    dt = 1.0 / float(fps)
    a_d = float(_alpha(settings.d_cutoff, dt))
    k = 2.0 * math.pi * dt
    gain = a_d / dt
    keep = 1.0 - a_d
    min_cutoff, beta = float(settings.min_cutoff), float(settings.beta)
    sqrt = math.sqrt
    rows = x.tolist()
    if x.shape[1] == 3:  # positions: unrolled, the common case
        px, py, pz = rows[0]
        dx = dy = dz = 0.0
        out = [(px, py, pz)]
        append = out.append
        for vx, vy, vz in rows[1:]:
            dx = gain * (vx - px) + keep * dx
            dy = gain * (vy - py) + keep * dy
            dz = gain * (vz - pz) + keep * dz
            c = k * (min_cutoff + beta * sqrt(dx * dx + dy * dy + dz * dz))
            a = c / (1.0 + c)
            px += a * (vx - px)
            py += a * (vy - py)
            pz += a * (vz - pz)
            append((px, py, pz))
        return np.array(out, dtype=np.float64)
    prev = rows[0]
    out = [prev]
    dx_hat = [0.0] * len(prev)
    for row in rows[1:]:
        dx_hat = [gain * (v - p) + keep * d for v, p, d in zip(row, prev, dx_hat)]
        c = k * (min_cutoff + beta * sqrt(sum(d * d for d in dx_hat)))
        a = c / (1.0 + c)
        prev = [p + a * (v - p) for v, p in zip(row, prev)]
        out.append(prev)
    return np.array(out, dtype=np.float64)


def smooth_positions(x: np.ndarray, fps: float, settings: OneEuro | None) -> np.ndarray:
    """Zero-phase One-Euro (forwards, then backwards): x [T, ...] -> same shape.

    Both ends are padded with a point reflection of half a second of signal (as
    `scipy.signal.filtfilt` pads), so a clip that starts or ends mid-move keeps its ends.
    """
    x = np.asarray(x, dtype=np.float64)
    if settings is None or x.shape[0] < 3:
        return x.copy()
    pad = min(x.shape[0] - 1, max(1, int(round(0.5 * float(fps)))))
    padded = np.concatenate([2 * x[:1] - x[pad:0:-1], x, 2 * x[-1:] - x[-2:-pad - 2:-1]])
    forward = one_euro(padded, fps, settings)
    both = one_euro(forward[::-1], fps, settings)[::-1]
    return both[pad:pad + x.shape[0]].copy()


def smooth_quaternions(q: np.ndarray, fps: float, settings: OneEuro | None) -> np.ndarray:
    """Zero-phase One-Euro on unit quaternions, joint by joint.

    q [T, J, 4] (w, x, y, z) -> [T, J, 4]. Signs are made continuous first (q and -q are
    the same rotation, and filtering across a sign flip would pass through zero), the
    four components are filtered together and the result renormalised; for the small
    steps between frames this is a close stand-in for filtering on the sphere.
    """
    q = rotations.make_quaternions_continuous(np.asarray(q, dtype=np.float64), axis=0)
    if settings is None:
        return q
    out = smooth_positions(q, fps, settings)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)

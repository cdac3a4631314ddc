"""A generated body model in SMPL's file layout, for tests and synthetic training data.

The real SMPL files are licence-gated, so the project makes its own: a closed tube mesh
around each bone of SMPL's 24-joint tree with human proportions, exactly 6890 vertices,
linear blend skinning weights, a sparse joint regressor that recovers the skeleton
exactly, 10 shape directions (height, girth, limb lengths...) and small pose correctives.
It is written as a `.pkl` with the same keys as the official files (plain numpy and
scipy arrays, no chumpy), so `smplx.SMPL` and our loader read it unchanged.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path
from ..worker.body_model import NUM_JOINTS, NUM_POSE_BASIS, NUM_VERTICES
from ..common.skeleton import DEFAULT_REST_JOINTS, PARENTS

SEGMENTS = 16  # vertices around each tube


def _tubes(joints: np.ndarray) -> list[dict]:
    """One tube per bone plus extensions past the leaf joints; radii in metres."""
    radius = {  # child joint -> (radius at parent end, radius at child end, depth/width ratio)
        1: (0.09, 0.085, 1.0), 2: (0.09, 0.085, 1.0), 3: (0.15, 0.14, 0.7),
        4: (0.08, 0.055, 1.0), 5: (0.08, 0.055, 1.0), 6: (0.14, 0.15, 0.7),
        7: (0.05, 0.04, 1.0), 8: (0.05, 0.04, 1.0), 9: (0.15, 0.16, 0.65),
        10: (0.045, 0.04, 0.7), 11: (0.045, 0.04, 0.7), 12: (0.06, 0.05, 1.0),
        13: (0.06, 0.055, 1.0), 14: (0.06, 0.055, 1.0), 15: (0.05, 0.06, 1.0),
        16: (0.055, 0.05, 1.0), 17: (0.055, 0.05, 1.0), 18: (0.05, 0.04, 1.0),
        19: (0.05, 0.04, 1.0), 20: (0.04, 0.03, 1.0), 21: (0.04, 0.03, 1.0),
        22: (0.03, 0.03, 0.5), 23: (0.03, 0.03, 0.5),
    }
    tubes = []
    for j in range(1, NUM_JOINTS):
        p = int(PARENTS[j])
        r0, r1, ratio = radius[j]
        tubes.append(dict(a=joints[p], b=joints[j], r0=r0, r1=r1, ratio=ratio, bone=p, child=j, parent=int(PARENTS[p])))
    up = np.array([0.0, 1.0, 0.0])
    fwd = np.array([0.0, 0.0, 1.0])
    side = np.array([1.0, 0.0, 0.0])
    extensions = [  # (leaf joint, direction, length, radius)
        (15, up, 0.17, 0.095), (10, fwd, 0.07, 0.035), (11, fwd, 0.07, 0.035),
        (22, side, 0.09, 0.025), (23, -side, 0.09, 0.025),
    ]
    for leaf, direction, length, r in extensions:
        a = joints[leaf]
        tubes.append(dict(a=a, b=a + direction * length, r0=r, r1=r * 0.8, ratio=0.8 if leaf != 15 else 1.0,
                          bone=leaf, child=-1, parent=int(PARENTS[leaf])))
    # A bar across the hips fills the pelvis between the legs.
    tubes.append(dict(a=joints[2], b=joints[1], r0=0.095, r1=0.095, ratio=0.9, bone=0, child=-1, parent=-1))
    return tubes


def _ring_counts(tubes: list[dict]) -> list[int]:
    """Rings per tube, roughly by length, summing so that the mesh has exactly 6890 vertices."""
    target_rings, rem = divmod(NUM_VERTICES - 2 * len(tubes), SEGMENTS)
    if rem:
        raise AssertionError("tube count must make the vertex total reachable")
    lengths = np.array([np.linalg.norm(t["b"] - t["a"]) + 0.02 for t in tubes])
    counts = np.maximum(3, np.round(lengths / lengths.sum() * target_rings)).astype(int)
    torso = 2  # spine1 -> spine2 tube absorbs the rounding
    counts[torso] += target_rings - counts.sum()
    return counts.tolist()


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to `axis`; the first lies along the body's width when it can."""
    ref = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(ref, axis)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def generate_smpl_model(seed: int = 0) -> dict:
    """Arrays of an SMPL-layout model: v_template, shapedirs, posedirs, J_regressor, ..."""
    import scipy.sparse

    rng = np.random.default_rng(seed)
    joints = DEFAULT_REST_JOINTS.copy()
    tubes = _tubes(joints)
    rings = _ring_counts(tubes)

    verts, faces, weights_rows, axis_points, joint_rings = [], [], [], [], {}
    offset = 0
    for tube, n_rings in zip(tubes, rings):
        a, b = tube["a"], tube["b"]
        axis = b - a
        length = np.linalg.norm(axis)
        axis = axis / length
        u, v = _frame(axis)
        ts = np.linspace(0.0, 1.0, n_rings)
        angles = np.linspace(0.0, 2 * np.pi, SEGMENTS, endpoint=False)
        start = offset
        for ti in ts:
            r = tube["r0"] + (tube["r1"] - tube["r0"]) * ti
            centre = a + axis * length * ti
            ring = centre + r * (np.cos(angles)[:, None] * u + tube["ratio"] * np.sin(angles)[:, None] * v)
            verts.append(ring)
            axis_points.append(np.repeat(centre[None], SEGMENTS, 0))
            weights_rows.append(np.repeat(_skin(tube, ti)[None], SEGMENTS, 0))
        caps = [a - axis * tube["r0"] * 0.6, b + axis * tube["r1"] * 0.6]
        verts.append(np.stack(caps))
        axis_points.append(np.stack([a, b]))
        weights_rows.append(np.stack([_skin(tube, 0.0), _skin(tube, 1.0)]))
        cap0, cap1 = start + n_rings * SEGMENTS, start + n_rings * SEGMENTS + 1
        for i in range(n_rings - 1):
            for s in range(SEGMENTS):
                p0 = start + i * SEGMENTS + s
                p1 = start + i * SEGMENTS + (s + 1) % SEGMENTS
                faces += [(p0, p1, p1 + SEGMENTS), (p0, p1 + SEGMENTS, p0 + SEGMENTS)]
        last = start + (n_rings - 1) * SEGMENTS
        for s in range(SEGMENTS):
            faces.append((cap0, start + (s + 1) % SEGMENTS, start + s))
            faces.append((cap1, last + s, last + (s + 1) % SEGMENTS))
        # Rings centred exactly on a joint regress that joint without error.
        joint_rings.setdefault(tube["bone"], list(range(start, start + SEGMENTS)))
        if tube["child"] >= 0:
            joint_rings.setdefault(tube["child"], list(range(last, last + SEGMENTS)))
        offset = cap1 + 1

    v_template = np.concatenate(verts).astype(np.float64)
    assert v_template.shape == (NUM_VERTICES, 3), v_template.shape
    centres = np.concatenate(axis_points)
    weights = np.concatenate(weights_rows)
    rows, cols, vals = [], [], []
    for j in range(NUM_JOINTS):
        ids = joint_rings[j]
        rows += [j] * len(ids)
        cols += ids
        vals += [1.0 / len(ids)] * len(ids)
    j_regressor = scipy.sparse.csc_matrix((vals, (rows, cols)), shape=(NUM_JOINTS, NUM_VERTICES))

    shapedirs = _shape_directions(v_template, centres, joints, rng)
    posedirs = _pose_correctives(weights, rng)
    kintree = np.stack([np.where(PARENTS < 0, 4294967295, PARENTS), np.arange(NUM_JOINTS)]).astype(np.int64)
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": np.asarray(faces, dtype=np.uint32),
        "J": joints.copy(),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "vtm_generated": True,
    }


def _skin(tube: dict, t: float) -> np.ndarray:
    """Skinning weights of a tube vertex at fraction t along its bone."""
    w = np.zeros(NUM_JOINTS)
    smooth = lambda x: float(np.clip(x, 0.0, 1.0) ** 2 * (3 - 2 * np.clip(x, 0.0, 1.0)))
    to_child = 0.5 * smooth((t - 0.7) / 0.3) if tube["child"] >= 0 else 0.0
    to_parent = 0.5 * smooth((0.3 - t) / 0.3) if tube["parent"] >= 0 and tube["child"] >= 0 else 0.0
    w[tube["bone"]] = 1.0 - to_child - to_parent
    if to_child:
        w[tube["child"]] += to_child
    if to_parent:
        w[tube["parent"]] += to_parent
    return w


def _shape_directions(v: np.ndarray, centres: np.ndarray, joints: np.ndarray, rng) -> np.ndarray:
    """[6890, 3, 10] displacement per unit of each beta, in metres."""
    dirs = np.zeros((NUM_VERTICES, 3, 10))
    pelvis, hip_y, shoulder_x = joints[0], joints[1, 1], joints[16, 0]
    sign_x = np.sign(v[:, 0])
    radial = v - centres
    dirs[:, :, 0] = 0.06 * (v - pelvis)                                         # overall size
    dirs[:, :, 1] = 0.25 * radial                                               # girth
    leg = np.clip((hip_y - v[:, 1]) / 0.8, 0.0, 1.0)
    dirs[:, 1, 2] = -0.05 * leg                                                 # leg length
    arm = np.clip((np.abs(v[:, 0]) - shoulder_x) / 0.6, 0.0, 1.0) * (v[:, 1] > 0.05)
    dirs[:, 0, 3] = 0.04 * sign_x * arm                                         # arm length
    dirs[:, 0, 4] = 0.02 * sign_x * (np.abs(v[:, 0]) > 0.07) * (v[:, 1] > 0.1)  # shoulder width
    dirs[:, 0, 5] = 0.015 * sign_x * (v[:, 1] < -0.1) * (np.abs(v[:, 0]) > 0.03)  # hip width
    dirs[:, 1, 6] = 0.04 * np.clip((v[:, 1] - pelvis[1]) / 0.5, 0.0, 1.0)     # torso length
    head = np.clip((v[:, 1] - 0.3) / 0.1, 0.0, 1.0)
    dirs[:, :, 7] = 0.1 * head[:, None] * (v - joints[15])                      # head size
    belly = np.exp(-((v[:, 1] + 0.05) / 0.15) ** 2) * (np.abs(v[:, 0]) < 0.17)
    dirs[:, 2, 8] = 0.03 * belly * np.clip(radial[:, 2] / 0.1, 0.0, 1.0)       # belly
    freq = rng.normal(size=(3, 3)) * 3.0
    dirs[:, :, 9] = 0.01 * np.sin(v @ freq)                                     # smooth variation
    return dirs


def _pose_correctives(weights: np.ndarray, rng) -> np.ndarray:
    """[6890, 3, 207] small pose-dependent offsets, each tied to the joint that drives it."""
    posedirs = np.zeros((NUM_VERTICES, 3, NUM_POSE_BASIS))
    for j in range(1, NUM_JOINTS):
        direction = rng.normal(size=(3, 9)) * 0.002
        posedirs[:, :, (j - 1) * 9:j * 9] = weights[:, j, None, None] * direction[None]
    return posedirs


def write_smpl_pkl(path: str | os.PathLike, seed: int = 0) -> Path:
    """Generate the model and write it as an SMPL-layout `.pkl` (atomically)."""
    data = generate_smpl_model(seed)
    with atomic_path(path, suffix=".pkl") as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(data, fh, protocol=2)
    return Path(path)

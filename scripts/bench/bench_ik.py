#!/usr/bin/env python
"""IK accuracy and speed: random poses of the generated SMPL-format body, joints -> IK -> FK.

    python scripts/bench/bench_ik.py [--poses 500] [--seed 0]

The body is the project's generated SMPL-layout model (video_to_motion.core.training.body_gen) posed by real
smplx with random shapes and random poses within human joint ranges (the limits of
tests/test_ik.py); its 24 joints go through video_to_motion.core.estimators.blazepose.ik.solve and back through forward
kinematics. Prints joint position errors (mm) per joint group and the time per frame,
once with joints only and once with side vectors taken from the true pose (which also
fixes every twist, so the rotations themselves can be compared).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


GROUPS = {"torso (0,3,6,9)": [0, 3, 6, 9], "legs": [1, 2, 4, 5, 7, 8, 10, 11], "head, neck": [12, 15],
          "arms": [13, 14, 16, 17, 18, 19, 20, 21, 22, 23]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--poses", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    from video_to_motion.core.estimators.blazepose import ik

    from video_to_motion.core.common import rotations
    from video_to_motion.core.training.body_gen import write_smpl_pkl
    from video_to_motion.core.worker.body_model import create_smpl, smpl_rest_joints
    from video_to_motion.core.common.skeleton import forward_kinematics, global_rotations
    from video_to_motion.core.training.pose_prior import random_limited_poses as random_poses

    with tempfile.TemporaryDirectory() as tmp:
        model = create_smpl(write_smpl_pkl(Path(tmp) / "SMPL_GENERATED.pkl"))
    n = args.poses
    rng = np.random.default_rng(args.seed)
    betas = rng.normal(size=(n, 10))
    poses = random_poses(n, seed=args.seed + 1)
    trans = rng.normal(size=(n, 3))
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)
    with torch.no_grad():
        out = model(betas=t(betas), global_orient=t(poses[:, :3]), body_pose=t(poses[:, 3:]), transl=t(trans))
    joints = out.joints[:, :24].numpy().astype(np.float64)
    rest = smpl_rest_joints(model, betas).astype(np.float64)
    true_local = rotations.axis_angle_to_matrix(poses.reshape(n, 24, 3))

    results = {}
    for mode in ("joints only", "joints + true side vectors"):
        errors, rot_errors, elapsed = [], [], 0.0
        for f in range(n):
            kwargs = {}
            if mode != "joints only":
                glob = global_rotations(true_local[f:f + 1])
                axes = ik._rest_side_axes(rest[f], ik.SIDE_AXES)
                kwargs = dict(sides=np.einsum("fjab,jb->fja", glob, axes),
                              leaf_directions=np.einsum("fjab,jb->fja", glob, ik.LEAF_AXES))
            t0 = time.perf_counter()
            rot = ik.solve(joints[f:f + 1], rest[f], **kwargs)
            elapsed += time.perf_counter() - t0
            fk = forward_kinematics(rot, rest[f], (joints[f, 0] - rest[f, 0])[None])
            errors.append(np.linalg.norm(fk[0] - joints[f], axis=-1))
            rel = np.swapaxes(rot[0], -1, -2) @ true_local[f]
            rot_errors.append(np.degrees(np.linalg.norm(rotations.matrix_to_axis_angle(rel), axis=-1)))
        results[mode] = (np.array(errors) * 1000, np.array(rot_errors), elapsed / n)

    # Batch speed: one track of n frames of one body.
    batch = forward_kinematics(true_local, rest[0])
    t0 = time.perf_counter()
    ik.solve(batch, rest[0])
    batch_ms = 1000 * (time.perf_counter() - t0) / n

    print(f"IK on {n} random poses of the generated SMPL-format body (random betas, smplx joints)")
    print()
    print(f"{'mode':<28} {'group':<16} {'mean mm':>9} {'max mm':>9} {'rot mean deg':>13} {'rot max deg':>12}")
    for mode, (err, rot_err, _) in results.items():
        for name, ids in [("all joints", list(range(24)))] + list(GROUPS.items()):
            # Leaves (feet, hands) have no data on their twist without side vectors.
            rot_ids = [j for j in ids if mode != "joints only" or j not in (10, 11, 15, 22, 23)]
            print(f"{mode:<28} {name:<16} {err[:, ids].mean():>9.5f} {err[:, ids].max():>9.5f} "
                  f"{rot_err[:, rot_ids].mean():>13.3f} {rot_err[:, rot_ids].max():>12.3f}")
    print()
    for mode, (_, _, per_frame) in results.items():
        print(f"time, one frame per call ({mode}): {1000 * per_frame:.2f} ms/frame")
    print(f"time, one track of {n} frames in one call (joints only): {batch_ms:.3f} ms/frame")
    print()
    print("rotation errors with joints only are twists about bones, which joint positions cannot see")
    return 0


if __name__ == "__main__":
    sys.exit(main())

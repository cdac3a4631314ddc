"""Generated scenes with a known static camera: people of the default skeleton (scaled)
standing or walking on a floor, their joints projected into BlazePose landmark slots,
written as the Motion an estimator would give (rows in the camera frame)."""
from __future__ import annotations

import math

import numpy as np

from video_to_motion.core.common import camera as cam
from video_to_motion.core.common import rotations
from video_to_motion.core.common.camera import default_focal_length
from video_to_motion.core.common.motion import Motion, sort_rows
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics

W, H = 1280, 720
# SMPL joint -> BlazePose landmark slots filled with its projection.
LANDMARK_SLOTS = {15: (0, 7, 8), 7: (27, 29), 8: (28, 30), 10: (31,), 11: (32,), 1: (23,), 2: (24,),
                  4: (25,), 5: (26,), 16: (11,), 17: (12,), 18: (13,), 19: (14,), 20: (15,), 21: (16,)}
# SMPL's y-up body frame -> the Z-up world.
YUP_TO_ZUP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


def standing_pose(frames: int, phase: float = 0.0, walk: bool = True) -> np.ndarray:
    """[F, 24, 3] local axis-angles: arms down, legs swinging a little when walking."""
    poses = np.zeros((frames, 24, 3))
    poses[:, 16, 2], poses[:, 17, 2] = -1.2, 1.2     # shoulders: arms down
    if walk:
        swing = 0.35 * np.sin(2 * np.pi * 1.0 * np.arange(frames) / 30.0 + phase)
        poses[:, 1, 0], poses[:, 2, 0] = swing, -swing
    return poses


def person_joints(poses: np.ndarray, start_xy, velocity_xy, yaw: float, scale: float,
                  lying: bool = False, fps: float = 30.0, lift: float = 0.0):
    """World joints [F, 24, 3] (feet on Z = `lift`: 0 is the floor), world root rotations
    [F, 3, 3] and rest [24, 3]."""
    n = len(poses)
    rest = DEFAULT_REST_JOINTS * scale
    local = rotations.axis_angle_to_matrix(poses)
    turn = rotations.axis_angle_to_matrix(np.array([0.0, 0.0, yaw])) @ YUP_TO_ZUP
    if lying:  # face up along the floor
        turn = turn @ rotations.axis_angle_to_matrix(np.array([-math.pi / 2, 0.0, 0.0]))
    local[:, 0] = turn @ local[:, 0]
    joints = forward_kinematics(local, rest)
    joints[..., 2] -= joints[:, (7, 8, 10, 11), 2].min() - 0.045 * scale - lift
    path = np.asarray(start_xy, float) + np.arange(n)[:, None] / fps * np.asarray(velocity_xy, float)
    joints[..., :2] += path[:, None]
    return joints, local, rest


def scene_motion(people: list[dict], focal: float, height: float, pitch_deg: float, roll_deg: float,
                 noise_px: float = 0.0, seed: int = 0, frames: int = 45) -> Motion:
    """A Motion of the people (dicts of person_joints arguments) seen by the given camera.

    Rows hold the true local rotations on the default skeleton; their translations are
    what a root fit with the default focal length guess gives (the pelvis on its pixel's
    ray as that focal length reads it). The motion's focal length is that guess.
    """
    rng = np.random.default_rng(seed)
    r_cw = cam.camera_rotation(math.radians(pitch_deg), math.radians(roll_deg))
    centre = np.array([0.0, 0.0, height])
    guess = default_focal_length(W, H)
    parts = []
    for track, spec in enumerate(people):
        poses = standing_pose(frames, walk=spec.get("walk", True))
        if spec.get("sit"):  # on a chair: hips and knees bent a right angle, the back upright
            poses[:, 1, 0] = poses[:, 2, 0] = -math.pi / 2
            poses[:, 4, 0] = poses[:, 5, 0] = math.pi / 2
        joints, local, rest = person_joints(poses, **{k: v for k, v in spec.items() if k not in ("walk", "sit")})
        cam_joints = (joints - centre) @ r_cw
        uv = focal * cam_joints[..., :2] / cam_joints[..., 2:] + [W / 2, H / 2]
        uv = uv + rng.normal(0, noise_px, uv.shape)
        lm = np.zeros((frames, 33, 2))
        vis = np.zeros((frames, 33))
        for j, slots in LANDMARK_SLOTS.items():
            for k in slots:
                lm[:, k], vis[:, k] = uv[:, j], 1.0
        cam_local = local.copy()
        cam_local[:, 0] = r_cw.T @ local[:, 0]
        default_rest = DEFAULT_REST_JOINTS
        posed = forward_kinematics(cam_local, default_rest)
        # Where a root fit with the guessed focal length and the default skeleton puts the
        # pelvis: on the ray of its pixel (as the guess reads it), at the depth its size says.
        depth = cam_joints[:, 0, 2] * (guess / focal) / (rest[15, 1] / default_rest[15, 1])
        ray = np.concatenate([(uv[:, 0] - [W / 2, H / 2]) / guess, np.ones((frames, 1))], axis=1)
        trans = ray * depth[:, None] - posed[:, 0]
        lo, hi = uv.min(1), uv.max(1)
        parts.append(dict(frame_ids=np.arange(frames, dtype=np.int32), track_ids=np.full(frames, track + 1, np.int32),
                          poses=rotations.matrix_to_axis_angle(cam_local).reshape(frames, 72),
                          trans=trans, bboxes=np.concatenate([lo, hi], 1), lm=lm, vis=vis))
    cat = lambda k: np.concatenate([p[k] for p in parts])
    n = len(cat("frame_ids"))
    motion = Motion(estimator="scene", fps=30.0, image_size=(W, H), focal_length=guess,
                    frame_ids=cat("frame_ids"), track_ids=cat("track_ids"),
                    poses=cat("poses").astype(np.float32), betas=np.zeros((n, 10), np.float32),
                    trans=cat("trans").astype(np.float32),
                    rest_joints=np.broadcast_to(DEFAULT_REST_JOINTS, (n, 24, 3)).astype(np.float32),
                    bboxes=cat("bboxes").astype(np.float32), scores=np.ones(n, np.float32),
                    extras={"landmarks_2d": cat("lm").astype(np.float32),
                            "landmark_visibility": cat("vis").astype(np.float32)})
    return sort_rows(motion)


def crowd(count: int = 4, seed: int = 1) -> list[dict]:
    """People spread over the floor in front of the camera, some walking."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        out.append(dict(start_xy=(rng.uniform(-4, 4), rng.uniform(6, 25)),
                        velocity_xy=(rng.uniform(-1.2, 1.2), rng.uniform(-1.0, 1.0)) if k % 2 == 0 else (0.0, 0.0),
                        yaw=float(rng.uniform(0, 2 * math.pi)), scale=float(rng.uniform(0.92, 1.08)),
                        walk=k % 2 == 0))
    return out

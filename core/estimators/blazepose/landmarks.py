"""BlazePose's 33 landmarks -> targets for SMPL's 24 joints (positions, side vectors).

numpy only. Input frame: MediaPipe's "world" landmarks, metric, origin at the midpoint
of the hips, axes aligned with the camera that saw the crop (x right, y down, z away
from the camera), i.e. the OpenCV camera frame shifted to the hips. Output targets are in
the same frame, so the root rotation that `core.ik.solve` finds maps SMPL's rest frame
(x to the body's left, y up, z forward) into the camera frame.

BlazePose has no spine, collar or neck points, and its hips and shoulders sit elsewhere
than SMPL's joints. So the torso is built from two frames only (pelvis from the hip line,
chest from the shoulder line, both sharing the hips-to-shoulders axis), the spine joints
take the twist between them in equal steps, the collars move with the chest, the neck
takes half the head's turn, and every joint is placed by the *rest skeleton's* offsets
rotated by those frames. Limbs take their directions from the landmarks and their lengths
from the rest skeleton. The result is a skeleton with the rest bone lengths whose bone
directions and side vectors say what BlazePose saw; `core.ik.solve` turns it into
rotations exactly.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...common import rotations
from . import ik
from .ik import unit
from ...common.skeleton import NUM_JOINTS

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = 33
LM = {name: i for i, name in enumerate(LANDMARK_NAMES)}

# SMPL joint -> the BlazePose landmark at (nearly) the same place on the body; used to fit
# the root translation to the 2D landmarks.
SMPL_TO_LANDMARK = {
    1: LM["left_hip"], 2: LM["right_hip"], 4: LM["left_knee"], 5: LM["right_knee"],
    7: LM["left_ankle"], 8: LM["right_ankle"], 16: LM["left_shoulder"], 17: LM["right_shoulder"],
    18: LM["left_elbow"], 19: LM["right_elbow"], 20: LM["left_wrist"], 21: LM["right_wrist"],
}

# A limb's bend sets the twist of its two joints fully once the limb bends this much;
# below BEND_OFF the bending plane is noise and the twist follows the parent instead.
BEND_FULL = np.deg2rad(35.0)
BEND_OFF = np.deg2rad(12.0)
# The head may turn at most this far from the chest (neck + head); beyond, BlazePose's
# face points are taken to be wrong.
MAX_HEAD_TURN = np.deg2rad(75.0)


@dataclasses.dataclass
class JointTargets:
    """What `core.ik.solve` takes; arrays over F frames."""

    joints: np.ndarray           # [F, 24, 3]
    sides: np.ndarray            # [F, 24, 3], NaN where none
    side_weights: np.ndarray     # [F, 24]
    leaf_directions: np.ndarray  # [F, 24, 3], NaN where none


def _frame(x_axis: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation [F,3,3] whose columns are the body's left, up and forward axes.

    up [F,3] is kept; x_axis [F,3] (towards the body's left) is made perpendicular to it.
    """
    y = unit(up)
    x = unit(x_axis - np.sum(x_axis * y, axis=-1, keepdims=True) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _hinge_axis(upper: np.ndarray, lower: np.ndarray, rest_upper: np.ndarray, rest_lower: np.ndarray,
                hinge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a limb's hinge axis points, and how well the limb's bend defines it.

    The middle joint (knee, elbow) is taken to bend about the fixed axis `hinge` [3] of
    the rest frame, so the axis keeps its rest angles to both bones: h.upper = hinge.rest_upper
    and h.lower = hinge.rest_lower. Of the two such axes, the one on the side of
    upper x lower is taken (the limb bends forwards, not backwards). SMPL's rest limbs are
    neither straight nor perpendicular to their hinge, so this is exact where the plain
    bending plane (upper x lower) is off by several degrees.
    upper, lower [F,3]; rest_upper, rest_lower [3] -> (axis [F,3], weight [F] in [0,1]).
    """
    t, s = unit(upper), unit(lower)
    c1, c2 = float(hinge @ unit(rest_upper)), float(hinge @ unit(rest_lower))
    d = np.clip(np.sum(t * s, axis=-1), -1.0, 1.0)
    normal = np.cross(t, s)
    sin = np.linalg.norm(normal, axis=-1)
    den = np.maximum(1.0 - d * d, 1e-12)
    alpha = ((c1 - c2 * d) / den)[:, None]
    beta = ((c2 - c1 * d) / den)[:, None]
    in_plane = alpha * t + beta * s
    gamma = np.sqrt(np.clip(1.0 - np.sum(in_plane * in_plane, axis=-1), 0.0, None))[:, None]
    axis = unit(in_plane + gamma * unit(normal))
    return axis, _smoothstep(np.arctan2(sin, d), BEND_OFF, BEND_FULL)


def _turn_between(a: np.ndarray, b: np.ndarray, fraction: float, limit: float | None = None) -> np.ndarray:
    """a @ R(fraction of the relative rotation a^T b), optionally limiting that rotation. [F,3,3]."""
    rel = rotations.matrix_to_axis_angle(np.swapaxes(a, -1, -2) @ b)
    angle = np.linalg.norm(rel, axis=-1, keepdims=True)
    if limit is not None:
        rel = rel * np.minimum(1.0, limit / np.maximum(angle, 1e-12))
    return a @ rotations.axis_angle_to_matrix(rel * fraction)


def smpl_targets(world: np.ndarray, rest_joints: np.ndarray, visibility: np.ndarray | None = None) -> JointTargets:
    """SMPL joint targets from BlazePose world landmarks.

    world [F, 33, 3] (metres, camera-aligned, y down); rest_joints [24, 3] in SMPL's frame;
    visibility [F, 33] in [0, 1] (scales how much the hand landmarks set the wrists' twist).
    """
    lm = np.asarray(world, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    num_frames = lm.shape[0]
    vis = np.ones(lm.shape[:2]) if visibility is None else np.asarray(visibility, dtype=np.float64)
    p = lambda name: lm[:, LM[name]]
    off = lambda child, parent: rest[child] - rest[parent]
    rot = lambda g, v: np.einsum("fij,j->fi", g, v)

    joints = np.zeros((num_frames, NUM_JOINTS, 3))
    sides = np.full((num_frames, NUM_JOINTS, 3), np.nan)
    weights = np.zeros((num_frames, NUM_JOINTS))
    leaf = np.full((num_frames, NUM_JOINTS, 3), np.nan)
    glob = {}

    # Torso: pelvis and chest frames share the hips-to-shoulders axis ("up" is -y in the
    # camera frame when upright); the spine joints share out the twist between them.
    # Each frame is read off the landmarks and compared with the same construction on the
    # rest skeleton (whose hips-to-shoulders axis is not exactly SMPL's y axis).
    hip_mid = 0.5 * (p("left_hip") + p("right_hip"))
    up = 0.5 * (p("left_shoulder") + p("right_shoulder")) - hip_mid
    rest_up = (0.5 * (rest[16] + rest[17]) - 0.5 * (rest[1] + rest[2]))[None]
    pelvis_frame = _frame(p("left_hip") - p("right_hip"), up) @ _frame((rest[1] - rest[2])[None], rest_up)[0].T
    chest_frame = _frame(p("left_shoulder") - p("right_shoulder"), up) @ \
        _frame((rest[16] - rest[17])[None], rest_up)[0].T
    glob[0] = pelvis_frame
    glob[3] = _turn_between(pelvis_frame, chest_frame, 1 / 3)
    glob[6] = _turn_between(pelvis_frame, chest_frame, 2 / 3)
    glob[9] = chest_frame
    glob[13] = glob[14] = chest_frame

    # SMPL's hip joints' midpoint sits at BlazePose's hip midpoint.
    joints[:, 0] = hip_mid + rot(pelvis_frame, rest[0] - 0.5 * (rest[1] + rest[2]))
    for j, parent in ((1, 0), (2, 0), (3, 0), (6, 3), (9, 6), (12, 9), (13, 9), (14, 9), (16, 13), (17, 14)):
        joints[:, j] = joints[:, parent] + rot(glob[parent], off(j, parent))
    for j in (0, 3, 6, 9):
        sides[:, j], weights[:, j] = glob[j][..., 0], 1.0
    for j in (13, 14):
        sides[:, j], weights[:, j] = glob[j][..., 2], 1.0

    # Head: ears give its left axis, ears -> eyes its forward axis.
    ear_mid = 0.5 * (p("left_ear") + p("right_ear"))
    eye_mid = 0.5 * (p("left_eye") + p("right_eye"))
    ears = p("left_ear") - p("right_ear")
    head_frame = _frame(ears, np.cross(eye_mid - ear_mid, ears))
    head_ok = np.isfinite(head_frame).all(axis=(-1, -2)) & (np.linalg.norm(ears, axis=-1) > 1e-4)
    head_frame = np.where(head_ok[:, None, None], head_frame, chest_frame)
    head_frame = _turn_between(chest_frame, head_frame, 1.0, MAX_HEAD_TURN)
    glob[12] = _turn_between(chest_frame, head_frame, 0.5)
    joints[:, 15] = joints[:, 12] + rot(glob[12], off(15, 12))
    sides[:, 12], weights[:, 12] = glob[12][..., 0], 1.0
    sides[:, 15], weights[:, 15] = head_frame[..., 0], 1.0
    leaf[:, 15] = head_frame[..., 1]

    def limb(top: int, mid: int, end: int, upper: np.ndarray, lower: np.ndarray) -> None:
        """A two-bone limb: rest bone lengths along the landmarks' directions [F, 3], and
        the hinge's axis as the side of its top and middle joints."""
        joints[:, mid] = joints[:, top] + np.linalg.norm(off(mid, top)) * unit(upper)
        joints[:, end] = joints[:, mid] + np.linalg.norm(off(end, mid)) * unit(lower)
        normal, w = _hinge_axis(upper, lower, off(mid, top), off(end, mid), ik.SIDE_AXES[top])
        for j in (top, mid):
            sides[:, j], weights[:, j] = normal, w

    for side in ("left", "right"):
        s = 0 if side == "left" else 1
        hip, knee, ankle, foot = 1 + s, 4 + s, 7 + s, 10 + s
        limb(hip, knee, ankle, p(f"{side}_knee") - p(f"{side}_hip"), p(f"{side}_ankle") - p(f"{side}_knee"))
        # Foot: heel -> toes is forward, the ankle above the heel is up.
        forward = p(f"{side}_foot_index") - p(f"{side}_heel")
        foot_up = p(f"{side}_ankle") - p(f"{side}_heel")
        foot_frame = _frame(np.cross(foot_up, forward), foot_up - _project(foot_up, forward))
        joints[:, foot] = joints[:, ankle] + rot(foot_frame, off(foot, ankle))
        sides[:, ankle], weights[:, ankle] = foot_frame[..., 0], 1.0

        shoulder, elbow, wrist, hand = 16 + s, 18 + s, 20 + s, 22 + s
        limb(shoulder, elbow, wrist, p(f"{side}_elbow") - p(f"{side}_shoulder"),
             p(f"{side}_wrist") - p(f"{side}_elbow"))
        palm = 0.5 * (p(f"{side}_index") + p(f"{side}_pinky")) - p(f"{side}_wrist")
        joints[:, hand] = joints[:, wrist] + np.linalg.norm(off(hand, wrist)) * unit(palm)
        across = p(f"{side}_index") - p(f"{side}_pinky")
        sides[:, wrist] = across
        weights[:, wrist] = np.minimum(vis[:, LM[f"{side}_index"]], vis[:, LM[f"{side}_pinky"]])
    return JointTargets(joints=joints, sides=sides, side_weights=weights, leaf_directions=leaf)


def _project(v: np.ndarray, onto: np.ndarray) -> np.ndarray:
    """Component of v [F,3] along `onto` [F,3]."""
    u = unit(onto)
    return np.sum(v * u, axis=-1, keepdims=True) * u


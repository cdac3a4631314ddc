"""SMPL fitted to all the evidence of one track over time (torch, batched over frames).

The IK (core.ik) poses the body from BlazePose's 3D world landmarks alone and the root
fit (core.root_fit) only moves it, so the posed joints land several pixels off the 2D
landmarks they came from (BlazePose's 3D is coarser than its 2D). Here the pose of every
frame, the root translation and (with a body model) the person's shape are refined
together, starting from the IK and root fit, by minimising

    E = sum_f,k  w_fk rho(|proj(J_fk) - u_fk| / (SIGMA_PIXELS h_f))        2D landmarks
      + sum_f,j  |J_fj - J_f0 - (T_fj - T_f0)|^2 / SIGMA_WORLD^2             3D landmarks (prior)
      + sum      |accel of J|^2 / (SIGMA_ACCEL / fps^2)^2                    smoothness
      + sum_f,j  |delta_fj|^2 / SIGMA_POSE^2  + limits                       pose prior
      + |depth change|^2 / (SIGMA_DEPTH z)^2  + |shape / shape_sigma|^2    root, shape priors

J_f = forward kinematics of rest(betas) under R0_f exp(delta_f), plus the translation;
T_f the IK's 3D targets (root-relative, camera axes); u_fk the 2D landmarks with weights
w_fk (visibility; 0: missing); h_f the person's size in pixels; rho the Cauchy loss (a
wrong landmark pulls little); delta_f the per-joint change from the IK. Each joint may
turn at most MAX_ANGLE from the rest pose (rotation angle), the knees not backwards.
Smoothness is on the joints' acceleration over runs of consecutive frames (gaps cut it).

Solved with L-BFGS (torch.optim, strong Wolfe line search), a fixed number of steps:
half without the smoothness term, half with all terms.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...common.skeleton import NUM_JOINTS, PARENTS

SIGMA_PIXELS = 0.02    # 2D landmark noise, fraction of the person's pixel size
SIGMA_WORLD = 0.5      # m: how far the 3D world landmarks' joints may be off
SIGMA_ACCEL = 25.0     # m/s^2: joint acceleration that is typical of human motion
SIGMA_POSE = 0.6       # rad: change from the IK that is still plausible
SIGMA_DEPTH = 0.03     # relative change of the root's depth from the root fit
ROBUST = 3.0           # Cauchy scale, in units of the 2D noise
# Largest rotation of each joint from the rest pose (radians), by SMPL joint.
MAX_ANGLE = np.deg2rad(np.array([
    180, 120, 120, 60, 160, 160, 45, 70, 70, 45, 45, 45,   # pelvis .. feet (0-11)
    70, 45, 45, 70, 150, 150, 160, 160, 100, 100, 45, 45,  # neck .. hands (12-23)
], np.float64))
KNEES = (4, 5)
# Bones whose lengths a person's skeleton may change together (left and right alike),
# as (child, parent, rest axes that change): hip width, thigh, shank, spine (with the
# hips' height under the pelvis), shoulder width, upper arm, forearm, neck and head.
BONE_GROUPS = (
    ((1, 0, "x"), (2, 0, "x")), ((4, 1, "xyz"), (5, 2, "xyz")), ((7, 4, "xyz"), (8, 5, "xyz")),
    ((1, 0, "yz"), (2, 0, "yz"), (3, 0, "xyz"), (6, 3, "xyz"), (9, 6, "xyz")),
    ((13, 9, "xyz"), (14, 9, "xyz"), (16, 13, "xyz"), (17, 14, "xyz")), ((18, 16, "xyz"), (19, 17, "xyz")),
    ((20, 18, "xyz"), (21, 19, "xyz")), ((12, 9, "xyz"), (15, 12, "xyz")),
)
SIGMA_BETAS = 1.0
SIGMA_BONE = 0.3  # relative change of a bone group's length that is still plausible


def bone_length_space(rest_joints: np.ndarray, parents: np.ndarray = PARENTS) -> np.ndarray:
    """Change of the rest joints [24,3] per relative lengthening of each BONE_GROUPS group.

    -> dirs [24,3,G]: rest + dirs . s has the group's bones (1 + s_g) times as long, and
    everything beyond them moved along. Lets the fit give each person their own
    proportions on a skeleton without a body model.
    """
    rest = np.asarray(rest_joints, np.float64)
    below = [[d for d in range(len(parents)) if _is_below(d, j, parents)] for j in range(len(parents))]
    dirs = np.zeros(rest.shape + (len(BONE_GROUPS),))
    for g, bones in enumerate(BONE_GROUPS):
        for child, parent, axes in bones:
            mask = np.array([axis in axes for axis in "xyz"], np.float64)
            dirs[below[child], :, g] += (rest[child] - rest[parent]) * mask
    return dirs


def _is_below(joint: int, ancestor: int, parents: np.ndarray) -> bool:
    while joint >= 0:
        if joint == ancestor:
            return True
        joint = int(parents[joint])
    return False


@dataclasses.dataclass
class FitResult:
    rotmats: np.ndarray  # [F, 24, 3, 3] local rotations
    trans: np.ndarray    # [F, 3]
    betas: np.ndarray    # [B] (empty without shape directions)
    rest_joints: np.ndarray  # [24, 3] rest skeleton of the fitted shape
    loss: tuple[float, float]  # energy before and after


def fit_track(rotmats: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray, joint_ids: np.ndarray,
              pixels: np.ndarray, weights: np.ndarray, sizes: np.ndarray, focal: float, principal: np.ndarray,
              frames: np.ndarray, fps: float, world_joints: np.ndarray | None = None,
              shape_dirs: np.ndarray | None = None, shape_sigma: float = 1.0, iterations: int = 30,
              device: str = "cpu") -> FitResult:
    """Refine one track's SMPL pose, translation and shape to its 2D and 3D landmarks.

    rotmats [F,24,3,3] and trans [F,3]: the start (IK + root fit); rest_joints [24,3];
    joint_ids [K]: SMPL joints observed in 2D; pixels [F,K,2]; weights [F,K] >= 0
    (0: missing); sizes [F] person size in pixels (box height); focal, principal [2]:
    the camera; frames [F] frame numbers (gaps cut the smoothness); world_joints
    [F,24,3] the IK's targets (None: no 3D prior); shape_dirs [24,3,B]: rest joints'
    change per shape coefficient (SMPL's joint regressor times shapedirs, or
    `bone_length_space`; None: fixed), each with a Gaussian prior of `shape_sigma`.
    """
    import torch

    # The tensors are small ([F,24,3,3]): on the CPU extra threads only wait on each
    # other (eight times slower with two threads on two busy cores than with one).
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        return _fit(rotmats, trans, rest_joints, joint_ids, pixels, weights, sizes, focal, principal, frames, fps,
                    world_joints, shape_dirs, shape_sigma, iterations, device)
    finally:
        torch.set_num_threads(threads)


def _fit(rotmats, trans, rest_joints, joint_ids, pixels, weights, sizes, focal, principal, frames, fps,
         world_joints, shape_dirs, shape_sigma, iterations, device) -> FitResult:
    import torch
    from smplx.lbs import batch_rodrigues

    dt = torch.float64
    t = lambda a: torch.as_tensor(np.asarray(a, np.float64), dtype=dt, device=device)
    num_frames = len(rotmats)
    r0, t0, rest = t(rotmats), t(trans), t(rest_joints)
    uv, w = t(pixels), t(weights)
    scale = t(np.maximum(np.asarray(sizes, np.float64), 1.0))[:, None] * SIGMA_PIXELS
    principal_t = t(principal)
    ids = torch.as_tensor(np.asarray(joint_ids), device=device)
    chain = _Chain(PARENTS, device)
    dirs = None if shape_dirs is None else t(shape_dirs)
    frames = np.asarray(frames, np.int64)
    run = np.flatnonzero((frames[2:] - frames[1:-1] == 1) & (frames[1:-1] - frames[:-2] == 1)) if num_frames > 2 \
        else np.zeros(0, np.int64)
    run = torch.as_tensor(run, device=device)
    accel_scale = SIGMA_ACCEL / fps**2
    depth0 = t0[:, 2] + rest[0, 2]
    cos_limit = t(np.cos(MAX_ANGLE))
    target_rel = None if world_joints is None else t(world_joints) - t(world_joints)[:, :1]

    delta = torch.zeros((num_frames, NUM_JOINTS, 3), dtype=dt, device=device, requires_grad=True)
    d_trans = torch.zeros((num_frames, 3), dtype=dt, device=device, requires_grad=True)
    betas = torch.zeros((0 if dirs is None else dirs.shape[-1],), dtype=dt, device=device, requires_grad=True)
    params = [delta, d_trans] + ([betas] if dirs is not None else [])

    def pose(delta, d_trans, betas):
        rest_b = rest if dirs is None else rest + torch.einsum("jkb,b->jk", dirs, betas)
        local = r0 @ batch_rodrigues(delta.reshape(-1, 3)).reshape(num_frames, NUM_JOINTS, 3, 3)
        joints = chain.joints(local, rest_b)
        return local, joints, rest_b

    def energy(smooth=1.0):
        local, joints, _ = pose(delta, d_trans, betas)
        cam = joints + (t0 + d_trans)[:, None]
        obs = cam[:, ids]
        proj = focal * obs[..., :2] / obs[..., 2:].clamp(min=1e-3) + principal_t
        r2 = ((proj - uv) ** 2).sum(-1) / scale**2
        e = (w * ROBUST**2 * torch.log1p(r2 / ROBUST**2)).sum()
        rel = joints - joints[:, :1]
        if target_rel is not None:
            e = e + ((rel - target_rel) ** 2).sum() / SIGMA_WORLD**2
        if len(run):
            acc = cam[run + 2] - 2 * cam[run + 1] + cam[run]
            e = e + smooth * (acc**2).sum() / accel_scale**2
        e = e + (delta**2).sum() / SIGMA_POSE**2
        cos = ((local.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2)
        e = e + (torch.relu(cos_limit - cos) ** 2).sum() * 100.0
        # SMPL's knees bend about their +x axis: sin of that angle must not be negative.
        knee = local[:, list(KNEES)]
        e = e + (torch.relu(-(knee[..., 2, 1] - knee[..., 1, 2]) / 2) ** 2).sum() * 100.0
        e = e + ((d_trans[:, 2] / (SIGMA_DEPTH * depth0)) ** 2).sum()
        if dirs is not None:
            e = e + (betas**2).sum() / shape_sigma**2
        return e

    with torch.no_grad():
        before = float(energy())
    # First without smoothness: from a jittery start, smoothing first would pull every
    # frame towards its neighbours' errors (a poor local minimum); then all terms.
    for smooth, steps in ((0.0, iterations // 2), (1.0, iterations - iterations // 2)):
        optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=max(steps, 1), history_size=20,
                                      line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

        def closure():
            optimizer.zero_grad()
            e = energy(smooth)
            e.backward()
            return e

        optimizer.step(closure)
    with torch.no_grad():
        after = float(energy())
        if not np.isfinite(after) or after > before:
            delta.zero_(), d_trans.zero_(), betas.zero_()
            after = before
        local, _, rest_b = pose(delta, d_trans, betas)
        return FitResult(rotmats=local.cpu().numpy(), trans=(t0 + d_trans).cpu().numpy(),
                         betas=betas.cpu().numpy(), rest_joints=rest_b.cpu().numpy(), loss=(before, after))


class _Chain:
    """Forward kinematics of a joint tree, one batched step per tree level (SMPL: 9
    levels, against 23 steps joint by joint; the optimiser runs it tens of times)."""

    def __init__(self, parents: np.ndarray, device: str):
        import torch

        depth = np.zeros(len(parents), np.int64)
        for j in range(1, len(parents)):
            depth[j] = depth[parents[j]] + 1
        self.levels = [np.flatnonzero(depth == d) for d in range(1, depth.max() + 1)]
        position = {}
        for level in [np.array([0])] + self.levels:
            position.update({int(j): i for i, j in enumerate(level)})
        as_index = lambda a: torch.as_tensor(np.asarray(a, np.int64), device=device)
        self.parent_pos = [as_index([position[int(parents[j])] for j in level]) for level in self.levels]
        self.joint_ids = [as_index(level) for level in self.levels]
        self.parent_ids = [as_index(parents[level]) for level in self.levels]
        order = np.concatenate([[0]] + self.levels)
        self.inverse = as_index(np.argsort(order))

    def joints(self, local, rest):
        """local [F,J,3,3] rotations, rest [J,3] -> joints [F,J,3] (root at rest[0])."""
        import torch

        glob = [local[:, :1]]
        pos = [rest[:1].expand(local.shape[0], 1, 3)]
        for ids, parent_ids, parent_pos in zip(self.joint_ids, self.parent_ids, self.parent_pos):
            g_parent = glob[-1][:, parent_pos]
            offset = rest[ids] - rest[parent_ids]
            pos.append(pos[-1][:, parent_pos] + torch.einsum("fkab,kb->fka", g_parent, offset))
            glob.append(g_parent @ local[:, ids])
        return torch.cat(pos, dim=1)[:, self.inverse]

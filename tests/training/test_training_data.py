"""Generated training data: BVH retargeting, the pose prior, rendering, pose flips and
augmentation, the SPIN-style dataset readers and their errors."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from video_to_motion.core.common import rotations
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, FLIP_PERMUTATION, PARENTS, forward_kinematics
from video_to_motion.core.training import augment
from video_to_motion.core.training.bvh import BVHError, parse_bvh, retarget_to_smpl

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path(os.environ.get("VTM_SAMPLE_DATA", REPO / "sample_data"))
BVH_FILES = sorted((SAMPLE / "bvh").glob("*.bvh"))
needs_bvh = pytest.mark.skipif(not BVH_FILES, reason="CMU BVH sample data missing: run scripts/get_sample_data.sh")


def _angle_deg(a, b):
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


@needs_bvh
@pytest.mark.parametrize("name", ["01_01.bvh", "Boxing_Toes.bvh"])
def test_retargeted_bones_point_where_the_mocap_bones_point(name):
    bvh = parse_bvh(SAMPLE / "bvh" / name)
    motion, dbg = retarget_to_smpl(bvh, frames=slice(0, None, 25))
    joints = forward_kinematics(rotations.axis_angle_to_matrix(motion.poses), DEFAULT_REST_JOINTS, motion.trans)
    targets = dbg["targets"]
    # The root lands on the BVH hips (scaled to metres).
    np.testing.assert_allclose(joints[:, 0], targets[:, 0], atol=1e-6)
    # Every limb bone (parent with one child) points exactly along the BVH segment.
    single = [j for j in range(1, 24) if list(PARENTS).count(PARENTS[j]) == 1
              and np.linalg.norm(targets[:, j] - targets[:, PARENTS[j]], axis=-1).min() > 1e-6]
    assert {4, 7, 18, 20} <= set(single)
    for j in single:
        p = PARENTS[j]
        assert _angle_deg(joints[:, j] - joints[:, p], targets[:, j] - targets[:, p]).max() < 0.5, j
    # Multi-child joints: the hip and shoulder axes and the spine follow the mocap.
    assert _angle_deg(joints[:, 1] - joints[:, 2], targets[:, 1] - targets[:, 2]).max() < 10
    assert _angle_deg(joints[:, 16] - joints[:, 17], targets[:, 16] - targets[:, 17]).max() < 10
    # Up to limb lengths the skeletons agree: elbows and knees within a few centimetres of
    # the mocap joints after scaling (limb proportions differ between the skeletons).
    rel = lambda x: x - x[:, :1]
    assert np.abs(rel(joints)[:, [4, 5]] - rel(targets)[:, [4, 5]]).max() < 0.15
    # The motion really moves.
    assert np.ptp(motion.poses[:, 18], axis=0).max() > 0.3


def test_bvh_errors_are_specific(tmp_path):
    with pytest.raises(BVHError, match="does not exist"):
        parse_bvh(tmp_path / "none.bvh")
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n}\n"
                   "MOTION\nFrames: 2\nFrame Time: 0.01\n0 0 0\n")
    with pytest.raises(BVHError, match="declares 2 frames of 3 channels but holds 3"):
        parse_bvh(bad)
    bad.write_text("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n}\n"
                   "MOTION\nFrames: 1\nFrame Time: 0.01\n0 0 0\n")
    with pytest.raises(BVHError, match="unknown BVH skeleton"):
        retarget_to_smpl(parse_bvh(bad))


def test_flipping_a_pose_twice_is_the_identity_and_mirrors_the_joints():
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.6, size=(5, 72))
    np.testing.assert_allclose(augment.flip_smpl_pose(augment.flip_smpl_pose(pose)), pose)
    # On a left/right symmetric skeleton the flipped pose's joints are the mirrored joints.
    rest = DEFAULT_REST_JOINTS.copy()
    mirrored_rest = rest[FLIP_PERMUTATION] * np.array([-1, 1, 1])
    rest = 0.5 * (rest + mirrored_rest)
    fk = lambda p: forward_kinematics(rotations.axis_angle_to_matrix(p.reshape(-1, 24, 3)), rest)
    flipped = fk(augment.flip_smpl_pose(pose))
    np.testing.assert_allclose(flipped, augment.flip_joints3d(fk(pose)), atol=1e-9)


def test_augmentation_keeps_2d_and_3d_ground_truth_consistent():
    """Project 3D joints, augment both, and the augmented 2D joints are the projection of
    the augmented 3D joints: flip and rotation are exact camera operations."""
    rng = np.random.default_rng(1)
    w, h, f = 320.0, 240.0, 300.0
    j3d = rng.normal(scale=0.4, size=(24, 3)) + np.array([0.2, 0.1, 4.0])
    proj = lambda j: np.stack([f * j[:, 0] / j[:, 2] + w / 2, f * j[:, 1] / j[:, 2] + h / 2], -1)
    j2d = np.concatenate([proj(j3d), np.ones((24, 1))], -1)
    for params in [augment.AugmentParams(flip=True), augment.AugmentParams(rotation=0.7),
                   augment.AugmentParams(flip=True, rotation=-0.4, scale=1.2, shift=(0.05, -0.02))]:
        a3d = augment.transform_joints3d(np.concatenate([j3d, np.ones((24, 1))], -1), params)
        a2d = augment.transform_joints2d(j2d, (w, h), params)
        np.testing.assert_allclose(a2d[:, :2], proj(a3d[:, :3]), atol=1e-9)
    # The global orientation turns with the camera: pose -> joints agree with joints -> augmented.
    pose = rng.normal(scale=0.5, size=72)
    params = augment.AugmentParams(rotation=0.5)
    fk = lambda p: forward_kinematics(rotations.axis_angle_to_matrix(p.reshape(24, 3)), DEFAULT_REST_JOINTS)
    np.testing.assert_allclose(fk(augment.transform_pose(pose, params)) - DEFAULT_REST_JOINTS[0],
                               (fk(pose) - DEFAULT_REST_JOINTS[0]) @ augment.camera_rotation(params).T, atol=1e-9)


def test_crop_warp_follows_the_box_and_the_flip():
    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 150:170] = 255  # a white square centred at (160, 50)
    view = augment.make_view(np.array([160.0, 50.0]), 40.0, (200, 100), augment.NO_AUGMENT, 40)
    crop = augment.warp_crop(img, view, 40)
    assert crop[20, 20].min() == 255 and crop[2, 2].max() == 0 and crop[10:30, 10:30].min() == 255
    flip = augment.AugmentParams(flip=True)
    view = augment.make_view(np.array([160.0, 50.0]), 40.0, (200, 100), flip, 40)
    np.testing.assert_allclose(view.box_center, [40.0, 50.0])  # the box mirrors to u = W - u
    assert augment.warp_crop(img, view, 40)[10:30, 10:30].min() == 255


def test_training_crops_equal_the_workers_crops():
    """Without augmentation the training crop is exactly what the worker cuts (video_to_motion.core.worker.crops)."""
    from video_to_motion.core.worker.crops import crop_square

    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    center, side = np.array([70.3, 41.7]), 57.5
    view = augment.make_view(center, side, (120, 90), augment.NO_AUGMENT, 64)
    ours = augment.warp_crop(img, view, 64).astype(int)
    theirs = crop_square(img, center, side, 64)[0].astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_render_silhouette_is_where_the_mesh_projects(body_model_path):
    """The rasteriser against a brute-force reference: every pixel centre tested against
    every triangle, nearest depth kept."""
    from video_to_motion.core.worker.body_model import create_smpl
    from video_to_motion.core.training.render import project, rasterize, render

    smpl = create_smpl(body_model_path)
    with torch.no_grad():
        verts = smpl(global_orient=torch.tensor([[np.pi, 0.3, 0.0]]), transl=torch.tensor([[0.1, 0.0, 4.0]])).vertices[0]
    faces = torch.as_tensor(smpl.faces.astype(np.int64))
    w, h, f = 48, 56, 90.0
    p = project(verts, f, w, h).double()
    frags = rasterize(p, faces, w, h)
    tri = p[faces].numpy()  # [F, 3, 3]
    ys, xs = np.mgrid[0:h, 0:w]
    px, py = xs.ravel() + 0.5, ys.ravel() + 0.5
    ref_depth = np.full(h * w, np.inf)
    for chunk in np.array_split(np.arange(len(tri)), 8):
        t = tri[chunk][:, None]  # [f, 1, 3, 3]
        e = lambda a, b: (t[..., b, 0] - t[..., a, 0]) * (py - t[..., a, 1]) - (t[..., b, 1] - t[..., a, 1]) * (px - t[..., a, 0])
        w0, w1, w2 = e(1, 2), e(2, 0), e(0, 1)
        area = w0 + w1 + w2
        inside = ((w0 >= 0) & (w1 >= 0) & (w2 >= 0)) | ((w0 <= 0) & (w1 <= 0) & (w2 <= 0))
        inside &= np.abs(area) > 1e-12
        b = np.stack([w0, w1, w2], -1) / np.where(np.abs(area) > 1e-12, area, 1.0)[..., None]
        depth = 1.0 / np.sum(b / t[..., :, 2], -1)  # perspective-correct: 1/z is linear on screen
        ref_depth = np.minimum(ref_depth, np.where(inside, depth, np.inf).min(0))
    ref_mask = np.isfinite(ref_depth).reshape(h, w)
    mask = frags.mask.numpy()
    assert ref_mask.sum() > 150
    assert (mask != ref_mask).sum() <= 2  # at most ties exactly on an edge
    both = mask & ref_mask
    np.testing.assert_allclose(frags.depth.numpy()[both], ref_depth.reshape(h, w)[both], rtol=1e-6)
    # Rendering: lit body over the background, silhouette as rasterised.
    img, sil = render(verts, faces, torch.full((6890, 3), 0.8), f, w, h, np.zeros((h, w, 3), np.uint8),
                      supersample=1)
    np.testing.assert_array_equal(sil, mask)
    assert img[sil].mean() > 40 and img[~sil].max() == 0
    # The head is at the top of the image (OpenCV's y points down).
    head = int(np.argmax(smpl.lbs_weights[:, 15].numpy()))
    foot = int(np.argmax(smpl.lbs_weights[:, 10].numpy()))
    assert p[head, 1] < h / 3 < 2 * h / 3 < p[foot, 1]


def test_generated_dataset_reads_back_with_exact_ground_truth(tmp_path, body_model_path):
    from video_to_motion.core.worker.body_model import create_smpl
    from video_to_motion.core.training.datasets import ClipConfig, ClipReader, FrameTable
    from video_to_motion.core.training.synthetic import SyntheticConfig, generate_dataset

    cfg = SyntheticConfig(clips=2, frames_per_clip=6, width=96, height=96, supersample=1,
                          bvh_fraction=1.0 if BVH_FILES else 0.0)
    npz = generate_dataset(tmp_path, "gen", body_model_path, BVH_FILES[:1], cfg)
    table = FrameTable("gen", npz, tmp_path / "gen")
    assert len(table) == 12 and len(table.sequences) == 2
    # Ground truth: the stored 3D joints are SMPL's joints for the stored parameters.
    smpl = create_smpl(body_model_path)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)
    data = np.load(npz)
    with torch.no_grad():
        out = smpl(betas=t(data["shape"]), global_orient=t(data["pose"][:, :3]), body_pose=t(data["pose"][:, 3:]),
                   transl=t(data["trans"]))
    np.testing.assert_allclose(table.joints3d[..., :3], out.joints[:, :24].numpy(), atol=1e-4)
    # ... and the 2D joints are their projection.
    j = table.joints3d[..., :3]
    f = data["img_focal"][:, None]
    np.testing.assert_allclose(table.joints2d[..., 0], f * j[..., 0] / j[..., 2] + 48, atol=1e-3)
    # A clip window holds consecutive frames of one sequence, the ends repeated.
    np.testing.assert_array_equal(table.window(table.sequences[1][0], 5), table.sequences[1][[0, 0, 0, 1, 2]])
    reader = ClipReader(table, ClipConfig(seq_len=5, crop=64))
    s = reader.sample(int(table.sequences[0][3]))
    assert s["crops"].shape == (5, 3, 64, 64) and s["bbox_info"].shape == (3,)
    assert abs(s["crops"].mean()) < 3 and s["crops"].std() > 0.1


def test_dataset_reader_errors_say_what_is_wrong(tmp_path):
    from video_to_motion.core.training.datasets import DatasetError, FrameTable

    (tmp_path / "img").mkdir()
    with pytest.raises(DatasetError, match="'3dpw': file .*missing.npz' does not exist"):
        FrameTable("3dpw", tmp_path / "missing.npz", tmp_path / "img")
    np.savez(tmp_path / "x.npz", imgname=np.array(["a.jpg"]), center=np.zeros((1, 2)), scale=np.ones(1))
    with pytest.raises(DatasetError, match="image folder .*nope' does not exist"):
        FrameTable("h36m", tmp_path / "x.npz", tmp_path / "nope")
    with pytest.raises(DatasetError, match="has no supervision"):
        FrameTable("h36m", tmp_path / "x.npz", tmp_path / "img")
    np.savez(tmp_path / "y.npz", imgname=np.array(["a.jpg"]), centre=np.zeros((1, 2)), part=np.zeros((1, 24, 3)))
    with pytest.raises(DatasetError, match="lacks center, scale"):
        FrameTable("coco", tmp_path / "y.npz", tmp_path / "img")
    np.savez(tmp_path / "z.npz", imgname=np.array(["a.jpg"]), center=np.zeros((1, 2)), scale=np.ones(1),
             pose=np.zeros((1, 69)), shape=np.zeros((1, 10)))
    with pytest.raises(DatasetError, match="'pose' has shape \\[1, 69\\], expected \\[1, 72\\]"):
        FrameTable("3dpw", tmp_path / "z.npz", tmp_path / "img")
    np.savez(tmp_path / "w.npz", imgname=np.array(["a.jpg"]), center=np.zeros((1, 2)), scale=np.ones(1),
             part=np.zeros((1, 24, 3)))
    with pytest.raises(DatasetError, match="first image .*a.jpg' does not exist"):
        FrameTable("mpii", tmp_path / "w.npz", tmp_path / "img")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .npz"):
        FrameTable("mpii", tmp_path / "broken.npz", tmp_path / "img")


def test_spin_keypoints_stay_in_spin_layout_and_images_repeat(tmp_path):
    import cv2

    from video_to_motion.core.training.augment import AugmentParams
    from video_to_motion.core.training.datasets import ClipConfig, ClipReader, DatasetError, FrameTable
    from video_to_motion.core.training.joint_sets import LAYOUT_SPIN24

    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.jpg"), np.full((50, 60, 3), 128, np.uint8))
    part = np.zeros((1, 24, 3))
    part[0, 0] = [10, 20, 1]   # SPIN's right ankle
    part[0, 11] = [30, 40, 1]  # SPIN's left wrist
    part[0, 2] = [25, 30, 1]   # SPIN's right hip (regressed from the mesh, not SMPL's joint)
    np.savez(tmp_path / "coco.npz", imgname=np.array(["a.jpg"]), center=np.array([[30.0, 25.0]]),
             scale=np.array([0.2]), part=part)
    table = FrameTable("coco", tmp_path / "coco.npz", tmp_path / "img", video=False)
    assert table.layout == LAYOUT_SPIN24
    np.testing.assert_allclose(table.joints2d[0], part[0])  # the file's own joints, no remapping
    reader = ClipReader(table, ClipConfig(seq_len=3, crop=32))
    s = reader.sample(0)
    assert s["layout"] == LAYOUT_SPIN24 and s["hips"].tolist() == [2, 3]  # SPIN's hips centre the 3D loss
    np.testing.assert_allclose(s["crops"][0], s["crops"][2])  # one image repeated T times
    np.testing.assert_allclose(s["focal"], np.hypot(60, 50), rtol=1e-6)  # CLIFF's focal guess
    flipped = reader.targets(0, AugmentParams(flip=True), np.array([60.0, 50.0]))["joints2d"]
    np.testing.assert_allclose(flipped[5], [50, 20, 1])  # right ankle -> left ankle slot, mirrored
    np.testing.assert_allclose(flipped[3], [35, 30, 1])  # right hip -> left hip
    np.savez(tmp_path / "bad.npz", imgname=np.array(["a.jpg"]), center=np.array([[30.0, 25.0]]),
             scale=np.array([0.2]), part=np.zeros((1, 14, 3)))
    with pytest.raises(DatasetError, match=r"expected \[1, 24, 3\]"):
        FrameTable("coco", tmp_path / "bad.npz", tmp_path / "img", video=False)


def test_augmented_samples_keep_ground_truth_consistent(tmp_path, body_model_path):
    """A reader with every augmentation on: the augmented 2D joints are the projection of the
    augmented 3D joints with the sample's camera, and the augmented pose gives those joints —
    exactly without a flip; with a flip, up to the body's own left/right asymmetry (the mirrored
    pose is posed on the same, unmirrored skeleton, as every SPIN-style pipeline does)."""
    from video_to_motion.core.worker.body_model import create_smpl
    from video_to_motion.core.common.skeleton import FLIP_PERMUTATION
    from video_to_motion.core.training.augment import AugmentConfig
    from video_to_motion.core.training.datasets import ClipConfig, ClipReader, FrameTable
    from video_to_motion.core.training.synthetic import SyntheticConfig, generate_dataset

    cfg = SyntheticConfig(clips=1, frames_per_clip=5, width=96, height=80, supersample=1, bvh_fraction=0.0)
    npz = generate_dataset(tmp_path, "gen", body_model_path, [], cfg)
    table = FrameTable("gen", npz, tmp_path / "gen")
    smpl = create_smpl(body_model_path)
    t = lambda a: torch.as_tensor(np.asarray(a)[None], dtype=torch.float32)
    with torch.no_grad():
        rest = smpl(betas=t(np.zeros(10))).joints[0, :24].numpy()
    mirrored = rest[FLIP_PERMUTATION] * np.array([-1.0, 1.0, 1.0])
    asymmetry = np.abs((mirrored - mirrored[0]) - (rest - rest[0])).max()
    for flip, tolerance in ((0.0, 1e-3), (1.0, asymmetry + 2e-3)):
        aug = AugmentConfig(flip=flip, rotation_prob=1.0, occlusion=1.0)
        reader = ClipReader(table, ClipConfig(seq_len=3, crop=48, augment=aug))
        for seed in range(3):
            s = reader.sample(2, aug_seed=seed)
            j3 = s["joints3d"][:, :3]
            f, (w, h) = float(s["focal"]), s["img_size"]
            np.testing.assert_allclose(s["joints2d"][:, 0], f * j3[:, 0] / j3[:, 2] + w / 2, atol=1e-3)
            np.testing.assert_allclose(s["joints2d"][:, 1], f * j3[:, 1] / j3[:, 2] + h / 2, atol=1e-3)
            with torch.no_grad():
                j = smpl(betas=t(s["betas"]), global_orient=t(s["pose"][:3]),
                         body_pose=t(s["pose"][3:])).joints[0, :24].numpy()
            np.testing.assert_allclose(j - j[0], j3 - j3[0], atol=tolerance)
            assert s["crops"].shape == (3, 3, 48, 48)


def test_pose_prior_stays_within_limits_and_moves_smoothly():
    from video_to_motion.core.training import pose_prior

    rng = np.random.default_rng(0)
    poses = pose_prior.sample_body_poses(rng, 200)
    assert np.abs(poses[:, 0]).max() < 1e-9  # no root rotation
    knees = poses[:, [4, 5]]
    angle = np.linalg.norm(knees, axis=-1)
    # Knees bend one way; their small twist and sway (±5°) can tip the axis a hair past zero.
    assert np.degrees(angle).max() <= 141 and (knees[..., 0] >= -0.01).all()
    motion = pose_prior.sample_prior_motion(rng, 60, 30.0)
    step = np.degrees(np.linalg.norm(np.diff(motion, axis=0), axis=-1)).max()
    assert step < 15.0 and np.ptp(motion, axis=0).max() > 0.2

"""Retargeting maths (core.common.retarget, core.common.bone_map) on rigs built from bone
lists in the Mixamo, Unreal and Blender naming families, with A-pose arms, other spine
lengths, random bone rolls, a scaled and turned armature object."""
from __future__ import annotations

import json

import numpy as np
import pytest

from video_to_motion.core.common import bone_map, keyframes, retarget
from video_to_motion.core.common.ground import FOOT_JOINT_HEIGHT
from video_to_motion.core.common.motion import Motion
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS
from rigs import FAMILIES, build

# Limb -> (SMPL joints, roles whose heads mark the same segment on the character).
LIMBS = {
    "left thigh": ((1, 4), ("leftUpperLeg", "leftLowerLeg")), "right thigh": ((2, 5), ("rightUpperLeg", "rightLowerLeg")),
    "left shin": ((4, 7), ("leftLowerLeg", "leftFoot")), "right shin": ((5, 8), ("rightLowerLeg", "rightFoot")),
    "left upper arm": ((16, 18), ("leftUpperArm", "leftLowerArm")),
    "right upper arm": ((17, 19), ("rightUpperArm", "rightLowerArm")),
    "left forearm": ((18, 20), ("leftLowerArm", "leftHand")), "right forearm": ((19, 21), ("rightLowerArm", "rightHand")),
}


def character(family, turn_deg=180.0, scale=0.01, seed=0):
    """A Character from a built rig: random bone rolls, the object turned and scaled."""
    rng = np.random.default_rng(seed)
    bones = build(family)
    names = [b[0] for b in bones]
    a = np.radians(turn_deg)
    m = np.eye(4)
    m[:3, :3] = scale * np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    m[:3, 3] = [0.3, -0.2, 0.0]
    minv = np.linalg.inv(m)
    to_arm = lambda p: p @ minv[:3, :3].T + minv[:3, 3]
    rest = np.tile(np.eye(4), (len(bones), 1, 1))
    tails = np.empty((len(bones), 3))
    for i, (_, _, head, tail) in enumerate(bones):
        h, t = to_arm(head), to_arm(tail)
        y = (t - h) / np.linalg.norm(t - h)
        x = np.cross(y, rng.normal(size=3))
        x /= np.linalg.norm(x)
        rest[i, :3, :3] = np.stack([x, y, np.cross(x, y)], axis=1)
        rest[i, :3, 3] = h
        tails[i] = t
    parents = np.array([names.index(b[1]) if b[1] else -1 for b in bones])
    return retarget.Character(names=names, parents=parents, rest=rest, tails=tails, matrix_world=m, floor_z=0.0)


def source(frames=40, seed=3, pose_scale=0.3, tilt_deg=0.0):
    """An SMPL track walking away from the camera, as the importer would key it, on a floor at Z = 0."""
    rng = np.random.default_rng(seed)
    n = frames
    poses = rng.normal(scale=pose_scale, size=(n, 72)).cumsum(0) * 0.15
    poses[:, :3] = [np.pi, 0.0, 0.0] + rng.normal(scale=0.05, size=(n, 3))
    trans = np.stack([np.linspace(-0.5, 0.5, n), np.full(n, 0.2), np.linspace(4.0, 5.0, n)], 1)
    motion = Motion(estimator="test", fps=30.0, image_size=(640, 480), focal_length=600.0,
                    frame_ids=np.arange(n, dtype=np.int32), track_ids=np.ones(n, np.int32),
                    poses=poses.astype(np.float32), betas=np.zeros((n, 10), np.float32), trans=trans.astype(np.float32),
                    rest_joints=np.repeat(DEFAULT_REST_JOINTS[None], n, 0).astype(np.float32),
                    bboxes=np.tile([0, 0, 10, 10], (n, 1)).astype(np.float32), scores=np.ones(n, np.float32))
    keys = keyframes.track_keys(motion, 1)
    t = np.radians(tilt_deg)   # a ground alignment that tilts the armature
    ground = np.eye(4)
    ground[:3, :3] = [[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]]   # about Y: tilts the hips
    m = keyframes.object_matrices(ground)[0]
    joints = keys.armature_joints() @ m[:3, :3].T + m[:3, 3]
    m[2, 3] -= joints[:, [10, 11], 2].min() - FOOT_JOINT_HEIGHT   # the floor at Z = 0
    return retarget.Source.from_keys(keys, m, 30.0)


def limb_errors(ch, mapping, src, res):
    heads, _ = retarget.posed_points(ch, res.quats, res.roots, res.locations)
    idx = ch.names.index
    out = {}
    for limb, ((a, b), (ra, rb)) in LIMBS.items():
        want = src.joints[:, b] - src.joints[:, a]
        have = heads[:, idx(mapping[rb])] - heads[:, idx(mapping[ra])]
        cos = np.einsum("fi,fi->f", want, have) / np.linalg.norm(want, axis=-1) / np.linalg.norm(have, axis=-1)
        out[limb] = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return out, heads


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_map_reads_each_naming_family(family):
    ch = character(family)
    mapping = bone_map.auto_map(ch.skeleton())
    bone_map.check_map(mapping, ch.names)
    expect = {"mixamo": ("mixamorig:LeftUpLeg", "mixamorig:LeftLeg", ["mixamorig:Spine", "mixamorig:Spine1",
                                                                        "mixamorig:Spine2"], ["mixamorig:Neck"]),
              "unreal": ("thigh_l", "calf_l", [f"spine_0{k}" for k in range(1, 6)], ["neck_01", "neck_02"]),
              "blender": ("UpperLeg.L", "LowerLeg.L", ["Spine", "Chest"], ["Neck"])}[family]
    assert (mapping["leftUpperLeg"], mapping["leftLowerLeg"], mapping["spine"], mapping["neck"]) == expect
    assert "twist" not in json.dumps(mapping)


def test_auto_map_falls_back_on_the_skeleton_shape():
    ch = character("blender")
    ch.names = [f"Bone.{i:03d}" for i in range(len(ch.names))]   # names that say nothing
    named = bone_map.auto_map(character("blender").skeleton())
    shaped = bone_map.auto_map(ch.skeleton())
    original = character("blender").names
    for role in bone_map.ESSENTIAL:
        want = named[role]
        got = shaped.get(role)
        to_old = lambda v: [original[ch.names.index(x)] for x in v] if isinstance(v, list) else original[ch.names.index(v)]
        assert got is not None and to_old(got) == want, (role, got, want)


def test_missing_essential_bones_are_named():
    ch = character("mixamo")
    mapping = bone_map.auto_map(ch.skeleton())
    del mapping["leftLowerLeg"], mapping["rightFoot"]
    with pytest.raises(bone_map.BoneMapError, match="left lower leg, right foot"):
        bone_map.check_map(mapping, ch.names)
    with pytest.raises(bone_map.BoneMapError, match="no bones named 'nope'"):
        bone_map.check_map({**bone_map.auto_map(ch.skeleton()), "head": "nope"}, ch.names)


def test_preset_round_trip_and_bad_presets(tmp_path):
    ch = character("unreal")
    mapping = bone_map.auto_map(ch.skeleton())
    path = bone_map.write_preset(tmp_path / "map.json", mapping)
    assert bone_map.read_preset(path) == {r: v for r, v in mapping.items()}
    (tmp_path / "bad.json").write_text('{"schema": "vtm.bonemap/1", "bones": {"spine": "spine_01"}}')
    with pytest.raises(bone_map.BoneMapError, match="spine.*list"):
        bone_map.read_preset(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(bone_map.BoneMapError, match="not a bone map preset"):
        bone_map.read_preset(tmp_path / "other.json")


@pytest.mark.parametrize("family", FAMILIES)
def test_limbs_point_where_the_source_limbs_point(family):
    ch = character(family)
    mapping = bone_map.check_map(bone_map.auto_map(ch.skeleton()), ch.names)
    src = source()
    # The transfer alone: random poses' "planted" feet wander, and the lock would bend the legs.
    res = retarget.retarget(ch, mapping, src, lock_feet=False)
    errors, heads = limb_errors(ch, mapping, src, res)
    for limb, err in errors.items():
        assert np.percentile(err, 95) < 1.0, f"{family} {limb}: {np.percentile(err, 95):.2f} deg"
    # Facing follows the pelvis.
    idx = ch.names.index
    face_c = retarget._facing(heads[:, idx(mapping["leftUpperLeg"])], heads[:, idx(mapping["rightUpperLeg"])])
    face_s = retarget._facing(src.joints[:, 1], src.joints[:, 2])
    assert np.degrees(np.abs(retarget.facing_angle(face_c, face_s))).max() < 2.0
    # Spine: pelvis -> neck base direction.
    spine_c = heads[:, idx(mapping["neck"][0])] - heads[:, idx(mapping["hips"])]
    spine_s = src.joints[:, 12] - src.joints[:, 0]
    cos = np.einsum("fi,fi->f", spine_c, spine_s) / np.linalg.norm(spine_c, axis=-1) / np.linalg.norm(spine_s, axis=-1)
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.5   # the chain as a whole, whatever its length
    # Root: displacement = hip-height ratio x the source's, horizontally.
    hips = heads[:, idx(mapping["hips"])]
    disp_c = hips[:, :2] - hips[0, :2]
    disp_s = res.scale * (src.joints[:, 0, :2] - src.joints[0, 0, :2])
    assert np.abs(disp_c - disp_s).max() < 1e-6 + 0.02 * np.abs(disp_s).max()
    assert 1.0 < res.scale < 1.2   # the rigs are 1.1 x SMPL's default skeleton


def test_in_place_keeps_the_hips_over_their_start():
    ch = character("mixamo")
    mapping = bone_map.auto_map(ch.skeleton())
    src = source()
    res = retarget.retarget(ch, mapping, src, in_place=True)
    heads, _ = retarget.posed_points(ch, res.quats, res.roots, res.locations)
    hips = heads[:, ch.names.index(mapping["hips"]), :2]
    assert np.abs(hips - hips[0]).max() < 1e-6
    assert np.abs(src.joints[:, 0, :2] - src.joints[0, 0, :2]).max() > 0.5


def test_planted_feet_touch_the_floor():
    ch = character("blender")
    mapping = bone_map.auto_map(ch.skeleton())
    src = source()
    res = retarget.retarget(ch, mapping, src)
    assert res.contact.any()
    heads, tails = retarget.posed_points(ch, res.quats, res.roots, res.locations)
    idx = ch.names.index
    soles = []
    for side in ("left", "right"):
        # ankle, ball and toe tip, each less its height above the floor when standing
        bones = [idx(mapping[f"{side}Foot"]), idx(mapping[f"{side}Toes"])]
        pts = np.stack([heads[:, bones[0]], heads[:, bones[1]], tails[:, bones[1]]], 1)
        rest = np.array([ch.skeleton().heads[bones[0]], ch.skeleton().heads[bones[1]], ch.skeleton().tails[bones[1]]])
        soles.append((pts[..., 2] - rest[:, 2]).min(1))
    soles = np.stack(soles, 1)
    planted = np.where(res.contact, soles, np.inf).min(1)
    planted = planted[np.isfinite(planted)]
    assert np.abs(planted).max() < 1e-3, planted
    off = retarget.retarget(ch, mapping, src, feet_on_floor=False)
    assert np.abs(off.foot_shift).max() == 0.0
    assert np.abs(res.foot_shift).max() > 1e-3   # the rig's proportions did leave the feet off the floor
    assert np.abs(np.diff(res.foot_shift)).max() < 0.05   # interpolated between contacts, no jumps


def test_planted_feet_move_as_the_source_feet_do_whatever_the_legs_length():
    ch = character("mixamo")
    # Short legs for the body: the trunk raised 20 cm above the hip joints, so the hips'
    # scale (hip height) is not the legs' and limb-by-limb feet would slide.
    up = np.linalg.inv(ch.matrix_world)[:3, :3] @ [0.0, 0.0, 0.2]
    trunk = [i for i, n in enumerate(ch.names) if not any(k in n for k in ("Leg", "Foot", "Toe"))]
    ch.rest[trunk, :3, 3] += up
    ch.tails[trunk] += up
    mapping = bone_map.auto_map(ch.skeleton())
    src = source()
    idx = ch.names.index

    def run_spread(res):
        """Largest wander, over a planted run, of the character's ankle from the scaled source's."""
        heads, _ = retarget.posed_points(ch, res.quats, res.roots, res.locations)
        out = []
        for s, side in enumerate(("left", "right")):
            ankle = heads[:, idx(mapping[f"{side}Foot"]), :2] - res.scale * src.joints[:, 7 + s, :2]
            planted = res.contact[:, s]
            starts = np.cumsum(np.diff(np.concatenate([[0], planted.astype(np.int8)])) == 1)
            for r in np.unique(starts[planted]):
                pts = ankle[planted & (starts == r)]
                out.append(np.linalg.norm(pts - pts.mean(0), axis=-1).max())
        return max(out), heads

    locked, heads = run_spread(retarget.retarget(ch, mapping, src))
    free, _ = run_spread(retarget.retarget(ch, mapping, src, lock_feet=False))
    assert free > 0.005 and locked < 5e-4, (free, locked)   # the leg never quite straightens (IK reach)
    bones = [idx(mapping[r]) for r in ("leftUpperLeg", "leftLowerLeg", "leftFoot")]
    lengths = np.linalg.norm(np.diff(heads[:, bones], axis=1), axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), rtol=1e-9)


def test_a_mesh_reaching_below_the_soles_does_not_lift_planted_feet():
    """The meshes' lowest point (floor_z) 3 cm under the feet, as a root bone's shape or a
    base would put it: the feet's own sole points give the floor."""
    ch = character("blender")
    mapping = bone_map.auto_map(ch.skeleton())
    src = source()
    idx = ch.names.index
    sk = ch.skeleton()
    soles = [(side, idx(mapping[f"{side}{part}"]), p) for side in ("left", "right") for part in ("Foot", "Toes")
             for p in (sk.heads[idx(mapping[f"{side}{part}"])], sk.tails[idx(mapping[f"{side}{part}"])])]
    ch.sole_points = soles
    ch.floor_z = None
    want = retarget.retarget(ch, mapping, src)
    ch.floor_z = min(p[2] for _, _, p in soles) - 0.03
    got = retarget.retarget(ch, mapping, src)
    assert retarget.sole_height(ch, mapping) == min(p[2] for _, _, p in soles)
    np.testing.assert_allclose(got.locations, want.locations, atol=1e-9)
    assert got.scale == want.scale


def test_rotation_between_vectors_is_smallest_and_handles_opposites():
    from video_to_motion.core.common.rotations import rotation_between_vectors

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    r = rotation_between_vectors(a, b)
    got = np.einsum("nij,nj->ni", r, a / np.linalg.norm(a, axis=-1, keepdims=True))
    assert np.allclose(got, b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-9)
    axis = np.cross(a, b)
    assert np.allclose(np.einsum("nij,nj->ni", r, axis), axis, atol=1e-9)  # turns about a x b only
    flip = rotation_between_vectors(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -2.0]))
    assert np.allclose(flip @ [0, 0, 1], [0, 0, -1]) and np.isclose(np.linalg.det(flip), 1.0)


def test_without_rest_compensation_the_a_pose_arms_are_off():
    # The measure can fail: a plain rotation copy leaves the A-pose arms 40 degrees low.
    ch = character("mixamo")
    mapping = bone_map.auto_map(ch.skeleton())
    src = source()
    errors, _ = limb_errors(ch, mapping, src, retarget.retarget(ch, mapping, src, rest_compensation=False))
    assert np.percentile(errors["left upper arm"], 50) > 20.0


def test_legs_rooted_beside_the_hips_move_with_them():
    # Some game rigs root each leg on its own, beside the hips bone: they must follow it.
    ch = character("blender")
    for name in ("UpperLeg.L", "UpperLeg.R"):
        ch.parents[ch.names.index(name)] = -1
    mapping = bone_map.auto_map(ch.skeleton())
    src = source()
    res = retarget.retarget(ch, mapping, src, lock_feet=False)   # the transfer alone
    assert len(res.roots) == 3
    errors, heads = limb_errors(ch, mapping, src, res)
    assert max(np.percentile(e, 95) for e in errors.values()) < 1.0
    idx = ch.names.index
    gap = np.linalg.norm(heads[:, idx("UpperLeg.L")] - heads[:, idx("Hips")], axis=-1)
    assert np.ptp(gap) < 1e-6 and np.abs(heads[-1, idx("Hips")] - heads[0, idx("Hips")]).max() > 0.3


@pytest.mark.parametrize("name, side, base", [
    ("mixamorig:LeftUpLeg", "left", "upleg"), ("mixamorigRightForeArm", "right", "forearm"),
    ("mixamorig:Hips", None, "hips"), ("thigh_l", "left", "thigh"), ("calf_r", "right", "calf"),
    ("upperarm_twist_01_l", "left", "upperarmtwist01"), ("DEF-upper_arm.L", "left", "upperarm"),
    ("DEF-thigh.L.001", None, "thighl001"), ("shin.R", "right", "shin"), ("J_Bip_L_UpperLeg", "left", "upperleg"),
    ("J_Bip_C_Hips", None, "hips"), ("leftLowerArm", "left", "lowerarm"), ("Bip01 R Thigh", "right", "thigh"),
    ("CC_Base_L_Calf", "left", "calf"), ("UpperArm.L", "left", "upperarm"), ("Foot_R", "right", "foot"),
    ("HandLeft", "left", "hand"), ("spine_03", None, "spine03"),
])
def test_bone_names_of_each_family_split_into_side_and_base(name, side, base):
    assert bone_map.split_name(name) == (side, base)


def test_a_tilted_source_armature_is_followed_in_3d():
    ch = character("unreal")
    mapping = bone_map.auto_map(ch.skeleton())
    src = source(tilt_deg=25.0)
    res = retarget.retarget(ch, mapping, src, lock_feet=False)   # the transfer alone
    errors, heads = limb_errors(ch, mapping, src, res)
    assert max(np.percentile(e, 95) for e in errors.values()) < 1.0
    idx = ch.names.index
    hips_c = heads[:, idx(mapping["leftUpperLeg"])] - heads[:, idx(mapping["rightUpperLeg"])]
    hips_s = src.joints[:, 1] - src.joints[:, 2]
    cos = np.einsum("fi,fi->f", hips_c, hips_s) / np.linalg.norm(hips_c, axis=-1) / np.linalg.norm(hips_s, axis=-1)
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0


def test_two_bone_turns_reach_the_goal():
    rng = np.random.default_rng(3)
    hip = rng.normal(size=(50, 3))
    knee = hip + 0.45 * retarget._unit(rng.normal(size=(50, 3)))
    ankle = knee + 0.4 * retarget._unit(rng.normal(size=(50, 3)))
    want = ankle + 0.05 * rng.normal(size=(50, 3))
    reachable = np.linalg.norm(want - hip, axis=-1) < 0.8
    assert reachable.sum() >= 25
    upper, lower = retarget.two_bone_turns(hip, knee, ankle, want)
    new_knee = hip + np.einsum("fij,fj->fi", upper, knee - hip)
    new_ankle = new_knee + np.einsum("fij,fj->fi", lower, ankle - knee)
    assert np.abs(new_ankle - want)[reachable].max() < 1e-6          # the end lands on the goal
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=-1), 0.45)  # the lengths are kept
    # The knee stays on its side of the line from the hip to the goal.
    line = retarget._unit(want - hip)
    side = lambda k: np.einsum("fi,fi->f", np.cross(line, k - hip), np.cross(line, knee - hip))
    assert (side(new_knee)[reachable] > 0).all()
    # A goal at the ankle: nothing turns.
    still_upper, still_lower = retarget.two_bone_turns(hip, knee, ankle, ankle)
    assert np.allclose(still_upper, np.eye(3), atol=1e-6) and np.allclose(still_lower, np.eye(3), atol=1e-6)

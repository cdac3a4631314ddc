"""Retarget real motion onto real characters and print how well it follows, per rig.

    python scripts/checks/check_characters.py [--characters DIR] [--motion M.npz | --bvh FILE.bvh]
        [--frames N] [--rigify] [--fbx-dir DIR]

Source: a motion file, or (default) CMU motion capture from the sample data
($VTM_SAMPLE_DATA/bvh/01_01.bvh, scripts/get_sample_data.sh) turned into an SMPL track.
Characters: every .glb/.gltf/.fbx/.blend in --characters (scripts/checks/get_test_characters.py
fetches the public ones the project checks against) and, with --rigify, Blender's bundled
Rigify human metarig and the rig Rigify generates from it (measured on its DEF- bones). For each rig: how
long the retarget keeps Blender busy ("animate s"), the 95th percentile of the angle between each limb
on the character and on the SMPL source (thighs, shins, upper arms, forearms, spine,
neck), facing, root displacement against the scaled source, the lowest vertex of each
planted foot (SMPL's foot low and slow) off the floor (95th percentile, in the person's
size: divided by the character/person hip-height ratio; a rig without a mesh, as the
generated Rigify one: the ends of its foot and toe bones) beside the same for SMPL's own
planted foot joints ("src feet cm"), how fast planted feet slide over the floor (95th
percentile, cm/s in the person's size; "src slide": SMPL's ankles), whether the mesh moves, and the FBX
and glTF round trips (exported, read back with Blender's importers, deform joint positions compared).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LIMBS = {  # name: (SMPL joints, (role at the start, role at the end or None for the bone's tail))
    "thigh": (((1, 4), ("leftUpperLeg", "leftLowerLeg")), ((2, 5), ("rightUpperLeg", "rightLowerLeg"))),
    "shin": (((4, 7), ("leftLowerLeg", "leftFoot")), ((5, 8), ("rightLowerLeg", "rightFoot"))),
    "upper arm": (((16, 18), ("leftUpperArm", "leftLowerArm")), ((17, 19), ("rightUpperArm", "rightLowerArm"))),
    "forearm": (((18, 20), ("leftLowerArm", "leftHand")), ((19, 21), ("rightLowerArm", "rightHand"))),
    "spine": (((0, 12), ("hips", "neck")),),
    "neck": (((12, 15), ("neck", "head")),),
}


def load_package():
    spec = importlib.util.spec_from_file_location("video_to_motion", REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    if "video_to_motion" in sys.modules:
        return sys.modules["video_to_motion"]
    module = importlib.util.module_from_spec(spec)
    sys.modules["video_to_motion"] = module
    spec.loader.exec_module(module)
    return module


def motion_from_bvh(path: Path, frames: int, out: Path) -> Path:
    """A one-track SMPL motion file from motion capture, placed 5 m in front of a camera."""
    from video_to_motion.core.common.motion import Motion, write_motion
    from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS
    from video_to_motion.core.common import rotations
    from video_to_motion.core.training.bvh import load_smpl_motion

    smpl = load_smpl_motion(path, fps=30.0)
    n = min(frames, len(smpl.poses))
    poses = smpl.poses[:n].reshape(n, 24, 3).copy()
    flip = np.diag([1.0, -1.0, -1.0])   # SMPL's y-up frame -> the camera's y-down frame
    poses[:, 0] = rotations.matrix_to_axis_angle(flip @ rotations.axis_angle_to_matrix(poses[:, 0]))
    j0 = DEFAULT_REST_JOINTS[0]
    trans = (j0 + smpl.trans[:n]) @ flip.T - j0 + [0.0, 0.0, 5.0]
    motion = Motion(estimator="bvh", fps=30.0, image_size=(1280, 720), focal_length=1400.0,
                    frame_ids=np.arange(n, dtype=np.int32), track_ids=np.ones(n, np.int32),
                    poses=poses.reshape(n, 72).astype(np.float32), betas=np.zeros((n, 10), np.float32),
                    trans=trans.astype(np.float32),
                    rest_joints=np.repeat(DEFAULT_REST_JOINTS[None], n, 0).astype(np.float32),
                    bboxes=np.tile([500, 100, 700, 600], (n, 1)).astype(np.float32), scores=np.ones(n, np.float32))
    return write_motion(out, motion)


def world_heads(obj, names) -> np.ndarray:
    m = np.array(obj.matrix_world)
    return np.array([obj.pose.bones[n].head for n in names]) @ m[:3, :3].T + m[:3, 3]


def foot_vertices(character, mapping, meshes) -> dict:
    """{side: [(mesh, vertex indices)]} of the vertices a foot or toe bone mostly moves."""
    out = {}
    for side in ("left", "right"):
        bones = {mapping.get(f"{side}Foot"), mapping.get(f"{side}Toes")} - {None}
        out[side] = []
        for mesh in meshes:
            groups = {g.index for g in mesh.vertex_groups if g.name in bones}
            idx = [v.index for v in mesh.data.vertices if any(g.group in groups and g.weight > 0.5 for g in v.groups)]
            if idx:
                out[side].append((mesh, np.array(idx)))
    return out


def foot_bone_points(character, mapping) -> dict:
    """{side: [(bone, 'head'|'tail', rest height above the lowest of them)]}: a rig without
    a mesh (a generated Rigify rig) is measured on its foot and toe bones' ends."""
    out = {}
    m = np.array(character.matrix_world)
    for side in ("left", "right"):
        bones = [b for b in (mapping.get(f"{side}Foot"), mapping.get(f"{side}Toes")) if b]
        ends = [(b, end) for b in bones for end in ("head", "tail")]
        z = [float((m[:3, :3] @ np.array(getattr(character.data.bones[b], f"{end}_local")) + m[:3, 3])[2])
             for b, end in ends]
        out[side] = [(b, end, h - min(z)) for (b, end), h in zip(ends, z)] if ends else []
    return out


def lowest_bone_point(character, points) -> tuple[float, np.ndarray]:
    """(gap, where): how far the foot's bone ends are above the floor, each less its rest
    height above the foot's lowest end, and their centre [3] (where the foot is)."""
    m = np.array(character.matrix_world)
    if not points:
        return np.inf, np.zeros(3)
    pts = np.array([m[:3, :3] @ np.array(getattr(character.pose.bones[b], end)) + m[:3, 3] for b, end, _ in points])
    return float((pts[:, 2] - [above for _, _, above in points]).min()), pts.mean(axis=0)


def slide_speeds(points: dict, fps: float) -> np.ndarray:
    """Horizontal speed (m/s) of planted feet between consecutive planted frames: points
    {side: [(frame index, world point [3])]}."""
    out = []
    for track in points.values():
        for (k0, p0), (k1, p1) in zip(track, track[1:]):
            if k1 == k0 + 1:
                out.append(np.linalg.norm(np.asarray(p1[:2]) - np.asarray(p0[:2])) * fps)
    return np.array(out)


def lowest_of(context, parts) -> tuple[float, np.ndarray]:
    """World Z of the lowest of the given vertices [(mesh, indices)] as the meshes are posed
    now, and their centre [3] (where the foot is)."""
    depsgraph = context.evaluated_depsgraph_get()
    low, pts = np.inf, []
    for mesh, idx in parts:
        ev = mesh.evaluated_get(depsgraph)
        data = ev.to_mesh()
        co = np.empty(3 * len(data.vertices))
        data.vertices.foreach_get("co", co)
        m = np.array(ev.matrix_world)
        world = co.reshape(-1, 3)[idx] @ m[:3, :3].T + m[:3, 3]
        low = min(low, float(world[:, 2].min()))
        pts.append(world)
        ev.to_mesh_clear()
    return low, np.concatenate(pts).mean(axis=0)


def angle(a, b) -> np.ndarray:
    cos = np.einsum("fi,fi->f", a, b) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def measure(context, character, smpl, result) -> dict:
    """Per-limb p95 errors (degrees), facing (p95, degrees), root displacement error (% of
    the scaled source's largest), mesh floor gap on planted frames (m), mesh motion (m)."""
    from video_to_motion.core.common.skeleton import JOINT_NAMES
    from video_to_motion.addon.characters import skinned_meshes

    mapping, frames = result.mapping, result.frames
    first = lambda role: (mapping[role][0] if isinstance(mapping[role], list) else mapping[role])
    roles = [r for r in {r for limb in LIMBS.values() for _, pair in limb for r in pair} if mapping.get(r)]
    if "neck" not in mapping:
        roles.append("head")
    names = [first(r) for r in roles]
    src, dst, tails, planted = [], [], [], []
    meshes = skinned_meshes(character)
    feet = foot_vertices(character, mapping, meshes)
    bone_feet = foot_bone_points(character, mapping)
    contact = result.retarget.contact
    where = {"left": [], "right": []}        # (frame index, foot position) on planted frames
    src_where = {"left": [], "right": []}
    for k, f in enumerate(frames):
        context.scene.frame_set(int(f))
        src.append(world_heads(smpl, JOINT_NAMES))
        dst.append(world_heads(character, names))
        m = np.array(character.matrix_world)
        tails.append(np.array([character.pose.bones[n].tail for n in names]) @ m[:3, :3].T + m[:3, 3])
        for side, c, ankle in zip(("left", "right"), contact[k], (7, 8)):
            if not c:
                continue
            # A planted foot: how far its lowest vertex (no mesh: foot bone end) is from the floor.
            gap, at = lowest_of(context, feet[side]) if feet[side] else lowest_bone_point(character, bone_feet[side])
            if np.isfinite(gap):
                planted.append(gap)
                where[side].append((k, at))
            src_where[side].append((k, src[-1][ankle]))
    src, dst, tails = np.array(src), np.array(dst), np.array(tails)
    at = {r: i for i, r in enumerate(roles)}
    out = {}
    for limb, sides in LIMBS.items():
        errs = []
        for (a, b), (ra, rb) in sides:
            if limb == "neck" and ra not in at:
                continue
            if ra not in at:
                continue
            end = dst[:, at[rb]] if rb in at else tails[:, at[ra]]
            errs.append(angle(src[:, b] - src[:, a], end - dst[:, at[ra]]))
        out[limb] = float(np.percentile(np.concatenate(errs), 95)) if errs else float("nan")
    # Facing in 3D (a body may lie down): across the hips x up the spine, on both.
    top = "neck" if "neck" in at else "head"
    face_c = np.cross(dst[:, at["leftUpperLeg"]] - dst[:, at["rightUpperLeg"]], dst[:, at[top]] - dst[:, at["hips"]])
    face_s = np.cross(src[:, 1] - src[:, 2], src[:, 12 if top == "neck" else 15] - src[:, 0])
    out["facing"] = float(np.percentile(angle(face_c, face_s), 95))
    hips = dst[:, at["hips"], :2]
    want = result.retarget.scale * (src[:, 0, :2] - src[0, 0, :2])
    out["root %"] = float(100 * np.abs((hips - hips[0]) - want).max() / max(np.abs(want).max(), 1e-6))
    out["root m"] = float(np.linalg.norm(want, axis=-1).max())
    # In the person's size: characters come at any scale (a glTF in centimetres is 100 x too big).
    out["feet cm"] = float(100 * np.percentile(np.abs(planted), 95) / result.retarget.scale) if planted else float("nan")
    # The same for the source: SMPL's planted foot joints off its floor, less the joint's height above the sole.
    from video_to_motion.core.common.ground import FOOT_JOINT_HEIGHT

    src_planted = np.abs(src[:, [10, 11], 2] - FOOT_JOINT_HEIGHT)[contact]
    out["src feet cm"] = float(100 * np.percentile(src_planted, 95)) if src_planted.size else float("nan")
    # Sliding: horizontal speed of a planted foot between planted frames (p95, cm/s in the person's size).
    fps = context.scene.render.fps / context.scene.render.fps_base
    slide, src_slide = slide_speeds(where, fps) / result.retarget.scale, slide_speeds(src_where, fps)
    out["slide cm/s"] = float(100 * np.percentile(slide, 95)) if slide.size else float("nan")
    out["src slide cm/s"] = float(100 * np.percentile(src_slide, 95)) if src_slide.size else float("nan")
    out["mesh moves cm"] = float("nan")
    if meshes:
        context.scene.frame_set(int(frames[0]))
        a = _mesh_points(context, meshes)
        context.scene.frame_set(int(frames[len(frames) // 2]))
        b = _mesh_points(context, meshes)
        out["mesh moves cm"] = float(100 * np.median(np.linalg.norm(a - b, axis=-1)))
    return out


def _mesh_points(context, meshes) -> np.ndarray:
    depsgraph = context.evaluated_depsgraph_get()
    pts = []
    for mesh in meshes:
        ev = mesh.evaluated_get(depsgraph)
        data = ev.to_mesh()
        co = np.empty(3 * len(data.vertices))
        data.vertices.foreach_get("co", co)
        m = np.array(ev.matrix_world)
        pts.append(co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3])
        ev.to_mesh_clear()
    return np.concatenate(pts)


def round_trips(context, character, frames, paths: dict) -> dict:
    """Export the character to each of `paths` ({"fbx": P, "glb": P}; FBX with the Unreal
    preset), read each back with Blender's own importer in a fresh scene and return, per
    format, the largest difference of its deform bones' world heads over the frames (m):
    the skeleton an engine skins with (a generated Rigify rig's controls and helpers are
    driven by constraints and custom properties the files do not carry)."""
    import bpy
    from video_to_motion.addon import exporters

    names = [b.name for b in character.data.bones if b.use_deform] or [b.name for b in character.data.bones]
    before = []
    for f in frames:
        context.scene.frame_set(int(f))
        before.append(world_heads(character, names))
    exports = {"fbx": lambda p: exporters.export_fbx(context, p, [character], preset="UNREAL"),
               "glb": lambda p: exporters.export_gltf(context, p, [character])}
    for kind, path in paths.items():
        exports[kind](path)
    fps = context.scene.render.fps
    imports = {"fbx": lambda p: bpy.ops.import_scene.fbx(filepath=str(p), anim_offset=0.0),
               "glb": lambda p: bpy.ops.import_scene.gltf(filepath=str(p))}
    out = {}
    for kind, path in paths.items():
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        bpy.context.scene.render.fps = fps
        assert imports[kind](path) == {"FINISHED"}
        back = max((o for o in bpy.data.objects if o.type == "ARMATURE"), key=lambda o: len(o.data.bones))
        err = 0.0
        for f, want in zip(frames, before):
            bpy.context.scene.frame_set(int(f))
            err = max(err, float(np.abs(world_heads(back, names) - want).max()))
        out[kind] = err
    return out


def rigify_metarig(context):
    import addon_utils
    import bpy

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    return context.view_layer.objects.active


def rigify_generated(context):
    """The rig Rigify generates from its human metarig (FK/IK controls, DEF- bones driven
    by constraints); the metarig itself is removed."""
    import bpy

    metarig = rigify_metarig(context)
    assert bpy.ops.pose.rigify_generate() == {"FINISHED"}
    rig = context.view_layer.objects.active
    bpy.data.objects.remove(metarig)
    return rig


def run_one(label, make_character, motion_path: Path, fbx_dir: Path | None, compensate: bool = True,
            people: str = "largest") -> dict:
    import bpy
    from video_to_motion.addon import characters, importer

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    result = importer.import_motion(bpy.context, motion_path, importer.ImportOptions(root_smoothing=0.0,
                                                                                     people=people))
    smpl = result.armatures[0]
    character = make_character()
    bpy.ops.object.select_all(action="DESELECT")
    started = time.perf_counter()
    anim = characters.animate_character(bpy.context, character, smpl, rest_compensation=compensate)
    row = {"rig": label, "bones": len(character.data.bones), "animate s": time.perf_counter() - started}
    row.update(measure(bpy.context, character, smpl, anim))
    if fbx_dir is not None:
        errs = round_trips(bpy.context, character, anim.frames[::10],
                           {kind: fbx_dir / f"{label}.{kind}" for kind in ("fbx", "glb")})
        row.update({f"{kind} mm": 1000 * err for kind, err in errs.items()})
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--characters", help="folder of character files (.glb/.gltf/.fbx/.blend)")
    p.add_argument("--motion", help="a vtm.motion/1 file")
    p.add_argument("--people", default="largest", help="its track: 'largest' (default) or a track id")
    p.add_argument("--bvh", help="motion capture to use (default: $VTM_SAMPLE_DATA/bvh/01_01.bvh)")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--rigify", action="store_true",
                   help="also Blender's bundled Rigify human metarig and the rig Rigify generates from it")
    p.add_argument("--fbx-dir", help="export each character to FBX and glTF here and check the round trips")
    p.add_argument("--no-compensation", action="store_true",
                   help="copy SMPL's rotations without rest-pose compensation (the baseline)")
    args = p.parse_args(argv)
    # Throwaway folders, removed before the exit (os._exit skips any clean-up at exit).
    scratch = tempfile.TemporaryDirectory(prefix="vtm_characters_")
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(Path(scratch.name) / "blender_user"))
    load_package()
    import bpy

    tmp = Path(scratch.name)
    motion = Path(args.motion) if args.motion else None
    if motion is None:
        bvh = Path(args.bvh) if args.bvh else Path(os.environ.get("VTM_SAMPLE_DATA", "sample_data")) / "bvh" / "01_01.bvh"
        motion = motion_from_bvh(bvh, args.frames, tmp / "motion.npz")
    from video_to_motion.addon import characters

    rigs = []
    if args.characters:
        for path in sorted(Path(args.characters).iterdir()):
            if path.suffix.lower() in characters.CHARACTER_SUFFIXES:
                rigs.append((path.stem, lambda path=path: characters.append_character(bpy.context, path, [])))
    if args.rigify:
        rigs.append(("rigify metarig", lambda: rigify_metarig(bpy.context)))
        rigs.append(("rigify generated", lambda: rigify_generated(bpy.context)))
    fbx_dir = Path(args.fbx_dir) if args.fbx_dir else None
    if fbx_dir:
        fbx_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, make in rigs:
        try:
            rows.append(run_one(label, make, motion, fbx_dir, compensate=not args.no_compensation,
                                people=args.people))
        except Exception as exc:  # noqa: BLE001 - one rig failing is a row of the table
            rows.append({"rig": label, "error": f"{type(exc).__name__}: {exc}"})
    cols = ["bones", "animate s", "thigh", "shin", "upper arm", "forearm", "spine", "neck", "facing", "root %", "root m", "feet cm",
            "src feet cm", "slide cm/s", "src slide cm/s", "mesh moves cm"] + (["fbx mm", "glb mm"] if fbx_dir else [])
    print(f"source: {motion} ({args.people}); rest-pose compensation {'off' if args.no_compensation else 'on'} "
          "(limb and facing columns: 95th percentile of the angle, degrees)")
    print("| rig | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for row in rows:
        if "error" in row:
            print(f"| {row['rig']} | " + row["error"][:200] + " |")
            continue
        cells = [f"{row[c]:.0f}" if c == "bones" else f"{row.get(c, float('nan')):.2f}" for c in cols]
        print(f"| {row['rig']} | " + " | ".join(cells) + " |")
    sys.stdout.flush()
    scratch.cleanup()
    if "bpy" in sys.modules:  # os._exit skips Blender's own clean-up of its temp folder
        shutil.rmtree(sys.modules["bpy"].app.tempdir, ignore_errors=True)
    os._exit(0 if all("error" not in r for r in rows) else 1)


if __name__ == "__main__":
    main()

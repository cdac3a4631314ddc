"""Humanoid rigs built from bone lists, in the naming families of real rigs (Mixamo, Unreal
Mannequin, Blender .L/.R), for tests that must run offline. Shared by the numpy tests and
the Blender cases.

Joint places come from SMPL's default rest skeleton turned Z up and scaled, with the arms
lowered into an A-pose and spines of another length than SMPL's, so the retarget has to
compensate rest pose, proportions and chain lengths.
"""
from __future__ import annotations

import numpy as np

from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS

# SMPL's frame (y up, facing +z, left +x) -> Z up, facing -Y, left +X.
_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def _joints(height_scale: float, arm_drop_deg: float) -> dict:
    j = DEFAULT_REST_JOINTS @ _ZUP.T * height_scale
    j = j - [0.0, 0.0, min(j[10, 2], j[11, 2]) - 0.04 * height_scale]  # soles at Z = 0
    names = ("pelvis", "lhip", "rhip", "spine1", "lknee", "rknee", "spine2", "lankle", "rankle", "spine3", "lfoot",
             "rfoot", "neck", "lcollar", "rcollar", "head", "lshoulder", "rshoulder", "lelbow", "relbow", "lwrist",
             "rwrist", "lhand", "rhand")
    out = {n: j[i].copy() for i, n in enumerate(names)}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        pivot = out[f"{side}shoulder"]
        a = np.radians(arm_drop_deg) * sign
        rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        for n in ("elbow", "wrist", "hand"):
            out[f"{side}{n}"] = pivot + rot @ (out[f"{side}{n}"] - pivot)
    out["toe_l"] = out["lfoot"] + [0.0, -0.07 * height_scale, -0.02 * height_scale]
    out["toe_r"] = out["rfoot"] + [0.0, -0.07 * height_scale, -0.02 * height_scale]
    out["headtop"] = out["head"] + [0.0, 0.0, 0.18 * height_scale]
    return out


def _spine(j: dict, count: int) -> list:
    return [j["pelvis"] + (j["neck"] - j["pelvis"]) * (0.12 + 0.88 * k / count) for k in range(count)]


def build(family: str, height_scale: float = 1.1, arm_drop_deg: float = 40.0) -> list[tuple]:
    """[(name, parent name or None, head [3], tail [3])] of a rig in the family 'mixamo',
    'unreal' or 'blender'; heads in metres, Z up, the character facing -Y."""
    j = _joints(height_scale, arm_drop_deg)
    bones: list[tuple] = []

    def add(name, parent, head, tail=None):
        head = np.asarray(head, float)
        tail = head + [0.0, 0.0, 0.05] if tail is None else np.asarray(tail, float)
        bones.append((name, parent, head, tail))

    if family == "mixamo":
        p = "mixamorig:"
        spine = _spine(j, 3)
        add(p + "Hips", None, j["pelvis"], spine[0])
        names = [p + "Spine", p + "Spine1", p + "Spine2"]
        for k, n in enumerate(names):
            add(n, p + "Hips" if k == 0 else names[k - 1], spine[k], spine[k + 1] if k < 2 else j["neck"])
        add(p + "Neck", names[-1], j["neck"], j["head"])
        add(p + "Head", p + "Neck", j["head"], j["headtop"])
        add(p + "HeadTop_End", p + "Head", j["headtop"], j["headtop"] + [0, 0, 0.01])
        for side, s in (("Left", "l"), ("Right", "r")):
            add(f"{p}{side}Shoulder", names[-1], j[f"{s}collar"], j[f"{s}shoulder"])
            add(f"{p}{side}Arm", f"{p}{side}Shoulder", j[f"{s}shoulder"], j[f"{s}elbow"])
            add(f"{p}{side}ForeArm", f"{p}{side}Arm", j[f"{s}elbow"], j[f"{s}wrist"])
            add(f"{p}{side}Hand", f"{p}{side}ForeArm", j[f"{s}wrist"], j[f"{s}hand"])
            add(f"{p}{side}HandIndex1", f"{p}{side}Hand", j[f"{s}hand"], j[f"{s}hand"] * 1.02)
            add(f"{p}{side}UpLeg", p + "Hips", j[f"{s}hip"], j[f"{s}knee"])
            add(f"{p}{side}Leg", f"{p}{side}UpLeg", j[f"{s}knee"], j[f"{s}ankle"])
            add(f"{p}{side}Foot", f"{p}{side}Leg", j[f"{s}ankle"], j[f"{s}foot"])
            add(f"{p}{side}ToeBase", f"{p}{side}Foot", j[f"{s}foot"], j[f"toe_{s}"])
    elif family == "unreal":
        add("root", None, [0.0, 0.0, 0.0], [0.0, 0.2, 0.0])
        spine = _spine(j, 5)
        add("pelvis", "root", j["pelvis"], spine[0])
        names = [f"spine_0{k + 1}" for k in range(5)]
        for k, n in enumerate(names):
            add(n, "pelvis" if k == 0 else names[k - 1], spine[k], spine[k + 1] if k < 4 else j["neck"])
        mid = 0.5 * (j["neck"] + j["head"])
        add("neck_01", names[-1], j["neck"], mid)
        add("neck_02", "neck_01", mid, j["head"])
        add("head", "neck_02", j["head"], j["headtop"])
        for s in ("l", "r"):
            add(f"clavicle_{s}", names[-1], j[f"{s}collar"], j[f"{s}shoulder"])
            add(f"upperarm_{s}", f"clavicle_{s}", j[f"{s}shoulder"], j[f"{s}elbow"])
            add(f"upperarm_twist_01_{s}", f"upperarm_{s}", 0.5 * (j[f"{s}shoulder"] + j[f"{s}elbow"]), j[f"{s}elbow"])
            add(f"lowerarm_{s}", f"upperarm_{s}", j[f"{s}elbow"], j[f"{s}wrist"])
            add(f"hand_{s}", f"lowerarm_{s}", j[f"{s}wrist"], j[f"{s}hand"])
            add(f"thigh_{s}", "pelvis", j[f"{s}hip"], j[f"{s}knee"])
            add(f"thigh_twist_01_{s}", f"thigh_{s}", 0.5 * (j[f"{s}hip"] + j[f"{s}knee"]), j[f"{s}knee"])
            add(f"calf_{s}", f"thigh_{s}", j[f"{s}knee"], j[f"{s}ankle"])
            add(f"foot_{s}", f"calf_{s}", j[f"{s}ankle"], j[f"{s}foot"])
            add(f"ball_{s}", f"foot_{s}", j[f"{s}foot"], j[f"toe_{s}"])
    elif family == "blender":
        spine = _spine(j, 2)
        add("Hips", None, j["pelvis"], spine[0])
        add("Spine", "Hips", spine[0], spine[1])
        add("Chest", "Spine", spine[1], j["neck"])
        add("Neck", "Chest", j["neck"], j["head"])
        add("Head", "Neck", j["head"], j["headtop"])
        for side, s in (("L", "l"), ("R", "r")):
            add(f"Shoulder.{side}", "Chest", j[f"{s}collar"], j[f"{s}shoulder"])
            add(f"UpperArm.{side}", f"Shoulder.{side}", j[f"{s}shoulder"], j[f"{s}elbow"])
            add(f"LowerArm.{side}", f"UpperArm.{side}", j[f"{s}elbow"], j[f"{s}wrist"])
            add(f"Hand.{side}", f"LowerArm.{side}", j[f"{s}wrist"], j[f"{s}hand"])
            add(f"UpperLeg.{side}", "Hips", j[f"{s}hip"], j[f"{s}knee"])
            add(f"LowerLeg.{side}", f"UpperLeg.{side}", j[f"{s}knee"], j[f"{s}ankle"])
            add(f"Foot.{side}", f"LowerLeg.{side}", j[f"{s}ankle"], j[f"{s}foot"])
            add(f"Toes.{side}", f"Foot.{side}", j[f"{s}foot"], j[f"toe_{s}"])
    else:
        raise ValueError(family)
    return bones


FAMILIES = ("mixamo", "unreal", "blender")

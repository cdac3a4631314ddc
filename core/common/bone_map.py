"""Which bone of a character's armature plays which part of the body (numpy + stdlib).

A *bone map* ties body roles (the VRM humanoid's names: `hips`, `leftUpperLeg`, ...) to
bone names. `spine` and `neck` are chains (lists, hips to head) because rigs have one to
five spine bones; every other role is one bone. The automatic map reads bone names in
the families rigs are made with (Mixamo `mixamorig:LeftUpLeg`, Rigify metarig and `DEF-`
bones, Unreal Mannequin `thigh_l`, VRM `J_Bip_L_UpperLeg`, and the common `.L/.R`,
`_l/_r`, `Left/Right` spellings); what names leave open is found by the skeleton's shape
(chains from the hips: two legs going down, two arms going sideways, the head going up).
The spine and neck chains are always the bones between hips, neck and head in the tree.

A map is saved as a small JSON preset: {"schema": "vtm.bonemap/1", "bones": {role: name
or [names]}}.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np

SCHEMA = "vtm.bonemap/1"
SIDES = ("left", "right")
LIMB_ROLES = ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")
CHAIN_ROLES = ("spine", "neck")
ROLES = ("hips", "spine", "neck", "head") + tuple(f"{s}{r}" for s in SIDES for r in LIMB_ROLES)
# Without these the body cannot be posed; the others are used when present.
ESSENTIAL = ("hips", "spine", "head") + tuple(
    f"{s}{r}" for s in SIDES for r in ("UpperArm", "LowerArm", "UpperLeg", "LowerLeg", "Foot"))

# Normalised base names (side removed, lower case, letters and digits only) per role.
# "leg" is the lower leg when the rig also has an up-leg/thigh (Mixamo), else the upper leg.
_SIDED = {
    "Shoulder": ("shoulder", "clavicle", "collar", "collarbone"),
    "UpperArm": ("upperarm", "uparm", "arm"),
    "LowerArm": ("forearm", "lowerarm", "lowarm", "elbow"),
    "Hand": ("hand", "wrist", "fist", "palm"),
    "UpperLeg": ("upleg", "upperleg", "thigh"),
    "LowerLeg": ("lowerleg", "calf", "shin", "knee", "lowleg"),
    "Foot": ("foot", "ankle"),
    "Toes": ("toebase", "toes", "toe", "ball"),
}
_HIPS = ("hips", "pelvis", "hip", "waist")
_HEAD = ("head",)
_NECK = ("neck", "neck1", "neck01")
# Prefixes of name families that say nothing about the role.
_PREFIXES = re.compile(r"^(mixamorig\d*|def-|j_bip_c_|j_bip_|cc_base_|bip0*1[ _]?|b_)", re.IGNORECASE)
_SIDE_PATTERNS = (
    re.compile(r"^(?P<side>left|right)(?=[A-Z_.\- ]|$)", re.IGNORECASE),
    re.compile(r"(?<=[a-z_.\- ])(?P<side>left|right)$", re.IGNORECASE),
    re.compile(r"[._\- ](?P<side>[LRlr])$"),
    re.compile(r"^(?P<side>[LRlr])[._\- ]"),
)


class BoneMapError(ValueError):
    """The character's bones cannot be mapped, or a preset does not fit the armature."""


@dataclasses.dataclass
class Skeleton:
    """A character's bones at rest, in the world (Z up): names [B], parents [B] (-1 for a
    root), heads [B, 3], tails [B, 3]."""

    names: list[str]
    parents: np.ndarray
    heads: np.ndarray
    tails: np.ndarray

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.names]
        for b, p in enumerate(self.parents):
            if p >= 0:
                out[int(p)].append(b)
        return out

    def path(self, ancestor: int, bone: int) -> list[int] | None:
        """Bones from `ancestor` down to `bone` (both included), or None if not below it."""
        out = [bone]
        while out[-1] != ancestor:
            p = int(self.parents[out[-1]])
            if p < 0:
                return None
            out.append(p)
        return out[::-1]


def split_name(name: str) -> tuple[str | None, str]:
    """(side 'left'/'right'/None, normalised base) of a bone name."""
    short = re.split(r"[:|]", name)[-1]
    short = _PREFIXES.sub("", short)
    side = None
    for pattern in _SIDE_PATTERNS:
        m = pattern.search(short)
        if m:
            side = "left" if m.group("side")[0] in "lL" else "right"
            short = short[:m.start()] + short[m.end():]
            break
    return side, re.sub(r"[^a-z0-9]", "", short.lower())


def _is_rigify(names: list[str]) -> bool:
    plain = {re.sub(r"^DEF-", "", n) for n in names}
    return {"spine", "spine.004", "spine.006", "thigh.L", "upper_arm.L"} <= plain


def auto_map(skeleton: Skeleton) -> dict:
    """A bone map from names, completed from the skeleton's shape. Roles it cannot fill
    are left out (`missing_roles` names them)."""
    names = skeleton.names
    found: dict = {}
    if _is_rigify(names):
        prefix = "DEF-" if "DEF-spine" in names else ""
        found.update(hips=f"{prefix}spine", head=f"{prefix}spine.006", neck=[f"{prefix}spine.004"])
    by_base: dict[tuple, list[str]] = {}
    for name in names:
        if name.startswith(("ORG-", "MCH-")):
            continue  # Rigify's helper bones: never the ones to pose
        by_base.setdefault(split_name(name), []).append(name)
    has_upleg = {s: any((s, b) in by_base for b in _SIDED["UpperLeg"]) for s in SIDES}
    for side in SIDES:
        for role, bases in _SIDED.items():
            key = f"{side}{role}"
            bases = bases + (("leg",) if role == "UpperLeg" and not has_upleg[side] else ())
            bases = (("leg",) if role == "LowerLeg" and has_upleg[side] else ()) + bases
            for base in bases:
                if (side, base) in by_base and key not in found:
                    found[key] = by_base[(side, base)][0]
    for role, bases in (("hips", _HIPS), ("head", _HEAD)):
        for base in bases:
            if role not in found and (None, base) in by_base:
                found[role] = by_base[(None, base)][0]
    if "neck" not in found:
        for base in _NECK:
            if (None, base) in by_base:
                found["neck"] = [by_base[(None, base)][0]]
                break
    _by_shape(skeleton, found)
    return _chains(skeleton, found)


def _by_shape(sk: Skeleton, found: dict) -> None:
    """Fill roles the names left open from the tree's shape (Z up, the body's left at +X
    when nothing says otherwise)."""
    heads, kids = sk.heads, sk.children()
    height = float(np.ptp(np.concatenate([heads[:, 2], sk.tails[:, 2]]))) or 1.0
    leaves = [b for b in range(len(sk.names)) if not kids[b]]
    if not leaves:
        return
    idx = lambda role: sk.index(found[role]) if isinstance(found.get(role), str) else None

    def lca(a: int, b: int) -> int | None:
        up = set()
        while a >= 0:
            up.add(a)
            a = int(sk.parents[a])
        while b >= 0 and b not in up:
            b = int(sk.parents[b])
        return b if b >= 0 else None

    lowest = lambda subset: min(subset, key=lambda b: min(heads[b, 2], sk.tails[b, 2]))
    feet_leaves = sorted(leaves, key=lambda b: min(heads[b, 2], sk.tails[b, 2]))
    legs = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        foot = idx(f"{side}Foot") or idx(f"{side}LowerLeg")
        if foot is not None:
            below = [b for b in leaves if sk.path(foot, b)]
            legs[side] = lowest(below) if below else foot
        else:
            cands = [b for b in feet_leaves[:4] if sign * heads[b, 0] > 0]
            if cands:
                legs[side] = cands[0]
    if "hips" not in found and len(legs) == 2:
        hips = lca(legs["left"], legs["right"])
        if hips is not None:
            found["hips"] = sk.names[hips]
    hips = idx("hips")
    if hips is None:
        return
    for side, leaf in legs.items():
        chain = (sk.path(hips, leaf) or [])[1:]
        _fill_limb(sk, found, side, chain, ("UpperLeg", "LowerLeg", "Foot", "Toes"))
    # Arms: the leaves farthest out to each side, outside the legs (A-pose hands hang low).
    in_legs = {b for side, leaf in legs.items() for b in (sk.path(hips, leaf) or [])[1:]}
    upper = [b for b in leaves if b not in in_legs and heads[b, 2] > heads[hips, 2] - 0.2 * height
             and not any(sk.path(x, b) for x in in_legs)]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        if all(f"{side}{r}" in found for r in ("UpperArm", "LowerArm")):
            continue
        cands = [b for b in upper if sign * heads[b, 0] > 0.1 * height]
        if not cands:
            continue
        leaf = max(cands, key=lambda b: sign * heads[b, 0])
        chain = sk.path(hips, leaf) or []
        # The arm leaves the spine where the chain starts moving sideways.
        start = next((i for i, b in enumerate(chain) if sign * heads[b, 0] > 0.05 * height), None)
        if start is not None:
            _fill_limb(sk, found, side, chain[max(start - 1, 1):], ("Shoulder", "UpperArm", "LowerArm", "Hand"))
    if "head" not in found:
        top = max(leaves, key=lambda b: heads[b, 2])
        chain = sk.path(hips, top) or []
        if len(chain) >= 3:
            # A short end bone on top is a head-top marker; the head is its parent.
            length = np.linalg.norm(sk.tails[top] - heads[top])
            found["head"] = sk.names[chain[-2] if length < 0.02 * height and kids[chain[-2]] == [top] else top]


def _fill_limb(sk: Skeleton, found: dict, side: str, chain: list[int], roles: tuple[str, ...]) -> None:
    """Name a limb chain's bones: the two longest consecutive bones are the long bones
    (upper/lower leg or arm); the bone before them is the shoulder, those after are the
    foot/hand and toes."""
    if len(chain) < 2 or all(f"{side}{r}" in found for r in roles):
        return
    ends = [chain[i + 1] for i in range(len(chain) - 1)] + [None]
    length = [np.linalg.norm((sk.heads[e] if e is not None else sk.tails[b]) - sk.heads[b]) for b, e in zip(chain, ends)]
    pair = max(range(len(chain) - 1), key=lambda i: length[i] + length[i + 1])
    long_roles = [r for r in roles if r in ("UpperLeg", "LowerLeg", "UpperArm", "LowerArm")]
    before = [r for r in roles if r == "Shoulder"]
    after = [r for r in roles if r in ("Foot", "Toes", "Hand")]
    assign = {}
    assign[long_roles[0]], assign[long_roles[1]] = chain[pair], chain[pair + 1]
    if before and pair >= 1:
        assign[before[0]] = chain[pair - 1]
    for role, i in zip(after, range(pair + 2, len(chain))):
        assign[role] = chain[i]
    used = {found[k] for k in found if isinstance(found[k], str)}
    for role, b in assign.items():
        key = f"{side}{role}"
        if key not in found and sk.names[b] not in used:
            found[key] = sk.names[b]


def _chains(sk: Skeleton, found: dict) -> dict:
    """Spine = the bones between hips and neck (or head); neck = from its first bone to the head."""
    out = dict(found)
    if "hips" not in out or "head" not in out:
        return out
    hips, head = sk.index(out["hips"]), sk.index(out["head"])
    path = sk.path(hips, head)
    if path is None:
        return out
    neck0 = out.get("neck", [None])[0] if out.get("neck") else None
    if neck0 is not None and sk.index(neck0) in path[1:-1]:
        cut = path.index(sk.index(neck0))
    else:
        # No neck by name: the last bone below the head is the neck when the spine has others.
        cut = len(path) - 2 if len(path) >= 4 else len(path) - 1
    out["spine"] = [sk.names[b] for b in path[1:cut]]
    out["neck"] = [sk.names[b] for b in path[cut:-1]]
    if not out["neck"]:
        del out["neck"]
    if not out["spine"]:
        del out["spine"]
    return out


def role_label(role: str) -> str:
    """'leftUpperLeg' -> 'left upper leg'."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", role).lower()


def missing_roles(mapping: dict) -> list[str]:
    return [r for r in ESSENTIAL if not mapping.get(r)]


def check_map(mapping: dict, names: list[str]) -> dict:
    """A usable map for an armature with bones `names`, or BoneMapError saying what is wrong."""
    unknown = [r for r in mapping if r not in ROLES]
    if unknown:
        raise BoneMapError(f"unknown roles in the bone map: {', '.join(unknown)} (roles are {', '.join(ROLES)})")
    absent = sorted({b for v in mapping.values() for b in ([v] if isinstance(v, str) else v) if b not in names})
    if absent:
        raise BoneMapError(f"the armature has no bones named {', '.join(repr(b) for b in absent)}")
    missing = missing_roles(mapping)
    if missing:
        raise BoneMapError("the character's armature has no bone for: " + ", ".join(role_label(r) for r in missing)
                           + "; map them in the panel's bone list or with a bone map preset (--character-map)")
    used = [b for v in mapping.values() for b in ([v] if isinstance(v, str) else v)]
    twice = sorted({b for b in used if used.count(b) > 1})
    if twice:
        raise BoneMapError(f"bones mapped to more than one role: {', '.join(twice)}")
    return mapping


def to_json(mapping: dict) -> str:
    return json.dumps({"schema": SCHEMA, "bones": {r: mapping[r] for r in ROLES if mapping.get(r)}}, indent=1)


def write_preset(path: str | os.PathLike, mapping: dict) -> Path:
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(to_json(mapping))
    return Path(path)


def read_preset(path: str | os.PathLike) -> dict:
    """A bone map from a JSON preset file; BoneMapError when it is not one."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise BoneMapError(f"bone map preset '{path}' does not exist") from None
    except OSError as exc:
        raise BoneMapError(f"bone map preset '{path}' cannot be read ({exc})") from None
    return read_preset_text(text, str(path))


def read_preset_text(text: str, where: str = "the bone map") -> dict:
    """A bone map from a preset's JSON text."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BoneMapError(f"'{where}' is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("bones"), dict):
        raise BoneMapError(f"'{where}' is not a bone map preset (expected {{\"schema\": \"{SCHEMA}\", \"bones\": ...}})")
    out = {}
    for role, value in data["bones"].items():
        chain = role in CHAIN_ROLES
        ok = (isinstance(value, list) and all(isinstance(v, str) for v in value)) if chain else isinstance(value, str)
        if not ok:
            raise BoneMapError(f"'{where}': role '{role}' needs {'a list of bone names' if chain else 'a bone name'}")
        out[role] = list(value) if chain else value
    return out

"""Writing and reading keyframes fast, on every Blender from 4.2 to 5.x.

Blender 4.4 brought slotted (layered) actions and 5.0 removed `Action.fcurves`: F-curves
then live in the channelbag of a keyframe strip, one channelbag per slot. `channels()` is
the one place that knows where an action's F-curves and groups are; `ActionWriter` writes
through it (each curve in one go with `keyframe_points.add` + `foreach_set`, hundreds of
times faster than `keyframe_insert`) and `action_fcurves` reads through it. Slotted actions
are used wherever the running Blender has them, the legacy API only before 4.4.
"""
from __future__ import annotations

import bpy
import numpy as np

# Raw values of the keyframe `interpolation` enum (foreach_set writes the raw ints).
CONSTANT = 0
LINEAR = 1


def has_slotted_actions() -> bool:
    """True on Blender 4.4+. RNA properties are not Python class attributes, so
    `hasattr(bpy.types.Action, "slots")` is False even where actions have slots."""
    return "slots" in bpy.types.Action.bl_rna.properties


def channels(action: bpy.types.Action, slot=None, ensure: bool = False):
    """What holds the F-curves (`.fcurves`) and groups (`.groups`) of `action` for `slot`.

    Before 4.4 that is the action itself. With slotted actions it is the channelbag of
    `slot` in the action's first keyframe strip; with `ensure` the layer, strip and
    channelbag are made when missing. None when there is none (and not `ensure`).
    """
    if not has_slotted_actions():
        return action
    if slot is None:
        return None
    if not action.layers:
        if not ensure:
            return None
        action.layers.new("Layer")
    layer = action.layers[0]
    if not layer.strips:
        if not ensure:
            return None
        layer.strips.new(type="KEYFRAME")
    return layer.strips[0].channelbag(slot, ensure=ensure)


class ActionWriter:
    """Creates an action for `obj` and fills its F-curves; assign() hooks it up at the end.

    The action is assigned only after its curves exist: in 4.5 a legacy action assigned
    while still empty was seen to animate nothing.
    """

    def __init__(self, obj: bpy.types.Object, name: str):
        self.obj = obj
        # No id_root here: on 4.5 it leaves a legacy-written action's slot unassignable.
        self.action = bpy.data.actions.new(name)
        self.slot = self.action.slots.new(id_type="OBJECT", name=obj.name) if has_slotted_actions() else None
        self._channels = channels(self.action, self.slot, ensure=True)
        self._groups: dict[str, object] = {}
        self.curves: list[bpy.types.FCurve] = []

    def _group(self, name: str):
        if name not in self._groups:
            self._groups[name] = self._channels.groups.new(name)
        return self._groups[name]

    def curve(self, data_path: str, index: int, frames: np.ndarray, values: np.ndarray,
              interpolation: np.ndarray | int = LINEAR, group: str | None = None) -> bpy.types.FCurve:
        """One F-curve with keys at `frames` [K] (Blender frames) holding `values` [K]."""
        fcurve = self._channels.fcurves.new(data_path, index=index)
        if group:
            fcurve.group = self._group(group)
        n = len(frames)
        co = np.empty((n, 2), dtype=np.float32)
        co[:, 0] = frames
        co[:, 1] = values
        points = fcurve.keyframe_points
        points.add(n)
        points.foreach_set("co", co.ravel())
        interp = np.broadcast_to(np.asarray(interpolation, dtype=np.int32), (n,))
        points.foreach_set("interpolation", np.ascontiguousarray(interp))
        fcurve.update()
        self.curves.append(fcurve)
        return fcurve

    def assign(self) -> None:
        anim = self.obj.animation_data or self.obj.animation_data_create()
        anim.action = self.action
        if self.slot is not None and anim.action_slot != self.slot:
            anim.action_slot = self.slot


def action_fcurves(action: bpy.types.Action, obj: bpy.types.Object | None = None) -> list:
    """The F-curves of an action: of obj's slot on slotted actions (every slot's without obj)."""
    if not has_slotted_actions():
        return list(action.fcurves)
    slot = None
    if obj is not None and obj.animation_data is not None:
        slot = obj.animation_data.action_slot
    out = []
    for s in ([slot] if slot is not None else list(action.slots)):
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(s)
                if bag is not None:
                    out.extend(bag.fcurves)
    return out


def read_curve(fcurve) -> tuple[np.ndarray, np.ndarray]:
    """(frames [K], values [K]) of an F-curve's keys."""
    n = len(fcurve.keyframe_points)
    co = np.empty(2 * n, dtype=np.float32)
    fcurve.keyframe_points.foreach_get("co", co)
    co = co.reshape(n, 2)
    return co[:, 0].copy(), co[:, 1].copy()

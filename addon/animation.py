"""Writing keyframes fast, on every Blender from 4.2 to 5.x.

Blender 4.4 brought slotted (layered) actions and 5.0 removed `Action.fcurves`; F-curves
then live in a channelbag of a keyframe strip for the object's slot. `ActionWriter` takes
whichever path the running Blender has (or the one a test forces) and writes each curve
in one go with `keyframe_points.add` + `foreach_set`, which is hundreds of times faster
than `keyframe_insert`.
"""
from __future__ import annotations

import bpy
import numpy as np

# Raw values of the keyframe `interpolation` enum (foreach_set writes the raw ints).
CONSTANT = 0
LINEAR = 1


def has_slotted_actions() -> bool:
    return hasattr(bpy.types.Action, "slots")


class ActionWriter:
    """Creates an action for `obj` and fills its F-curves; assign() hooks it up at the end.

    The action is assigned only after its curves exist: in 4.5 a legacy action assigned
    while still empty was seen to animate nothing.
    """

    def __init__(self, obj: bpy.types.Object, name: str, slotted: bool | None = None):
        self.obj = obj
        # No id_root here: on 4.5 it leaves a legacy-written action's slot unassignable.
        self.action = bpy.data.actions.new(name)
        self.slotted = has_slotted_actions() if slotted is None else slotted
        self._groups: dict[str, object] = {}
        self.slot = None
        if self.slotted:
            self.slot = self.action.slots.new(id_type="OBJECT", name=obj.name)
            strip = self.action.layers.new("Layer").strips.new(type="KEYFRAME")
            self._bag = strip.channelbag(self.slot, ensure=True)
        self.curves: list[bpy.types.FCurve] = []

    def _group(self, name: str):
        if name not in self._groups:
            groups = self._bag.groups if self.slotted else self.action.groups
            self._groups[name] = groups.new(name)
        return self._groups[name]

    def curve(self, data_path: str, index: int, frames: np.ndarray, values: np.ndarray,
              interpolation: np.ndarray | int = LINEAR, group: str | None = None) -> bpy.types.FCurve:
        """One F-curve with keys at `frames` [K] (Blender frames) holding `values` [K]."""
        curves = self._bag.fcurves if self.slotted else self.action.fcurves
        fcurve = curves.new(data_path, index=index)
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
        if self.slotted and self.slot is not None and anim.action_slot != self.slot:
            anim.action_slot = self.slot
        elif has_slotted_actions() and anim.action_slot is None and len(self.action.slots):
            # 4.4/4.5 give a legacy-written action a slot of its own; it must be picked.
            anim.action_slot = self.action.slots[0]


def action_fcurves(action: bpy.types.Action, obj: bpy.types.Object | None = None) -> list:
    """The F-curves of an action (of obj's slot on slotted actions)."""
    if not has_slotted_actions() or not action.layers:
        return list(getattr(action, "fcurves", []))
    slot = None
    if obj is not None and obj.animation_data is not None:
        slot = obj.animation_data.action_slot
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            for s in ([slot] if slot is not None else list(action.slots)):
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

"""The sidebar panel (3D View > Sidebar > Video to Motion)."""
from __future__ import annotations

import bpy
from bpy.types import Panel

from . import common
from .exporters import FORMATS


class _VTMPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Video to Motion"


class VTM_PT_main(_VTMPanel, Panel):
    bl_label = "Video to Motion"
    bl_idname = "VTM_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.vtm
        state = context.window_manager.vtm
        layout.use_property_split = True
        layout.use_property_decorate = False

        col = layout.column()
        col.enabled = not state.running
        col.prop(settings, "video")
        col.prop(settings, "use_frame_range")
        if settings.use_frame_range:
            sub = col.column(align=True)
            sub.prop(settings, "frame_start")
            sub.prop(settings, "frame_end")
        col.prop(settings, "estimator")
        if settings.estimator == "CUSTOM":
            col.prop(settings, "estimator_custom")
        if settings.estimator in {"AUTO", "TAR"}:
            col.prop(settings, "checkpoint")
        col.prop(settings, "device")
        col.prop(settings, "detector_size")
        col.prop(settings, "people")
        if settings.people == "TRACK":
            col.prop(settings, "track_id")

        col = layout.column()
        col.enabled = not state.running
        col.prop(settings, "root_smoothing")
        col.prop(settings, "rotation_smoothing")
        col.prop(settings, "foot_lock")
        col.prop(settings, "ground")
        col.prop(settings, "camera")
        col.prop(settings, "camera_motion")
        prefs = common.preferences()
        mesh_row = col.row()
        mesh_row.prop(settings, "mesh")
        mesh_row.active = bool(prefs and prefs.smpl_model)

        layout.use_property_split = False
        row = layout.row(align=True)
        row.scale_y = 1.4
        if state.running:
            row.operator("vtm.cancel", icon="CANCEL")
        else:
            row.operator("vtm.run", icon="PLAY")
        if state.running or state.status:
            common.progress_bar(layout, state.progress, state.status or "")
        if state.last_error:
            box = layout.box()
            for i, line in enumerate(_wrap(state.last_error, 60)[:6]):
                box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        elif state.last_warning:
            layout.label(text=state.last_warning[:120], icon="INFO")
        layout.operator("vtm.import_motion", icon="IMPORT")


class VTM_PT_export(_VTMPanel, Panel):
    bl_label = "Export"
    bl_idname = "VTM_PT_export"
    bl_parent_id = "VTM_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        col = layout.column(align=True)
        for fmt in FORMATS.values():
            op = col.operator("vtm.export", text=f"Export {fmt.label}")
            op.format = fmt.key


def _wrap(text: str, width: int) -> list[str]:
    lines = []
    for para in text.splitlines() or [""]:
        words, line = para.split(), ""
        for word in words:
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
    return lines


CLASSES = (VTM_PT_main, VTM_PT_export)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)

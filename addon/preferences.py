"""Add-on preferences: the worker's Python, model files, "Check worker" and "Set up worker"."""
from __future__ import annotations

import bpy
from bpy.props import StringProperty
from bpy.types import AddonPreferences

from . import common


class VTM_AddonPreferences(AddonPreferences):
    bl_idname = common.ADDON_ID

    worker_python: StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description="Python interpreter of the worker's environment (with torch); empty: the one 'Set up worker' made")
    smpl_model: StringProperty(
        name="SMPL Model", subtype="FILE_PATH",
        description="SMPL model file (SMPL_NEUTRAL.pkl or .npz); enables the body mesh")
    default_checkpoint: StringProperty(
        name="Default Checkpoint", subtype="FILE_PATH", description="TAR checkpoint used when the panel sets none")
    detector_weights: StringProperty(
        name="Detector Weights", subtype="FILE_PATH", description="YOLO weights for person detection; empty: default")
    worker_env_dir: StringProperty(
        name="Worker Environment", subtype="DIR_PATH",
        description="Folder where 'Set up worker' creates the virtual environment; empty: the extension's user folder")
    setup_base_python: StringProperty(
        name="Base Python", subtype="FILE_PATH",
        description="Python 3.11+ used to create the environment; empty: Blender's own Python")
    setup_wheel_dir: StringProperty(
        name="Offline Packages", subtype="DIR_PATH",
        description="Install from this folder of wheels only (no internet); empty: from PyPI")

    def draw(self, context):
        layout = self.layout
        state = context.window_manager.vtm
        col = layout.column()
        col.prop(self, "worker_python")
        col.prop(self, "smpl_model")
        col.prop(self, "default_checkpoint")
        col.prop(self, "detector_weights")

        box = layout.box()
        box.label(text="Worker", icon="CONSOLE")
        row = box.row()
        row.operator("vtm.check_worker", icon="VIEWZOOM")
        row.enabled = not state.check_running
        for line in state.check_report.splitlines():
            box.label(text=line, icon="ERROR" if line.startswith("Problem") else "DOT")

        box = layout.box()
        box.label(text="Set Up Worker", icon="PACKAGE")
        box.prop(self, "worker_env_dir")
        box.prop(self, "setup_base_python")
        box.prop(self, "setup_wheel_dir")
        row = box.row()
        if state.setup_running:
            common.progress_bar(row, state.setup_progress, state.setup_status)
            box.operator("vtm.cancel_setup", icon="CANCEL")
        else:
            row.operator("vtm.setup_worker", icon="IMPORT")
            if state.setup_status:
                box.label(text=state.setup_status)
        if state.setup_error:
            for line in state.setup_error.splitlines()[:8]:
                box.label(text=line, icon="ERROR")


def register() -> None:
    bpy.utils.register_class(VTM_AddonPreferences)


def unregister() -> None:
    bpy.utils.unregister_class(VTM_AddonPreferences)

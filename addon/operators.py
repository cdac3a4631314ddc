"""Operators: run the worker and import, cancel, import a motion file, check the worker.

Long jobs are modal: a timer polls the child process, the UI stays live and Cancel stops
the child. Modal operators do not run in background mode (`INVOKE_DEFAULT` calls
`execute` there), so `execute` runs the same controller synchronously.
"""
from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..core.client.child_process import python_executable_problem
from ..core.client.worker_client import ProtocolRun, check_command, summary_lines
from . import common, exporters
from .exporters import FORMATS, vtm_armatures
from .importer import ImportFailed, ImportOptions, import_motion
from .jobs import RunController, UserError, request_from_context

TIMER_SECONDS = 0.1


class _Modal:
    """Timer plumbing shared by the modal operators."""

    _timer = None

    def _add_timer(self, context) -> None:
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)

    def _remove_timer(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None


class VTM_OT_run(_Modal, Operator):
    """Run the worker on the video and import the motion as keyframed armatures"""

    bl_idname = "vtm.run"
    bl_label = "Run"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return not context.window_manager.vtm.running

    def _controller(self, context):
        try:
            return RunController(request_from_context(context))
        except UserError as exc:
            context.window_manager.vtm.last_error = str(exc)
            self.report({"ERROR"}, str(exc))
            return None

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        self.controller = self._controller(context)
        if self.controller is None:
            return {"CANCELLED"}
        self.controller.start(context.window_manager.vtm)
        self._add_timer(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        state = context.window_manager.vtm
        over = self.controller.tick(state)
        common.redraw_all(context)
        if not over:
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return self._finish(context)

    def execute(self, context):
        controller = self._controller(context)
        if controller is None:
            return {"CANCELLED"}
        self.controller = controller
        state = context.window_manager.vtm
        controller.run_blocking(context, state, should_cancel=lambda: state.cancel_requested)
        return self._report(controller)

    def _finish(self, context):
        self.controller.finish(context, context.window_manager.vtm)
        common.redraw_all(context)
        return self._report(self.controller)

    def _report(self, controller):
        for warning in controller.warnings[-3:]:
            self.report({"WARNING"}, warning)
        if controller.error:
            self.report({"ERROR"}, controller.error)
            return {"CANCELLED"}
        names = ", ".join(o.name for o in controller.result.armatures)
        self.report({"INFO"}, f"imported {names}")
        return {"FINISHED"}

    def cancel(self, context):  # Blender calls this when the window closes mid-run
        self._remove_timer(context)
        if getattr(self, "controller", None) is not None:
            self.controller.cancel()
        context.window_manager.vtm.running = False


class VTM_OT_cancel(Operator):
    """Stop the running worker; nothing is imported"""

    bl_idname = "vtm.cancel"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context):
        return context.window_manager.vtm.running

    def execute(self, context):
        context.window_manager.vtm.cancel_requested = True
        return {"FINISHED"}


def options_from_scene(context, video: str | None = None, name: str | None = None) -> ImportOptions:
    settings = context.scene.vtm
    people = {"LARGEST": "largest", "ALL": "all"}.get(settings.people, str(settings.track_id))
    prefs = common.preferences()
    options = ImportOptions(people=people, root_smoothing=settings.root_smoothing,
                            rotation_smoothing=settings.rotation_smoothing, foot_lock=settings.foot_lock,
                            ground=settings.ground,
                            camera=settings.camera, video=video, name=name)
    smpl = common.abspath(prefs.smpl_model) if prefs else ""
    if settings.mesh and smpl and os.path.isfile(smpl):
        cache = common.mesh_cache_path(smpl)
        if cache.exists():
            options.mesh_file = str(cache)
    return options


class VTM_OT_import_motion(Operator, ImportHelper):
    """Import a motion file (vtm.motion/1 .npz) with the panel's import settings"""

    bl_idname = "vtm.import_motion"
    bl_label = "Import Motion File"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    video: StringProperty(name="Video", subtype="FILE_PATH",
                          description="Footage for the camera background (default: the panel's video)")

    def execute(self, context):
        video = common.abspath(self.video or context.scene.vtm.video) or None
        options = options_from_scene(context, video=video if video and os.path.isfile(video) else None)
        state = context.window_manager.vtm
        try:
            result = import_motion(context, self.filepath, options)
        except (ImportFailed, ValueError, OSError) as exc:
            state.last_error = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        state.last_error = ""
        for warning in result.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"imported {', '.join(o.name for o in result.armatures)}")
        return {"FINISHED"}


class VTM_OT_check_worker(_Modal, Operator):
    """Report what the worker's Python has: versions, CUDA, devices"""

    bl_idname = "vtm.check_worker"
    bl_label = "Check Worker"

    def _start(self, context):
        state = context.window_manager.vtm
        python = common.worker_python()
        problem = python_executable_problem(python)
        if problem:
            state.check_report = f"Problem: {problem}"
            self.report({"ERROR"}, problem)
            return None
        run = ProtocolRun(check_command(python), what="the worker check")
        run.start()
        state.check_running, state.check_report = True, f"checking {python} ..."
        return run

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        self.run = self._start(context)
        if self.run is None:
            return {"CANCELLED"}
        self._add_timer(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER" or not self.run.poll():
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return self._finish(context)

    def execute(self, context):
        self.run = self._start(context)
        if self.run is None:
            return {"CANCELLED"}
        self.run.wait(timeout=300)
        return self._finish(context)

    def _finish(self, context):
        state = context.window_manager.vtm
        state.check_running = False
        report = self.run.info.get("check")
        lines = summary_lines(report) if report else []
        if self.run.error is not None and not report:
            lines.append(f"Problem: {self.run.error}")
        state.check_report = "\n".join(lines)
        common.redraw_all(context)
        if self.run.error is not None:
            self.report({"ERROR"}, str(self.run.error))
            return {"CANCELLED"}
        self.report({"INFO"}, lines[1] if len(lines) > 1 else "worker OK")
        return {"FINISHED"}


class VTM_OT_setup_worker(_Modal, Operator):
    """Create the worker's virtual environment and install what it needs (CUDA PyTorch when
    an NVIDIA GPU is present, CPU PyTorch otherwise)"""

    bl_idname = "vtm.setup_worker"
    bl_label = "Set Up Worker"

    packages: StringProperty(name="Packages", options={"HIDDEN", "SKIP_SAVE"},
                             description="Space-separated requirements instead of the worker's own (advanced)")

    def _start(self, context):
        from ..core.client import worker_setup

        prefs = common.preferences()
        state = context.window_manager.vtm
        env_dir = common.abspath(prefs.worker_env_dir) if prefs and prefs.worker_env_dir else str(
            common.default_worker_env())
        base = (common.abspath(prefs.setup_base_python) if prefs and prefs.setup_base_python
                else worker_setup.default_base_python())
        wheels = common.abspath(prefs.setup_wheel_dir) if prefs and prefs.setup_wheel_dir else ""
        pip_args = ["--no-index", "--find-links", wheels] if wheels else []
        requirements = self.packages.split() if self.packages.strip() else None
        steps = worker_setup.plan(base, env_dir, requirements=requirements, pip_args=pip_args)
        setup = worker_setup.WorkerSetup(steps, base, env_dir)
        state.setup_running, state.setup_cancel_requested = True, False
        state.setup_error, state.setup_progress, state.setup_status = "", 0.0, "starting"
        setup.start()
        return setup

    def _tick(self, context) -> bool:
        state = context.window_manager.vtm
        if state.setup_cancel_requested and not self.setup.cancelled:
            self.setup.cancel()
        over = self.setup.poll()
        state.setup_progress = self.setup.progress
        state.setup_status = self.setup.status
        return over

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        self.setup = self._start(context)
        self._add_timer(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        over = self._tick(context)
        common.redraw_all(context)
        if not over:
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return self._finish(context)

    def execute(self, context):
        import time

        self.setup = self._start(context)
        while not self._tick(context):
            time.sleep(0.1)
        return self._finish(context)

    def _finish(self, context):
        state = context.window_manager.vtm
        state.setup_running = False
        setup = self.setup
        if setup.report is not None:
            state.check_report = "\n".join(summary_lines(setup.report))
        if setup.error:
            state.setup_error = setup.error
            state.setup_status = "failed"
            self.report({"ERROR"}, setup.error.splitlines()[0])
            return {"CANCELLED"}
        prefs = common.preferences()
        if prefs is not None:
            prefs.worker_python = str(setup.python)
        state.setup_status = f"worker ready: {setup.python}"
        self.report({"INFO"}, state.setup_status)
        return {"FINISHED"}


class VTM_OT_cancel_setup(Operator):
    """Stop the worker set-up"""

    bl_idname = "vtm.cancel_setup"
    bl_label = "Cancel Set-Up"
    bl_options = {"INTERNAL"}

    def execute(self, context):
        context.window_manager.vtm.setup_cancel_requested = True
        return {"FINISHED"}


EXPORT_FORMATS = [(f.key, f.label, f.description) for f in FORMATS.values()]


def export_targets(context) -> list:
    chosen = vtm_armatures(context.selected_objects)
    if not chosen and context.active_object is not None:
        chosen = vtm_armatures([context.active_object])
    return chosen


class VTM_OT_export(Operator, ExportHelper):
    """Export the selected imported tracks"""

    bl_idname = "vtm.export"
    bl_label = "Export Motion"
    bl_options = {"REGISTER"}

    filename_ext = ".fbx"
    filter_glob: StringProperty(default=";".join(f"*{f.suffix}" for f in FORMATS.values()), options={"HIDDEN"})
    format: EnumProperty(name="Format", items=EXPORT_FORMATS, default="FBX")
    fbx_preset: EnumProperty(name="Target", default="BLENDER", items=[
        ("BLENDER", "Blender", "Blender's own axes and units"),
        ("UNREAL", "Unreal", "Z up; Unreal converts the metres to centimetres"),
        ("UNITY", "Unity", "Y up, unit scale folded in, imports at scale 1"),
    ])
    include_mesh: BoolProperty(name="Body Mesh", default=True, description="Include the skinned body meshes")

    @classmethod
    def poll(cls, context):
        return context.mode == "OBJECT"

    def invoke(self, context, event):
        self.filename_ext = FORMATS[self.format].suffix
        return ExportHelper.invoke(self, context, event)

    def check(self, context):
        self.filename_ext = FORMATS[self.format].suffix
        return ExportHelper.check(self, context)

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "format")
        if self.format == "FBX":
            layout.prop(self, "fbx_preset")
        if FORMATS[self.format].mesh:
            layout.prop(self, "include_mesh")

    def execute(self, context):
        targets = export_targets(context)
        if not targets:
            self.report({"ERROR"}, "select an imported track armature to export")
            return {"CANCELLED"}
        path = bpy.path.ensure_ext(self.filepath, FORMATS[self.format].suffix)
        try:
            written = exporters.export(context, self.format, path, targets, fbx_preset=self.fbx_preset,
                                       include_mesh=self.include_mesh)
        except (exporters.ExportError, OSError, ValueError, RuntimeError) as exc:
            self.report({"ERROR"}, f"export failed: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, "wrote " + ", ".join(str(p) for p in written))
        return {"FINISHED"}


CLASSES = (VTM_OT_run, VTM_OT_cancel, VTM_OT_import_motion, VTM_OT_check_worker, VTM_OT_setup_worker,
           VTM_OT_cancel_setup, VTM_OT_export)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)

"""The extension in real bpy: registration, panel settings, the run controller with real workers."""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import bpy

from blender_cases.common import armatures_by_track, populate_user_scene, snapshot, worker_python, write_video


def call(operator, **kwargs):
    """Run an operator; an ERROR report raises in Python, so return (result, message)."""
    try:
        return operator(**kwargs), ""
    except RuntimeError as exc:
        return {"CANCELLED"}, str(exc)


def set_up_run(ctx, estimator="doubles:FakeEstimator", frames=12):
    video = write_video(ctx.tmp / "walk.mp4", frames=frames)
    prefs = bpy.context.preferences.addons[ctx.ext.__name__].preferences
    prefs.worker_python = worker_python()
    settings = bpy.context.scene.vtm
    settings.video = str(video)
    settings.estimator = "CUSTOM"
    settings.estimator_custom = estimator
    settings.people = "ALL"
    return video


def case_extension_registers_operators_panel_and_preferences(ctx):
    assert ctx.ext.__name__ == "bl_ext.vtm_test.video_to_motion"
    for idname in ("run", "cancel", "import_motion", "check_worker", "export"):
        assert hasattr(bpy.ops.vtm, idname), idname
    assert "VTM_PT_main" in dir(bpy.types) or hasattr(bpy.types, "VTM_PT_main")
    assert bpy.types.VTM_PT_main.bl_category == "Video to Motion"
    assert bpy.types.VTM_PT_main.bl_region_type == "UI"
    prefs = bpy.context.preferences.addons[ctx.ext.__name__].preferences
    for prop in ("worker_python", "smpl_model", "default_checkpoint", "detector_weights"):
        assert hasattr(prefs, prop), prop
    settings = bpy.context.scene.vtm
    # The panel's defaults are the option table's (enum items in capitals).
    options = ctx.module("core.common.options")
    shared = [o for o in options.WORKER + options.IMPORT if o.name in settings.bl_rna.properties]
    assert {o.name for o in shared} >= {"estimator", "device", "people", "root_smoothing", "rotation_smoothing",
                                        "ground", "camera", "camera_motion", "detector_size"}
    for o in shared:
        value = getattr(settings, o.name)
        if o.default is None:  # unset: a path the panel leaves empty (its track_id feeds `people`)
            assert value == "" or o.name == "track_id", (o.name, value)
        elif isinstance(o.default, str):
            assert value == o.default.upper(), (o.name, value)
        else:
            assert abs(value - o.default) < 1e-6, (o.name, value)


def case_operator_runs_the_worker_and_imports(ctx):
    """bpy.ops.vtm.run in background mode: the worker child process, then the import."""
    video = set_up_run(ctx)
    populate_user_scene()
    assert bpy.ops.vtm.run() == {"FINISHED"}
    state = bpy.context.window_manager.vtm
    assert state.last_error == "" and state.status == "done" and state.progress == 1.0
    assert os.path.isfile(state.last_motion)
    arms = armatures_by_track(bpy.data.objects)
    assert sorted(arms) == [1, 2]
    scene = bpy.context.scene
    assert (scene.render.fps, scene.render.resolution_x, scene.render.resolution_y) == (25, 96, 64)
    cam = scene.camera
    assert cam is not None and cam.data.show_background_images
    assert cam.data.background_images[0].clip.filepath == str(video)
    # The user's things are still there and unchanged.
    assert tuple(bpy.data.objects["clip track 1"].location) == (1.0, 2.0, 3.0)
    assert bpy.data.objects["user empty"].select_get()


def case_controller_cancel_mid_run_leaves_the_scene(ctx):
    """The modal path's controller, ticked as the timer does, cancelled mid-run."""
    set_up_run(ctx, estimator="doubles:SlowEstimator", frames=40)
    populate_user_scene()
    before = snapshot()
    jobs = ctx.module("addon.jobs")
    controller = jobs.RunController(jobs.request_from_context(bpy.context))
    state = bpy.context.window_manager.vtm
    controller.start(state)
    assert state.running
    seen = set()
    while not controller.tick(state):
        seen.add(state.status.split(" ")[0])
        if state.status.startswith("estimate") and state.progress > 0.1:
            state.cancel_requested = True
        time.sleep(0.05)
    assert "estimate" in seen
    assert not controller.finish(bpy.context, state)
    assert "cancel" in state.last_error and not state.running
    assert snapshot() == before
    assert not os.path.exists(controller.request.output)


def case_worker_crash_gives_a_clear_error_and_no_change(ctx):
    set_up_run(ctx, estimator="doubles:CrashingEstimator")
    populate_user_scene()
    before = snapshot()
    result, message = call(bpy.ops.vtm.run)
    assert result == {"CANCELLED"} and "stopped unexpectedly (exit code 86)" in message, message
    state = bpy.context.window_manager.vtm
    assert "stopped unexpectedly (exit code 86)" in state.last_error, state.last_error
    assert snapshot() == before


def case_missing_inputs_are_named(ctx):
    set_up_run(ctx)
    settings = bpy.context.scene.vtm
    state = bpy.context.window_manager.vtm
    settings.video = str(ctx.tmp / "nope.mp4")
    result, message = call(bpy.ops.vtm.run)
    assert result == {"CANCELLED"} and "nope.mp4" in message and "does not exist" in message
    assert state.last_error in message
    settings.video = ""
    assert "choose a video" in call(bpy.ops.vtm.run)[1]
    set_up_run(ctx)
    bpy.context.preferences.addons[ctx.ext.__name__].preferences.worker_python = str(ctx.tmp / "no-python")
    message = call(bpy.ops.vtm.run)[1]
    assert "no-python" in message and "preferences" in message
    assert not armatures_by_track(bpy.data.objects)


def case_import_operator_and_check_worker(ctx):
    from video_to_motion.core.common.motion import write_motion
    from motions import random_motion

    motion, _ = random_motion(ctx.body_model, tracks={3: np.arange(6), 5: np.arange(2, 9)})
    path = write_motion(ctx.tmp / "m.npz", motion)
    bpy.context.scene.vtm.people = "TRACK"
    bpy.context.scene.vtm.track_id = 5
    assert bpy.ops.vtm.import_motion(filepath=str(path)) == {"FINISHED"}
    assert sorted(armatures_by_track(bpy.data.objects)) == [5]
    result, message = call(bpy.ops.vtm.import_motion, filepath=str(ctx.tmp / "gone.npz"))
    assert result == {"CANCELLED"} and "gone.npz" in message and "does not exist" in message

    bpy.context.preferences.addons[ctx.ext.__name__].preferences.worker_python = worker_python()
    bpy.ops.vtm.check_worker()
    report = bpy.context.window_manager.vtm.check_report
    import subprocess

    torch_version = subprocess.run([worker_python(), "-c", "import torch; print(torch.__version__)"],
                                   capture_output=True, text=True, timeout=120).stdout.strip()
    assert torch_version and f"torch {torch_version}" in report, report


def case_run_with_smpl_model_converts_the_mesh_once(ctx):
    set_up_run(ctx)
    prefs = bpy.context.preferences.addons[ctx.ext.__name__].preferences
    prefs.smpl_model = str(ctx.body_model)
    jobs = ctx.module("addon.jobs")
    request = jobs.request_from_context(bpy.context)
    assert request.mesh_source == str(ctx.body_model) and request.options.mesh_file
    assert bpy.ops.vtm.run() == {"FINISHED"}
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.parent and "vtm_track_id" in o.parent]
    assert len(meshes) == 2 and all(len(m.data.vertices) == 6890 for m in meshes)
    assert request.worker.detector_size == 640
    bpy.context.scene.vtm.detector_size = 960
    again = jobs.request_from_context(bpy.context)
    assert again.mesh_source is None, "the converted mesh is cached"
    assert again.worker.detector_size == 960


def case_set_up_worker_button_installs_offline_and_reports_pip_errors(ctx):
    from wheels import tiny_wheel

    wheels = ctx.tmp / "wheels"
    wheels.mkdir()
    tiny_wheel(wheels)
    prefs = bpy.context.preferences.addons[ctx.ext.__name__].preferences
    prefs.worker_env_dir = str(ctx.tmp / "env")
    prefs.setup_base_python = sys.executable
    prefs.setup_wheel_dir = str(wheels)
    prefs.worker_python = ""
    state = bpy.context.window_manager.vtm
    result, message = call(bpy.ops.vtm.setup_worker, packages="vtm_tiny")
    # The environment is made and the package installed; the final check then names what
    # this test environment lacks (no torch offline), as a clear error.
    env_python = ctx.tmp / "env" / "bin" / "python"
    assert env_python.exists()
    import subprocess

    out = subprocess.run([str(env_python), "-c", "import vtm_tiny; print(vtm_tiny.VALUE)"], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "42"
    assert result == {"CANCELLED"} and "incomplete" in state.setup_error and "torch is missing" in state.setup_error
    assert "Problem: torch is missing" in state.check_report

    result, message = call(bpy.ops.vtm.setup_worker, packages="vtm-no-such-package")
    assert result == {"CANCELLED"}
    assert state.setup_error.startswith("pip failed while installing the worker's packages")
    assert "vtm-no-such-package" in state.setup_error and not state.setup_running


def case_a_file_saved_mid_run_opens_with_run_enabled(ctx):
    state = bpy.context.window_manager.vtm
    state.running = True
    path = ctx.tmp / "mid_run.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert not bpy.context.window_manager.vtm.running
    assert bpy.ops.vtm.run.poll()


class FakeLayout:
    """Records what a draw() puts in the UI; checks every property and operator it names."""

    def __init__(self, log):
        self.log = log
        self.enabled = self.active = self.use_property_split = self.use_property_decorate = True
        self.scale_y = 1.0

    def _child(self, *args, **kwargs):
        return FakeLayout(self.log)

    row = column = box = split = _child

    def prop(self, data, name, **kwargs):
        if isinstance(data, _WithLayout):
            data = object.__getattribute__(data, "_real")
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property '{name}'"
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        group, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, group), name), f"no operator {idname}"
        self.log.append(("operator", idname))
        return type("OperatorProps", (), {})()

    def label(self, text="", **kwargs):
        self.log.append(("label", text))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", text))


class _WithLayout:
    """Stands for `self` in a draw(): the real object, but with our layout."""

    def __init__(self, real, layout):
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "layout", layout)

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_real"), name)


def draw(cls, data=None):
    log = []
    layout = FakeLayout(log)
    if data is None:
        cls.draw(_WithLayout(None, layout), bpy.context)
    else:
        type(data).draw(_WithLayout(data, layout), bpy.context)
    return log


def case_panel_and_preferences_draw_every_state(ctx):
    state = bpy.context.window_manager.vtm
    settings = bpy.context.scene.vtm
    for estimator in ("AUTO", "CUSTOM"):
        for people in ("LARGEST", "TRACK"):
            settings.estimator, settings.people, settings.use_frame_range = estimator, people, True
            log = draw(bpy.types.VTM_PT_main)
            assert ("operator", "vtm.run") in log and ("prop", "root_smoothing") in log
            assert (("prop", "estimator_custom") in log) == (estimator == "CUSTOM")
            assert (("prop", "track_id") in log) == (people == "TRACK")
    state.running, state.progress, state.status = True, 0.4, "estimate · 10/25 · 5.0 fps · ETA 0:03"
    log = draw(bpy.types.VTM_PT_main)
    assert ("operator", "vtm.cancel") in log and ("progress", state.status) in log
    state.running, state.last_error = False, "the worker stopped unexpectedly (exit code 86)"
    assert any(e[0] == "label" and "exit code 86" in e[1] for e in draw(bpy.types.VTM_PT_main))
    assert [e for e in draw(bpy.types.VTM_PT_export) if e[0] == "operator"] == [("operator", "vtm.export")] * 4
    prefs = bpy.context.preferences.addons[ctx.ext.__name__].preferences
    state.check_report = "Python 3.11\nProblem: torch is missing"
    for running in (False, True):
        state.setup_running = running
        log = draw(type(prefs), prefs)
        assert ("operator", "vtm.check_worker") in log
        assert ("operator", "vtm.cancel_setup" if running else "vtm.setup_worker") in log
        assert ("label", "Problem: torch is missing") in log


def case_hostile_motion_files_are_one_line_errors_in_the_import_operator(ctx):
    """Hostile files (tests/hostile.py) end as the operator's error report, never a traceback, and change nothing."""
    import hostile

    populate_user_scene()
    before = snapshot()
    folder = ctx.tmp / "hostile"
    folder.mkdir()
    for maker, words in hostile.HOSTILE_MOTIONS:
        path = maker(folder, hostile.motion_arrays())
        result, message = call(bpy.ops.vtm.import_motion, filepath=str(path))
        assert result == {"CANCELLED"}, maker.__name__
        assert words in message and "Traceback" not in message, (maker.__name__, message)
        assert bpy.context.window_manager.vtm.last_error.startswith(message.split("\n")[0][len("Error: "):][:40])
        assert snapshot() == before, maker.__name__

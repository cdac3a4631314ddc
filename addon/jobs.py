"""A run from the panel: worker (+ mesh conversion) in child processes, then the import.

`RunController` holds everything a run needs and is driven by ticks: the modal operator
ticks it from a timer, `execute` (background mode, scripts) ticks it in a loop. Tests
drive it the same way, so the modal path is tested without a window.
"""
from __future__ import annotations

import dataclasses
import os
import time
import uuid
from pathlib import Path

from ..core.client.child_process import python_executable_problem
from ..core.client.worker_client import ProtocolRun, RunSequence, WorkerRun, mesh_command
from ..core.common.options import WorkerOptions
from . import common
from .importer import ImportFailed, ImportOptions, import_motion


class UserError(ValueError):
    """Something the user must fix before a run can start; the message says what."""


@dataclasses.dataclass
class RunRequest:
    python: str
    video: str
    output: str
    worker: WorkerOptions
    options: ImportOptions
    mesh_source: str | None = None  # SMPL model to convert when the mesh cache lacks it


def request_from_context(context) -> RunRequest:
    """Read the panel and the preferences; raise UserError naming the first problem."""
    settings = context.scene.vtm
    prefs = common.preferences()
    video = common.abspath(settings.video)
    if not video:
        raise UserError("choose a video file first")
    if not os.path.isfile(video):
        raise UserError(f"the video '{video}' does not exist")
    python = common.worker_python()
    problem = python_executable_problem(python)
    if problem:
        raise UserError(problem)
    if settings.use_frame_range and settings.frame_end < settings.frame_start:
        raise UserError(f"the frame range ends ({settings.frame_end}) before it starts ({settings.frame_start})")
    estimator = {"AUTO": "auto", "TAR": "tar", "BLAZEPOSE": "blazepose"}.get(settings.estimator)
    if settings.estimator == "CUSTOM":
        estimator = settings.estimator_custom.strip()
        if ":" not in estimator:
            raise UserError("a custom estimator is given as module:Class")
    checkpoint = common.abspath(settings.checkpoint) or (common.abspath(prefs.default_checkpoint) if prefs else "")
    smpl_model = common.abspath(prefs.smpl_model) if prefs else ""
    if smpl_model and not os.path.isfile(smpl_model):
        raise UserError(f"the SMPL model file '{smpl_model}' set in the preferences does not exist")
    worker = WorkerOptions(
        estimator=estimator, checkpoint=checkpoint or None, smpl_model=smpl_model or None,
        detector=(common.abspath(prefs.detector_weights) or None) if prefs else None,
        device=settings.device.lower(), detector_size=settings.detector_size,
        start_frame=settings.frame_start if settings.use_frame_range else None,
        end_frame=settings.frame_end if settings.use_frame_range else None,
        max_people=1 if settings.people == "LARGEST" else None, camera_motion=settings.camera_motion)
    stem = Path(video).stem
    unique = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    output = str(common.user_folder("motions") / f"{stem}_{unique}.npz")
    people = {"LARGEST": "largest", "ALL": "all"}.get(settings.people, str(settings.track_id))
    options = ImportOptions(people=people, root_smoothing=settings.root_smoothing,
                            rotation_smoothing=settings.rotation_smoothing, foot_lock=settings.foot_lock,
                            ground=settings.ground,
                            camera=settings.camera, video=video, name=stem)
    mesh_source = None
    if settings.mesh and smpl_model:
        cache = common.mesh_cache_path(smpl_model)
        options.mesh_file = str(cache)
        mesh_source = None if cache.exists() else smpl_model
    return RunRequest(python=python, video=video, output=output, worker=worker, options=options,
                      mesh_source=mesh_source)


class RunController:
    """One run: start(), tick() until it returns True, then finish(context) imports."""

    def __init__(self, request: RunRequest):
        self.request = request
        runs: list[ProtocolRun] = [WorkerRun(request.python, request.video, request.output, request.worker)]
        if request.mesh_source:
            runs.append(ProtocolRun(mesh_command(request.python, request.mesh_source, request.options.mesh_file),
                                    output=request.options.mesh_file, what="the SMPL mesh conversion"))
        self.sequence = RunSequence(runs)
        self.result = None
        self.error: str = ""
        self.warnings: list[str] = []

    def start(self, state=None) -> None:
        self.sequence.start()
        if state is not None:
            state.running, state.cancel_requested = True, False
            state.progress, state.status, state.last_error, state.last_warning = 0.0, "starting the worker", "", ""

    def tick(self, state=None) -> bool:
        """Poll the children (never blocks); mirror progress into `state`; True when over."""
        if state is not None and state.cancel_requested and not self.sequence.cancelled:
            self.sequence.cancel()
        over = self.sequence.poll()
        if state is not None:
            run = self.sequence.current
            fraction = run.progress.fraction
            state.progress = fraction if fraction is not None else state.progress
            state.status = "cancelling..." if self.sequence.cancelled else self.sequence.status_text()
            if run.warnings:
                state.last_warning = run.warnings[-1]
        return over

    def cancel(self) -> None:
        self.sequence.cancel()

    def finish(self, context, state=None) -> bool:
        """Import the motion if the children succeeded; sets `error` (words) otherwise."""
        self.warnings = list(self.sequence.warnings)
        if self.sequence.error is not None:
            self.error = str(self.sequence.error)
        else:
            try:
                self.result = import_motion(context, self.request.output, self.request.options)
                self.warnings += self.result.warnings
            except (ImportFailed, ValueError, OSError) as exc:
                self.error = f"{exc} (the motion file is kept: {self.request.output})"
        if state is not None:
            state.running = False
            state.cancel_requested = False
            state.last_error = self.error
            state.last_motion = self.request.output if os.path.isfile(self.request.output) else ""
            state.progress = 1.0 if not self.error else state.progress
            state.status = "done" if not self.error else ("cancelled" if "cancel" in self.error else "failed")
            if self.warnings:
                state.last_warning = self.warnings[-1]
        return not self.error

    def run_blocking(self, context, state=None, should_cancel=None, interval: float = 0.05) -> bool:
        """The synchronous path (background mode): start, tick to the end, finish."""
        self.start(state)
        while not self.tick(state):
            if should_cancel is not None and should_cancel() and not self.sequence.cancelled:
                self.sequence.cancel()
            time.sleep(interval)
        return self.finish(context, state)

"""Estimators turn a video into a Motion. The worker picks one by name.

An estimator is a class with a `name`, built from `WorkerOptions` (core.common.options), whose
`estimate(video, run)` returns a `core.motion.Motion`. Besides the built-in names, a
`module:Class` path selects any importable estimator (custom models, test doubles).
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Callable, Protocol

from ..common.motion import Motion
from ..common.options import WorkerOptions

if TYPE_CHECKING:  # only a type here: the registry itself needs no OpenCV
    from ..worker.video import VideoInfo


class EstimatorError(RuntimeError):
    """An estimator cannot run; `code` is the protocol's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Cancelled(Exception):
    """The run was cancelled (SIGINT/SIGTERM); nothing is written."""


@dataclasses.dataclass
class RunContext:
    """What an estimator needs from the worker while it runs."""

    video: VideoInfo
    start_frame: int
    stop_frame: int | None  # exclusive; None: to the end
    progress: Callable[[str, int, int | None], None]
    warn: Callable[[str], None]
    info: Callable[..., None]

    @property
    def frame_total(self) -> int | None:
        if self.stop_frame is None:
            return None if self.video.frame_count is None else self.video.frame_count - self.start_frame
        return self.stop_frame - self.start_frame


class Estimator(Protocol):
    name: str

    def __init__(self, options: WorkerOptions): ...

    def estimate(self, run: RunContext) -> Motion: ...


# name -> "module:Class", imported only when chosen so that a missing heavy dependency
# of one estimator does not break the others.
BUILTIN = {
    "tar": ".tar:TarEstimator",
    "blazepose": ".blazepose.estimator:BlazePoseEstimator",
}
DEFAULT_WITHOUT_CHECKPOINT = "blazepose"


def resolve_name(name: str | None, options: WorkerOptions) -> str:
    """`auto` (or None) means TAR when a checkpoint is given, else the default estimator."""
    if name in (None, "", "auto"):
        return "tar" if options.checkpoint else DEFAULT_WITHOUT_CHECKPOINT
    return name


def load_estimator_class(name: str) -> type:
    """The class for a built-in name or a `module:Class` path."""
    target = BUILTIN.get(name, name)
    if ":" not in target:
        raise EstimatorError("unknown_estimator",
                             f"unknown estimator '{name}'; choose one of {', '.join(['auto', *BUILTIN])} "
                             "or give a 'module:Class' path")
    module_name, _, attr = target.partition(":")
    try:
        # Built-in names are relative to this package, whatever name it was imported under.
        module = importlib.import_module(module_name, package=__name__)
    except ImportError as exc:
        raise EstimatorError("estimator_unavailable",
                             f"estimator '{name}' cannot be loaded: {exc}. Install the worker's packages "
                             "(pip install -e '.[worker]') or use the add-on's 'Set up worker' button") from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise EstimatorError("unknown_estimator", f"'{module_name}' has no estimator class '{attr}'")
    return cls

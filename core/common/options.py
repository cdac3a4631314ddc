"""Every option of a run, defined once: the worker's (estimation) and the import's (keys, scene).

Each `Option` row holds the name, type, default and help. From these tables come the
worker's command line (`add_arguments`), the command line the client starts the worker
with (`worker_argv`), batch_import's flags, and the option objects themselves
(`WorkerOptions`, `ImportSettings`); the panel's properties are tested against them.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable, Sequence

NO_SMOOTHING = ("none", "off")
# The person detector's input, its longer side (--detector-size). 640 (ultralytics' own)
# shrinks a 1080p frame three times, and people under about 100 px tall (35 px at the input)
# go unseen; a larger input finds them at a cost that grows with its square. Not larger by
# default: on the offline fallback detector, 960 on 1080p doubles the detector's time and, on
# upscaled footage, splits a walker's track and boxes whole frames (scripts/bench/
# bench_pipeline.py at 1080p with --blazepose-args '--detector-size 960';
# bench_estimator.py --detector-size 960).
DETECTOR_SIZE = 640
MIN_DETECTOR_SIZE = 64  # pixels: the smallest input the detector is given


def strength(text: str | float) -> float:
    """A smoothing strength in 0..1 from 'none'/'off' or a number."""
    if isinstance(text, str) and text.strip().lower() in NO_SMOOTHING:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'none' or a number in 0..1, got '{text}'") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in 0..1, got {value}")
    return value


def people(text: str | int) -> str:
    """'all', 'largest' or a track id (as text)."""
    value = str(text).strip().lower()
    if value in ("all", "largest") or value.isdigit():
        return value
    raise argparse.ArgumentTypeError(f"must be all, largest or a track id, got '{text}'")


@dataclasses.dataclass(frozen=True)
class Option:
    name: str
    type: Callable[[str], Any]
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()  # older spellings of the flag, still accepted

    @property
    def flag(self) -> str:
        negated = self.type is bool and self.default is True
        return ("--no-" if negated else "--") + self.name.replace("_", "-")


WORKER = (
    Option("estimator", str, "auto",
           "tar, blazepose, or a module:Class path; auto = tar with a checkpoint, else blazepose"),
    Option("checkpoint", str, None, "TAR checkpoint (.pt) made by scripts/training/train.py"),
    Option("smpl_model", str, None, "SMPL model file (.pkl or .npz)"),
    Option("detector", str, None, "YOLO detector weights (default: yolo11n.pt, or the offline fallback)"),
    Option("detector_size", int, DETECTOR_SIZE,
           "the person detector's input size in pixels, its longer side: larger finds smaller people "
           "(at 640, people under about 100 px tall in a 1080p frame go unseen) at a cost that grows "
           "with its square"),
    Option("device", str, "auto", "where the networks run", choices=("auto", "cpu", "cuda")),
    Option("focal_length", float, None,
           "camera focal length in pixels, if known (default: sqrt(width^2 + height^2))"),
    Option("start_frame", int, None, "first frame to process (0-based)"),
    Option("end_frame", int, None, "last frame to process (0-based, inclusive)"),
    Option("max_people", int, None, "keep at most this many tracks (the largest)"),
    Option("track_id", int, None, "keep only this track (ids as a previous run reported them)"),
    Option("detect_every", int, None,
           "run the person detector on every k-th frame and interpolate boxes between "
           "(default: blazepose on a CPU every 0.18 s of video, e.g. 5 at 30 fps; else 1)"),
    Option("max_detect_interval", float, 0.0,
           "without --detect-every, blazepose on a CPU: let the detector's stride grow while every tracked "
           "person is steady, up to this many seconds of video, one frame per detector call; back to the "
           "default stride when people appear, are lost or change course (default 0: a fixed stride)"),
    Option("precision", str, "auto", "network arithmetic: auto = bf16 (or fp16) autocast on a GPU, fp32 on the CPU",
           choices=("auto", "fp32", "bf16", "fp16")),
    Option("compile", bool, False,
           "compile the network with torch.compile first (slow start; faster on long videos on a GPU)"),
    Option("camera_motion", bool, True,
           "find the camera's own turns from the background and place people along them "
           "(--no-camera-motion: take the camera as static, one camera for the whole clip)"),
)

IMPORT = (
    Option("people", people, "all", "all, largest or a track id (default: all)", aliases=("--track",)),
    Option("root_smoothing", strength, 0.5, "jitter filter on the root translation: none or a strength in 0..1"),
    Option("rotation_smoothing", strength, 0.0, "jitter filter on joint rotations: none or a strength in 0..1"),
    Option("foot_lock", strength, 1.0,
           "keep planted feet in place (leg IK on the frames a foot is on the floor): none or a strength in 0..1"),
    Option("ground", bool, True, "put the floor under the feet at Z = 0 (--no-ground keeps the camera frame)"),
    Option("camera", bool, True, "add a camera that matches the video (--no-camera: none)"),
    Option("mesh_file", str, None,
           "a vtm.smpl_mesh/1 file (python -m video_to_motion.core.worker.smpl_mesh) for body meshes"),
)


def _fields(table: Sequence[Option]) -> list:
    return [(o.name, o.type if isinstance(o.type, type) else Any, dataclasses.field(default=o.default))
            for o in table]


# The option objects: one attribute per row, the row's default.
WorkerOptions = dataclasses.make_dataclass("WorkerOptions", _fields(WORKER))
WorkerOptions.__doc__ = "The worker's options (core.common.options.WORKER); None: the worker decides."
ImportSettings = dataclasses.make_dataclass("ImportSettings", _fields(IMPORT))
ImportSettings.__doc__ = "The import's options (core.common.options.IMPORT)."


def add_arguments(parser, table: Sequence[Option]) -> None:
    """One flag per row on an argparse parser or group (dest = the row's name)."""
    for o in table:
        flags = [o.flag, *o.aliases]
        if o.type is bool:
            action = "store_false" if o.default is True else "store_true"
            parser.add_argument(*flags, dest=o.name, action=action, help=o.help)
        else:
            parser.add_argument(*flags, dest=o.name, type=o.type, default=o.default, choices=o.choices,
                                help=o.help)


def from_namespace(cls, table: Sequence[Option], args: argparse.Namespace):
    """The option object of a table from parsed arguments."""
    return cls(**{o.name: getattr(args, o.name) for o in table})


def worker_argv(options) -> list[str]:
    """The worker's flags for the options that differ from its defaults."""
    argv: list[str] = []
    for o in WORKER:
        value = getattr(options, o.name)
        if value is None or value == "" or value == o.default:
            continue
        if o.type is bool:
            argv.append(o.flag)
        else:
            argv += [o.flag, str(value)]
    return argv

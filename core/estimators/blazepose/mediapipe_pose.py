"""MediaPipe BlazePose on person crops: 33 landmarks in image pixels and metric 3D.

Uses `mediapipe.solutions.pose` from `mediapipe==0.10.21` with `model_complexity=1`, the
one pose landmark model that ships inside the wheel (0 and 2 are downloaded on first use,
which fails offline). Each crop is a square around one tracked person, upscaled: BlazePose
finds people of 100-200 px only when they fill most of its input.

Per-stream state: MediaPipe's video mode runs its person detector once and then follows
the person from the previous frame's landmarks (and filters them over time), so every
person track gets its own `Pose` graph (a stream); static mode runs the detector on every
crop and shares one graph. `core.estimators.blazepose` documents which it uses and why.

Landmark frames: `image` [33,2] full-image pixels (continuous coordinates: pixel (i, j)
covers [i, i+1) x [j, j+1)); `world` [33,3] metres, origin at the hips' midpoint, axes of
the camera that looked at the crop (x right, y down, z away from the camera);
`visibility` [33] in [0, 1].
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...worker.crops import apply_affine, invert_affine

MODEL_COMPLEXITY = 1
MAX_SPARE_GRAPHS = 4


@dataclasses.dataclass
class PoseLandmarks:
    image: np.ndarray       # float64[33, 2] full-image pixels
    world: np.ndarray       # float64[33, 3] metres, hip-centred, crop camera axes
    visibility: np.ndarray  # float64[33]


def import_mediapipe_pose():
    """`mediapipe.solutions.pose`, or ImportError saying what to install."""
    try:
        from mediapipe.python.solutions import pose
    except ImportError as exc:
        raise ImportError(f"MediaPipe is missing or too new ({exc}); the default estimator needs "
                          "mediapipe==0.10.21 (pip install 'mediapipe==0.10.21')") from exc
    return pose


class BlazePoseCrops:
    """Runs BlazePose on crops, one MediaPipe graph per stream (video mode) or one shared (static)."""

    def __init__(self, static_mode: bool = False, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth_landmarks: bool = True):
        self._pose = import_mediapipe_pose()
        self.static_mode = static_mode
        self._kwargs = dict(static_image_mode=static_mode, model_complexity=MODEL_COMPLEXITY,
                            smooth_landmarks=smooth_landmarks and not static_mode, enable_segmentation=False,
                            min_detection_confidence=min_detection_confidence,
                            min_tracking_confidence=min_tracking_confidence)
        self._reusable = not (smooth_landmarks and not static_mode)  # `forget` restarts a graph exactly
        self._graphs: dict[int, object] = {}
        self._spare: list[object] = []  # graphs of ended streams, forgotten, for new streams
        self._last_size: dict[int, int] = {}

    def _graph(self, stream: int):
        key = 0 if self.static_mode else stream
        if key not in self._graphs:
            self._graphs[key] = self._spare.pop() if self._spare else self._pose.Pose(**self._kwargs)
        return self._graphs[key]

    def process(self, stream: int, crop_rgb: np.ndarray, crop_from_image: np.ndarray) -> PoseLandmarks | None:
        """Landmarks of the person in an RGB crop uint8[S,S,3], or None when BlazePose finds nobody.

        crop_from_image: float[2,3] affine from image pixels to crop pixels (core.crops' M).
        """
        result = self._graph(stream).process(np.ascontiguousarray(crop_rgb))
        self._last_size[stream] = crop_rgb.shape[0]
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        h, w = crop_rgb.shape[:2]
        norm = np.array([(lm.x, lm.y, lm.visibility) for lm in result.pose_landmarks.landmark], np.float64)
        world = np.array([(lm.x, lm.y, lm.z) for lm in result.pose_world_landmarks.landmark], np.float64)
        pixels = apply_affine(invert_affine(crop_from_image), norm[:, :2] * [w, h]).astype(np.float64)
        return PoseLandmarks(image=pixels, world=world, visibility=np.clip(norm[:, 2], 0.0, 1.0))

    def forget(self, stream: int) -> None:
        """Drop what a stream's graph follows (video mode), so its next crop starts afresh.

        An empty image makes MediaPipe lose the person; its next frame then runs the person
        detector again: the same as a new graph, at the cost of one empty frame (~25 ms)
        instead of a graph's start-up (~150 ms or more). Exactly the same only with
        smooth_landmarks=False: MediaPipe's filter of the world landmarks keeps its state.
        """
        graph = None if self.static_mode else self._graphs.get(stream)
        if graph is not None:
            graph.process(np.zeros((self._last_size.get(stream, 256),) * 2 + (3,), np.uint8))

    def close_stream(self, stream: int) -> None:
        """A stream's person track has ended: its graph serves the next new stream.

        A graph's start-up (~150 ms or more) costs as much as several frames, and videos
        have many short tracks; the ended stream's graph is forgotten and kept instead
        (up to MAX_SPARE_GRAPHS), unless its landmark filter makes forgetting inexact.
        """
        self._last_size.pop(stream, None)
        if self.static_mode or stream not in self._graphs:
            return
        if self._reusable and len(self._spare) < MAX_SPARE_GRAPHS:
            self.forget(stream)
            self._spare.append(self._graphs.pop(stream))
        else:
            self._graphs.pop(stream).close()

    def close(self) -> None:
        for graph in list(self._graphs.values()) + self._spare:
            graph.close()
        self._graphs.clear()
        self._spare.clear()

    def __enter__(self) -> "BlazePoseCrops":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

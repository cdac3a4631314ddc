"""The default estimator: MediaPipe BlazePose on tracked person crops, SMPL by inverse kinematics.

Needs no downloaded weights: the person detector falls back to one shipped in a package
(core.detection) and BlazePose's models ship inside the mediapipe wheel.

Pass 1 ("detect"): people are detected and tracked (core.detection, core.tracks); with
--detect-every k the detector sees every k-th frame (by default a CPU's stride for the
frame rate; with --max-detect-interval a stride that grows while everyone tracked is
steady, core.tracks.next_stride) and boxes are interpolated between (both passes are
offline, so interpolating between detections beats propagating boxes).
Pass 2 decodes on a thread ahead of BlazePose (core.prefetch).
Pass 2 ("estimate"): the video is decoded again; each tracked person is cut out as a
square of CROP_SCALE x the box's longer side, resized to CROP_SIZE (BlazePose misses
people of 100-200 px in the full frame) and given to BlazePose (core.mediapipe_pose).
A pose is kept only if its skeleton spans the tracked box and its torso lies inside it
(`fits_box`); otherwise the frame becomes a gap and that track's MediaPipe graph is told
to forget what it follows.
Then per track: front/back confusions are undone (core.landmark_flips), world landmarks
are turned from the crop's camera into the real camera (CLIFF's ray through the crop
centre), mapped to SMPL joint targets (core.landmarks) and solved into SMPL rotations
(core.ik) on the rest skeleton (the SMPL model's when --smpl-model is given, else
core.skeleton.DEFAULT_REST_JOINTS); the root translation is fitted to the 2D landmarks
with the focal length given (--focal-length) or CLIFF's f = sqrt(W^2 + H^2), and
smoothed over time (core.root_fit). Last, pose, translation and shape are refined
together (core.fit): the SMPL joints are fitted to the 2D landmarks, with the 3D ones
as a prior, joint limits and smoothness over time; betas per person with a SMPL model
(zeros on the default skeleton).

Choices measured on vtest.avi frames 0-200 (1423 person crops from the offline fallback
detector's tracks):
* CROP_SCALE: BlazePose's own person detector needs context around the person; poses
  kept: 795 at 1.6, 816 at 2.0, 1031 at 2.2, 930 at 2.6 (at 1.3: about 750).
* Video mode, one MediaPipe graph per track, rather than static mode: 1031 poses kept
  against 957, and the body's orientation changes by a median 2-8 degrees between
  frames against 10-30 (static mode detects afresh on every crop). Following a person
  skips BlazePose's person detector: 15 ms per crop against 23 ms in static mode
  (scripts/bench_blazepose.py); over many short, often lost tracks the two cost about
  the same. Forgetting by one empty frame costs ~13-25 ms, a new graph ~150 ms, so
  ended tracks hand their graphs on.
* MediaPipe's landmark filter is off (see LANDMARK_SMOOTH_SECONDS): with it on, its 3D
  filter carried the previous person's pose (up to 6 cm) into a forgotten stream.
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import time

import numpy as np

from . import fit, flips, ik, landmarks, temporal
from ...common import rotations
from ...common.camera import default_focal_length
from ...common.motion import Motion
from .root_fit import (body_height, crop_camera_rotation, depth_confidence, fit_translation,
                        smooth_translation)
from ...common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics
from ...worker.prefetch import prefetched
from ...worker.tracks import box_iou
from ...worker.video import iter_frames
from .. import EstimatorError, WorkerOptions, RunContext

log = logging.getLogger("vtm.blazepose")

NAME = "blazepose"
POSE_MODEL = "MediaPipe BlazePose GHUM 3D (mediapipe 0.10.21, model_complexity=1)"
DETECT_BATCH = 8
PREFETCH_FRAMES = 8       # decoded frames waiting for BlazePose at most
MAX_PENDING_RETRIES = 16  # masked retries queued behind the one running at most
CROP_SIZE = 256           # BlazePose's landmark model works at 256x256
CROP_SCALE = 2.2          # square side / longer box side: see the module docstring
# MediaPipe's own landmark filter is off: it is causal (lags) and its 3D filter cannot be
# reset without a new graph. World landmarks are smoothed here instead, zero-phase.
LANDMARK_SMOOTH_SECONDS = 0.1
# Root smoothing over time (Gaussian sigma, local lines so steady motion is kept): depth
# is read from the size of a small skeleton, 2.5% noise per frame (robust sigma; 4.5% rms)
# on vtest, i.e. 0.5-0.9 m at 20 m; the image position is far better observed. On vtest
# 0-200 the largest root step between frames was 0.54 m with 0.5 s and 0.46 m with 1 s
# (a walker whose legs BlazePose took from the man in front for a few frames).
DEPTH_SMOOTH_SECONDS = 1.0
IMAGE_SMOOTH_SECONDS = 0.15
DEPTH_SPEED = 0.1  # relative depth change per second that is typical (walking: 1.4 m/s at 15 m)
MIN_LANDMARK_WEIGHT = 0.3  # visibility below which a landmark does not pull the translation or the fit
NUM_BETAS = 10
# L-BFGS steps of the SMPL fit to the landmarks (core.fit), started from the IK.
FIT_ITERATIONS = 40
_FIT_JOINTS = np.array(list(landmarks.SMPL_TO_LANDMARK))
_FIT_LANDMARKS = np.array(list(landmarks.SMPL_TO_LANDMARK.values()))
# BlazePose's skeleton must span this fraction of the tracked box (longer sides) and its
# torso lie inside the box; otherwise it latched onto something else (a bag, a sign, a
# neighbour in the crop).
MIN_SKELETON_SPAN = 0.45
MAX_SKELETON_SPAN = 1.6
# When BlazePose finds nobody or someone else in the track's crop (a crowd: it takes a
# neighbour), it is asked again on crops with everything outside the track's box (grown
# by the margin) greyed out: (crop scale, margin), first the usual square, then a tighter
# one. Landmarks outside the box there were guessed behind a neighbour or the mask: their
# visibility is scaled by HIDDEN_VISIBILITY, so they pull the fit less.
RETRY_CROPS = ((CROP_SCALE, 0.1), (1.5, 0.05))
HIDDEN_VISIBILITY = 0.3
# A pose belongs to another track when its body's extent overlaps that track's box by this
# much more (IoU) than its own: BlazePose took the person in front, whose box it fills.
NEIGHBOUR_MARGIN = 0.1
# A tracked thing that is not a person (`false_people`): posed on fewer than this share
# of at least this many frames, its box centre moving less than this many box heights.
FALSE_MIN_FRAMES = 10
FALSE_POSED_SHARE = 0.2
FALSE_STILL = 0.25
_BODY_LANDMARKS = [landmarks.LM[n] for n in ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
                                             "left_knee", "right_knee", "left_ankle", "right_ankle")]
_TORSO_LANDMARKS = [landmarks.LM[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]


@dataclasses.dataclass
class _TrackLandmarks:
    """BlazePose output of one track on the frames where it found the person."""

    frames: list[int] = dataclasses.field(default_factory=list)
    image: list[np.ndarray] = dataclasses.field(default_factory=list)       # [33,2] px
    world: list[np.ndarray] = dataclasses.field(default_factory=list)       # [33,3] crop camera axes
    crop_rotation: list[np.ndarray] = dataclasses.field(default_factory=list)  # [3,3] crop -> camera
    visibility: list[np.ndarray] = dataclasses.field(default_factory=list)  # [33]
    rows: list[int] = dataclasses.field(default_factory=list)               # row in the Track


class BlazePoseEstimator:
    name = NAME

    def __init__(self, options: WorkerOptions):
        self.options = options
        try:
            from .mediapipe_pose import import_mediapipe_pose

            import_mediapipe_pose()
        except ImportError as exc:
            raise EstimatorError("estimator_unavailable", str(exc)) from exc
        self.rest_joints, self.shape_dirs, self.skeleton = self._rest_skeleton(options)
        # With a body model the fit finds betas; on the default skeleton, bone lengths.
        self.shape_is_betas = self.shape_dirs is not None
        if self.shape_dirs is None:
            self.shape_dirs = fit.bone_length_space(self.rest_joints)
        self.fit_device = "cpu"

    @staticmethod
    def _rest_skeleton(options: WorkerOptions) -> tuple[np.ndarray, np.ndarray | None, str]:
        """(rest joints [24,3], their change per beta [24,3,10] or None, description)."""
        if options.smpl_model is None:
            return DEFAULT_REST_JOINTS.astype(np.float64), None, "built-in default skeleton (SMPL topology)"
        from ...worker.body_model import create_smpl, smpl_joint_shape_space

        template, dirs = smpl_joint_shape_space(create_smpl(options.smpl_model), NUM_BETAS)
        return template, dirs, f"SMPL model {options.smpl_model}"

    def estimate(self, run: RunContext) -> Motion:
        from ...worker.tracks import find_people

        run.info(estimator=self.name, pose_model=POSE_MODEL, skeleton=self.skeleton)
        info = run.video
        focal = self.options.focal_length or default_focal_length(info.width, info.height)
        t0, c0 = time.perf_counter(), time.process_time()
        tracks = find_people(run, self.options.detector, self.options.device, max_people=self.options.max_people,
                             track_id=self.options.track_id, detect_every=self.options.detect_every,
                             max_detect_interval=self.options.max_detect_interval, batch_size=DETECT_BATCH,
                             imgsz=self.options.detector_size)
        t1, c1 = time.perf_counter(), time.process_time()
        found = self._landmarks_pass(run, tracks, focal)
        false = false_people(tracks, found)
        if false:
            run.info(false_people={str(t): why for t, why in sorted(false.items())})
            found = {t: obs for t, obs in found.items() if t not in false}
        t2, c2 = time.perf_counter(), time.process_time()
        parts = [self._track_motion(tracks[tid], obs, focal, (info.width, info.height), info.fps)
                 for tid, obs in found.items() if obs.frames]
        if not parts:
            raise EstimatorError("no_person",
                                 f"people were tracked in {tracks.describe_range()} but BlazePose found no body "
                                 "pose on any of them; the people may be too small, cut off or blurred")
        motion = _concatenate(parts, estimator=self.name, fps=info.fps, image_size=(info.width, info.height),
                              focal=focal)
        # Wall time, then the CPU time of all the process's threads (a loaded machine
        # stretches the first, not the second).
        log.info("blazepose: detect+track %.1f s, landmarks %.1f s, solve %.1f s, %d rows; "
                 "cpu: detect+track %.2f s, landmarks %.2f s, solve %.2f s",
                 t1 - t0, t2 - t1, time.perf_counter() - t2, motion.num_rows,
                 c1 - c0, c2 - c1, time.process_time() - c2)
        return motion

    def _landmarks_pass(self, run: RunContext, tracks, focal: float) -> dict[int, _TrackLandmarks]:
        """Decode the frames again and run BlazePose on every tracked person's crop."""
        from ...worker.crops import crop_square, square_box
        from .mediapipe_pose import BlazePoseCrops

        per_frame = tracks.per_frame()
        last_frame = {t.track_id: int(t.frames[-1]) for t in tracks}
        found = {t.track_id: _TrackLandmarks() for t in tracks}
        total = tracks.stop_frame - tracks.start_frame
        run.progress("estimate", 0, total)
        # (track id, frame, row, landmarks or a Future of them, crop centre), in frame order.
        poses: list[tuple[int, int, int, object, np.ndarray]] = []
        retrying: collections.deque = collections.deque()
        # Decoding runs on a thread ahead of BlazePose (OpenCV releases the GIL), and the
        # masked retries on another: the one-image graph's answer does not change what the
        # tracks' own graphs do next, so the result is the same as one after the other.
        frames = prefetched(iter_frames(run.video.path, tracks.start_frame, tracks.stop_frame), PREFETCH_FRAMES)
        with BlazePoseCrops(static_mode=False, smooth_landmarks=False) as pose, \
                BlazePoseCrops(static_mode=True) as single, contextlib.closing(frames) as decoded:
            retries = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vtm-retry")
            try:
                for index, frame in decoded:
                    here = per_frame.get(index, ())
                    boxes = np.array([tracks[t].boxes[r] for t, r in here], np.float64).reshape(-1, 4)
                    for k, (track_id, row) in enumerate(here):
                        track = tracks[track_id]
                        others = np.delete(boxes, k, axis=0)
                        center, side = square_box(track.boxes[row], CROP_SCALE)
                        crop, m = crop_square(frame, center, float(side), CROP_SIZE, rgb=True)
                        result = pose.process(track_id, crop, m)
                        if result is not None and not fits_box(result.image, track.boxes[row], others):
                            # Start this track's pose afresh: following a wrong lock-on keeps it.
                            pose.forget(track_id)
                            result = None
                        if result is None:
                            result = retries.submit(masked_retry, single, frame, track.boxes[row], others)
                            retrying.append(result)
                            while len(retrying) > MAX_PENDING_RETRIES:  # each holds a frame
                                retrying.popleft().result()
                        poses.append((track_id, index, row, result, center))
                        if index == last_frame[track_id]:
                            pose.close_stream(track_id)
                    run.progress("estimate", index + 1 - tracks.start_frame, total)
                retried = 0
                for track_id, index, row, result, center in poses:
                    if isinstance(result, concurrent.futures.Future):
                        result = result.result()
                        retried += result is not None
                    if result is not None:
                        rot = crop_camera_rotation(center, (run.video.width, run.video.height), focal)
                        obs = found[track_id]
                        obs.frames.append(index)
                        obs.rows.append(row)
                        obs.image.append(result.image)
                        obs.world.append(result.world)
                        obs.crop_rotation.append(rot)
                        obs.visibility.append(result.visibility)
            finally:
                retries.shutdown(wait=True, cancel_futures=True)  # before the graph it uses closes
        if retried:
            log.info("blazepose: %d pose(s) found on masked crops after the first attempt failed", retried)
        return found

    def _track_motion(self, track, obs: _TrackLandmarks, focal: float, image_size: tuple[int, int],
                      fps: float) -> Motion:
        """SMPL rows of one track from its landmarks."""
        frames = np.asarray(obs.frames)
        rows = np.asarray(obs.rows)
        world, pixels, vis, flip = _consistent_landmarks(obs, LANDMARK_SMOOTH_SECONDS * fps)
        rest = self.rest_joints
        targets = landmarks.smpl_targets(world, rest, vis)
        rotmats = ik.solve(targets.joints, rest, sides=targets.sides, side_weights=targets.side_weights,
                           leaf_directions=targets.leaf_directions)
        principal = np.asarray(image_size, np.float64) / 2
        boxes = track.boxes[rows]
        trans = self._translation(forward_kinematics(rotmats, rest), pixels, vis, frames, boxes, focal, principal, fps)
        fitted = fit.fit_track(rotmats, trans, rest, _FIT_JOINTS, pixels[:, _FIT_LANDMARKS],
                               np.where(vis[:, _FIT_LANDMARKS] >= MIN_LANDMARK_WEIGHT, vis[:, _FIT_LANDMARKS], 0.0),
                               boxes[:, 3] - boxes[:, 1], focal, principal, frames, fps, world_joints=targets.joints,
                               shape_dirs=self.shape_dirs,
                               shape_sigma=fit.SIGMA_BETAS if self.shape_is_betas else fit.SIGMA_BONE,
                               iterations=FIT_ITERATIONS, device=self.fit_device)
        n = len(frames)
        betas = fitted.betas if self.shape_is_betas else np.zeros(NUM_BETAS)
        return Motion(
            estimator=self.name, fps=fps, image_size=image_size, focal_length=focal,
            frame_ids=frames.astype(np.int32), track_ids=np.full(n, track.track_id, np.int32),
            poses=rotations.matrix_to_axis_angle(fitted.rotmats).reshape(n, 72).astype(np.float32),
            betas=np.broadcast_to(betas, (n, NUM_BETAS)).astype(np.float32), trans=fitted.trans.astype(np.float32),
            rest_joints=np.broadcast_to(fitted.rest_joints, (n, 24, 3)).astype(np.float32),
            bboxes=track.boxes[rows].astype(np.float32), scores=track.scores[rows].astype(np.float32),
            extras={"landmarks_2d": pixels.astype(np.float32), "landmark_visibility": vis.astype(np.float32),
                    "landmarks_mirrored": flip})

    def _translation(self, joints: np.ndarray, pixels: np.ndarray, vis: np.ndarray, frames: np.ndarray,
                     boxes: np.ndarray, focal: float, principal: np.ndarray, fps: float) -> np.ndarray:
        """Root translation [F,3] of posed joints [F,24,3] (no translation) from the 2D landmarks."""
        smpl_ids = np.array(list(landmarks.SMPL_TO_LANDMARK))
        lm_ids = np.array(list(landmarks.SMPL_TO_LANDMARK.values()))
        weights = np.where(vis[:, lm_ids] >= MIN_LANDMARK_WEIGHT, vis[:, lm_ids], 0.0)
        trans, rms = fit_translation(joints[:, smpl_ids], pixels[:, lm_ids], weights, focal, principal)
        confidence = depth_confidence(trans[:, 2] + self.rest_joints[0, 2], rms, boxes[:, 3] - boxes[:, 1],
                                      body_height(self.rest_joints), focal)
        return smooth_translation(trans, self.rest_joints[0], frames, focal, principal,
                                  depth_sigma=DEPTH_SMOOTH_SECONDS * fps, image_sigma=IMAGE_SMOOTH_SECONDS * fps,
                                  weights=confidence, image_robust=0.05 * (boxes[:, 3] - boxes[:, 1]),
                                  depth_speed=DEPTH_SPEED / fps)


def _consistent_landmarks(obs: _TrackLandmarks, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One track's landmarks with front/back confusions undone, world landmarks in camera
    axes and smoothed over time (Gaussian sigma in frames, zero-phase).

    -> world [F,33,3] (camera axes, hip-centred), pixels [F,33,2], visibility [F,33],
    mirrored [F] (frames read the other way round than BlazePose did).
    """
    world = np.stack(obs.world)
    vis = np.stack(obs.visibility)
    pixels = np.stack(obs.image)
    flip = flips.choose_readings(world, np.asarray(obs.frames))
    world[flip] = flips.mirrored(world[flip])
    pixels[flip] = flips.swapped(pixels[flip], axis=-2)
    vis[flip] = flips.swapped(vis[flip], axis=-1)
    world = np.einsum("fij,fkj->fki", np.stack(obs.crop_rotation), world)
    frames = np.asarray(obs.frames, np.float64)
    world = temporal.local_linear(world.reshape(len(world), -1), frames, sigma, np.ones(len(world)))
    return world.reshape(-1, 33, 3), pixels, vis, flip


def false_people(tracks, found: dict[int, _TrackLandmarks]) -> dict[int, str]:
    """Tracks that are not people -> why: things the detector takes for a person (a coat on
    the grass, a sign) on which BlazePose rarely finds a body and which never move.

    A track goes when it has at least FALSE_MIN_FRAMES frames, BlazePose posed fewer
    than FALSE_POSED_SHARE of them, and its box centre stays within FALSE_STILL box
    heights. A person who stands still is posed on most frames; one who is hard to pose
    moves.
    """
    out = {}
    for track in tracks:
        obs = found.get(track.track_id)
        posed = len(obs.frames) if obs is not None else 0
        if len(track) < FALSE_MIN_FRAMES or posed >= FALSE_POSED_SHARE * len(track):
            continue
        centres = 0.5 * (track.boxes[:, :2] + track.boxes[:, 2:])
        height = float(np.median(track.boxes[:, 3] - track.boxes[:, 1]))
        if float(np.max(np.ptp(centres, axis=0))) <= FALSE_STILL * height:
            out[track.track_id] = (f"BlazePose found a body on {posed} of its {len(track)} frames and it never "
                                   "moved: not a person")
    return out


def masked_retry(pose, frame: np.ndarray, box: np.ndarray, others: np.ndarray | None = None):
    """BlazePose (one-image mode) on crops around `box` [4] with its surroundings greyed
    out (RETRY_CROPS), the first pose that fits the box (`fits_box`, with the other
    tracks' boxes `others` [K,4]), or None.

    Landmarks outside the box get HIDDEN_VISIBILITY x their visibility.
    """
    from ...worker.crops import crop_square, mask_outside, square_box

    for scale, margin in RETRY_CROPS:
        center, side = square_box(box, scale)
        crop, m = crop_square(frame, center, float(side), CROP_SIZE, rgb=True)
        result = pose.process(0, mask_outside(crop, m, box, margin), m)
        if result is not None and fits_box(result.image, box, others):
            grow = margin * np.array([box[2] - box[0], box[3] - box[1]])
            inside = np.all((result.image >= box[:2] - grow) & (result.image <= box[2:] + grow), axis=-1)
            result.visibility = np.where(inside, result.visibility, HIDDEN_VISIBILITY * result.visibility)
            return result
    return None


def fits_box(pixels: np.ndarray, box: np.ndarray, others: np.ndarray | None = None) -> bool:
    """Whether BlazePose found the tracked person: landmarks [33,2] against the box [4].

    Its torso centre must lie inside the box and its body landmarks must span a
    plausible part of it; otherwise it latched onto a neighbour in the crop or onto
    something that is not a person. `others` [K,4], the other tracks' boxes on the frame:
    the body's extent must not overlap one of them NEIGHBOUR_MARGIN (IoU) more than its
    own box, as the pose of a person in front does from the crop of the person behind.
    """
    body = pixels[_BODY_LANDMARKS]
    span = float(np.max(body.max(axis=0) - body.min(axis=0)))
    side = float(max(box[2] - box[0], box[3] - box[1]))
    torso = pixels[_TORSO_LANDMARKS].mean(axis=0)
    inside = box[0] <= torso[0] <= box[2] and box[1] <= torso[1] <= box[3]
    if not (inside and MIN_SKELETON_SPAN * side <= span <= MAX_SKELETON_SPAN * side):
        return False
    if others is None or len(others) == 0:
        return True
    extent = np.concatenate([body.min(axis=0), body.max(axis=0)])
    return bool(box_iou(extent, np.asarray(box, np.float64)) + NEIGHBOUR_MARGIN
                >= box_iou(extent[None], np.asarray(others, np.float64)).max())


def _concatenate(parts: list[Motion], estimator: str, fps: float, image_size: tuple[int, int], focal: float) -> Motion:
    """One Motion of several tracks' rows, sorted by (track, frame), extras included."""
    from ...common.motion import ARRAY_FIELDS

    arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in ARRAY_FIELDS}
    extras = {k: np.concatenate([p.extras[k] for p in parts]) for k in parts[0].extras}
    order = np.lexsort((arrays["frame_ids"], arrays["track_ids"]))
    return Motion(estimator=estimator, fps=fps, image_size=image_size, focal_length=focal,
                  **{k: v[order] for k, v in arrays.items()}, extras={k: v[order] for k, v in extras.items()})

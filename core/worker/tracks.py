"""People tracks over a frame range: pass 1 of every estimator, and its post-processing.

`detect_and_track` runs the detector + tracker over the frames and keeps only boxes. The
post-processing steps are small pure functions on `Track`s, applied by `postprocess` in
this order:
  0. `merge_split_tracks`: a track that starts within `max_gap` frames after another ended,
     where that one's box carried on at its velocity lands, is the same person the
     tracker lost over an occlusion: the two are joined under the first id.
  1. `fill_box_gaps`: frames a track was not seen on are filled by linear interpolation of
     its box when the gap is at most `max_gap` frames; a longer gap splits the track and
     the part after it gets a new id (above every tracker id), so every track covers
     contiguous frames.
  2. `drop_short`: tracks shorter than `min_frames` frames go (mostly false detections
     and people crossing the frame's edge).
  2b. `drop_duplicates`: a track that sits on the box of a larger track for most of its
     frames is the same person under a second id (the tracker starts one when the
     detector gives a person two boxes) and goes.
  3. `smooth_boxes`: a centred Gaussian over time (sigma in frames) on each box's centre
     and size, which removes detector jitter without the lag of a causal filter.
  4. `only_track` / `largest_tracks`: one track id the user asked for, or the
     `max_people` largest people, largest = mean box height x number of frames.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from typing import Iterable, Iterator

import numpy as np

from ..estimators import EstimatorError, RunContext
from .prefetch import prefetched
from .same_person import repeated_tracks
from .video import iter_frames

log = logging.getLogger("vtm.worker")

DEFAULT_MAX_GAP = 30  # frames; ByteTrack itself forgets a track after 30 unmatched frames (at 30 fps)
DEFAULT_MIN_FRAMES = 5
DEFAULT_SMOOTH_SIGMA = 1.0  # frames
# A track is a duplicate of a larger one when its box overlaps that track's box with at
# least DUPLICATE_IOU on at least DUPLICATE_SHARE of its frames. Two people side by side
# stay well under 0.6; a person passing in front of another overlaps for a few frames only.
DUPLICATE_IOU = 0.6
DUPLICATE_SHARE = 0.7
# A track continues another across an occlusion (`merge_split_tracks`) when the first's
# box, carried on at its velocity over its last frames, overlaps the second's first box.
MERGE_IOU = 0.3
MERGE_VELOCITY_FRAMES = 5
MERGE_SIZE_RATIO = 1.4
PREFETCH_FRAMES = 16  # decoded frames waiting for the detector at most
DETECT_BATCH = {"cpu": 8, "cuda": 32}  # frames per detector call
MAX_MISSED_DETECTIONS = 2  # bridged at a detector stride > 1 (see postprocess)
PROGRESS_EVERY = 64  # frames between progress reports when the detector skips frames
# The detector's stride when the user gives none (`default_detect_every`): the longest
# stretch of video, in seconds, between detections. On a CPU the detector costs several
# times more per frame than BlazePose (scripts/bench_pipeline.py), and boxes interpolated
# over 0.18 s follow a walking person closely: every 5th frame at 30 fps (a walker of
# 720p: more poses kept than detecting every frame), but every frame at 10 fps, where
# the tracker loses small people over two frames (vtest.avi 0-200: 1322 poses detecting
# every frame, 1026 every 2nd, 603 every 5th). A GPU detects every frame.
DETECT_INTERVAL_S = {"cpu": 0.18, "cuda": 0.0}
# With --max-detect-interval the stride adapts from there (`next_stride`): it doubles
# after each detection where the same people are tracked, no newcomer is being confirmed
# and every box is where its motion over the two detections before put it, up to that many
# seconds of video; it falls back to the default stride as soon as that fails (a person
# appears or is lost, turns, stops). A crowd is detected as often as without it (vtest.avi
# 0-200 at 10 fps: 21 vs 22 tracks, 1484 vs 1496 detected boxes), a steady performer far
# less often. It is off by default: each detection decides where the next one is, so the
# detector sees one frame per call, and on the 720p walker of scripts/bench/bench_pipeline.py
# (background people keep coming and going) it saved 10% of the detections (55 vs 61) while
# single frames on torch's 2 threads cost far more CPU than batches of 8 on a loaded machine.
STEADY_MOVE = 0.05  # box heights a steady box may be off (any side) from where its motion put it
STEADY_STEP = 0.3   # box heights a steady box may move (any side) between two detections
# A box the tracker has seen once that lies mostly (this share of its area) inside a tracked
# person's box is a second box on that person (the fallback detector gives many), not a new one.
NEW_PERSON_COVERED = 0.5


@dataclasses.dataclass
class Track:
    """One person over frames F = len(frames), sorted by frame.

    frames: int32[F]; boxes: float32[F,4] x1, y1, x2, y2 pixels; scores: float32[F]
    (detector score, interpolated on frames not observed); observed: bool[F] (the
    detector matched the track on that frame).
    """

    track_id: int
    frames: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    observed: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def is_contiguous(self) -> bool:
        return bool(np.all(np.diff(self.frames) == 1))

    def replace(self, **changes) -> "Track":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Tracks:
    """The tracks of frames start_frame <= f < stop_frame of `video`, by track id."""

    by_id: dict[int, Track]
    start_frame: int
    stop_frame: int
    video: str = ""

    def __len__(self) -> int:
        return len(self.by_id)

    def __iter__(self) -> Iterator[Track]:
        return iter(self.by_id[i] for i in sorted(self.by_id))

    def __getitem__(self, track_id: int) -> Track:
        return self.by_id[track_id]

    def ids(self) -> list[int]:
        return sorted(self.by_id)

    def with_tracks(self, tracks: Iterable[Track]) -> "Tracks":
        return dataclasses.replace(self, by_id={t.track_id: t for t in tracks})

    def per_frame(self) -> dict[int, list[tuple[int, int]]]:
        """frame -> [(track_id, row in that track)], for estimators that go frame by frame."""
        index: dict[int, list[tuple[int, int]]] = {}
        for track in self:
            for row, frame in enumerate(track.frames.tolist()):
                index.setdefault(frame, []).append((track.track_id, row))
        return index

    def describe_range(self) -> str:
        return f"frames {self.start_frame}\u2013{self.stop_frame - 1} of {self.video or 'the video'}"


# Pass 1 --------------------------------------------------------------------------------

def detect_and_track(run: RunContext, detector, batch_size: int = 8, detect_every: int = 1,
                     prefetch: int = PREFETCH_FRAMES, max_stride: int | None = None) -> Tracks:
    """Detect and track people on the run's frame range; only boxes are kept in memory.

    With detect_every=k the detector sees every k-th frame (and the range's last one);
    with max_stride=m > k too, the stride adapts between k and m (`next_stride`), one
    frame per detector call. Each track's box is interpolated on the frames between,
    which are marked not observed. Frames are decoded on a thread up to `prefetch` frames
    ahead of the detector (0: no thread). Raises EstimatorError('no_person') when nobody
    is detected anywhere.
    """
    if batch_size < 1 or detect_every < 1:
        raise ValueError(f"batch_size and detect_every must be >= 1 (got {batch_size}, {detect_every})")
    adaptive = max_stride is not None and max_stride > detect_every
    total = run.frame_total
    rows: dict[int, list[tuple[int, np.ndarray, float]]] = {}
    batch_frames: list[np.ndarray] = []
    batch_ids: list[int] = []
    done = 0
    run.progress("detect", 0, total)
    stride = _AdaptiveStride(detect_every, max_stride or detect_every, detector)
    detections = [0]  # frames the detector saw

    def flush() -> None:
        if not batch_frames:
            return
        detections[0] += len(batch_frames)
        for index, dets in zip(batch_ids, detector.track(batch_frames)):
            for box, score, tid in zip(dets.boxes, dets.scores, dets.track_ids):
                rows.setdefault(int(tid), []).append((index, box, float(score)))
            if adaptive:
                stride.detected(index, dets)
        batch_frames.clear()
        batch_ids.clear()

    # The first pass over the frames says what decoding lost (later passes lose the same).
    decoded = iter_frames(run.video.path, run.start_frame, run.stop_frame, warn=run.warn)
    with contextlib.closing(prefetched(decoded, prefetch)) as ahead:  # closing stops the decoding thread
        if adaptive:
            frames = stride.frames(ahead, run.start_frame)
            batch_size = 1  # each detection decides where the next one is
        else:
            frames = detector_frames(ahead, run.start_frame, detect_every)
        for index, frame in frames:
            if frame is not None:
                batch_frames.append(frame)
                batch_ids.append(index)
            done = index + 1 - run.start_frame
            if len(batch_frames) >= batch_size:
                flush()
                run.progress("detect", done, total)
            elif frame is None and done % PROGRESS_EVERY == 0:  # long strides between detections
                run.progress("detect", done, total)
    flush()
    run.progress("detect", done, total if total is not None else done)

    stop_frame = run.start_frame + done
    video = str(run.video.path)
    if done == 0:
        raise EstimatorError("video_empty", f"no frame could be decoded from frame {run.start_frame} on in {video}")
    if not rows:
        raise EstimatorError("no_person",
                             f"no person was detected in frames {run.start_frame}\u2013{stop_frame - 1} of {video}; "
                             "check the frame range, use a video where people are clearly visible, or try "
                             "another detector (--detector)")
    log.info("detector ran on %d of %d frames (%s)", detections[0], done,
             f"adaptive stride {detect_every}-{max_stride}" if adaptive else f"every {detect_every}")
    tracks = [_track_from_rows(tid, r) for tid, r in rows.items()]
    gap = (max_stride if adaptive else detect_every) - 1
    if gap > 0:
        tracks = [interpolate_gaps(t, gap) for t in tracks]
    return Tracks({t.track_id: t for t in tracks}, run.start_frame, stop_frame, video)


def next_stride(stride: int, base: int, max_stride: int, history: list, unconfirmed: np.ndarray | None,
                move: float = STEADY_MOVE, step: float = STEADY_STEP) -> int:
    """The adaptive detector stride after a detection (module constants' comment).

    history: (frame index, FrameDetections) of the last detections, oldest first, this
    one last; unconfirmed: boxes [K,4] of tracks the tracker has seen once and not
    confirmed yet (None: unknown). Returns `base` when an unconfirmed box is a new person
    (`new_people`) or unknown, with fewer than three detections, when the tracked ids
    differ from the previous detection's, or when a box is not where its motion over the
    two detections before put it (off by more than `move` of its height on any side) or
    moved more than `step` of its height; else 2 x stride, at most `max_stride`.
    """
    unsettled = unconfirmed is None or bool(history and new_people(unconfirmed, history[-1][1].boxes).any())
    if unsettled or len(history) < 3:
        return base
    (i0, d0), (i1, d1), (i2, d2) = history[-3:]
    ids = sorted(d2.track_ids.tolist())
    if ids != sorted(d1.track_ids.tolist()):
        return base
    earlier = [{int(t): np.asarray(b, np.float64) for t, b in zip(d.track_ids, d.boxes)} for d in (d0, d1)]
    for tid, box in zip(d2.track_ids.tolist(), np.asarray(d2.boxes, np.float64)):
        if tid not in earlier[0]:
            return base
        b0, b1 = earlier[0][tid], earlier[1][tid]
        predicted = b1 + (b1 - b0) * (i2 - i1) / max(i1 - i0, 1)
        height = max(box[3] - box[1], 1.0)
        if np.abs(box - predicted).max() > move * height or np.abs(box - b1).max() > step * height:
            return base
    return max(base, min(2 * stride, max_stride))


def new_people(candidates: np.ndarray, tracked: np.ndarray, covered: float = NEW_PERSON_COVERED) -> np.ndarray:
    """Which candidate boxes [K,4] are not mostly (`covered` of their area) inside one of
    the tracked boxes [N,4]: a person, not a second box on someone tracked -> bool[K]."""
    candidates = np.asarray(candidates, np.float64).reshape(-1, 4)
    tracked = np.asarray(tracked, np.float64).reshape(-1, 4)
    if len(tracked) == 0:
        return np.ones(len(candidates), bool)
    lo = np.maximum(candidates[:, None, :2], tracked[None, :, :2])
    hi = np.minimum(candidates[:, None, 2:], tracked[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = np.prod(np.clip(candidates[:, 2:] - candidates[:, :2], 1e-9, None), axis=-1)
    return (inter / area[:, None]).max(axis=1) < covered


class _AdaptiveStride:
    """Which frames the detector sees under `next_stride`, fed back each detection's result."""

    def __init__(self, base: int, max_stride: int, detector):
        self.base, self.max_stride = base, max(base, max_stride)
        self.detector = detector
        self.stride = base
        self.next_index: int | None = None
        self.history: list = []

    def detected(self, index: int, dets) -> None:
        unconfirmed = getattr(self.detector, "unconfirmed_boxes", lambda: None)()
        self.history = (self.history + [(index, dets)])[-3:]
        self.stride = next_stride(self.stride, self.base, self.max_stride, self.history, unconfirmed)
        self.next_index = index + self.stride

    def frames(self, frames: Iterable[tuple[int, np.ndarray]], start: int) -> Iterator[tuple[int, np.ndarray | None]]:
        """(index, frame) -> (index, frame or None) as `detector_frames`, the frame where
        the detector runs: the first, those `detected` asks for next, and the last.

        The consumer calls `detected` before it takes the next item (batch size 1), so this
        runs on the consumer's thread, after the prefetching of the decoded frames.
        """
        held: tuple[int, np.ndarray] | None = None
        self.next_index = start
        for index, frame in frames:
            if held is not None:
                yield held[0], None
            if self.next_index is not None and index >= self.next_index:
                held = None
                self.next_index = None  # until `detected` says where the next detection is
                yield index, frame
            else:
                held = (index, frame)
        if held is not None:
            yield held


def detector_frames(frames: Iterable[tuple[int, np.ndarray]], start: int,
                    every: int) -> Iterator[tuple[int, np.ndarray | None]]:
    """(index, frame) -> (index, frame or None): the frame only where the detector runs.

    That is every `every`-th frame from `start` and the last frame, whose being last is
    known only when the frames end (so each skipped frame is held until the next arrives).
    """
    held: tuple[int, np.ndarray] | None = None
    for index, frame in frames:
        if held is not None:
            yield held[0], None
        if (index - start) % every == 0:
            held = None
            yield index, frame
        else:
            held = (index, frame)
    if held is not None:
        yield held


def _track_from_rows(track_id: int, rows: list[tuple[int, np.ndarray, float]]) -> Track:
    rows = sorted(rows, key=lambda r: r[0])
    return Track(track_id=track_id,
                 frames=np.array([r[0] for r in rows], np.int32),
                 boxes=np.array([r[1] for r in rows], np.float32).reshape(-1, 4),
                 scores=np.array([r[2] for r in rows], np.float32),
                 observed=np.ones(len(rows), bool))


# Post-processing -----------------------------------------------------------------------

def interpolate_gaps(track: Track, max_gap: int) -> Track:
    """Fill every gap of at most `max_gap` missing frames by linear interpolation.

    Longer gaps stay gaps. Filled frames have observed=False.
    """
    frames = track.frames.astype(np.int64)
    if len(frames) < 2:
        return track
    missing = np.diff(frames) - 1
    fill = (missing > 0) & (missing <= max_gap)
    if not fill.any():
        return track
    new_frames = np.concatenate([frames] + [np.arange(frames[i] + 1, frames[i + 1]) for i in np.flatnonzero(fill)])
    new_frames.sort()
    boxes = np.stack([np.interp(new_frames, frames, track.boxes[:, k]) for k in range(4)], axis=1)
    return track.replace(frames=new_frames.astype(np.int32), boxes=boxes.astype(np.float32),
                         scores=np.interp(new_frames, frames, track.scores).astype(np.float32),
                         observed=np.isin(new_frames, frames[track.observed]))


def split_at_gaps(track: Track) -> list[Track]:
    """Contiguous pieces of a track; all keep its id (renumber with `fill_box_gaps`)."""
    cuts = np.flatnonzero(np.diff(track.frames) != 1) + 1
    if cuts.size == 0:
        return [track]
    return [track.replace(frames=f, boxes=b, scores=s, observed=o)
            for f, b, s, o in zip(*(np.split(a, cuts) for a in (track.frames, track.boxes, track.scores,
                                                                track.observed)))]


def fill_box_gaps(tracks: Iterable[Track], max_gap: int = DEFAULT_MAX_GAP) -> list[Track]:
    """Interpolate gaps up to `max_gap` frames; split tracks at longer gaps.

    The first piece of a split track keeps its id, later pieces get new ids counting up
    from above the largest id present, in order of (original id, frame).
    """
    tracks = sorted(tracks, key=lambda t: t.track_id)
    next_id = max((t.track_id for t in tracks), default=0) + 1
    out: list[Track] = []
    for track in tracks:
        pieces = split_at_gaps(interpolate_gaps(track, max_gap))
        out.append(pieces[0])
        for piece in pieces[1:]:
            out.append(piece.replace(track_id=next_id))
            next_id += 1
    return out


def merge_split_tracks(tracks: Iterable[Track], max_gap: int = DEFAULT_MAX_GAP,
                       min_iou: float = MERGE_IOU) -> list[Track]:
    """Join tracks the tracker split over a short occlusion: one id per person.

    Track B continues track A when B starts after A ends, within `max_gap` frames, where
    A's box, carried on at its last velocity (over up to MERGE_VELOCITY_FRAMES frames),
    overlaps B's first box by at least `min_iou`, with a similar size (within
    MERGE_SIZE_RATIO). Pairs are joined best overlap first; the joined track keeps A's id
    and the gap between them stays a gap (`fill_box_gaps` interpolates it).
    """
    tracks = sorted(tracks, key=lambda t: (int(t.frames[0]), t.track_id))
    candidates = []
    for a in tracks:
        end = int(a.frames[-1])
        k = min(len(a), MERGE_VELOCITY_FRAMES + 1)
        velocity = (a.boxes[-1] - a.boxes[-k]) / max(int(a.frames[-1] - a.frames[-k]), 1)
        for b in tracks:
            gap = int(b.frames[0]) - end
            if b is a or not 0 < gap <= max_gap + 1:
                continue
            predicted = a.boxes[-1] + velocity * gap
            height_ratio = (b.boxes[0, 3] - b.boxes[0, 1]) / max(float(a.boxes[-1, 3] - a.boxes[-1, 1]), 1e-6)
            overlap = float(box_iou(predicted, b.boxes[0]))
            if overlap >= min_iou and 1 / MERGE_SIZE_RATIO <= height_ratio <= MERGE_SIZE_RATIO:
                candidates.append((overlap, a.track_id, b.track_id))
    by_id = {t.track_id: t for t in tracks}
    head = {t.track_id: t.track_id for t in tracks}  # track -> the track it was joined into
    has_next, has_prev = set(), set()
    for _, a_id, b_id in sorted(candidates, reverse=True):
        if a_id in has_next or b_id in has_prev:
            continue
        has_next.add(a_id)
        has_prev.add(b_id)
        root = head[a_id]
        a, b = by_id[root], by_id.pop(b_id)
        by_id[root] = a.replace(frames=np.concatenate([a.frames, b.frames]), boxes=np.concatenate([a.boxes, b.boxes]),
                                scores=np.concatenate([a.scores, b.scores]),
                                observed=np.concatenate([a.observed, b.observed]))
        for tid, h in head.items():
            if h == b_id:
                head[tid] = root
    return sorted(by_id.values(), key=lambda t: t.track_id)


def drop_short(tracks: Iterable[Track], min_frames: int = DEFAULT_MIN_FRAMES) -> list[Track]:
    """Tracks covering at least `min_frames` frames."""
    return [t for t in tracks if len(t) >= min_frames]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes a, b [..., 4] (x1, y1, x2, y2) -> [...]."""
    wh = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def drop_duplicates(tracks: Iterable[Track], iou: float = DUPLICATE_IOU,
                    share: float = DUPLICATE_SHARE) -> list[Track]:
    """Tracks that are not a second id on a larger track's person (module docstring, 2b).

    Tracks are taken largest first (`size_score`); one goes when its box has IoU >= `iou`
    with a kept track's box on at least `share` of its own frames. Kept in id order.
    """
    by_id = {t.track_id: t for t in tracks}
    order = sorted(by_id, key=lambda i: (-size_score(by_id[i]), i))
    repeats = repeated_tracks(order, lambda i: by_id[i].frames,
                              lambda i, k, mine, theirs: box_iou(by_id[i].boxes[mine], by_id[k].boxes[theirs]) >= iou,
                              share)
    return [by_id[i] for i in sorted(by_id) if i not in repeats]


def smooth_boxes(track: Track, sigma: float = DEFAULT_SMOOTH_SIGMA) -> Track:
    """Gaussian-smooth a contiguous track's box centre and size over time.

    sigma is in frames (0: unchanged). Ends are padded with their own value (no pull
    towards zero). boxes float32[F,4] -> float32[F,4].
    """
    if sigma <= 0 or len(track) < 2:
        return track
    from scipy.ndimage import gaussian_filter1d

    b = track.boxes.astype(np.float64)
    centre_size = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
    cs = gaussian_filter1d(centre_size, sigma, axis=0, mode="nearest")
    half = np.maximum(cs[:, 2:], 1e-3) / 2
    boxes = np.concatenate([cs[:, :2] - half, cs[:, :2] + half], axis=1)
    return track.replace(boxes=boxes.astype(np.float32))


def size_score(track: Track) -> float:
    """How much of a person a track holds: mean box height (px) x number of frames."""
    heights = track.boxes[:, 3] - track.boxes[:, 1]
    return float(heights.mean()) * len(track) if len(track) else 0.0


def largest_tracks(tracks: Iterable[Track], max_people: int | None) -> list[Track]:
    """The `max_people` largest tracks by `size_score` (ties: lower id), in id order; None keeps all."""
    tracks = list(tracks)
    if max_people is None or len(tracks) <= max_people:
        return sorted(tracks, key=lambda t: t.track_id)
    ranked = sorted(tracks, key=lambda t: (-size_score(t), t.track_id))[:max_people]
    return sorted(ranked, key=lambda t: t.track_id)


def only_track(tracks: Tracks, track_id: int) -> Tracks:
    """Just the track `track_id`; an error that lists the ids there are when it is absent."""
    if track_id not in tracks.by_id:
        found = ", ".join(map(str, tracks.ids())) or "none"
        raise EstimatorError("track_not_found",
                             f"there is no track {track_id} in {tracks.describe_range()}; the tracks found are: "
                             f"{found}. Run without a track id to see them, or pick one of these")
    return tracks.with_tracks([tracks[track_id]])


def postprocess(tracks: Tracks, max_gap: int = DEFAULT_MAX_GAP, min_frames: int = DEFAULT_MIN_FRAMES,
                smooth_sigma: float = DEFAULT_SMOOTH_SIGMA, max_people: int | None = None,
                track_id: int | None = None, detect_every: int = 1) -> Tracks:
    """Steps 0-4 (and 2b) of the module docstring. Raises no_person when no track is left.

    A track id names a track after gap filling (the ids a motion file shows). With the
    detector on every k-th frame (`detect_every`), m missed detections leave a gap of
    (m + 1)k - 1 frames; gaps of up to MAX_MISSED_DETECTIONS misses are filled too, so that
    a person the detector missed is not cut in two (the tracker keeps the id over 30 calls).
    """
    max_gap = max(max_gap, (MAX_MISSED_DETECTIONS + 1) * detect_every - 1)
    kept = fill_box_gaps(merge_split_tracks(tracks, max_gap), max_gap)
    # A range shorter than min_frames keeps the people seen all through it.
    min_frames = max(1, min(min_frames, tracks.stop_frame - tracks.start_frame))
    long_enough = drop_short(kept, min_frames)
    if not long_enough:
        longest = max((len(t) for t in kept), default=0)
        raise EstimatorError("no_person",
                             f"no person was tracked for {min_frames} frames or more in {tracks.describe_range()} "
                             f"(the longest track has {longest} frames); process a longer frame range or a "
                             "video where people stay visible")
    result = tracks.with_tracks(smooth_boxes(t, smooth_sigma) for t in drop_duplicates(long_enough))
    if track_id is not None:
        return only_track(result, track_id)
    return result.with_tracks(largest_tracks(result, max_people))


def default_detect_every(device: str, fps: float) -> int:
    """The detector's stride on `device` ("cpu"/"cuda") for video at `fps`: the most frames that
    span at most DETECT_INTERVAL_S seconds, at least 1."""
    interval = DETECT_INTERVAL_S.get(device, DETECT_INTERVAL_S["cpu"])
    return max(1, int(interval * fps + 1e-6))


def steady_max_stride(device: str, fps: float, max_interval_s: float | None) -> int:
    """The longest adaptive stride on `device` for video at `fps`: the most frames that span
    at most `max_interval_s` seconds, and at least `default_detect_every`'s stride."""
    base = default_detect_every(device, fps)
    if device != "cpu" or not max_interval_s or max_interval_s <= 0:
        return base
    return max(base, int(max_interval_s * fps + 1e-6))


def find_people(run: RunContext, weights: str | None, device: str, *, max_people: int | None = None,
                track_id: int | None = None, detect_every: int | None = 1, batch_size: int | None = None,
                max_detect_interval: float | None = None, imgsz: int | None = None,
                conf: float = 0.25, tracker: str = "bytetrack.yaml") -> Tracks:
    """Pass 1 as the estimators run it: build the detector, detect and track, post-process.

    Reports the detector in use and the tracks kept through `run.info`. batch_size None:
    `DETECT_BATCH` of the detector's device; detect_every None: `default_detect_every`,
    adapting up to `max_detect_interval` seconds (`steady_max_stride`); imgsz None:
    `options.DETECTOR_SIZE`.
    """
    from ..common.options import DETECTOR_SIZE
    from .detection import PersonDetector

    t0, c0 = time.perf_counter(), time.process_time()
    detector = PersonDetector(weights, device, run.warn, conf=conf, imgsz=imgsz or DETECTOR_SIZE, tracker=tracker)
    log.info("detector loaded: %.2f s, cpu %.2f s", time.perf_counter() - t0, time.process_time() - c0)
    run.info(detector=detector.source, detector_size=detector.imgsz)
    kind = str(detector.device).split(":")[0]
    if batch_size is None:
        batch_size = DETECT_BATCH.get(kind, DETECT_BATCH["cpu"])
    max_stride = None
    if detect_every is None:
        detect_every = default_detect_every(kind, run.video.fps)
        max_stride = steady_max_stride(kind, run.video.fps, max_detect_interval)
        run.info(detect_every=detect_every, max_detect_stride=max_stride)
    raw = detect_and_track(run, detector, batch_size=batch_size, detect_every=detect_every, max_stride=max_stride)
    tracks = postprocess(raw, max_people=max_people, track_id=track_id, detect_every=max(detect_every, max_stride or 1))
    run.info(tracks=tracks.ids(), tracks_found=len(raw))
    return tracks

"""The TAR estimator: people detected and tracked, then TAR over each track's crops.

Pass 1 (stage "detect"): YOLO person detection with its built-in tracker, then per-track
gap filling, dropping of short tracks and box smoothing (`core.tracks`).
Pass 2 (stage "estimate"): the frames are decoded again, on a thread that also cuts the
crops ahead of the model (`track_crops`, `core.prefetch`); each track's square CLIFF crop
(`box_scale` × its box's longer side, resized to `crop_size`) passes the backbone once and
every T = 9 / L = 5 window around a frame (edges repeated) is refined in batches
(`core.tar.inference.TrackRunner`). Features are only held while a window still needs them.

Output rows (`vtm.motion/1`): SMPL axis-angles with the global orientation in the camera
frame, betas, `trans` = the CLIFF full-image translation (smplx `transl`), `rest_joints`
from smplx, the track's box and detector score. The focal length is √(W² + H²) unless
the options give one.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..common.camera import default_focal_length
from . import EstimatorError, RunContext, WorkerOptions

BATCH_SIZE = {"cpu": 4, "cuda": 32}  # crops per backbone batch and windows per refinement batch
PREFETCH_FRAMES = 16  # frames decoded and cropped ahead of the model at most


def track_crops(video, first: int, stop: int, per_frame: dict, tracks, box_scale: float, crop_size: int):
    """Decode frames first <= f < stop and cut each tracked person's square crop.

    Yields (frame index, [(track id, row, crop uint8 RGB [C, C, 3], centre (x, y), side)]);
    frames are dropped as soon as they are cropped.
    """
    from ..worker.crops import crop_square, square_box
    from ..worker.video import iter_frames

    for index, frame in iter_frames(video, first, stop):
        items = []
        for track_id, row in per_frame.get(index, ()):
            center, side = square_box(tracks[track_id].boxes[row], scale=box_scale)
            crop, _ = crop_square(frame, center, float(side), out=crop_size, rgb=True)
            items.append((track_id, row, crop, (float(center[0]), float(center[1])), float(side)))
        yield index, items


class TarEstimator:
    name = "tar"

    def __init__(self, options: WorkerOptions):
        if options.checkpoint is None:
            raise EstimatorError("checkpoint_missing",
                                 "the tar estimator needs a trained TAR checkpoint: pass --checkpoint FILE.pt "
                                 "(written by the project's TAR training), or use --estimator blazepose")
        if options.smpl_model is None:
            raise EstimatorError("smpl_model_missing",
                                 "the tar estimator needs the SMPL body model: pass --smpl-model with the path of "
                                 "SMPL_NEUTRAL.pkl (or basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl) from "
                                 "smpl.is.tue.mpg.de")
        self.options = options

    def _load(self, run: RunContext):
        from ..worker.body_model import create_smpl
        from ..worker.devices import resolve_device
        from ..tar.checkpoint import CheckpointError, load_model
        from ..tar.smpl_layer import SMPLLayer

        device = resolve_device(self.options.device, run.warn)
        smpl = create_smpl(self.options.smpl_model)  # BodyModelError says what is wrong with the file
        try:
            model, payload = load_model(self.options.checkpoint, SMPLLayer(smpl), device, warn=run.warn)
        except CheckpointError as exc:
            raise EstimatorError("checkpoint_invalid", str(exc)) from exc
        return device, smpl, model, payload

    def estimate(self, run: RunContext):
        from ..worker.prefetch import prefetched
        from ..tar.inference import TrackRunner
        from ..worker.tracks import find_people

        # Model and body model first: a bad file should fail before minutes of detection.
        device, smpl, model, _ = self._load(run)
        cfg = model.cfg
        run.info(checkpoint=str(self.options.checkpoint), backbone=cfg.backbone, hidden_map_size=cfg.hidden_map_size,
                 device=device)

        tracks = find_people(run, self.options.detector, device, max_people=self.options.max_people,
                             track_id=self.options.track_id,
                             # TAR's cost dwarfs the detector's: every frame unless asked otherwise.
                             detect_every=self.options.detect_every or 1, imgsz=self.options.detector_size)

        width, height = run.video.width, run.video.height
        focal = self.options.focal_length or default_focal_length(width, height)
        runner = TrackRunner(model, {t.track_id: len(t) for t in tracks}, focal, (width, height), device,
                             batch_size=BATCH_SIZE.get(str(device).split(":")[0], 4),
                             precision=self.options.precision, compile=self.options.compile)
        per_frame = tracks.per_frame()
        first, stop = min(per_frame), max(per_frame) + 1  # frames outside every track need no decoding
        expected = sum(len(t) for t in tracks)
        added = 0
        run.progress("estimate", 0, stop - first)
        # Decoding and cropping run on a thread ahead of the model; only crops cross over.
        crops = track_crops(run.video.path, first, stop, per_frame, tracks, cfg.box_scale, cfg.crop_size)
        with contextlib.closing(prefetched(crops, PREFETCH_FRAMES, name="vtm-crops")) as ahead:
            for index, items in ahead:
                for track_id, row, crop, center, side in items:
                    runner.add(track_id, crop, center, side, key=(track_id, row))
                    added += 1
                run.progress("estimate", index + 1 - first, stop - first)
        if added < expected:
            raise EstimatorError("video_truncated",
                                 f"{expected - added} tracked frame(s) could not be decoded again in the second pass "
                                 f"over {tracks.describe_range()}; the video may be damaged")
        results = runner.finish()
        return self._motion(tracks, results, smpl, focal, run)

    def _motion(self, tracks, results, smpl, focal: float, run: RunContext):
        from ..worker.body_model import smpl_rest_joints
        from ..common.motion import Motion, sort_rows

        frame_ids, track_ids, poses, betas, trans, boxes, scores = [], [], [], [], [], [], []
        for track in tracks:
            rows = [results[(track.track_id, r)] for r in range(len(track))]
            frame_ids.append(track.frames)
            track_ids.append(np.full(len(track), track.track_id, np.int32))
            poses.append(np.stack([r["pose_aa"] for r in rows]))
            betas.append(np.stack([r["betas"] for r in rows]))
            trans.append(np.stack([r["trans"] for r in rows]))
            boxes.append(track.boxes)
            scores.append(track.scores)
        betas_all = np.concatenate(betas).astype(np.float32)
        motion = Motion(
            estimator=self.name, fps=run.video.fps, image_size=(run.video.width, run.video.height),
            focal_length=float(focal),
            frame_ids=np.concatenate(frame_ids).astype(np.int32), track_ids=np.concatenate(track_ids),
            poses=np.concatenate(poses).astype(np.float32), betas=betas_all,
            trans=np.concatenate(trans).astype(np.float32), rest_joints=smpl_rest_joints(smpl, betas_all),
            bboxes=np.concatenate(boxes).astype(np.float32), scores=np.concatenate(scores).astype(np.float32))
        return sort_rows(motion)

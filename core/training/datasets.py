"""Readers for the standard preprocessed datasets (SPIN/ReFit `.npz` + image folders), clips
of T frames grouped by sequence, dataset mixing, and the batches the trainer consumes.

A dataset file has one row per person-frame. Keys (SPIN/ReFit names):
  imgname [N] (path relative to the image folder), center [N, 2], scale [N] (box side/200)
  and at least one source of supervision: part [N, K, 3] (2D keypoints, visibility),
  S [N, K, 4] (3D keypoints in metres, confidence), pose [N, 72] + shape [N, 10] (SMPL).
Optional: has_smpl [N], img_focal [N] (else CLIFF's √(W² + H²)), img_size [N, 2],
vid_name [N] and frame_id [N] (else the sequence is the image's folder and file name
without its trailing frame number), person_id [N], keypoint_format (scalar: 'smpl24' for
SMPL's own 24 joints; otherwise SPIN's 24-joint order, whose joints the losses regress
from the mesh with J_regressor_extra: joint_sets.py).

Video datasets give each frame a window of T consecutive frames of its video centred on
it (the ends repeat the first or last frame); image datasets (COCO, MPII) repeat the image
T times, as the TAR paper does. A window holds one person and never skips frames:
- several rows of one frame in one sequence (people without `person_id`) are refused;
- where a file's frames are not consecutive (SPIN's files keep every 5th frame of
  Human3.6M, every 10th of MPI-INF-3DHP), the sequences are split at the gaps with a
  warning, unless the image folder holds every frame of the videos (`full_rate`): then a
  window reads the neighbouring video frames from disk (the labelled frame's file name
  with its frame number changed) and their boxes are interpolated between labelled rows.
"""
from __future__ import annotations

import dataclasses
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .joint_sets import LAYOUT_HIPS, LAYOUT_SMPL24, LAYOUT_SPIN24, SPIN24_FLIP
from .augment import (NO_AUGMENT, AugmentConfig, AugmentParams, apply_pixels, make_view, sample_params,
                      to_tensor_layout, transform_joints2d, transform_joints3d, transform_pose, warp_crop)


class DatasetError(ValueError):
    """A dataset that is missing or malformed; the message says what to fix."""


class DatasetWarning(UserWarning):
    """A dataset that can be used, but not as well as the user may think."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a standard dataset lives under a data root, and how to read it."""

    files: dict          # split -> .npz file name
    images: dict         # split -> image folder (the imgname paths are relative to it)
    video: bool


# File names as SPIN/ReFit preprocessing writes them (their dataset_extras/ folder, here
# directly under the data root), image folders as their download scripts unpack them.
# 3DPW's own sequence files (3DPW/sequenceFiles/<train|validation|test>) are used when present.
SEQUENCE_SPLITS = {"train": "train", "val": "validation", "test": "test"}
STANDARD = {
    "3dpw": DatasetSpec({"train": "3dpw_train.npz", "val": "3dpw_validation.npz", "test": "3dpw_test.npz"},
                        {"train": "3DPW", "val": "3DPW", "test": "3DPW"}, True),
    "h36m": DatasetSpec({"train": "h36m_train.npz", "test": "h36m_valid_protocol2.npz"},
                        {"train": "h36m", "test": "h36m"}, True),
    "mpi_inf_3dhp": DatasetSpec({"train": "mpi_inf_3dhp_train.npz", "test": "mpi_inf_3dhp_test.npz"},
                                {"train": "mpi_inf_3dhp", "test": "mpi_inf_3dhp"}, True),
    "coco": DatasetSpec({"train": "coco_2014_train_eft.npz"}, {"train": "coco"}, False),
    "mpii": DatasetSpec({"train": "mpii_train_eft.npz"}, {"train": "mpii"}, False),
    # EMDB is read from its release folder (emdb.py), EMDB-1 as the test split.
    "emdb": DatasetSpec({"test": "EMDB"}, {"test": "EMDB"}, True),
    "generated": DatasetSpec({"train": "generated_train.npz", "val": "generated_val.npz", "test": "generated_test.npz"},
                             {"train": "generated_train", "val": "generated_val", "test": "generated_test"}, True),
}


def standard_paths(name: str, split: str, data_root: str | os.PathLike) -> tuple[Path, Path, bool]:
    """(npz, image folder, is video) of a standard dataset under `data_root`."""
    if name not in STANDARD:
        raise DatasetError(f"unknown dataset '{name}'; the standard ones are {', '.join(STANDARD)} "
                           "(give others as NAME=FILE.npz:IMAGE_FOLDER)")
    spec = STANDARD[name]
    if split not in spec.files:
        raise DatasetError(f"dataset '{name}' has no {split} split (it has {', '.join(spec.files)})")
    root = Path(data_root)
    return root / spec.files[split], root / spec.images[split], spec.video


def cliff_bbox_info(center: np.ndarray, size: np.ndarray, focal: np.ndarray, img_size: np.ndarray) -> np.ndarray:
    """CLIFF's box information [..., 3] from box centre [..., 2], side [...], focal [...], (W, H) [..., 2]."""
    center, size, focal, img_size = (np.asarray(a, dtype=np.float64) for a in (center, size, focal, img_size))
    rel = (center - 0.5 * img_size) / focal[..., None] * 2.8
    return np.concatenate([rel, ((size - 0.24 * focal) / (0.06 * focal))[..., None]], -1).astype(np.float32)


def frame_path(imgname: str, frame: int) -> str:
    """The path of another frame of the same video: the trailing number of the file name
    replaced by `frame`, zero-padded to the same width."""
    p = Path(imgname)
    m = re.match(r"^(.*?)(\d+)$", p.stem)
    if not m:
        raise DatasetError(f"image '{imgname}' has no frame number at the end of its name; full-rate windows "
                           "need frame files named like image_000123.jpg")
    return str(p.with_name(f"{m.group(1)}{frame:0{len(m.group(2))}d}{p.suffix}"))


def _sequence_key(imgname: str) -> tuple[str, int]:
    """(sequence, frame number) from an image path: its folder and its name without the trailing number."""
    p = Path(imgname)
    m = re.match(r"^(.*?)(\d+)$", p.stem)
    stem, num = (m.group(1), int(m.group(2))) if m else (p.stem, 0)
    return f"{p.parent}/{stem.rstrip('_-.')}", num


class FrameTable:
    """The rows of one dataset file, checked, with keypoints in SMPL's 24-joint layout."""

    def __init__(self, name: str, npz_path: str | os.PathLike, image_dir: str | os.PathLike, video: bool = True,
                 full_rate: bool = False, arrays: dict | None = None):
        """`arrays`: the file's keys already read (another layout's reader, `npz_path` then
        names the source); `full_rate`: the image folder holds every frame of the videos."""
        self.name = name
        self.npz_path = Path(npz_path)
        self.image_dir = Path(image_dir)
        self.video = video
        self.full_rate = bool(full_rate and video)
        if arrays is None and not self.npz_path.is_file():
            raise DatasetError(f"dataset '{name}': file '{self.npz_path}' does not exist; preprocess it in the "
                               "SPIN/ReFit layout (or make generated data with scripts/make_training_data.py)")
        if not self.image_dir.is_dir():
            raise DatasetError(f"dataset '{name}': image folder '{self.image_dir}' does not exist; "
                               "point --data at the folder the dataset's 'imgname' paths are relative to")
        data = arrays if arrays is not None else self._load_npz()
        self._check(data)
        n = len(data["imgname"])
        self.imgname = data["imgname"].astype(str)
        self.center = data["center"].astype(np.float64)
        self.box_size = data["scale"].astype(np.float64).reshape(n) * 200.0
        self.layout = LAYOUT_SMPL24 if str(data.get("keypoint_format", "")) == "smpl24" else LAYOUT_SPIN24
        self.joints2d = self._joints(data.get("part"), n, 3)
        self.joints3d = self._joints(data.get("S"), n, 4)
        self.has_3d = (self.joints3d[..., 3].sum(1) > 0).astype(np.float32)
        has_pose = "pose" in data and "shape" in data
        self.pose = data["pose"].astype(np.float32) if has_pose else np.zeros((n, 72), np.float32)
        self.betas = data["shape"].astype(np.float32) if has_pose else np.zeros((n, 10), np.float32)
        self.has_smpl = (data["has_smpl"].astype(np.float32) if "has_smpl" in data
                         else np.full(n, float(has_pose), np.float32))
        self.focal = data["img_focal"].astype(np.float64) if "img_focal" in data else None
        self.img_size = data["img_size"].astype(np.float64) if "img_size" in data else None
        self._sizes: dict[int, np.ndarray] = {}  # image sizes read so far, when the file has none
        self._group(data, n)

    def _load_npz(self) -> dict:
        try:
            with np.load(self.npz_path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception as exc:  # np.load raises many kinds for a damaged file
            raise DatasetError(f"dataset '{self.name}': '{self.npz_path}' is not a readable .npz file "
                               f"({type(exc).__name__}: {exc})") from exc

    def __len__(self) -> int:
        return len(self.imgname)

    def _check(self, data: dict) -> None:
        where = f"dataset '{self.name}' ('{self.npz_path}')"
        missing = [k for k in ("imgname", "center", "scale") if k not in data]
        if missing:
            raise DatasetError(f"{where} lacks {', '.join(missing)}; a SPIN/ReFit-style file needs imgname, "
                               f"center, scale and part, S or pose+shape (it has: {', '.join(sorted(data))})")
        if not any(k in data for k in ("part", "S")) and not ("pose" in data and "shape" in data):
            raise DatasetError(f"{where} has no supervision: it needs part (2D keypoints), S (3D keypoints) "
                               f"or pose+shape (SMPL) (it has: {', '.join(sorted(data))})")
        n = len(data["imgname"])
        expect = {"center": (n, 2), "scale": (n,), "pose": (n, 72), "shape": (n, 10), "has_smpl": (n,),
                  "img_focal": (n,), "img_size": (n, 2)}
        for key, shape in expect.items():
            if key in data and data[key].reshape(-1).size and data[key].shape != shape:
                if not (key == "scale" and data[key].size == n):
                    raise DatasetError(f"{where}: '{key}' has shape {list(data[key].shape)}, expected {list(shape)}")
        for key, width in (("part", 3), ("S", 4)):
            if key in data and data[key].shape != (n, 24, width):
                raise DatasetError(f"{where}: '{key}' has shape {list(data[key].shape)}, expected [{n}, 24, {width}] "
                                   "(SPIN's 24 joints, or SMPL's with keypoint_format 'smpl24')")
        if n == 0:
            raise DatasetError(f"{where} holds no rows")
        first = self.image_dir / str(data["imgname"][0])
        if not first.is_file():
            raise DatasetError(f"{where}: its first image '{first}' does not exist; is '{self.image_dir}' the "
                               "folder that the imgname paths are relative to?")

    @staticmethod
    def _joints(arr: np.ndarray | None, n: int, width: int) -> np.ndarray:
        """Labels [n, 24, width] in the file's own layout; none -> zero confidence."""
        return np.zeros((n, 24, width), np.float32) if arr is None else arr.astype(np.float32)

    @property
    def flip_permutation(self) -> np.ndarray:
        from ..common.skeleton import FLIP_PERMUTATION

        return SPIN24_FLIP if self.layout == LAYOUT_SPIN24 else FLIP_PERMUTATION

    def _group(self, data: dict, n: int) -> None:
        """Sequences: lists of row indices of one person in frame order, without gaps unless full-rate."""
        keys = [_sequence_key(s) for s in self.imgname]
        self.frame_id = data["frame_id"].astype(np.int64) if "frame_id" in data else np.array([k[1] for k in keys])
        if not self.video:
            self.sequences = [np.array([i]) for i in range(n)]
        else:
            vid = data["vid_name"].astype(str) if "vid_name" in data else np.array([k[0] for k in keys])
            if "person_id" in data:
                vid = np.char.add(np.char.add(vid, "#"), data["person_id"].astype(str))
            order = np.lexsort((self.frame_id, vid))
            _, starts = np.unique(vid[order], return_index=True)
            self.sequences = self._split_at_gaps(np.split(order, np.sort(starts)[1:]), vid)
        self.seq_of = np.empty(n, np.int64)
        self.pos_in_seq = np.empty(n, np.int64)
        for s, rows in enumerate(self.sequences):
            self.seq_of[rows] = s
            self.pos_in_seq[rows] = np.arange(len(rows))

    def _split_at_gaps(self, sequences: list[np.ndarray], vid: np.ndarray) -> list[np.ndarray]:
        out, gapped, widest = [], 0, 1
        for rows in sequences:
            step = np.diff(self.frame_id[rows])
            if (step == 0).any():
                k = int(np.flatnonzero(step == 0)[0])
                raise DatasetError(
                    f"dataset '{self.name}': sequence '{vid[rows[0]]}' has several rows for frame "
                    f"{self.frame_id[rows[k]]} ('{self.imgname[rows[k]]}'), e.g. several people without a "
                    "person_id; a window must hold one person: give person_id (for 3DPW read its sequence files: "
                    "--data 3dpw=3DPW/sequenceFiles/SPLIT:3DPW)")
            if (step > 1).any():
                gapped += 1
                widest = max(widest, int(step.max()))
            if self.full_rate:
                out.append(rows)
            else:
                out += np.split(rows, np.flatnonzero(step > 1) + 1)
        if gapped and not self.full_rate:
            warnings.warn(DatasetWarning(
                f"dataset '{self.name}': frames are not consecutive in {gapped} of {len(sequences)} sequences (steps "
                f"of up to {widest} frames: frames subsampled from the videos or left out), so a window of T rows would "
                f"span up to T×{widest} video frames; the sequences are split at the gaps instead (windows repeat "
                "the edge frames). For true clips extract every frame of the videos and read them full-rate "
                "(--full-rate NAME)"), stacklevel=3)
        return out

    def window(self, row: int, length: int) -> np.ndarray:
        """Row indices [length] of the frames centred on `row` (ends repeated)."""
        seq = self.sequences[self.seq_of[row]]
        pos = self.pos_in_seq[row] + np.arange(length) - (length - 1) // 2
        return seq[np.clip(pos, 0, len(seq) - 1)]

    def window_frames(self, row: int, length: int) -> tuple[list[Path], np.ndarray, np.ndarray]:
        """The `length` consecutive video frames centred on `row` (ends repeated within the
        labelled span): image paths, box centres [length, 2] and sides [length]. Full-rate
        tables read unlabelled frames from disk, boxes interpolated between labelled rows."""
        if not self.full_rate:
            rows = self.window(row, length)
            return [self.image_dir / self.imgname[r] for r in rows], self.center[rows], self.box_size[rows]
        seq = self.sequences[self.seq_of[row]]
        known = self.frame_id[seq]
        frames = np.clip(self.frame_id[row] + np.arange(length) - (length - 1) // 2, known[0], known[-1])
        centers = np.stack([np.interp(frames, known, self.center[seq, k]) for k in range(2)], -1)
        sizes = np.interp(frames, known, self.box_size[seq])
        paths = [self.image_dir / frame_path(self.imgname[row], int(f)) for f in frames]
        for f, path in zip(frames, paths):
            if not path.is_file():
                raise DatasetError(f"dataset '{self.name}': video frame {int(f)} '{path}' does not exist; full-rate "
                                   f"windows need every frame of the video in '{path.parent}', named like the "
                                   "labelled ones")
        return paths, centers, sizes

    def read_path(self, path: Path) -> np.ndarray:
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f"dataset '{self.name}': cannot read image '{path}'")
        return img[..., ::-1]

    def read_image(self, row: int) -> np.ndarray:
        return self.read_path(self.image_dir / self.imgname[row])

    def focal_and_size(self, row: int, image: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        if self.img_size is not None:
            size = self.img_size[row]
        elif row in self._sizes:
            size = self._sizes[row]
        else:
            image = self.read_image(row) if image is None else image
            size = self._sizes[row] = np.array([image.shape[1], image.shape[0]], np.float64)
        focal = self.focal[row] if self.focal is not None else float(np.hypot(*size))
        return float(focal), size


@dataclasses.dataclass
class ClipConfig:
    """How clips are cut and cropped. `crop` is the model's input size (256 in the paper)."""

    seq_len: int = 9         # T
    crop: int = 256
    augment: AugmentConfig | None = None


class ClipReader:
    """Reads one sample: T crops around a mid-frame, the mid-frame's camera and targets."""

    def __init__(self, table: FrameTable, cfg: ClipConfig):
        self.table = table
        self.cfg = cfg

    def __len__(self) -> int:
        return len(self.table)

    def camera(self, row: int, params: AugmentParams, image: np.ndarray | None = None) -> dict:
        """The mid-frame's box and camera after augmentation."""
        t = self.table
        focal, size = t.focal_and_size(row, image)
        view = make_view(t.center[row], t.box_size[row], size, params, self.cfg.crop)
        return {"box_center": view.box_center.astype(np.float32), "box_size": np.float32(view.box_size),
                "focal": np.float32(focal), "img_size": size.astype(np.float32),
                "bbox_info": cliff_bbox_info(view.box_center, view.box_size, focal, size)}

    def targets(self, row: int, params: AugmentParams, img_size: np.ndarray) -> dict:
        t = self.table
        perm = t.flip_permutation
        return {"joints2d": transform_joints2d(t.joints2d[row], img_size, params, perm).astype(np.float32),
                "joints3d": transform_joints3d(t.joints3d[row], params, perm).astype(np.float32),
                "layout": np.int64(t.layout), "hips": np.array(LAYOUT_HIPS[t.layout], np.int64),
                "pose": transform_pose(t.pose[row], params).astype(np.float32) if t.has_smpl[row] else t.pose[row],
                "betas": t.betas[row], "has_smpl": t.has_smpl[row], "has_3d": t.has_3d[row]}

    def crops(self, row: int, params: AugmentParams) -> np.ndarray:
        """[T, 3, crop, crop] normalised crops of the window centred on `row`, each frame cut
        with its own box (all frames of a window share the image size of `row`'s video)."""
        paths, centers, sizes = self.table.window_frames(row, self.cfg.seq_len)
        _, img_size = self.table.focal_and_size(row)
        out = []
        cache: dict[tuple, np.ndarray] = {}
        for path, center, side in zip(paths, centers, sizes):
            key = (path, *center, side)
            if key not in cache:
                img = self.table.read_path(path)
                view = make_view(center, side, img_size, params, self.cfg.crop)
                cache[key] = to_tensor_layout(apply_pixels(warp_crop(img, view, self.cfg.crop), params))
            out.append(cache[key])
        return np.stack(out)

    def sample(self, row: int, aug_seed: int | None = None) -> dict:
        """One training/evaluation sample for the window centred on `row`."""
        params = NO_AUGMENT
        if self.cfg.augment is not None and aug_seed is not None:
            params = sample_params(np.random.default_rng(aug_seed), self.cfg.augment)
        crops = self.crops(row, params)
        cam = self.camera(row, params)
        return {"crops": crops, **cam, **self.targets(row, params, cam["img_size"]),
                "seq": np.int64(self.table.seq_of[row]), "row": np.int64(row)}


def collate(samples: list[dict]) -> dict:
    """Stack a list of sample dicts into batch arrays (torch tensors)."""
    import torch

    return {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in samples[0]}


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Named readers and their sampling ratios (normalised to sum to one)."""

    readers: dict
    ratios: dict

    def __post_init__(self):
        unknown = set(self.ratios) - set(self.readers)
        if unknown:
            raise DatasetError(f"mixing ratios name datasets that are not loaded: {', '.join(sorted(unknown))}")
        if any(r < 0 for r in self.ratios.values()) or sum(self.ratios.values()) <= 0:
            raise DatasetError(f"mixing ratios must be non-negative and not all zero, got {self.ratios}")

    def plan(self, seed: int, step: int, rank: int, batch_size: int) -> list[tuple[str, int, int]]:
        """The (dataset, row, augmentation seed) triples of one step: a pure function of its arguments,
        so that a resumed run draws exactly the batches the interrupted one would have."""
        rng = np.random.default_rng([seed, step, rank])
        names = sorted(self.ratios)
        p = np.array([self.ratios[n] for n in names], np.float64)
        picks = rng.choice(len(names), size=batch_size, p=p / p.sum())
        out = []
        for k in picks:
            name = names[k]
            out.append((name, int(rng.integers(len(self.readers[name]))), int(rng.integers(1 << 62))))
        return out


class StepBatches:
    """A map-style dataset whose item s is the whole batch of training step s (for DataLoader
    with batch_size=None: workers prefetch batches; the order never depends on them)."""

    def __init__(self, mixture: Mixture, batch_size: int, seed: int, rank: int = 0, total_steps: int = 10 ** 9):
        self.mixture, self.batch_size, self.seed, self.rank, self.total_steps = mixture, batch_size, seed, rank, total_steps

    def __len__(self) -> int:
        return self.total_steps

    def __getitem__(self, step: int) -> dict:
        plan = self.mixture.plan(self.seed, step, self.rank, self.batch_size)
        return collate([self.mixture.readers[name].sample(row, aug) for name, row, aug in plan])

"""Clips at the videos' own frame rate: 3DPW sequence files per person, full-rate frame
folders between subsampled labels, and refusals of windows that would mix people or skip frames."""
from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest

from video_to_motion.core.common import rotations
from video_to_motion.core.training.augment import NO_AUGMENT
from video_to_motion.core.training.cli import load_tables
from video_to_motion.core.training.datasets import ClipConfig, ClipReader, DatasetError, DatasetWarning, FrameTable
from video_to_motion.core.training.pw3d import read_3dpw_sequences

N = 12


def _write_3dpw(root, seq="courtyard_test_00", people=2):
    """A sequence file in the release's layout (protocol 2, as Python 2 wrote it) and its images."""
    rng = np.random.default_rng(0)
    (root / "imageFiles" / seq).mkdir(parents=True)
    for i in range(N):
        cv2.imwrite(str(root / "imageFiles" / seq / f"image_{i:05d}.jpg"), np.full((40, 30, 3), 50 * i % 255, np.uint8))
    cam = np.tile(np.eye(4), (N, 1, 1))
    cam[:, :3, :3] = rotations.axis_angle_to_matrix(np.array([0.0, 0.3, 0.0]))
    cam[:, :3, 3] = [0.0, 0.0, 4.0]
    joints = [rng.normal(scale=0.3, size=(N, 72)) + np.tile([p * 1.0, 0, 0], 24) for p in range(people)]
    kp = np.zeros((N, 3, 18))
    kp[:, 0], kp[:, 1], kp[:, 2] = rng.uniform(5, 25, (N, 18)), rng.uniform(5, 35, (N, 18)), 1.0
    valid = [np.ones(N, bool) for _ in range(people)]
    valid[-1][3] = False  # one frame of the last person has no aligned camera
    data = {"sequence": seq, "poses": [rng.normal(scale=0.2, size=(N, 72)) for _ in range(people)],
            "trans": [np.zeros((N, 3))] * people, "betas": [rng.normal(size=300) for _ in range(people)],
            "jointPositions": joints, "poses2d": [kp] * people, "campose_valid": valid,
            "img_frame_ids": np.arange(N), "cam_poses": cam, "cam_intrinsics": np.array(
                [[1000.0, 0, 15], [0, 1000.0, 20], [0, 0, 1]]), "genders": ["m", "f"][:people]}
    (root / "sequenceFiles" / "test").mkdir(parents=True)
    with open(root / "sequenceFiles" / "test" / f"{seq}.pkl", "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return data


def test_3dpw_sequence_files_give_one_person_per_window(tmp_path):
    root = tmp_path / "3DPW"
    data = _write_3dpw(root)
    table = load_tables(["3dpw"], "test", str(tmp_path), {})["3dpw"]
    assert len(table) == 2 * N - 1 and len(table.sequences) == 2  # one per person
    assert table.full_rate  # the release has every frame: a window reads the frame without a label too
    gap = int(np.flatnonzero((table.frame_id == 4) & (np.arange(len(table)) >= N))[0])  # person 1, after frame 3
    assert [p.name for p in table.window_frames(gap, 3)[0]] == ["image_00003.jpg", "image_00004.jpg",
                                                                 "image_00005.jpg"]
    # Camera-frame labels: the world joints moved by the frame's extrinsics.
    r = data["cam_poses"][0, :3, :3]
    row0 = int(np.flatnonzero((table.frame_id == 0))[0])
    expect = data["jointPositions"][0][0].reshape(24, 3) @ r.T + [0, 0, 4]
    np.testing.assert_allclose(table.joints3d[row0, :, :3], expect, atol=1e-5)
    root_cam = r @ rotations.axis_angle_to_matrix(data["poses"][0][0, :3])
    np.testing.assert_allclose(rotations.axis_angle_to_matrix(table.pose[row0, :3]), root_cam, atol=1e-5)
    for row in range(len(table)):
        paths, centers, _ = table.window_frames(row, 9)
        frames = [int(p.stem.split("_")[1]) for p in paths]
        assert set(np.diff(frames)) <= {0, 1}  # consecutive video frames (edges repeated)
        seq = table.sequences[table.seq_of[row]]
        lo, hi = table.center[seq].min(0), table.center[seq].max(0)
        assert ((centers >= lo - 1e-9) & (centers <= hi + 1e-9)).all()  # boxes of this person only
        np.testing.assert_allclose(centers[frames.index(table.frame_id[row])], table.center[row])
    sample = ClipReader(table, ClipConfig(seq_len=9, crop=16)).sample(row0)
    assert sample["crops"].shape == (9, 3, 16, 16) and sample["has_smpl"] == 1


def test_3dpw_pickles_that_name_other_globals_are_refused_unrun(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "ran"),))

    folder = tmp_path / "sequenceFiles" / "test"
    folder.mkdir(parents=True)
    with open(folder / "evil.pkl", "wb") as fh:
        pickle.dump({"poses": [Boom()]}, fh, protocol=2)
    with pytest.raises(DatasetError, match="refused without running it"):
        read_3dpw_sequences(folder)
    assert not (tmp_path / "ran").exists()
    with pytest.raises(DatasetError, match="no 3DPW sequence files"):
        read_3dpw_sequences(tmp_path)


def _subsampled(tmp_path, frames_on_disk, step=5, people_rows=1):
    """A SPIN-style file labelling every `step`-th frame of one video; `frames_on_disk` written."""
    img = tmp_path / "h36m" / "images"
    img.mkdir(parents=True)
    for f in frames_on_disk:
        cv2.imwrite(str(img / f"S1_Walking.cam1_{f:06d}.jpg"), np.full((40, 40, 3), f * 10 % 255, np.uint8))
    labelled = np.arange(1, 22, step)
    names = np.repeat([f"images/S1_Walking.cam1_{f:06d}.jpg" for f in labelled], people_rows)
    n = len(names)
    centre = np.stack([np.linspace(10, 30, n), np.full(n, 20.0)], -1)
    np.savez(tmp_path / "h36m_train.npz", imgname=names, center=centre, scale=np.linspace(0.1, 0.2, n),
             S=np.ones((n, 24, 4)))
    return tmp_path / "h36m_train.npz", tmp_path / "h36m", labelled


def test_subsampled_files_are_split_with_a_warning_not_read_as_clips(tmp_path):
    npz, images, labelled = _subsampled(tmp_path, range(1, 22, 5))
    with pytest.warns(DatasetWarning, match="not consecutive.*steps of up to 5 frames.*--full-rate"):
        table = FrameTable("h36m", npz, images)
    assert len(table.sequences) == len(labelled)  # no window spans 5×T video frames
    assert set(table.window(2, 9)) == {2}


def test_full_rate_windows_read_consecutive_video_frames_between_labels(tmp_path):
    npz, images, labelled = _subsampled(tmp_path, range(1, 22))
    table = FrameTable("h36m", npz, images, full_rate=True)
    assert len(table.sequences) == 1
    row = 2  # labelled frame 11
    paths, centers, sizes = table.window_frames(row, 9)
    assert [p.name for p in paths] == [f"S1_Walking.cam1_{f:06d}.jpg" for f in range(7, 16)]
    np.testing.assert_allclose(centers[4], table.center[row])  # the labelled frame keeps its box
    np.testing.assert_allclose(centers[:, 0], np.interp(np.arange(7, 16), labelled, table.center[:, 0]))
    np.testing.assert_allclose(sizes, np.interp(np.arange(7, 16), labelled, table.box_size))
    crops = ClipReader(table, ClipConfig(seq_len=9, crop=16)).crops(row, NO_AUGMENT)
    assert not np.allclose(crops[0], crops[1])  # different video frames, not a repeated row
    (images / "images" / "S1_Walking.cam1_000009.jpg").unlink()
    with pytest.raises(DatasetError, match="video frame 9 .*does not exist.*every frame"):
        table.window_frames(row, 9)


def test_several_people_in_one_frame_without_person_id_are_refused(tmp_path):
    npz, images, _ = _subsampled(tmp_path, range(1, 22, 5), step=5, people_rows=2)
    with pytest.raises(DatasetError, match="several rows for frame 1 .*person_id.*sequenceFiles"):
        FrameTable("3dpw", npz, images)


def _write_emdb(root, name="P3_31_outdoor_workout", emdb1=True, n=8):
    """A sequence in EMDB's release layout (dataset.md) and its images."""
    rng = np.random.default_rng(3)
    subject, _, seq = name.partition("_")
    folder = root / subject / seq
    (folder / "images").mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(folder / "images" / f"{i:05d}.jpg"), np.full((48, 32, 3), 20 * i, np.uint8))
    extr = np.tile(np.eye(4), (n, 1, 1))
    extr[:, :3, :3] = rotations.axis_angle_to_matrix(np.array([0.0, 0.0, 0.5]))
    good = np.ones(n, bool)
    good[2] = False  # a frame the release marks bad
    boxes = np.tile([4.0, 6.0, 24.0, 40.0], (n, 1))
    boxes[5] = [10, 10, 10, 30]  # an empty box
    data = {"gender": "male", "name": name, "emdb1": np.bool_(emdb1), "emdb2": False, "n_frames": n,
            "good_frames_mask": good,
            "camera": {"intrinsics": np.array([[600.0, 0, 16], [0, 600.0, 24], [0, 0, 1]]), "extrinsics": extr,
                       "width": 32, "height": 48},
            "smpl": {"poses_root": rng.normal(scale=0.3, size=(n, 3)), "poses_body": rng.normal(scale=0.2, size=(n, 69)),
                     "trans": np.zeros((n, 3)), "betas": rng.normal(size=10)},
            "kp2d": rng.uniform(0, 30, (n, 24, 2)), "bboxes": {"bboxes": boxes, "invalid_idxs": np.array([2, 5])}}
    with open(folder / f"{name}_data.pkl", "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return data


def test_emdb1_sequences_read_from_the_release_layout(tmp_path):
    data = _write_emdb(tmp_path / "EMDB")
    _write_emdb(tmp_path / "EMDB", name="P0_09_outdoor_walk", emdb1=False)  # EMDB-2 only: not in EMDB-1
    table = load_tables(["emdb"], "test", str(tmp_path), {})["emdb"]
    assert len(table) == 6 and len(table.sequences) == 1  # bad frame and empty box left out of the rows
    assert set(table.frame_id) == {0, 1, 3, 4, 6, 7}
    row1 = int(np.flatnonzero(table.frame_id == 1)[0])
    assert [p.name for p in table.window_frames(row1, 5)[0]] == [f"{f:05d}.jpg" for f in (0, 0, 1, 2, 3)]
    row = int(np.flatnonzero(table.frame_id == 3)[0])
    cam_root = data["camera"]["extrinsics"][3, :3, :3] @ rotations.axis_angle_to_matrix(data["smpl"]["poses_root"][3])
    np.testing.assert_allclose(rotations.axis_angle_to_matrix(table.pose[row, :3]), cam_root, atol=1e-6)
    np.testing.assert_allclose(table.center[row], [14, 23]) and np.testing.assert_allclose(table.box_size[row], 1.2 * 34)
    assert table.imgname[row] == "P3/31_outdoor_workout/images/00003.jpg" and table.has_smpl.all()
    with pytest.raises(DatasetError, match="not EMDB's release folder"):
        load_tables(["emdb"], "test", str(tmp_path / "nowhere"), {})


def test_emdb_protocol_scores_smpl_joints_and_the_mesh_centred_on_the_hips():
    from video_to_motion.core.training import metrics

    rng = np.random.default_rng(4)
    j, v = rng.normal(size=(3, 24, 3)), rng.normal(size=(3, 50, 3))
    same = {"pred_joints24": j + 1.0, "gt_joints24": j, "pred_vertices": v + 1.0, "gt_vertices": v}
    out = metrics.evaluate_sequences([same], None, metrics.PROTOCOLS["emdb"].joints)
    assert out["mpjpe"] == pytest.approx(0, abs=1e-9) and out["pve"] == pytest.approx(0, abs=1e-9)
    bent = dict(same, pred_joints24=same["pred_joints24"].copy())
    bent["pred_joints24"][:, 10, 0] += 0.024  # one of 24 joints 24 mm off
    assert metrics.evaluate_sequences([bent], None, 24)["mpjpe"] == pytest.approx(1.0)

"""TAR checkpoints: round trip, and clear errors for missing, corrupt, foreign and mismatched files."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from video_to_motion.core.training.body_gen import write_smpl_pkl
from video_to_motion.core.tar.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from tar_helpers import camera_inputs, small_model, write_random_checkpoint
from conftest import REPO


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, body_model_path):
    return write_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "tar_small.pt", body_model_path, seed=3)


def test_round_trip_gives_the_same_model(checkpoint, body_model_path):
    original = small_model(body_model_path, seed=3)
    loaded, payload = load_model(checkpoint, body_model_path)
    assert payload["config"] == original.cfg and not loaded.training
    crops = torch.randn(1, 9, 3, 64, 64)
    with torch.no_grad():
        a, b = original(crops, *camera_inputs(1))[-1], loaded(crops, *camera_inputs(1))[-1]
    for k in ("pose_aa", "betas", "trans"):
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    assert payload["body"]["num_vertices"] == 6890 and len(payload["body"]["marker_ids"]) == 67
    assert payload["meta"]["note"] == "random weights for tests"


def test_missing_folder_and_corrupt_files(tmp_path, checkpoint):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a folder"):
        read_checkpoint(tmp_path)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint"):
        read_checkpoint(truncated)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint"):
        read_checkpoint(text)


def test_foreign_checkpoints_are_refused(tmp_path, body_model_path):
    bare = tmp_path / "state_dict.pt"
    torch.save(small_model(body_model_path).state_dict(), bare)  # weights without config
    with pytest.raises(CheckpointError, match="not a Video to Motion TAR checkpoint"):
        read_checkpoint(bare)
    pickled = tmp_path / "pickled_module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a whole pickled module
    with pytest.raises(CheckpointError, match="Python objects"):
        read_checkpoint(pickled)


def test_weights_for_another_config_are_refused(tmp_path, body_model_path):
    path = write_random_checkpoint(tmp_path / "s8.pt", body_model_path, hidden_map_size=8)
    payload = torch.load(path, weights_only=True)
    payload["config"]["hidden_map_size"] = 16  # config says S=16, weights are S=8's
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"do not fit the config.*unexpected.*lte\.down"):
        load_model(path, body_model_path)
    payload["config"]["hidden_map_size"] = 8
    payload["config"]["lte_channels"] = 24
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"another shape \(e\.g\. lte\..*\[12.*\[24"):
        load_model(path, body_model_path)
    payload["config"]["lte_channels"] = 12
    payload["config"]["flux_capacitor"] = 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="unknown TAR settings flux_capacitor"):
        read_checkpoint(path)


def test_another_body_model_warns(tmp_path, checkpoint):
    other = write_smpl_pkl(tmp_path / "other_body.pkl", seed=5)
    warnings = []
    load_model(checkpoint, other, warn=warnings.append)
    assert len(warnings) == 1 and "differs from the one" in warnings[0]


def test_checkpoint_is_written_atomically(tmp_path, body_model_path, checkpoint, monkeypatch):
    target = tmp_path / "keep.pt"
    target.write_bytes(checkpoint.read_bytes())
    model = small_model(body_model_path)
    with pytest.raises(TypeError, match="meta.bad holds a object"):
        save_checkpoint(target, model, meta={"bad": object()})  # would not load with weights_only

    def failing_save(obj, path):
        with open(path, "wb") as fh:
            fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, model)
    read_checkpoint(target)  # the earlier file is intact, no temporary file is left
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pt"]


def test_checkpoint_info_script(checkpoint, tmp_path):
    proc = subprocess.run([sys.executable, "scripts/training/checkpoint_info.py", str(checkpoint)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for expected in ("vtm.tar-checkpoint v1", "backbone", "hidden_map_size      8", "67 vertices", "6890 vertices",
                     "random weights for tests"):
        assert expected in proc.stdout
    bad = subprocess.run([sys.executable, "scripts/training/checkpoint_info.py", str(tmp_path / "missing.pt")], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "does not exist" in bad.stderr

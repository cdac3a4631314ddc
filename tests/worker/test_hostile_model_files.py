"""Model files from anywhere run no code: hostile SMPL pickles and detector checkpoints.

Each hostile file would create a marker file if anything in it ran; the tests check the
load is refused with its code and that the marker never appears.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from video_to_motion.core.estimators import EstimatorError
from video_to_motion.core.worker.body_model import BodyModelError, load_smpl_arrays

from conftest import require_fallback_detector, worker_env


class _RunsCode:
    """Pickles as a call of `func(*args)`: what a hostile file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _marker_call(marker: Path) -> _RunsCode:
    return _RunsCode(exec, f"open({str(marker)!r}, 'w').write('ran')")


def _hostile_smpl_files(folder: Path, marker: Path, data: dict) -> dict[str, Path]:
    """SMPL-shaped pickles that would run code: a call of exec, os.system, a getattr chain, an eval'd string."""
    files = {
        "exec": dict(data, v_template=_marker_call(marker)),
        "os_system": dict(data, f=_RunsCode(os.system, f"touch {marker}")),
        "open_builtin": dict(data, note=_RunsCode(open, str(marker), "w")),
        # Inside a chumpy-looking object: the stand-in must not make the payload inside it allowed.
        "subprocess": dict(data, weights=_RunsCode(subprocess.call, ["touch", str(marker)])),
    }
    paths = {}
    for name, payload in files.items():
        paths[name] = folder / f"{name}.pkl"
        paths[name].write_bytes(pickle.dumps(payload, protocol=2))
    # Protocol 0, as Python 2 wrote: GLOBAL opcodes with text arguments.
    paths["protocol0"] = folder / "protocol0.pkl"
    paths["protocol0"].write_bytes(pickle.dumps({"x": _RunsCode(os.system, f"touch {marker}")}, protocol=0))
    return paths


def test_hostile_smpl_pickles_are_refused_unrun(tmp_path, body_model_path):
    marker = tmp_path / "marker"
    data = {k: v for k, v in load_smpl_arrays(body_model_path).items()}
    for name, path in _hostile_smpl_files(tmp_path, marker, data).items():
        with pytest.raises(BodyModelError) as err:
            load_smpl_arrays(path)
        assert err.value.code == "smpl_model_unsafe", name
        assert "refused without running it" in str(err.value) and str(path) in str(err.value), name
        assert not marker.exists(), f"{name} ran code"
    # The real layouts still load: the generated model (numpy + scipy.sparse + _codecs) and protocol 0.
    assert load_smpl_arrays(body_model_path)["v_template"].shape == (6890, 3)
    plain = tmp_path / "protocol0_ok.pkl"
    plain.write_bytes(pickle.dumps({k: v for k, v in data.items()}, protocol=0))
    assert load_smpl_arrays(plain)["f"].shape == data["f"].shape


def test_smpl_mesh_command_refuses_a_hostile_pickle(tmp_path, body_model_path):
    """The add-on runs this by itself on the SMPL file in its preferences."""
    marker = tmp_path / "marker"
    data = load_smpl_arrays(body_model_path)
    path = _hostile_smpl_files(tmp_path, marker, data)["exec"]
    out = tmp_path / "mesh.npz"
    proc = subprocess.run([sys.executable, "-m", "video_to_motion.core.worker.smpl_mesh", "--smpl-model", str(path),
                           "-o", str(out)], capture_output=True, text=True, env=worker_env(), timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1 and events[-1]["event"] == "error"
    assert events[-1]["code"] == "smpl_model_unsafe" and ".exec'" in events[-1]["message"]
    assert not marker.exists() and not out.exists()


# Detector weights --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_yolo(tmp_path_factory):
    """An untrained yolo11n as ultralytics saves it: the layout of every YOLO .pt."""
    import torch
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("yolo")
    model = YOLO("yolo11n.yaml", verbose=False)
    model.model.names = {0: "person"}
    path = folder / "ok.pt"
    model.save(path)
    return path, torch.load(path, map_location="cpu", weights_only=False)


def _hostile_checkpoints(folder: Path, marker: Path, ckpt: dict) -> dict[str, Path]:
    import torch
    from ultralytics.nn.tasks import DetectionModel

    # Ultralytics' model constructor evaluates the configuration's activation string: a
    # checkpoint that calls it runs code while naming only ultralytics' own class.
    cfg = dict(ckpt["model"].yaml, activation=f"open({str(marker)!r}, 'w').write('ran') or __import__('torch').nn.SiLU()")
    payloads = {
        "exec": dict(ckpt, date=_marker_call(marker)),
        "model_constructor": dict(ckpt, model=_RunsCode(DetectionModel, cfg)),
        "os_system": dict(ckpt, train_args=_RunsCode(os.system, f"touch {marker}")),
    }
    paths = {}
    for name, payload in payloads.items():
        paths[name] = folder / f"{name}.pt"
        torch.save(payload, paths[name])
    # A legacy (not zip) pickle of the same kind.
    paths["legacy"] = folder / "legacy.pt"
    torch.save(payloads["exec"], paths["legacy"], _use_new_zipfile_serialization=False)
    return paths


def test_hostile_detector_weights_are_refused_unrun(tmp_path, saved_yolo):
    from video_to_motion.core.worker.detection import PersonDetector

    marker = tmp_path / "marker"
    path, ckpt = saved_yolo
    for name, hostile in _hostile_checkpoints(tmp_path, marker, ckpt).items():
        with pytest.raises(EstimatorError) as err:
            PersonDetector(str(hostile), "cpu", lambda message: None)
        assert err.value.code in ("detector_unsafe", "detector_invalid"), (name, err.value.code)
        if name != "legacy":
            assert err.value.code == "detector_unsafe" and str(hostile) in str(err.value), (name, str(err.value))
        assert not marker.exists(), f"{name} ran code"
    # The well-formed checkpoint of the same model still loads.
    detector = PersonDetector(str(path), "cpu", lambda message: None)
    assert detector.person_classes == [0]


def test_the_shipped_fallback_detector_passes_the_check(tmp_path):
    from video_to_motion.core.worker.detection import fallback_weights
    from video_to_motion.core.worker.safe_weights import check_weights


    require_fallback_detector()
    check_weights(fallback_weights(), "the fallback detector")  # raises if refused


def test_weights_that_are_a_fifo_do_not_hang(tmp_path):
    from video_to_motion.core.worker.detection import PersonDetector

    fifo = tmp_path / "weights.pt"
    os.mkfifo(fifo)
    with pytest.raises(EstimatorError) as err:
        PersonDetector(str(fifo), "cpu", lambda message: None)
    assert err.value.code in ("detector_invalid", "detector_not_found") and str(fifo) in str(err.value)


def test_model_files_that_are_fifos_do_not_hang(tmp_path):
    from video_to_motion.core.tar.checkpoint import CheckpointError, read_checkpoint

    fifo = tmp_path / "model.pkl"
    os.mkfifo(fifo)
    with pytest.raises(BodyModelError, match="not a regular file"):
        load_smpl_arrays(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_checkpoint(fifo)


def test_mesh_output_naming_the_smpl_file_is_refused(tmp_path, body_model_path):
    import shutil

    model = tmp_path / "SMPL.pkl"
    shutil.copy(body_model_path, model)
    before = model.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "video_to_motion.core.worker.smpl_mesh", "--smpl-model", str(model),
                           "-o", str(model)], capture_output=True, text=True, env=worker_env(), timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1 and events[-1]["code"] == "output_is_input"
    assert model.read_bytes() == before


def test_a_hostile_file_in_the_weights_cache_is_refused_not_loaded(tmp_path, offline, saved_yolo):
    """The default detector is read from the cache (where a download put it): it is checked like any file."""
    import shutil

    from video_to_motion.core.worker.detection import DEFAULT_WEIGHTS, PersonDetector, weights_cache_dir

    marker = tmp_path / "marker"
    hostile = _hostile_checkpoints(tmp_path, marker, saved_yolo[1])["exec"]
    weights_cache_dir().mkdir(parents=True)
    shutil.copy(hostile, weights_cache_dir() / DEFAULT_WEIGHTS)
    with pytest.raises(EstimatorError) as err:
        PersonDetector(None, "cpu", lambda message: None)
    assert err.value.code == "detector_unsafe" and "delete it to download it again" in str(err.value)
    assert not marker.exists()


def test_the_default_weights_are_downloaded_then_checked(tmp_path, offline, monkeypatch, saved_yolo):
    """Online: the download lands in the cache first, then goes through the check (the download is simulated)."""
    import shutil

    import ultralytics.utils.downloads

    from video_to_motion.core.worker import detection

    monkeypatch.delenv("YOLO_OFFLINE")
    monkeypatch.setattr(detection, "url_reachable", lambda url, timeout=0: True)
    fetched = []

    def download(file, *args, **kwargs):  # as ultralytics': a file already there is not fetched
        if not os.path.exists(file):
            fetched.append(file)
            shutil.copy(saved_yolo[0], file)
        return str(file)

    monkeypatch.setattr(ultralytics.utils.downloads, "attempt_download_asset", download)
    detector = detection.PersonDetector(None, "cpu", lambda message: None)
    assert fetched == [str(detection.weights_cache_dir() / detection.DEFAULT_WEIGHTS)]
    assert detector.person_classes == [0] and "COCO" in detector.source


def test_only_latin1_byte_strings_are_decoded(tmp_path, body_model_path):
    """Protocol 2 rebuilds bytes through _codecs.encode: any other codec (its lookup imports modules) is refused."""
    import codecs

    data = dict(load_smpl_arrays(body_model_path), note=b"", tag=b"\x00\xffbytes")
    ok = tmp_path / "bytes.pkl"
    ok.write_bytes(pickle.dumps(data, protocol=2))
    loaded = load_smpl_arrays(ok)
    assert loaded["tag"] == b"\x00\xffbytes" and loaded["note"] == b""
    odd = tmp_path / "codec.pkl"
    odd.write_bytes(pickle.dumps(dict(data, tag=_RunsCode(codecs.encode, "text", "rot13")), protocol=2))
    with pytest.raises(BodyModelError) as err:
        load_smpl_arrays(odd)
    assert err.value.code == "smpl_model_unsafe" and "rot13" in str(err.value)

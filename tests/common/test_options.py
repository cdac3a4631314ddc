"""The options table: the worker's command line, the client's argv and batch_import's flags agree with it."""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from video_to_motion.core.common.options import (IMPORT, WORKER, ImportSettings, WorkerOptions, from_namespace,
                                                  worker_argv)
from video_to_motion.core.client.worker_client import WORKER_MODULE, worker_command
from video_to_motion.core.worker.cli import build_parser

REPO = Path(__file__).resolve().parents[2]


def batch_import():
    spec = importlib.util.spec_from_file_location("vtm_batch_import", REPO / "scripts" / "batch_import.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_worker_defaults_are_the_tables():
    args = build_parser().parse_args(["v.mp4", "-o", "o.npz"])
    assert from_namespace(WorkerOptions, WORKER, args) == WorkerOptions()
    assert [f.name for f in dataclasses.fields(WorkerOptions)] == [o.name for o in WORKER]


def test_client_argv_round_trips_through_the_worker_parser():
    # Absolute paths: the client makes relative ones absolute (the worker runs in another folder).
    chosen = WorkerOptions(estimator="tar", checkpoint="/models/c.pt", device="cpu", focal_length=1200.5,
                           start_frame=3, end_frame=9, max_people=2, track_id=4, detect_every=2, precision="fp32",
                           compile=True)
    argv = worker_command("/py", "/videos/v.mp4", "/out/o.npz", chosen)
    assert argv[:3] == ["/py", "-m", WORKER_MODULE] and argv[3:6] == ["/videos/v.mp4", "-o", "/out/o.npz"]
    args = build_parser().parse_args(argv[3:])
    assert from_namespace(WorkerOptions, WORKER, args) == chosen
    assert worker_argv(WorkerOptions()) == []  # defaults are left to the worker


def test_batch_import_has_every_option_with_the_tables_defaults():
    pytest.importorskip("bpy")
    parser = batch_import().build_parser()
    args = parser.parse_args(["--video", "v.mp4"])
    assert from_namespace(WorkerOptions, WORKER, args) == WorkerOptions()
    assert from_namespace(ImportSettings, IMPORT, args) == ImportSettings()
    args = parser.parse_args(["--motion", "m.npz", "--no-ground", "--no-camera", "--track", "3",
                              "--root-smoothing", "none", "--rotation-smoothing", "0.25"])
    assert from_namespace(ImportSettings, IMPORT, args) == ImportSettings(
        people="3", root_smoothing=0.0, rotation_smoothing=0.25, ground=False, camera=False)


def test_bad_import_values_are_refused_by_the_parser(capsys):
    pytest.importorskip("bpy")
    parser = batch_import().build_parser()
    for bad in (["--root-smoothing", "2"], ["--people", "biggest"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--motion", "m.npz", *bad])
        assert "must be" in capsys.readouterr().err

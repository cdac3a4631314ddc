"""The "Set up worker" logic for real: a virtual environment, offline pip installs, pip failures."""
from __future__ import annotations

import subprocess
import sys

import pytest
from wheels import tiny_wheel

from video_to_motion.core.client.worker_setup import (WorkerSetup, plan, split_requirements, torch_index_url, venv_python,
                               worker_requirements)


@pytest.fixture(scope="module")
def venv_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("setup") / "env"


def test_plan_picks_the_torch_build_and_keeps_the_worker_pins(tmp_path):
    reqs = worker_requirements()
    torch, others = split_requirements(reqs)
    assert [r.split(">")[0] for r in torch] == ["torch", "torchvision"]
    assert "mediapipe==0.10.21" in others and not any(r.startswith("torch") for r in others)
    assert torch_index_url(gpu=True, system="Linux") is None  # PyPI's Linux torch is the CUDA build
    assert torch_index_url(gpu=False, system="Linux").endswith("/whl/cpu")
    assert torch_index_url(gpu=True, system="Windows").endswith("/cu126")
    steps = plan(sys.executable, tmp_path / "env", gpu=False)
    labels = [s.label for s in steps]
    assert labels == ["creating the virtual environment", "installing PyTorch (CPU build)",
                      "installing the worker's packages", "checking the worker"]
    assert steps[1].argv[steps[1].argv.index("--index-url") + 1].endswith("/cpu")
    assert "--index-url" not in plan(sys.executable, tmp_path / "env", gpu=True)[1].argv


def test_setup_creates_a_venv_and_installs_offline(tmp_path, venv_dir):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    tiny_wheel(wheels)
    steps = plan(sys.executable, venv_dir, gpu=False, requirements=["vtm_tiny==1.0"],
                 pip_args=["--no-index", "--find-links", str(wheels)], check=False)
    setup = WorkerSetup(steps, sys.executable, venv_dir)
    statuses = []
    setup.start()
    while not setup.poll():
        statuses.append(setup.status)
        import time

        time.sleep(0.05)
    assert setup.succeeded, setup.error
    assert setup.progress == 1.0
    assert any(s.startswith("creating the virtual environment") for s in statuses)
    out = subprocess.run([str(venv_python(venv_dir)), "-c", "import vtm_tiny; print(vtm_tiny.VALUE)"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "42", out.stderr


def test_a_failing_pip_gives_pips_error_in_words(venv_dir, tmp_path):
    assert venv_python(venv_dir).exists(), "runs after the venv test"
    steps = plan(sys.executable, venv_dir, gpu=False, requirements=["vtm-no-such-package==9.9"],
                 pip_args=["--no-index", "--find-links", str(tmp_path)], check=False)
    assert [s.label for s in steps] == ["installing the worker's packages"], "an existing venv is reused"
    setup = WorkerSetup(steps, sys.executable, venv_dir).wait(timeout=300)
    assert not setup.succeeded
    assert setup.error.startswith("pip failed while installing the worker's packages (exit code 1)")
    assert "vtm-no-such-package" in setup.error and "ERROR:" in setup.error


def test_a_missing_base_python_is_named(tmp_path):
    steps = plan(str(tmp_path / "python3.11"), tmp_path / "env2", gpu=False, requirements=[], check=False)
    setup = WorkerSetup(steps, str(tmp_path / "python3.11"), tmp_path / "env2").wait(timeout=30)
    assert "base Python" in setup.error and "python3.11" in setup.error


def test_check_step_reports_the_environment(tmp_path):
    """The final step of a set-up is the worker check, run in the (here: current) environment."""
    from video_to_motion.core.client.worker_setup import Step

    setup = WorkerSetup([Step("checking the worker", [sys.executable, "-m", "video_to_motion.core.worker.check"], pip=False)],
                        sys.executable, tmp_path).wait(timeout=120)
    assert setup.report is not None and setup.report["python"].startswith("3.")
    assert setup.succeeded == (setup.report["problems"] == []), setup.error

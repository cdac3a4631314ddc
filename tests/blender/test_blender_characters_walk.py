"""Characters with the foot lock on, on CMU motion capture (cases in
tests/blender_cases/cases_characters_walk.py, on every Blender of the matrix)."""
import os
from pathlib import Path

import pytest

from blender_harness import cases_on_every_blender
from conftest import missing

SAMPLE = Path(os.environ.get("VTM_SAMPLE_DATA", "sample_data")) / "bvh" / "01_01.bvh"


@pytest.fixture(autouse=True)
def sample_data():
    if not SAMPLE.is_file():
        missing(f"CMU motion capture {SAMPLE}", "run scripts/get_sample_data.sh")


results, test_case = cases_on_every_blender("cases_characters_walk")

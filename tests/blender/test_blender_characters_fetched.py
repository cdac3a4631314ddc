"""Public characters in real bpy; skipped unless $VTM_TEST_CHARACTERS holds them
(python scripts/checks/get_test_characters.py DIR) and the CMU sample data is there."""
import os
from pathlib import Path

import pytest

from blender_harness import case_names, check, run_cases

MODULE = "cases_characters_fetched"
FOLDER = os.environ.get("VTM_TEST_CHARACTERS")
SAMPLE = Path(os.environ.get("VTM_SAMPLE_DATA", "sample_data")) / "bvh" / "01_01.bvh"

pytestmark = pytest.mark.skipif(not FOLDER or not Path(FOLDER).is_dir() or not SAMPLE.is_file(),
                                reason="set VTM_TEST_CHARACTERS (scripts/checks/get_test_characters.py) and "
                                       "VTM_SAMPLE_DATA (scripts/get_sample_data.sh)")


@pytest.fixture(scope="module")
def results():
    return run_cases(MODULE, timeout=900)


@pytest.mark.parametrize("name", case_names(MODULE))
def test_case(results, name):
    check(results, name)

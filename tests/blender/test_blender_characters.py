"""Characters in real bpy (cases in tests/blender_cases/cases_characters.py, in a child process)."""
import pytest

from blender_harness import case_names, check, run_cases

MODULE = "cases_characters"


@pytest.fixture(scope="module")
def results():
    return run_cases(MODULE)


@pytest.mark.parametrize("name", case_names(MODULE))
def test_case(results, name):
    check(results, name)

"""Characters in real bpy (cases in tests/blender_cases/cases_characters.py, in a child process)."""
import pytest

from blender_harness import BLENDER_PYTHONS, case_names, check, run_cases

MODULE = "cases_characters"


@pytest.fixture(scope="module", params=BLENDER_PYTHONS, ids=repr)
def results(request):
    return run_cases(MODULE, python=request.param)


@pytest.mark.parametrize("name", case_names(MODULE))
def test_case(results, name):
    check(results, name)

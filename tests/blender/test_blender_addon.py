"""The extension in real bpy (cases in tests/blender_cases/cases_addon.py, in a child process)."""
import pytest

from blender_harness import BLENDER_PYTHONS, case_names, check, run_cases

MODULE = "cases_addon"


@pytest.fixture(scope="module", params=BLENDER_PYTHONS, ids=repr)
def results(request):
    return run_cases(MODULE, python=request.param)


@pytest.mark.parametrize("name", case_names(MODULE))
def test_case(results, name):
    check(results, name)

"""Import into real bpy (cases in tests/blender_cases/cases_import.py, run in a child process)."""
from blender_harness import cases_on_every_blender

results, test_case = cases_on_every_blender("cases_import")

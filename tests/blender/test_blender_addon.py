"""The extension in real bpy (cases in tests/blender_cases/cases_addon.py, in a child process)."""
from blender_harness import cases_on_every_blender

results, test_case = cases_on_every_blender("cases_addon")

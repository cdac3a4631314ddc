"""A moving camera into real bpy (cases in tests/blender_cases/cases_camera_path.py, on every Blender)."""
from blender_harness import cases_on_every_blender

results, test_case = cases_on_every_blender("cases_camera_path")

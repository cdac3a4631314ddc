"""Running the worker from Blender: child processes, the worker's command line, set-up, check.

Standard library and core.common only: Blender imports it.
"""

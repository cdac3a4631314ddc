"""Video to Motion core: the worker side (video, detection, tracking, TAR, SMPL, motion format).

Modules named in `NUMPY_ONLY` import nothing heavier than numpy, so the Blender add-on
can use them; everything else is imported by the worker alone.
"""
__version__ = "0.1.0"

NUMPY_ONLY = ("atomic", "child_process", "ground", "motion", "protocol", "retarget", "rotations", "skeleton",
              "smoothing", "smpl_mesh", "worker_check", "worker_client", "worker_setup")

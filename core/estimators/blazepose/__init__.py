"""The default estimator: BlazePose landmarks on tracked crops, inverse kinematics onto SMPL,
the root from the 2D landmarks (estimator.py is the pipeline; the other modules its stages)."""

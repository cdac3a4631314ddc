"""The worker: runs in its own environment (OpenCV, torch, ultralytics, mediapipe), never in Blender.

`python -m video_to_motion.core.worker` is its command line (cli.py); `api.estimate_video` is
the front door the command line, the benchmarks and the tests call.
"""

"""Video to Motion's code outside Blender's UI, one room per place it runs (README: "Where things are").

common/     numpy + stdlib: the motion file, keys, maths — what Blender imports
client/     stdlib + common: running the worker from Blender
worker/     the worker process (OpenCV, torch): video, detection, tracking, body model
estimators/ pose estimators the worker runs (blazepose/, tar)
tar/        the TAR model;  training/  its training and evaluation
"""
__version__ = "0.1.0"

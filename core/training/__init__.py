"""Training and evaluation of TAR: metrics, losses, data (real readers and generated clips), trainer.

Nothing here is shipped in the Blender extension; the worker never imports it.
"""

"""Blender side of Video to Motion: bpy and numpy only, never torch."""


def register() -> None:
    pass


def unregister() -> None:
    pass

"""Blender side of Video to Motion: bpy and numpy only, never torch.

Modules in the style of Blender's bundled add-ons: properties, preferences, operators
and panels register separately; the import maths lives in the numpy-only core modules.
"""
from . import characters, operators, panels, preferences, properties

_MODULES = (properties, preferences, operators, panels, characters)


def register() -> None:
    done = []
    try:
        for module in _MODULES:
            module.register()
            done.append(module)
    except Exception:
        for module in reversed(done):  # a half-registered add-on would hang bpy 4.5 at exit
            module.unregister()
        raise


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()

"""Video to Motion: Blender extension entry point (the repository root is the extension).

The add-on is imported only when Blender registers the extension, so that importing
this folder elsewhere (test collection, tools) never pulls in bpy.
"""


def register() -> None:
    from .addon import register as register_addon

    register_addon()


def unregister() -> None:
    from .addon import unregister as unregister_addon

    unregister_addon()

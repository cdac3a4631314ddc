"""Video to Motion: Blender extension entry point (the repository root is the extension)."""
from .addon import register, unregister  # noqa: F401

"""What Blender may import: numpy and the standard library only (the motion file, keys, maths)."""

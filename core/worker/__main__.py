"""`python -m video_to_motion.core.worker VIDEO -o OUT.npz [options]`."""
import sys

from .cli import main

sys.exit(main())

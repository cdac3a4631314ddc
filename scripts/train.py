#!/usr/bin/env python3
"""Train TAR: python scripts/train.py --help"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from video_to_motion.core.training.cli import train_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(train_main())

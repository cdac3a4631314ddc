#!/usr/bin/env python3
"""Render generated training clips: python scripts/make_training_data.py --help"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from video_to_motion.core.training.cli import make_data_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(make_data_main())

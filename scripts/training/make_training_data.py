#!/usr/bin/env python3
"""Render generated training clips: python scripts/training/make_training_data.py --help"""
import sys


from video_to_motion.core.training.cli import make_data_main

if __name__ == "__main__":
    sys.exit(make_data_main())

#!/usr/bin/env python3
"""Train TAR: python scripts/training/train.py --help"""
import sys


from video_to_motion.core.training.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())

#!/usr/bin/env python3
"""Evaluate a TAR checkpoint (Table 1 layout): python scripts/training/evaluate.py --help"""
import sys


from video_to_motion.core.training.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())

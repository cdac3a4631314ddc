#!/usr/bin/env python3
"""Evaluate a TAR checkpoint (Table 1 layout): python scripts/evaluate.py --help"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from video_to_motion.core.training.cli import evaluate_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(evaluate_main())

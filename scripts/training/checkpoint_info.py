"""Print a TAR checkpoint's summary: python scripts/training/checkpoint_info.py CHECKPOINT.pt"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


from video_to_motion.core.tar.checkpoint import CheckpointError, read_checkpoint, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", type=Path)
    args = parser.parse_args(argv)
    try:
        payload = read_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(payload, args.checkpoint))
    return 0


if __name__ == "__main__":
    sys.exit(main())

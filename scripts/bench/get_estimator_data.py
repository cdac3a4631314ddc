#!/usr/bin/env python
"""Rebuild the labelled frames of scripts/bench/bench_estimator.py from its manifest.

    python scripts/bench/get_estimator_data.py OUT_DIR                   # from GitHub (online)
    python scripts/bench/get_estimator_data.py OUT_DIR --git-dir REPO.git   # from a local clone

Each file of scripts/bench/estimator_data.json is read at the manifest's commit (from a
local clone or bare git directory of the repository when given, else from GitHub's raw
file address), checked against its sha256 and written to OUT_DIR/<path> (temp file, then
rename). Files already there with the right hash are kept. The data is not committed: the
images belong to their datasets (COCO, PoseTrack18, MPII, OCHuman, Human3.6M,
MPI-INF-3DHP).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

MANIFEST = Path(__file__).with_name("estimator_data.json")


def _read(repo: str, commit: str, path: str, git_dir: Path | None) -> bytes:
    if git_dir is not None:
        return subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], check=True,
                              capture_output=True).stdout
    with urllib.request.urlopen(f"https://raw.githubusercontent.com/{repo}/{commit}/{path}", timeout=60) as r:
        return r.read()


def rebuild(out: Path, git_dir: Path | None = None, manifest: Path = MANIFEST) -> int:
    """Fetch every manifest file into `out`; returns the number of files written."""
    spec = json.loads(manifest.read_text())
    written = 0
    for entry in spec["files"]:
        target = out / entry["path"]
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == entry["sha256"]:
            continue
        data = _read(spec["repo"], spec["commit"], entry["path"], git_dir)
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise SystemExit(f"{entry['path']}: sha256 {digest} differs from the manifest's {entry['sha256']}; "
                             "the source is not the manifest's commit")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written += 1
    return written


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--git-dir", type=Path, help="a clone (or bare git directory) of the manifest's repository")
    args = p.parse_args()
    n = rebuild(args.out, args.git_dir)
    print(f"{n} file(s) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

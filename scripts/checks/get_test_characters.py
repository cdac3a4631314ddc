"""Rebuild the folder of public rigged characters the retarget is checked against.

    python scripts/checks/get_test_characters.py OUT_DIR [--git-dir OWNER/NAME=GIT_DIR ...]

The characters are files of public repositories (rigs nobody on this project made); their
licences vary, so they are not part of this repository: this script fetches each at a
pinned commit from GitHub (or reads it from a local clone given with --git-dir) and
checks its SHA-256. Then:

    python scripts/checks/check_characters.py --characters OUT_DIR --rigify --fbx-dir FBX_DIR
    VTM_TEST_CHARACTERS=OUT_DIR python -m pytest tests/blender/test_blender_characters.py
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import urllib.request
from pathlib import Path

# (file name here, repository, commit, path in the repository, sha256, what it is)
CHARACTERS = (
    ("xbot.glb", "AdamBorthwick/ViggleDemo", "e50e16da1f56d9fd8ef02cc149041cb3f66ed610", "public/models/xbot.glb",
     "4dbd1d2ed7cdbafeca3f8517dfb1df97d88ab7eeee9a59ffba5dc06e545cd3c4", "Mixamo rig (mixamorig:*), 65 bones"),
    ("paladin.glb", "AdamBorthwick/ViggleDemo", "e50e16da1f56d9fd8ef02cc149041cb3f66ed610", "public/models/paladin.glb",
     "7a94de999531ede705c55db434e2d113831d0c41f35cea64208ebac846a73704", "Mixamo rig with eye bones, 67 bones"),
    ("ninja.glb", "AdamBorthwick/ViggleDemo", "e50e16da1f56d9fd8ef02cc149041cb3f66ed610", "public/models/ninja.glb",
     "767a26ef8f0d627de09f2f169b50225535f296a90fa1ba8e90585d4a0a3cd587", "Mixamo rig, 65 bones"),
    ("barbarian.glb", "VampireSqu1d/BarbarianBlaster", "d703aa8f6c34391e7dd9e7675d49595707fc096f",
     "assets/Barbarian.glb", "21a42b83f8be6f505f721974b187fe9ea8c1b9d25f3fdc4e2a5ec3646e83eee1",
     "low-poly game rig with _L/_R names (Waist, Hip_L, Leg_L, Shin_L), legs rooted beside the hips, 18 bones"),
)


def fetch(repo: str, commit: str, path: str, git_dirs: dict) -> bytes:
    if repo in git_dirs:
        return subprocess.run(["git", "--git-dir", git_dirs[repo], "show", f"{commit}:{path}"], check=True,
                              capture_output=True).stdout
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder to write the characters to")
    p.add_argument("--git-dir", action="append", default=[], metavar="OWNER/NAME=GIT_DIR",
                   help="read that repository from a local clone instead of GitHub")
    args = p.parse_args(argv)
    git_dirs = dict(item.split("=", 1) for item in args.git_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, repo, commit, path, sha, what in CHARACTERS:
        target = out / name
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
            print(f"{name}: present")
            continue
        try:
            data = fetch(repo, commit, path, git_dirs)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"{name}: cannot fetch {repo}@{commit[:10]}:{path} ({exc})", file=sys.stderr)
            failed += 1
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            print(f"{name}: {repo}:{path} does not have the expected SHA-256", file=sys.stderr)
            failed += 1
            continue
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        print(f"{name}: {repo}@{commit[:10]}:{path} ({what})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

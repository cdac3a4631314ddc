"""Every error code the worker's code can emit is listed, with its meaning, in core.common.protocol."""
from __future__ import annotations

import re
from pathlib import Path

from video_to_motion.core.common.protocol import ERROR_CODES

CORE = Path(__file__).resolve().parents[2] / "core"
# A code is the first argument of an error event or of an error class that carries one.
EMITTED = re.compile(r"(?:events\.error|EstimatorError|VideoError|WorkerError)\(\s*\"([a-z_]+)\"")
# ... or the `code=` of an error class whose code defaults (BodyModelError, OutputPathError).
KEYWORD = re.compile(r"\bcode=\"([a-z_]+)\"")


def test_every_emitted_code_is_listed():
    found = {}
    for path in CORE.rglob("*.py"):
        text = path.read_text()
        for code in EMITTED.findall(text) + KEYWORD.findall(text):
            found.setdefault(code, path.relative_to(CORE).as_posix())
    assert len(found) >= 15, found  # the scan itself works
    unlisted = {c: where for c, where in found.items() if c not in ERROR_CODES}
    assert not unlisted, f"error codes missing from protocol.ERROR_CODES: {unlisted}"


def test_readme_lists_every_code_and_the_limits():
    from video_to_motion.core.common import mesh_file, motion

    readme = (CORE.parent / "README.md").read_text()
    missing = [c for c in ERROR_CODES if f"| `{c}` |" not in readme]
    assert not missing, f"README's error table lacks {missing}"
    assert f"{motion.MAX_FRAME_ID:,}" in readme and f"at most {motion.MAX_FPS:g} fps" in readme
    assert f"{motion.MAX_MOTION_BYTES // 2 ** 30} GiB" in readme and f"{mesh_file.MAX_MESH_BYTES // 2 ** 20} MiB" in readme

"""Runs Blender test cases in real bpy, in a child process (see tests/blender_harness.py).

    python tests/blender_runner.py CASES_MODULE RESULT.json [CASE ...]

Loads the repository as an extension from a local repository (`bl_ext.vtm_test.video_to_motion`),
runs each `case_*` function of tests/blender_cases/CASES_MODULE.py on a fresh empty scene
and writes {case: {"ok": bool, "error": str, "seconds": float}} to RESULT.json. The add-on is
disabled before the process ends (bpy 4.5 hangs at exit while classes are registered),
and the process leaves through os._exit so nothing else can hold it up.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
REPO_MODULE = "vtm_test"
PACKAGE = f"bl_ext.{REPO_MODULE}.video_to_motion"


class Context:
    """What a case gets: a fresh temp folder, the extension package, shared fixtures."""

    def __init__(self, root: Path):
        self.root = root
        self.tmp = root
        self._body_model = None

    @property
    def ext(self):
        return importlib.import_module(PACKAGE)

    def module(self, name: str):
        return importlib.import_module(f"{PACKAGE}.{name}")

    @property
    def body_model(self) -> Path:
        if self._body_model is None:
            from video_to_motion.core.training.body_gen import write_smpl_pkl

            self._body_model = write_smpl_pkl(self.root.parent / "SMPL_GENERATED.pkl")
        return self._body_model


def install_zip(zip_path: str) -> None:
    """Install a built extension zip the way users do (Install from Disk) and enable it."""
    global PACKAGE
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                      enable_on_install=True)
    if result != {"FINISHED"}:
        raise RuntimeError(f"installing {zip_path} gave {result}")
    PACKAGE = "bl_ext.user_default.video_to_motion"
    importlib.import_module(PACKAGE)


def enable_extension(workdir: Path) -> None:
    import addon_utils
    import bpy

    if os.environ.get("VTM_EXTENSION_ZIP"):
        install_zip(os.environ["VTM_EXTENSION_ZIP"])
        return

    repo_dir = workdir / "extensions"
    repo_dir.mkdir()
    (repo_dir / "video_to_motion").symlink_to(REPO, target_is_directory=True)
    prefs = bpy.context.preferences
    prefs.extensions.repos.new(name=REPO_MODULE, module=REPO_MODULE, custom_directory=str(repo_dir), source="USER")
    mod = addon_utils.enable(PACKAGE, default_set=True, handle_error=_raise)
    if mod is None:
        raise RuntimeError(f"could not enable {PACKAGE}")


def _raise(exc):
    raise exc


def main(argv: list[str]) -> int:
    module_name, result_path, *only = argv
    results: dict = {}
    workdir = Path(tempfile.mkdtemp(prefix="vtm_bpy_"))
    # The cases import the package by its one name: a link named so makes it importable in
    # any Blender's Python, with or without the editable install.
    (workdir / "package").mkdir()
    (workdir / "package" / "video_to_motion").symlink_to(REPO, target_is_directory=True)
    sys.path[:0] = [str(TESTS), str(workdir / "package")]
    # Blender makes its own temp folder when bpy loads; the os._exit below skips its clean-up:
    # inside the work folder it goes with it.
    os.environ["TMPDIR"] = str(workdir)
    try:
        import bpy
        import addon_utils  # importable once bpy is

        enable_extension(workdir)
        cases = importlib.import_module(f"blender_cases.{module_name}")
        names = [n for n in dir(cases) if n.startswith("case_")]
        names.sort(key=lambda n: getattr(cases, n).__code__.co_firstlineno)
        for name in names:
            if only and name not in only:
                continue
            bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
            case_dir = workdir / name
            case_dir.mkdir()
            t = time.perf_counter()
            try:
                getattr(cases, name)(Context(case_dir))
                results[name] = {"ok": True, "error": ""}
            except BaseException:  # noqa: BLE001 - every failure is reported, never raised
                results[name] = {"ok": False, "error": traceback.format_exc()}
            results[name]["seconds"] = round(time.perf_counter() - t, 3)
            print(f"{name}: {'ok' if results[name]['ok'] else 'FAILED'} ({results[name]['seconds']} s)",
                  file=sys.stderr, flush=True)
    except BaseException:  # noqa: BLE001
        results["__setup__"] = {"ok": False, "error": traceback.format_exc()}
    finally:
        try:
            import addon_utils

            addon_utils.disable(PACKAGE, default_set=True)
        except Exception:  # noqa: BLE001
            results.setdefault("__teardown__", {"ok": False, "error": traceback.format_exc()})
        Path(result_path).write_text(json.dumps(results, indent=1))
        # Each run's folder holds a copy of the SMPL body and the cases' outputs (~65 MB): kept
        # only when a case failed, for a look at what it wrote.
        if all(r["ok"] for r in results.values()) and not os.environ.get("VTM_KEEP_TEST_DIRS"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"the cases' files are kept in {workdir}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])

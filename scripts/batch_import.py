"""Headless batch: videos or motion files -> .blend / FBX / BVH / glTF / AMASS, with a JSON report.

    blender -b -P scripts/batch_import.py -- (--video V ... [worker options] | --motion M ...) [outputs] [options]
        [--character FILE [--character-map MAP.json] [--in-place]]
    python scripts/batch_import.py -- ...        (the same, with bpy from PyPI)

--preview PNG draws the imported skeletons over a frame of the footage (the video, or
--footage with --motion) through the scene's camera (scripts/preview.py; needs OpenCV
beside bpy, as in the worker's environment). The report gives each step's seconds
("timings", with the worker's stages) and what the preview shows.

Inputs may be files, folders (every video or .npz inside) or quoted glob patterns. With
several inputs an output path must be a folder (ending in '/' or existing) or contain
'{name}', replaced by each input's name. Every input is processed on a fresh empty scene;
one failing input does not stop the others. The JSON report is the only thing on stdout
(one JSON document; every log, Blender's own prints included, goes to stderr) and goes to
--report FILE. Exit code: 0 when every input succeeded, 1 when any failed, 2 for a bad
command line. In a .blend, the footage's path is relative to the .blend when both lie in
one folder tree (the footage in the .blend's folder, below it, or beside that folder).
"""
from __future__ import annotations

import argparse
import glob
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
PREVIEW = ("preview", ".png")


class UsageError(ValueError):
    pass


def script_args(argv: list[str]) -> list[str]:
    """The arguments after '--' (Blender passes its own before it)."""
    return argv[argv.index("--") + 1:] if "--" in argv else argv[1:]


def build_parser() -> argparse.ArgumentParser:
    options = package_module("core.common.options")
    p = argparse.ArgumentParser(prog="batch_import.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", nargs="+", help="video files, folders or glob patterns")
    src.add_argument("--motion", nargs="+", help="vtm.motion/1 .npz files, folders or glob patterns")
    w = p.add_argument_group("worker (with --video)")
    w.add_argument("--python", help="the worker's Python (default: $VTM_WORKER_PYTHON, or this Python under bpy)")
    options.add_arguments(w, options.WORKER)
    w.add_argument("--motion-dir", help="where the worker's motion files go (default: beside the first output)")
    i = p.add_argument_group("import")
    options.add_arguments(i, options.IMPORT)
    i.add_argument("--footage", help="with --motion: the video the motion came from, behind the camera and the "
                                     "preview (may contain {name})")
    c = p.add_argument_group("character")
    c.add_argument("--character", help="a .glb/.gltf/.fbx/.blend holding a humanoid armature (with its meshes): "
                                       "appended and animated with the (first) imported track; --fbx/--glb then "
                                       "export the character")
    c.add_argument("--character-map", help="bone map preset (JSON) for --character (default: automatic)")
    c.add_argument("--in-place", action="store_true", help="with --character: keep the hips over their start")
    o = p.add_argument_group("outputs")
    o.add_argument("--blend", help="save the scene as .blend")
    o.add_argument("--blend-base", help="the folder the .blend will be moved to (footage paths are made "
                                        "relative to it; default: the .blend's own folder)")
    exporters = package_module("addon.exporters")
    for fmt in exporters.FORMATS.values():
        o.add_argument(f"--{fmt.flag}", help=fmt.description)
    o.add_argument("--fbx-preset", default="BLENDER", choices=tuple(exporters.FBX_PRESETS))
    o.add_argument("--preview", help="PNG: the skeletons over a frame of the footage, through the camera")
    o.add_argument("--preview-frame", type=int, help="video frame of the preview (default: the one where the "
                                                     "most tracks are present)")
    o.add_argument("--report", help="also write the JSON report to this file")
    return p



def expand_inputs(patterns: list[str], video: bool) -> list[Path]:
    """Files named by paths, folders and glob patterns, in order, without repeats."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            wanted = VIDEO_SUFFIXES if video else {".npz"}
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in wanted and p.is_file())
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(pattern))
            if not matches:
                raise UsageError(f"no file matches '{pattern}'")
            found += matches
        else:
            found.append(path)  # missing files are reported per input, not as usage errors
    unique = list(dict.fromkeys(p.resolve() if p.exists() else p for p in found))
    if not unique:
        raise UsageError("no input files found")
    return unique


def output_path(template: str | None, name: str, suffix: str, many: bool) -> Path | None:
    if not template:
        return None
    if "{name}" in template:
        return Path(template.replace("{name}", name))
    if template.endswith(("/", os.sep)) or Path(template).is_dir():
        return Path(template) / f"{name}{suffix}"
    if many:
        raise UsageError(f"'{template}' names one file but there are several inputs; "
                         "give a folder or a path with {name}")
    return Path(template)


def load_package(name: str = "video_to_motion"):
    """The repository as a package (what Blender installs as bl_ext.<repo>.video_to_motion)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "__init__.py", submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def outputs() -> tuple[tuple[str, str], ...]:
    """(flag, suffix) of every file output: the .blend, then the export formats."""
    formats = package_module("addon.exporters").FORMATS.values()
    return (("blend", ".blend"), *((f.flag, f.suffix) for f in formats))


def package_module(name: str):
    """A module of the package, e.g. 'core.common.options'."""
    return importlib.import_module(f"{load_package().__name__}.{name}")


def running_as_module() -> bool:
    """True under `python` with bpy from PyPI, False inside the Blender program."""
    import bpy

    return not bpy.app.binary_path


def worker_python(args) -> str:
    if args.python:
        return args.python
    if os.environ.get("VTM_WORKER_PYTHON"):
        return os.environ["VTM_WORKER_PYTHON"]
    if running_as_module():
        return sys.executable
    raise UsageError("inside Blender, give the worker's interpreter with --python (or $VTM_WORKER_PYTHON)")


def load_preview():
    """scripts/preview.py, found beside this script however Blender was started."""
    if "vtm_preview" in sys.modules:
        return sys.modules["vtm_preview"]
    spec = importlib.util.spec_from_file_location("vtm_preview", Path(__file__).resolve().with_name("preview.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["vtm_preview"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        del sys.modules["vtm_preview"]
        raise UsageError(f"--preview needs OpenCV beside bpy ({exc}); run this script with the worker's "
                         "Python and bpy from PyPI: python scripts/batch_import.py -- ...") from None
    return module


def footage_path(args, name: str, many: bool) -> Path | None:
    if not args.footage:
        return None
    if "{name}" in args.footage:
        return Path(args.footage.replace("{name}", name))
    if many:
        raise UsageError("--footage names one video but there are several inputs; use {name} in it")
    return Path(args.footage)


def log(message: str) -> None:
    print(f"[vtm] {message}", file=sys.stderr, flush=True)


def process(pkg, args, source: Path, many: bool, motion_dir: Path) -> dict:
    import bpy

    options = package_module("core.common.options")
    importer = importlib.import_module(f"{pkg.__name__}.addon.importer")
    exporters = importlib.import_module(f"{pkg.__name__}.addon.exporters")
    client = importlib.import_module(f"{pkg.__name__}.core.client.worker_client")
    name = source.stem
    entry: dict = {"input": str(source), "name": name, "ok": False, "outputs": {}, "warnings": [], "timings": {}}
    timings = entry["timings"]
    t0 = time.perf_counter()
    try:
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        video = None
        footage = footage_path(args, name, many)
        if args.video:
            video = str(source)
            motion_path = motion_dir / f"{name}.npz"
            worker = options.from_namespace(options.WorkerOptions, options.WORKER, args)
            run = client.WorkerRun(worker_python(args), source, motion_path, worker)
            last = [0.0, ""]
            warned = [0]

            def show(r):
                for warning in r.warnings[warned[0]:]:  # as they come, before the run's result
                    log(f"{name}: warning: {warning}")
                warned[0] = len(r.warnings)
                text = r.status_text()
                if time.monotonic() - last[0] > 2.0 and text != last[1]:
                    last[:] = [time.monotonic(), text]
                    log(f"{name}: {text}")

            run.wait(on_progress=show)
            show(run)
            timings["worker"] = run.stage_seconds()
            entry["warnings"] += run.warnings
            motion_file = run.result()
        else:
            motion_file = str(source)
        entry["motion"] = motion_file
        video = video or (str(footage) if footage else None)
        t = time.perf_counter()
        settings = options.from_namespace(importer.ImportOptions, options.IMPORT, args)
        settings.video, settings.name = video, name
        result = importer.import_motion(bpy.context, motion_file, settings)
        timings["import"] = round(time.perf_counter() - t, 3)
        entry["warnings"] += result.warnings
        entry["tracks"] = result.track_ids
        entry["armatures"] = [o.name for o in result.armatures]
        entry["frames"] = list(result.frame_range)
        arms = result.armatures
        character = None
        if args.character:
            t = time.perf_counter()
            characters = importlib.import_module(f"{pkg.__name__}.addon.characters")
            bone_map = package_module("core.common.bone_map")
            mapping = bone_map.read_preset(args.character_map) if args.character_map else None
            created: list = []
            try:
                character = characters.append_character(bpy.context, args.character, created)
                anim = characters.animate_character(bpy.context, character, arms[0], mapping, in_place=args.in_place)
            except Exception:
                characters.remove_created(created)
                raise
            entry["character"] = {"armature": character.name, "action": anim.action.name,
                                  "track": int(arms[0]["vtm_track_id"]), "scale": round(anim.retarget.scale, 4)}
            timings["character"] = round(time.perf_counter() - t, 3)
        formats = {f.flag: f for f in exporters.FORMATS.values()}
        atomic = package_module("core.common.atomic")
        inputs = (source, footage, motion_file)
        for key, suffix in outputs():
            target = output_path(getattr(args, key), name, suffix, many)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic.refuse_inputs(target, inputs)  # never write over an input
            t = time.perf_counter()
            if key == "blend":
                with atomic.atomic_path(target) as tmp:  # a full disk: one clear error, nothing half-written
                    tmp.unlink()  # else Blender keeps the empty placeholder as a .blend1 backup
                    save_blend(tmp, Path(args.blend_base) if args.blend_base else target.parent)
                written = [target]
            else:
                # FBX and glTF carry the character when there is one; BVH and AMASS are SMPL's.
                use = [character] if character is not None and formats[key].mesh else arms
                written = exporters.export(bpy.context, formats[key].key, target, use, fbx_preset=args.fbx_preset)
            entry["outputs"][key] = [str(p) for p in written]
            timings[key] = round(time.perf_counter() - t, 3)
        target = output_path(args.preview, name, PREVIEW[1], many)
        if target is not None:
            atomic.refuse_inputs(target, inputs)
            t = time.perf_counter()
            entry["preview"] = preview(args, result, motion_file, video, target)
            entry["warnings"] += entry["preview"].pop("notes")
            entry["outputs"]["preview"] = [str(target)]
            timings["preview"] = round(time.perf_counter() - t, 3)
        entry["ok"] = True
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad input is reported and the batch goes on
        entry["error"] = f"{type(exc).__name__}: {exc}" if not str(exc).startswith(type(exc).__name__) else str(exc)
        if os.environ.get("VTM_DEBUG"):
            entry["traceback"] = traceback.format_exc()
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    log(f"{name}: {'ok' if entry['ok'] else 'FAILED: ' + entry['error']}")
    return entry


def footage_relative_to(folder: Path, footage: str) -> str | None:
    """Blender's '//' path of `footage` from a .blend in `folder` when both lie in one folder
    tree (the footage in that folder, below it, or below the folder's parent), else None."""
    folder = Path(os.path.abspath(folder))
    path = Path(os.path.abspath(footage))
    for root in (folder, folder.parent):
        if root != Path(root.anchor) and path.is_relative_to(root):
            return "//" + os.path.relpath(path, folder).replace(os.sep, "/")
    return None


def save_blend(target: Path, folder: Path) -> None:
    """Save a copy of the scene; footage paths relative to it where they share a folder tree
    (the project moves as a whole), absolute otherwise (a lone .blend is often copied)."""
    import bpy

    changed = []
    for clip in bpy.data.movieclips:
        if clip.filepath.startswith("//"):
            continue
        relative = footage_relative_to(folder, clip.filepath)
        if relative:
            changed.append((clip, clip.filepath))
            clip.filepath = relative
    try:
        bpy.ops.wm.save_as_mainfile(filepath=str(target), check_existing=False, copy=True, relative_remap=False)
    finally:
        for clip, path in changed:
            clip.filepath = path


def preview(args, result, motion_file: str, video: str | None, target: Path) -> dict:
    """Draw the imported tracks present at the preview frame. Returns what was drawn, for
    the report: frame, tracks, zoom (the picture's enlargement), pelvis_pixels (per track,
    in the footage's own pixels) and notes (warnings)."""
    import bpy

    drawing = load_preview()
    core = f"{load_package().__name__}.core"
    motion = importlib.import_module(f"{core}.common.motion").read_motion(motion_file)
    if args.preview_frame is not None:
        frame = args.preview_frame
    else:
        frame = drawing.busiest_frame(motion.frame_ids, motion.track_ids, result.track_ids)
    present = set(drawing.tracks_at(motion.frame_ids, motion.track_ids, frame))
    arms = [a for a in result.armatures if int(a["vtm_track_id"]) in present]
    notes = []
    if video:
        info = importlib.import_module(f"{core}.worker.video").probe(video)
        if (info.width, info.height) != tuple(int(v) for v in motion.image_size):
            notes.append(f"the footage is {info.width}x{info.height} but the motion was made from "
                         f"{motion.image_size[0]}x{motion.image_size[1]} frames; the preview may not line up")
    target.parent.mkdir(parents=True, exist_ok=True)
    skeletons, zoom = drawing.render_preview(bpy.context, arms, result.camera, frame, target, footage=video,
                                             image_size=tuple(motion.image_size))
    pelvis = {str(s.track_id): [round(float(c), 2) for c in s.pixel("pelvis")] for s in skeletons
              if "pelvis" in s.names}
    return {"frame": frame, "tracks": [s.track_id for s in skeletons], "on_footage": video is not None,
            "zoom": zoom, "pelvis_pixels": pelvis, "notes": notes}


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(script_args(argv))
    except SystemExit as exc:
        return 2 if exc.code else 0
    # PyPI's bpy run as a module: Blender's user folders go to a throwaway place, removed at the end.
    own_resources = None
    if "BLENDER_USER_RESOURCES" not in os.environ:
        own_resources = os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="vtm_batch_")
    report = {"ok": False, "results": []}
    # stdout carries the report alone: until then, whatever prints there (Blender's C code
    # included) goes to stderr.
    sys.stdout.flush()
    stdout_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        inputs = expand_inputs(args.video or args.motion, video=bool(args.video))
        many = len(inputs) > 1
        for key, suffix in outputs() + (PREVIEW,):  # fail on ambiguous outputs before any work
            output_path(getattr(args, key), "x", suffix, many)
        if args.footage and args.video:
            raise UsageError("--footage goes with --motion; with --video the video is the footage")
        footage_path(args, "x", many)
        if args.preview and not args.camera:
            raise UsageError("--preview draws through the imported camera; leave out --no-camera")
        if args.preview_frame is not None and args.preview_frame < 0:
            raise UsageError(f"--preview-frame must be >= 0 (got {args.preview_frame})")
        if args.preview:
            load_preview()
        if args.character and not Path(args.character).is_file():
            raise UsageError(f"--character: no file '{args.character}'")
        if args.character_map and not args.character:
            raise UsageError("--character-map goes with --character")
        if args.in_place and not args.character:
            raise UsageError("--in-place goes with --character")
        firsts = [output_path(getattr(args, k), "x", s, many) for k, s in outputs() + (PREVIEW,) if getattr(args, k)]
        # Absolute: the worker runs in another folder, and a relative path there names another place.
        motion_dir = (Path(args.motion_dir) if args.motion_dir else (firsts[0].parent if firsts else Path.cwd())).absolute()
        if args.video:
            worker_python(args)
            motion_dir.mkdir(parents=True, exist_ok=True)
        pkg = load_package()
        for source in inputs:
            report["results"].append(process(pkg, args, source, many, motion_dir))
    except UsageError as exc:
        print(f"batch_import.py: error: {exc}", file=sys.stderr)
        report["error"] = str(exc)
        code = 2
    else:
        report["ok"] = all(r["ok"] for r in report["results"])
        code = 0 if report["ok"] else 1
    finally:
        sys.stdout.flush()
        os.dup2(stdout_fd, 1)
        os.close(stdout_fd)
        if own_resources:
            shutil.rmtree(own_resources, ignore_errors=True)
            del os.environ["BLENDER_USER_RESOURCES"]
    text = json.dumps(report, indent=1)
    if args.report:
        Path(args.report).write_text(text)
    print(text, flush=True)
    return code


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        module_mode = running_as_module()
    except ImportError:
        module_mode = True
    if module_mode:
        if "bpy" in sys.modules:  # os._exit skips Blender's own clean-up of its temp folder
            shutil.rmtree(sys.modules["bpy"].app.tempdir, ignore_errors=True)
        os._exit(code)  # bpy 4.5 may hang at interpreter exit
    sys.exit(code)  # inside Blender: Blender exits with this code

"""What the worker's environment has: `python -m video_to_motion.core.worker.check` (run by "Check worker").

Prints one protocol `info` event with the report and then `done` (or `error` when
something the worker needs is missing, with the report still sent first):
    {"event": "info", "check": {"python": ..., "platform": ..., "packages": {name: version|null},
     "torch": {"version", "cuda_build", "cuda_available", "devices": [...], "mps_available"},
     "problems": [...]}}
"""
from __future__ import annotations

import importlib.metadata
import platform
import sys

from ..common.protocol import EXIT_ERROR, EXIT_OK, EventWriter

# Distribution name -> what it is for (the worker extra in pyproject.toml).
REQUIRED = {
    "numpy": "arrays",
    "torch": "the estimators",
    "torchvision": "image transforms",
    "opencv-python": "video decoding",
    "smplx": "the SMPL body model",
    "ultralytics": "person detection and tracking",
    "timm": "the TAR backbone",
    "mediapipe": "the BlazePose estimator",
    "scipy": "official SMPL files",
}
ALTERNATIVES = {"opencv-python": ("opencv-python-headless", "opencv-contrib-python")}


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in REQUIRED:
        version = None
        for dist in (name, *ALTERNATIVES.get(name, ())):
            try:
                version = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        out[name] = version
    return out


def torch_report() -> dict:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken install is reported, not raised
        return {"version": None, "error": f"{type(exc).__name__}: {exc}"}
    report = {"version": torch.__version__, "cuda_build": torch.version.cuda, "cuda_available": False,
              "devices": [], "mps_available": False}
    try:
        report["cuda_available"] = bool(torch.cuda.is_available())
        if report["cuda_available"]:
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                report["devices"].append(f"cuda:{i} {props.name} ({props.total_memory / 2**30:.1f} GiB)")
        mps = getattr(torch.backends, "mps", None)
        report["mps_available"] = bool(mps is not None and mps.is_available())
    except Exception as exc:  # noqa: BLE001
        report["error"] = f"{type(exc).__name__}: {exc}"
    return report


def check() -> dict:
    packages = package_versions()
    report = {"python": sys.version.split()[0], "executable": sys.executable,
              "platform": platform.platform(), "packages": packages, "torch": torch_report()}
    problems = [f"{name} is missing ({why})" for name, why in REQUIRED.items() if packages[name] is None]
    if sys.version_info[:2] < (3, 11):
        problems.append(f"Python {report['python']} is too old; the worker needs 3.11 or newer")
    if report["torch"].get("error"):
        problems.append(f"torch does not import: {report['torch']['error']}")
    report["problems"] = problems
    return report


def main() -> int:
    events = EventWriter(sys.stdout)
    report = check()
    events.info(check=report)
    if report["problems"]:
        events.error("worker_incomplete", "; ".join(report["problems"]))
        return EXIT_ERROR
    events.done("")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

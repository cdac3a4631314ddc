"""Detector weights that cannot run code: a YOLO `.pt` is checked before ultralytics loads it.

Ultralytics loads checkpoints with `torch.load(weights_only=False)`, a full unpickler: a
`.pt` from an unofficial mirror can run any code as it loads. `checked_copy` copies the
file into a private folder (so what was checked is what gets loaded) and loads the copy
with torch's restricted unpickler (`weights_only=True`) first, where

  * torch's own allow-list (tensors, storages, OrderedDict...) and numpy arrays may be rebuilt;
  * the model's layers (torch.nn modules, ultralytics' nn modules and models, its loss
    helpers) may only be *created without running their constructor* and given their
    saved attributes, which is all `torch.save` of a model does: each is replaced by an
    inert stand-in whose constructor refuses to run. A constructor called on saved
    arguments is how a hostile checkpoint would run code (ultralytics' model
    constructors evaluate strings of their configuration);
  * anything else named in the file refuses the file.

A copy that passes holds nothing but these, so ultralytics' own loading of it runs no code
the file chose. Needs torch 2.6 (its checkpoint scan and named allow-list entries).
"""
from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from ..estimators import EstimatorError

# Modules whose nn.Module classes a YOLO checkpoint holds (created bare, never constructed).
_MODULE_PREFIXES = ("torch.nn.modules.", "ultralytics.nn.modules.")
_MODULE_FILES = frozenset({"ultralytics.nn.tasks"})
# Plain classes some ultralytics checkpoints keep beside the model (the training loss).
_HELPER_MODULES = frozenset({"ultralytics.utils.loss", "ultralytics.utils.tal"})
_NUMPY = frozenset({"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                    "numpy.ndarray", "numpy.dtype"})


class _Inert:
    """Stands in for a layer class during the check: created bare, constructor refused."""

    def __new__(cls, *args, **kwargs):  # noqa: ARG003 - NEWOBJ passes the saved arguments
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"the file calls the constructor of {type(self).__qualname__}")

    def __setstate__(self, state) -> None:
        self.__dict__["_state"] = state


def _real_class(name: str):
    """The installed class `name` if a checkpoint may hold it bare, else None."""
    module, _, attr = name.rpartition(".")
    if not (module.startswith(_MODULE_PREFIXES) or module in _MODULE_FILES or module in _HELPER_MODULES):
        return None
    try:
        cls = getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None
    if not isinstance(cls, type) or (module in _HELPER_MODULES and cls.__module__ != module):
        return None
    import torch

    if module not in _HELPER_MODULES and not issubclass(cls, torch.nn.Module):
        return None
    # Ultralytics' full load creates these with __new__ and restores them with __setstate__
    # (or a __dict__ update): both must be Python's or torch's own.
    if cls.__new__ is not object.__new__:
        return None
    setstate = getattr(cls, "__setstate__", None)
    if setstate is not None and not getattr(setstate, "__module__", "").startswith("torch."):
        return None
    return cls


def _numpy_global(name: str):
    import numpy as np

    module, _, attr = name.rpartition(".")
    if name in _NUMPY:
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            return None
    if module == "numpy.dtypes":  # numpy 2 names the dtype classes
        cls = getattr(getattr(np, "dtypes", None), attr, None)
        return cls if isinstance(cls, type) and issubclass(cls, np.dtype) else None
    return None


def _stand_in(name: str) -> type:
    return type(name.rpartition(".")[2], (_Inert,), {"__module__": name.rpartition(".")[0]})


def check_weights(path: str | os.PathLike, described: str) -> None:
    """Raise EstimatorError('detector_unsafe' or 'detector_invalid') unless `path` is a plain checkpoint."""
    import pickle

    import torch

    scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if scan is None:
        raise EstimatorError("detector_unsafe",
                             f"{described} cannot be checked for code with torch {torch.__version__}; "
                             "install torch 2.6 or newer in the worker's environment")
    try:
        names = scan(str(path))
    except (ValueError, RuntimeError, OSError) as exc:
        raise EstimatorError("detector_invalid",
                             f"{described} is not a PyTorch checkpoint archive ({exc}); give a YOLO .pt file "
                             "or leave --detector out") from exc
    allowed, refused = [], []
    for name in names:
        obj = _numpy_global(name)
        if obj is not None:
            allowed.append((obj, name))
        elif _real_class(name) is not None:
            allowed.append((_stand_in(name), name))
        else:
            refused.append(name)
    if refused:
        raise EstimatorError("detector_unsafe",
                             f"{described} was not loaded: it names {', '.join(sorted(refused)[:5])}"
                             f"{' and more' if len(refused) > 5 else ''}, which a YOLO checkpoint never holds "
                             "(loading it could run code). Use weights from ultralytics or leave --detector out")
    try:
        with torch.serialization.safe_globals(allowed):
            torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise EstimatorError("detector_unsafe",
                             f"{described} was not loaded: it does more than store a model "
                             f"({str(exc).splitlines()[0][:300]}); use weights from ultralytics or leave --detector out"
                             ) from exc
    except RuntimeError as exc:
        if "constructor" in str(exc):
            raise EstimatorError("detector_unsafe",
                                 f"{described} was not loaded: {exc} (loading it could run code); use weights "
                                 "from ultralytics or leave --detector out") from exc
        raise EstimatorError("detector_invalid",
                             f"{described} cannot be read as a PyTorch checkpoint ({exc}); give a YOLO .pt file"
                             ) from exc
    except (EOFError, ValueError, OSError, MemoryError) as exc:
        raise EstimatorError("detector_invalid",
                             f"{described} cannot be read as a PyTorch checkpoint ({type(exc).__name__}: {exc}); "
                             "give a YOLO .pt file") from exc


@contextlib.contextmanager
def checked_copy(path: str | os.PathLike, described: str) -> Iterator[Path]:
    """Yield a private copy of the weights file `path` that passed `check_weights`; removed afterwards."""
    path = Path(path)
    folder = Path(tempfile.mkdtemp(prefix="vtm-weights-"))
    try:
        copy = folder / (path.stem + ".pt")  # ultralytics insists on the suffix
        try:
            # Non-blocking: a FIFO given as weights must not hang the worker before the check.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with open(fd, "rb") as src:
                if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                    raise EstimatorError("detector_invalid", f"{described} is not a regular file")
                with open(copy, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except OSError as exc:
            raise EstimatorError("detector_not_found", f"{described} cannot be read ({exc})") from exc
        check_weights(copy, described)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)

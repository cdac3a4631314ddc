"""SMPL body model files: loading without chumpy, checking, and building smplx models.

The official SMPL `.pkl` files were pickled with chumpy arrays, and chumpy does not run
on Python 3.11; `load_smpl_arrays` reads them with an unpickler that turns chumpy objects
into plain arrays. `.npz` files with the same keys load directly.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

NUM_VERTICES = 6890
NUM_JOINTS = 24
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class BodyModelError(ValueError):
    """A body model file that is missing or is not an SMPL model; `code` is the protocol's error code."""

    def __init__(self, message: str, code: str = "smpl_model_invalid"):
        super().__init__(message)
        self.code = code


class _Refused(pickle.UnpicklingError):
    """The pickle names something outside the allow-list; nothing of it was run."""


class _ChumpyArray:
    """Stands in for chumpy classes while unpickling; keeps the wrapped array."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"x": state})

    def to_array(self) -> np.ndarray:
        if "x" not in self.__dict__:
            raise BodyModelError("a chumpy object in the model file holds no array data")
        return np.asarray(self.__dict__["x"])


# What an SMPL pickle may name, official (Python 2, chumpy) or re-saved (numpy 1 or 2). Anything
# else is refused before it is looked up: unpickling a global can run any code, and people get
# SMPL files from unofficial mirrors because the official download is licence-gated.
_NUMPY_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})
# Protocol 2 writes Python 3 bytes as _codecs.encode(text, "latin1") (empty ones as bytes());
# protocols 0-1 rebuild plain objects with copyreg._reconstructor (Python 2's copy_reg) from
# allowed classes only.
_PLAIN_GLOBALS = frozenset({
    ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"), ("builtins", "object"), ("__builtin__", "object"),
    ("builtins", "bytes"), ("__builtin__", "bytes"),
})
# The official files store J_regressor as a scipy sparse matrix (module paths moved over time).
_SPARSE_CLASSES = frozenset({"csc_matrix", "csr_matrix", "coo_matrix", "csc_array", "csr_array", "coo_array"})


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """_codecs.encode as protocol 2 uses it; other codecs (a codec lookup imports modules) are refused."""
    if encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise _Refused(f"it encodes bytes with '{encoding}', which a data file of ours never does")
    return text.encode("latin1")


class NumpyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays, nothing else: any other global is refused
    (UnpicklingError) before it is looked up. For data files such as 3DPW's sequence files."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        if (module, name) in _NUMPY_GLOBALS or (module, name) in _PLAIN_GLOBALS:
            return super().find_class(module, name)
        raise _Refused(f"it names '{module}.{name}'; it was refused without running it "
                       "(a pickle can run code: only numpy arrays and plain containers are read)")


class _SmplUnpickler(NumpyUnpickler):
    """Unpickles numpy arrays, scipy sparse matrices and chumpy arrays (as _ChumpyArray), nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            return _ChumpyArray
        if (module, name) == ("_codecs", "encode") or (module, name) in _NUMPY_GLOBALS | _PLAIN_GLOBALS:
            return super().find_class(module, name)
        if module.split(".")[:2] == ["scipy", "sparse"] and name in _SPARSE_CLASSES:
            import scipy.sparse

            cls = getattr(scipy.sparse, name, None)
            if cls is not None:
                return cls
        raise _Refused(
            f"it names '{module}.{name}', which an SMPL model never holds; it was refused without running it "
            "(a pickle can run code: only numpy, scipy.sparse and chumpy arrays are read)")


def _to_plain(value: Any) -> Any:
    if isinstance(value, _ChumpyArray):
        return value.to_array()
    return value


def load_smpl_arrays(path: str | os.PathLike) -> dict[str, Any]:
    """Read an SMPL model file (.pkl or .npz) into plain numpy/scipy objects and check it."""
    path = Path(path)
    if not path.exists():
        raise BodyModelError(
            f"SMPL model file '{path}' does not exist; download SMPL (smpl.is.tue.mpg.de) and "
            "point to SMPL_NEUTRAL.pkl (or basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl)")
    if path.is_dir():
        candidates = sorted(p.name for p in path.glob("*") if p.suffix in (".pkl", ".npz"))
        hint = f"; it holds {', '.join(candidates)}" if candidates else ""
        raise BodyModelError(f"'{path}' is a folder; give the SMPL model file itself{hint}")
    if not path.is_file():  # a pipe would block the reader
        raise BodyModelError(f"'{path}' is not a regular file (a pipe or a device); give the SMPL model file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        else:
            with open(path, "rb") as fh:
                data = _SmplUnpickler(fh, encoding="latin1").load()
    except _Refused as exc:
        raise BodyModelError(f"'{path}' was not loaded: {exc}. Use the SMPL file from smpl.is.tue.mpg.de",
                             code="smpl_model_unsafe") from exc
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, AttributeError,
            ImportError, IndexError, TypeError, OSError, MemoryError) as exc:
        raise BodyModelError(
            f"'{path}' is not a readable SMPL model file ({type(exc).__name__}: {exc}); "
            "use the .pkl or .npz file from the SMPL download") from exc
    if not isinstance(data, dict):
        raise BodyModelError(f"'{path}' does not hold an SMPL model (found {type(data).__name__}, not a dict)")
    data = {k: _to_plain(v) for k, v in data.items()}
    check_smpl_arrays(data, path)
    return data


def check_smpl_arrays(data: dict[str, Any], path: str | os.PathLike = "model") -> None:
    """Raise BodyModelError saying what is wrong if `data` is not a 24-joint SMPL model."""
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise BodyModelError(f"'{path}' is not an SMPL model: missing {', '.join(missing)}")
    v = np.shape(data["v_template"])
    jreg = np.shape(data["J_regressor"])
    if v != (NUM_VERTICES, 3) or jreg != (NUM_JOINTS, NUM_VERTICES):
        kind = {10475: "SMPL-X", 6890: "SMPL-H or another 6890-vertex model"}.get(v[0] if v else 0, "an unknown model")
        raise BodyModelError(
            f"'{path}' looks like {kind} ({v[0] if v else '?'} vertices, {jreg[0] if jreg else '?'} joints); "
            f"Video to Motion needs an SMPL model with {NUM_VERTICES} vertices and {NUM_JOINTS} joints")
    checks = {
        "shapedirs": (lambda s: len(s) == 3 and s[:2] == (NUM_VERTICES, 3) and s[2] >= 10, "[6890, 3, >=10]"),
        "posedirs": (lambda s: s == (NUM_VERTICES, 3, NUM_POSE_BASIS), "[6890, 3, 207]"),
        "weights": (lambda s: s == (NUM_VERTICES, NUM_JOINTS), "[6890, 24]"),
        "kintree_table": (lambda s: s == (2, NUM_JOINTS), "[2, 24]"),
        "f": (lambda s: len(s) == 2 and s[1] == 3, "[F, 3]"),
    }
    for key, (ok, expected) in checks.items():
        shape = tuple(np.shape(data[key]))
        if not ok(shape):
            raise BodyModelError(f"'{path}': {key} has shape {list(shape)}, expected {expected}")


class _Struct:
    def __init__(self, **kwargs: Any):
        self.__dict__.update(kwargs)


def create_smpl(path: str | os.PathLike, num_betas: int = 10, device: str = "cpu", dtype=None):
    """An `smplx.SMPL` built from a model file (official chumpy pickles included)."""
    import torch
    import smplx

    data = load_smpl_arrays(path)
    model = smplx.SMPL(str(path), data_struct=_Struct(**data), num_betas=num_betas,
                       dtype=dtype or torch.float32)
    return model.to(device)


def smpl_rest_joints(model, betas: np.ndarray) -> np.ndarray:
    """The 24 SMPL joints at zero pose and zero translation for each row of betas.

    betas [N, B] (B <= the model's shape coefficients) -> float32 [N, 24, 3], what smplx
    returns for that input. At zero pose the joints are J_regressor @ (v_template +
    shapedirs . betas), linear in betas: computed as such, without building every row's
    mesh (smplx's forward takes ~0.7 MB per row, gigabytes for a long video).
    """
    betas = np.atleast_2d(np.asarray(betas, np.float64))
    template, dirs = smpl_joint_shape_space(model, betas.shape[1])
    rest = template + np.einsum("nl,jkl->njk", betas, dirs)
    return rest.astype(np.float32)


def smpl_joint_shape_space(model, num_betas: int) -> tuple[np.ndarray, np.ndarray]:
    """The rest joints as a linear function of betas: (template [24,3], dirs [24,3,B]) in
    float64, rest = template + dirs . betas (B = num_betas, at most the model's)."""
    import torch

    with torch.no_grad():
        regressor = model.J_regressor.double()  # [24, V]
        template = (regressor @ model.v_template.double()).cpu().numpy()  # [24, 3]
        dirs = torch.einsum("jv,vkl->jkl", regressor, model.shapedirs[:, :, :num_betas].double())
    return template, dirs.cpu().numpy()

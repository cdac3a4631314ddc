"""Reading `.npz` files from anywhere without trusting their sizes (numpy and stdlib only).

`np.load` believes an archive: a member's `.npy` header that states terabytes is allocated
before a byte is read, a small compressed member may inflate to gigabytes, a FIFO named
`.npz` blocks the reader forever, and a plain `.npy` named `.npz` comes back as an array
(a TypeError further on). `read_npz` opens regular files only, reads the zip directory and
every member's header first, and refuses (NpzError, a ValueError with the reason) before it
allocates more than the caller's limit or more than a member holds.
"""
from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty archive


class NpzError(ValueError):
    """An `.npz` that cannot be read safely; the message says why."""


def _gib(n: int) -> str:
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 2 ** 20:.3g} MiB"


def open_regular(path: str | os.PathLike, what: str):
    """A binary handle on `path`, refused unless it is a regular file (never blocks on a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise NpzError(f"{what} '{path}' cannot be opened ({exc.strerror or exc})") from exc
    fh = open(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        fh.close()
        raise NpzError(f"{what} '{path}' is not a regular file (a pipe, socket or device); give an .npz file")
    return fh


def _header(member, name: str, where: str) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    if dtype.hasobject:
        raise NpzError(f"array '{name}' of {where} holds Python objects, which are never loaded (they could run code)")
    return shape, dtype


def read_npz(path: str | os.PathLike, max_bytes: int, what: str = "file") -> dict[str, np.ndarray]:
    """Every array of the `.npz` at `path`, its total size checked against `max_bytes` first."""
    path = Path(path)
    with open_regular(path, what) as fh:
        magic = fh.read(len(NPY_MAGIC))
        fh.seek(0)
        if magic.startswith(NPY_MAGIC):
            raise NpzError(f"{what} '{path}' is a single .npy array with an .npz name; it must be an .npz "
                           "archive of named arrays (numpy.savez)")
        if not magic.startswith(ZIP_MAGICS):
            raise NpzError(f"{what} '{path}' is not a readable .npz file: it is not a zip archive")
        try:
            with zipfile.ZipFile(fh) as archive:
                members = [i for i in archive.infolist() if i.filename.endswith(".npy")]
                # zipfile stops inflating a member at its stated size, so the stated sizes bound memory.
                stated = sum(i.file_size for i in members)
                if stated > max_bytes:
                    raise NpzError(f"{what} '{path}' would take {_gib(stated)} once decompressed, more than the "
                                   f"{_gib(max_bytes)} such a file may hold; it is damaged or not one of ours")
                arrays = {}
                for info in members:
                    name = info.filename[:-len(".npy")]
                    with archive.open(info) as member:
                        shape, dtype = _header(member, name, f"{what} '{path}'")
                        need = math.prod(shape) * dtype.itemsize
                        if need > info.file_size:
                            raise NpzError(f"array '{name}' of {what} '{path}' states shape {list(shape)} "
                                           f"({_gib(need)}) but holds {info.file_size} bytes; the file is damaged")
                    with archive.open(info) as member:
                        arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                return arrays
        except NpzError:
            raise
        except MemoryError as exc:
            raise NpzError(f"{what} '{path}' does not fit in memory") from exc
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ValueError, OSError, EOFError,
                NotImplementedError, KeyError) as exc:
            raise NpzError(f"{what} '{path}' is not a readable .npz file ({type(exc).__name__}: {exc})") from exc

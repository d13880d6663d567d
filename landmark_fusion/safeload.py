"""NumPy ``.npy`` / ``.npz`` files read without unpickling anything, or refused with a message.

``np.load`` stores and reads object arrays as Python pickles, and unpickling runs whatever code the
file's author put in it. The array files the project reads (face models, 3DDFA arrays, AFLW
normalisers) hold numbers and strings only, so every header is checked before any data is read: a
file holding pickled objects, a pickle renamed to ``.npz``, or something that is not a NumPy file
at all is refused with one message naming the file and the reason, never a ``ValueError`` traceback.
Every ``np.load`` of a user's file in the project goes through here.
"""
from __future__ import annotations

import ast
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
#: First byte of a pickle of protocol 2 or newer (numpy writes object arrays with protocol 3+).
PICKLE_PROTOCOL_BYTE = b"\x80"

_WHY = "which could run code when read; the .npy/.npz files of this project hold only numbers and text"


class ArrayFileError(ValueError):
    """A ``.npy`` / ``.npz`` file that cannot be read safely; the message names the file and why."""


class PickledArrayError(ArrayFileError):
    """A ``.npy`` / ``.npz`` file holding pickled Python objects (refused: they could run code)."""


def _kind(path: Path) -> str:
    """``"npy"`` or ``"npz"`` from the first bytes; anything else is refused."""
    with open(path, "rb") as fh:
        head = fh.read(len(NPY_MAGIC))
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head[:4] in ZIP_MAGICS:
        return "npz"
    if head.startswith(PICKLE_PROTOCOL_BYTE):
        raise PickledArrayError(f"{path}: refused: a Python pickle, not a NumPy .npy/.npz file, {_WHY}")
    what = "an empty file" if not head else f"it starts with {head!r}"
    raise ArrayFileError(f"{path}: not a NumPy .npy/.npz file ({what})")


def read_npy_dtype(fh: IO[bytes], where: str) -> np.dtype:
    """The dtype in the header of the ``.npy`` stream ``fh`` (positioned at its start)."""
    magic = fh.read(len(NPY_MAGIC) + 2)
    if len(magic) < len(NPY_MAGIC) + 2 or not magic.startswith(NPY_MAGIC):
        raise ArrayFileError(f"{where}: not a NumPy .npy array")
    major = magic[-2]
    size_format = "<H" if major == 1 else "<I"
    raw = fh.read(struct.calcsize(size_format))
    if len(raw) != struct.calcsize(size_format):
        raise ArrayFileError(f"{where}: truncated .npy header")
    (length,) = struct.unpack(size_format, raw)
    text = fh.read(length)
    try:
        header = ast.literal_eval(text.decode("utf-8" if major >= 3 else "latin1"))
        return np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, SyntaxError, TypeError, KeyError, UnicodeDecodeError) as error:
        raise ArrayFileError(f"{where}: damaged .npy header ({error})") from None


def _refuse_objects(dtype: np.dtype, path: Path, member: str | None) -> None:
    if dtype.hasobject:
        inside = f"a NumPy .npz archive whose array {member!r}" if member else "a NumPy .npy array that"
        raise PickledArrayError(f"{path}: refused: {inside} holds pickled Python objects (dtype object), "
                                f"{_WHY}")


def check_array_file(path: str | os.PathLike) -> str:
    """``"npy"`` or ``"npz"`` when ``path`` holds no pickled data; raises :class:`ArrayFileError`.

    Only the headers are read (every member's header for an ``.npz``).
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "npy":
        with open(path, "rb") as fh:
            _refuse_objects(read_npy_dtype(fh, str(path)), path, None)
        return kind
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    where = f"{path}: array {info.filename[:-4]!r}"
                    _refuse_objects(read_npy_dtype(member, where), path, info.filename[:-4])
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise ArrayFileError(f"{path}: a damaged .npz archive ({error})") from None
    return kind


def load_npy(path: str | os.PathLike, mmap_mode: Literal["r+", "r", "w+", "c"] | None = None) -> np.ndarray:
    """The array of a ``.npy`` file (memory-mapped with ``mmap_mode``), never unpickled."""
    path = Path(path)
    if check_array_file(path) != "npy":
        raise ArrayFileError(f"{path}: an .npz archive where one .npy array was expected")
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, EOFError) as error:
        raise ArrayFileError(f"{path}: a damaged .npy array ({error})") from None


class SafeNpz:
    """An opened ``.npz`` (``files``, ``[name]``, ``in``), closed by ``with``; member read errors
    become :class:`ArrayFileError` naming the file and the array."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if check_array_file(self.path) != "npz":
            raise ArrayFileError(f"{self.path}: a single .npy array where an .npz archive was expected")
        self._npz = np.load(self.path, allow_pickle=False)
        self.files: list[str] = list(self._npz.files)

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.files:
            raise KeyError(name)
        try:
            return self._npz[name]
        except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as error:
            raise ArrayFileError(f"{self.path}: array {name!r} is damaged ({error})") from None

    def close(self) -> None:
        self._npz.close()

    def __enter__(self) -> SafeNpz:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_npz(path: str | os.PathLike) -> SafeNpz:
    """An ``.npz`` archive whose headers were checked (no pickled member), for ``with``."""
    return SafeNpz(path)


__all__ = ["ArrayFileError", "PickledArrayError", "SafeNpz", "check_array_file", "load_npy",
           "open_npz", "read_npy_dtype"]

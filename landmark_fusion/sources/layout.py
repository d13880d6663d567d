"""Helpers the per-image readers share: streaming folder walks, image look-up, stable splits.

Walks list one directory at a time (``os.scandir``, sorted), so the order is stable and no listing
of the whole database is ever held in memory. Directory symlinks are not followed (no loops);
file symlinks are yielded and left to :func:`~.base.safe_join` to check.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .base import RawFace, Rejected, SourceError, safe_join

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _sorted_entries(folder: str | Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def walk_files(root: Path, suffixes: Iterable[str], folder: Path | None = None,
               skip_dirs: Iterable[str] = ()) -> Iterator[str]:
    """Yield root-relative POSIX paths of files ending in ``suffixes`` (case-insensitive), depth first.

    ``folder`` (default ``root``) is where the walk starts; ``skip_dirs`` are directory names not
    entered (at any depth).
    """
    root_text = os.path.join(os.fspath(root), "")  # with a trailing separator
    suffixes = tuple(s.lower() for s in suffixes)
    skip = set(skip_dirs)
    stack = [os.fspath(folder) if folder is not None else root_text]
    while stack:
        current = stack.pop()
        subdirs = []
        for entry in _sorted_entries(current):
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in skip:
                    subdirs.append(entry.path)
            elif entry.name.lower().endswith(suffixes):
                yield _relative(entry.path, root_text)
        stack.extend(reversed(subdirs))


def _relative(path: str, root_text: str) -> str:
    """``path`` below ``root_text`` (which ends with a separator) as a POSIX relative path."""
    if path.startswith(root_text):
        relative = path[len(root_text):]
    else:
        relative = os.path.relpath(path, root_text)
    return relative.replace(os.sep, "/") if os.sep != "/" else relative


def list_dirs(folder: Path) -> list[str]:
    """Sorted names of the sub-directories of ``folder`` (one listing)."""
    return [e.name for e in _sorted_entries(Path(folder)) if e.is_dir(follow_symlinks=False)]


def find_image(annotation: Path, suffixes: Iterable[str] = IMAGE_SUFFIXES) -> Path:
    """The image beside ``annotation`` with the same stem; ``missing_image`` if there is none."""
    stem = os.path.splitext(os.fspath(annotation))[0]
    for suffix in suffixes:
        for variant in (suffix, suffix.upper()):
            if os.path.isfile(stem + variant):
                return Path(stem + variant)
    raise SourceError("missing_image",
                      f"{annotation}: no image with the same stem ({', '.join(suffixes)})")


def image_beside(root: Path, item: str, suffixes: Iterable[str] = IMAGE_SUFFIXES) -> str:
    """Root-relative POSIX name of the image beside the annotation ``item`` (same stem)."""
    suffix = os.path.splitext(os.fspath(find_image(os.path.join(root, item), suffixes)))[1]
    return os.path.splitext(item)[0] + suffix


def annotated_image(root: Path, item: str, suffixes: Iterable[str] = IMAGE_SUFFIXES
                    ) -> tuple[Path, str, Path]:
    """``(annotation path, root-relative image name, image path)`` for an annotation ``item`` with
    its image beside it (same stem); both paths are checked to stay inside the root."""
    annotation = safe_join(root, item)
    image_name = image_beside(root, item, suffixes)
    return annotation, image_name, safe_join(root, image_name)


def require_image(path: Path) -> Path:
    """``path`` if it is an existing file, else ``missing_image``."""
    if not Path(path).is_file():
        raise SourceError("missing_image", f"{path}: image file not found")
    return Path(path)


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key`` alone (same in every process and run)."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def hold_out_split(key: str, val_fraction: float) -> str:
    """``'val'`` for about ``val_fraction`` of the keys, ``'train'`` for the rest, by ``key``."""
    return "val" if stable_fraction(key) < val_fraction else "train"


def guarded(source: str, sample_id: str,
            parse: Callable[[], list[RawFace | Rejected]]) -> list[RawFace | Rejected]:
    """Run ``parse``; a :class:`SourceError` becomes one :class:`Rejected` for ``sample_id``."""
    try:
        return parse()
    except SourceError as error:
        return [Rejected(source, sample_id, error.reason, error.detail)]


def missing_to_nan(points: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """A copy of ``points`` with the rows of missing points set to NaN (no fake coordinates)."""
    points = np.array(points, dtype=np.float64)
    points[~np.asarray(visible, dtype=bool)] = np.nan
    return points

"""Helpers the per-image readers share: streaming folder walks, image look-up, stable splits.

Walks list one directory at a time (``os.scandir``, sorted), so the order is stable and no listing
of the whole database is ever held in memory. Links are followed, files and folders alike: users
assemble database folders with ``ln -s`` / ``cp -rs``. Each real folder is walked once; a folder
link that leads back to a folder already walked (a loop, or a second way to the same files) is
yielded as a ``link_loop`` :class:`~.base.Rejected` record, a folder that cannot be listed as
``unreadable_folder``, and two annotation files that differ only in the case of their suffix
(``a.pts``, ``a.PTS``: the same sample) as ``duplicate_sample`` -- never skipped silently.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .base import RawFace, Rejected, SourceError, safe_join

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

#: sample id of a rejection that concerns a database root as a whole
ROOT_ID = "<root>"

#: how many entries of a root a ``wrong_layout`` message names
LISTED_ENTRIES = 8


def _sorted_entries(folder: str | Path) -> list[os.DirEntry]:
    """The entries of ``folder`` sorted by name; raises ``OSError`` if it cannot be listed."""
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def _folder_id(root_text: str, path: str) -> str:
    """The root-relative id of a folder in a rejection: ``sub/dir/`` (``<root>`` for the root)."""
    relative = _relative(path, root_text)
    return ROOT_ID if relative in ("", ".") else relative.rstrip("/") + "/"


def _unreadable(source: str, root_text: str, path: str, error: OSError) -> Rejected:
    return Rejected(source, _folder_id(root_text, path), "unreadable_folder",
                    f"{path}: cannot list the folder ({error.strerror or error}); "
                    f"nothing below it is read")


def walk_files(root: Path, suffixes: Iterable[str], source: str, folder: Path | None = None,
               skip_dirs: Iterable[str] = (), recursive: bool = True) -> Iterator[str | Rejected]:
    """Yield root-relative POSIX paths of files ending in ``suffixes`` (case-insensitive), depth
    first, and a :class:`Rejected` record (of database ``source``) for each folder the walk
    cannot use (see the module doc).

    ``folder`` (default ``root``) is where the walk starts; ``skip_dirs`` are directory names not
    entered (at any depth); ``recursive=False`` reads ``folder`` alone.
    """
    root_text = os.path.join(os.fspath(root), "")  # with a trailing separator
    suffixes = tuple(s.lower() for s in suffixes)
    skip = set(skip_dirs)
    start = os.fspath(folder) if folder is not None else root_text
    try:
        info = os.stat(start)
    except OSError as error:
        yield _unreadable(source, root_text, start, error)
        return
    walked: dict[tuple[int, int], str] = {(info.st_dev, info.st_ino): start}
    stack = [start]
    while stack:
        current = stack.pop()
        try:
            entries = _sorted_entries(current)
        except OSError as error:
            yield _unreadable(source, root_text, current, error)
            continue
        subdirs = []
        seen: dict[tuple[str, str], str] = {}
        for entry in entries:
            if entry.is_dir():
                if recursive and entry.name not in skip:
                    subdirs.append(entry)
                continue
            if not entry.name.lower().endswith(suffixes):
                continue
            stem, suffix = os.path.splitext(entry.name)
            key = (stem, suffix.lower())
            relative = _relative(entry.path, root_text)
            if key in seen:
                yield Rejected(source, relative, "duplicate_sample",
                               f"{entry.path}: differs from {seen[key]} only in the case of its "
                               f"suffix (the same sample); only {seen[key]} is read")
                continue
            seen[key] = entry.name
            yield relative
        directories = []
        for entry in subdirs:
            try:
                info = entry.stat()  # follows a link
            except OSError as error:
                yield _unreadable(source, root_text, entry.path, error)
                continue
            identity = (info.st_dev, info.st_ino)
            if identity in walked:
                yield Rejected(source, _folder_id(root_text, entry.path), "link_loop",
                               f"{entry.path} leads to {os.path.realpath(entry.path)}, a folder "
                               f"already read as {walked[identity]}; not read again")
                continue
            walked[identity] = entry.path
            directories.append(entry.path)
        stack.extend(reversed(directories))


def _relative(path: str, root_text: str) -> str:
    """``path`` below ``root_text`` (which ends with a separator) as a POSIX relative path."""
    if path.startswith(root_text):
        relative = path[len(root_text):]
    else:
        relative = os.path.relpath(path, root_text)
    return relative.replace(os.sep, "/") if os.sep != "/" else relative


def list_dirs(folder: Path) -> list[str]:
    """Sorted names of the sub-directories of ``folder`` (one listing; linked folders count).

    Raises ``OSError`` if ``folder`` cannot be listed.
    """
    return [e.name for e in _sorted_entries(Path(folder)) if e.is_dir()]


def describe_folder(folder: Path) -> str:
    """What a folder holds, for a ``wrong_layout`` message: its first entries, folders marked ``/``."""
    try:
        entries = _sorted_entries(folder)
    except OSError as error:
        return f"it cannot be listed ({error.strerror or error})"
    if not entries:
        return "it is empty"
    names = [e.name + ("/" if e.is_dir() else "") for e in entries[:LISTED_ENTRIES]]
    more = f", … ({len(entries)} entries)" if len(entries) > LISTED_ENTRIES else ""
    return "it holds " + ", ".join(names) + more


def wrong_layout(source: str, root: Path, expected: str) -> Rejected:
    """The one rejection of a root whose layout matches nothing the reader knows."""
    return Rejected(source, ROOT_ID, "wrong_layout",
                    f"{root}: not a {source} root: expected {expected}; {describe_folder(root)}")


def expect_layout(source: str, root: Path, expected: str, items: Iterable[Any]) -> Iterator[Any]:
    """Yield ``items``; if there was none at all, one :func:`wrong_layout` record instead."""
    empty = True
    for item in items:
        empty = False
        yield item
    if empty:
        yield wrong_layout(source, root, expected)


def passes_rejections(read: Callable[[Any, Any], list[RawFace | Rejected]]
                      ) -> Callable[[Any, Any], list[RawFace | Rejected]]:
    """Decorate a reader's ``read``: a :class:`Rejected` record from ``items()`` comes back as is."""
    @functools.wraps(read)
    def wrapper(self: Any, item: Any) -> list[RawFace | Rejected]:
        if isinstance(item, Rejected):
            return [item]
        return read(self, item)
    return wrapper


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
    suffix = os.path.splitext(os.fspath(find_image(Path(root) / item, suffixes)))[1]
    return os.path.splitext(item)[0] + suffix


def image_id_beside(root: Path, item: str, suffixes: Iterable[str] = IMAGE_SUFFIXES) -> str:
    """The sample id of the face of annotation ``item``: the image beside it, else ``item``
    itself (the id its ``missing_image`` rejection carries)."""
    try:
        return image_beside(root, item, suffixes)
    except SourceError:
        return item


def annotated_image(root: Path, item: str, suffixes: Iterable[str] = IMAGE_SUFFIXES
                    ) -> tuple[Path, str, Path]:
    """``(annotation path, root-relative image name, image path)`` for an annotation ``item`` with
    its image beside it (same stem); both paths are checked to stay inside the root."""
    annotation = safe_join(root, item)
    image_name = image_beside(root, item, suffixes)
    return annotation, image_name, safe_join(root, image_name)


def require_image(path: Path | str) -> Path:
    """``path`` (as a :class:`~pathlib.Path`) if it is an existing file, else ``missing_image``."""
    if not os.path.isfile(path):
        raise SourceError("missing_image", f"{path}: image file not found")
    return path if isinstance(path, Path) else Path(path)


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

"""Correspondence files that passed the checks, remembered as JSON between commands.

Checking a folder costs a command about 0.13 s before it reads any face: PyYAML, pydantic and its
models (0.1 s to import and build), then the checks. A file whose exact bytes have passed them once
is stored here as the plain data of its :class:`~.vocabulary.Vocabulary` or
:class:`~.scheme.Scheme`, and the next command loads that (a few milliseconds) without importing
the checks.

An entry is named by a SHA-256 of everything its result depends on: the file's bytes and name, for a
scheme its vocabulary's bytes too, the package version and the size and modification time of every
module of this package (an edited check makes new keys). Only files that passed are stored; an
entry that is missing, unreadable or not what it should be is a miss, and the file is checked as
before. Entries are JSON, read with :func:`json.loads` (nothing is unpickled), written to a
temporary name and renamed, so a killed command never leaves half an entry.

Where: ``$LANDMARK_FUSION_CACHE/correspondences`` if that variable is set (``off``: no cache),
else ``$XDG_CACHE_HOME/landmark-fusion/correspondences``, else
``~/.cache/landmark-fusion/correspondences``. The folder holds nothing but these entries; deleting
it is always safe.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from .scheme import Scheme
from .vocabulary import Landmark, Vocabulary

#: Bumped when the layout of an entry changes.
ENTRY_VERSION = 1

T = TypeVar("T")


def cache_folder() -> Path | None:
    """The folder of the entries (see the module docstring), or None when the cache is off."""
    chosen = os.environ.get("LANDMARK_FUSION_CACHE")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen) / "correspondences"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "landmark-fusion" / "correspondences"


@cache
def _code_stamp() -> bytes:
    """What the checks' results depend on besides the files: the version and this package's
    modules (name, size, modification time)."""
    from .. import __version__

    parts = [f"entry {ENTRY_VERSION}", f"version {__version__}"]
    with os.scandir(os.path.dirname(__file__)) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.endswith(".py"):
                status = entry.stat()
                parts.append(f"{entry.name} {status.st_size} {status.st_mtime_ns}")
    return "\n".join(parts).encode()


def _key(kind: str, *files: tuple[str, bytes]) -> str:
    digest = hashlib.sha256(_code_stamp())
    digest.update(kind.encode())
    for name, data in files:
        digest.update(b"\0" + os.path.basename(name).encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def _read(key: str) -> dict[str, Any] | None:
    folder = cache_folder()
    if folder is None:
        return None
    try:
        entry = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("key") == key else None


def _stored(key: str, field: str, decode: Callable[[dict[str, Any]], T]) -> T | None:
    """The loaded file of entry ``key`` (its ``field`` decoded), None where there is none or it is
    not what it should be."""
    entry = _read(key)
    if entry is None:
        return None
    try:
        return decode(entry[field])
    except (KeyError, TypeError, ValueError):
        return None


def _write(key: str, content: dict[str, Any]) -> None:
    """Store an entry; a folder that cannot be written only means no cache."""
    folder = cache_folder()
    if folder is None:
        return
    temporary = folder / f".{key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump({"key": key, **content}, file)
            os.replace(temporary, folder / f"{key}.json")
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError:
        pass


# -- the data of a loaded file, and back -----------------------------------------------------------
def vocabulary_data(vocabulary: Vocabulary) -> dict[str, Any]:
    return {"names": list(vocabulary.names),
            "landmarks": [[m.name, m.region, m.mirror, m.description]
                          for m in vocabulary.landmarks.values()],
            "regions": [[name, text] for name, text in vocabulary.regions.items()]}


def vocabulary_from(data: dict[str, Any], path: str) -> Vocabulary:
    landmarks = {name: Landmark(name, region, mirror, description)
                 for name, region, mirror, description in data["landmarks"]}
    return Vocabulary(tuple(data["names"]), landmarks, {name: text for name, text in data["regions"]},
                      path)


def scheme_data(scheme: Scheme) -> dict[str, Any]:
    return {"name": scheme.name, "num_points": scheme.num_points, "names": list(scheme.names),
            "drop_rules": [[i, rule, reason] for i, (rule, reason) in scheme.drop_rules.items()],
            "drop_mirrors": [[i, j] for i, j in scheme.drop_mirrors.items()],
            "description": scheme.description, "databases": list(scheme.databases),
            "expected_kept": scheme.expected_kept, "paper_kept": scheme.paper_kept,
            "fixed": scheme.fixed, "notes": scheme.notes,
            "describes": [[i, text] for i, text in scheme.describes.items()],
            "native": [[i, text] for i, text in scheme.native.items()]}


def scheme_from(data: dict[str, Any], vocabulary: Vocabulary, path: str) -> Scheme:
    return Scheme(
        name=data["name"], num_points=int(data["num_points"]), names=tuple(data["names"]),
        drop_rules={int(i): (int(rule), reason) for i, rule, reason in data["drop_rules"]},
        drop_mirrors={int(i): int(j) for i, j in data["drop_mirrors"]}, vocabulary=vocabulary,
        description=data["description"], databases=tuple(data["databases"]),
        expected_kept=data["expected_kept"], paper_kept=data["paper_kept"],
        fixed=bool(data["fixed"]), notes=data["notes"],
        describes={int(i): text for i, text in data["describes"]},
        native={int(i): text for i, text in data["native"]}, path=path)


# -- the loaders' side -----------------------------------------------------------------------------
def _bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


def cached_vocabulary(path: str) -> tuple[Vocabulary | None, str | None]:
    """``(the vocabulary stored for the file's bytes or None, the key to store it under)``."""
    data = _bytes(path)
    if data is None or cache_folder() is None:
        return None, None
    key = _key("vocabulary", (path, data))
    return _stored(key, "vocabulary", lambda content: vocabulary_from(content, path)), key


def store_vocabulary(key: str | None, vocabulary: Vocabulary) -> None:
    if key is not None:
        _write(key, {"vocabulary": vocabulary_data(vocabulary)})


def cached_scheme(path: str, vocabulary: Vocabulary) -> tuple[Scheme | None, str | None]:
    """``(the scheme stored for the bytes of the file and its vocabulary or None, its key)``."""
    data, words = _bytes(path), _bytes(vocabulary.path)
    if data is None or words is None or cache_folder() is None:
        return None, None
    key = _key("scheme", (vocabulary.path, words), (path, data))
    return _stored(key, "scheme", lambda content: scheme_from(content, vocabulary, path)), key


def store_scheme(key: str | None, scheme: Scheme) -> None:
    if key is not None:
        _write(key, {"scheme": scheme_data(scheme)})

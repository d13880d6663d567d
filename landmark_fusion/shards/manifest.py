"""``manifest.json`` of a Parquet shard set: its parts in row order and what each build put there.

``fuse build`` writes it into every Parquet set (docs/shards.md, "Growing a set")::

    {"kind": "landmark-fusion shard set", "format_version": 1,
     "attributes": {...},                      # the set's attributes (ShardInfo.to_attrs)
     "parts": [{"file": "part-00000.parquet", "rows": 2000, "sources": {"1": 2000}}, ...],
     "databases": {"300w": {...}, ...}}        # per database: its report section and settings

``parts[i].sources`` maps a source code (its position in the fixed database registry, the
``source_names`` attribute) to the rows of that database in the part, so one database's parts can be
dropped or replaced without reading any other. The reader (:mod:`.parquet`) follows ``parts`` and
takes the attributes from here where the file exists; a set without it (written before) is read from
its ``part-*.parquet`` files in name order, as always. The file is replaced whole or not at all.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .schema import FORMAT_VERSION

MANIFEST_NAME = "manifest.json"
MANIFEST_KIND = "landmark-fusion shard set"
MANIFEST_KEYS = ("kind", "format_version", "attributes", "parts", "databases")
_READ_LIMIT = 256 * 1024 * 1024


class ManifestError(ValueError):
    """A ``manifest.json`` that is not one of this tool's, or that cannot be read."""


def manifest_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / MANIFEST_NAME


def is_manifest(path: Path) -> bool:
    """Whether ``path`` is a manifest this tool wrote (kind and keys), without raising."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _READ_LIMIT:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == MANIFEST_KIND and all(
        key in data for key in MANIFEST_KEYS)


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of the set in ``folder``, or None where it has none."""
    path = manifest_path(folder)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"{path}: cannot be read ({error})") from None
    if not isinstance(data, dict) or data.get("kind") != MANIFEST_KIND or any(
            key not in data for key in MANIFEST_KEYS):
        raise ManifestError(f"{path}: not a shard-set manifest written by fuse build")
    if int(data["format_version"]) > FORMAT_VERSION:
        raise ManifestError(f"{path}: format version {data['format_version']} is newer than this "
                            f"reader ({FORMAT_VERSION})")
    return data


def write_manifest(folder: str | os.PathLike, attributes: dict[str, Any], parts: list[dict],
                   databases: dict[str, Any]) -> Path:
    """Write (or replace, whole) the manifest of the set in ``folder``."""
    path = manifest_path(folder)
    data = {"kind": MANIFEST_KIND, "format_version": FORMAT_VERSION, "attributes": attributes,
            "parts": [{"file": part["file"], "rows": int(part["rows"]),
                       "sources": {str(code): int(rows) for code, rows in part["sources"].items()}}
                      for part in parts],
            "databases": databases}
    temporary = path.with_name(f".{MANIFEST_NAME}.tmp")
    temporary.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


__all__ = ["MANIFEST_NAME", "ManifestError", "is_manifest", "manifest_path", "read_manifest",
           "write_manifest"]

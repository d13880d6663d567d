"""``roots.yaml``: where each database lives on disk.

Each key is a database name (``aflw``, ``300w``, ``300w_lp``, ``aflw2000_3d``, ``ls3d_w``,
``facewarehouse``, ``lfw74``, ``wflw``); the value is either a folder, or a mapping
``{path: FOLDER, options: {...}}`` whose options are passed to the database's reader as keyword
arguments. Relative folders are relative to the roots file. Without ``--roots`` the file is
``$LANDMARK_FUSION_ROOTS`` if set, else ``./roots.yaml``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "LANDMARK_FUSION_ROOTS"


class RootsError(ValueError):
    """A roots file that cannot be used (missing, malformed, unknown database, missing folder)."""


@dataclass(frozen=True)
class Root:
    """One database entry of a roots file."""

    name: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)


def default_roots_path() -> Path:
    """``$LANDMARK_FUSION_ROOTS`` if set, else ``./roots.yaml``."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path("roots.yaml")


def parse_roots(data: Any, base: Path, where: str = "roots") -> dict[str, Root]:
    """Validate the parsed YAML of a roots file; ``base`` resolves relative folders."""
    from .sources import SOURCES

    if not isinstance(data, dict) or not data:
        raise RootsError(f"{where}: expected a mapping of database name to folder")
    roots: dict[str, Root] = {}
    for name, value in data.items():
        name = str(name)
        if name not in SOURCES:
            raise RootsError(f"{where}: unknown database {name!r}; known: {', '.join(SOURCES)}")
        options: dict[str, Any] = {}
        if isinstance(value, dict):
            unknown = set(value) - {"path", "options"}
            if "path" not in value or unknown:
                raise RootsError(f"{where}: {name}: a mapping entry needs 'path' and optional "
                                 f"'options' only (got {sorted(value)})")
            options = value.get("options") or {}
            if not isinstance(options, dict):
                raise RootsError(f"{where}: {name}: 'options' must be a mapping")
            value = value["path"]
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise RootsError(f"{where}: {name}: folder must be a path string")
        path = Path(os.path.expanduser(str(value)))
        if not path.is_absolute():
            path = base / path
        roots[name] = Root(name, path.resolve(), dict(options))
    return roots


def load_roots(path: str | os.PathLike | None = None) -> dict[str, Root]:
    """Read and validate a roots file (default: :func:`default_roots_path`)."""
    import yaml

    path = Path(path) if path is not None else default_roots_path()
    if not path.is_file():
        raise RootsError(f"roots file {path} not found (pass --roots or set ${ENV_VAR})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RootsError(f"{path}: not valid YAML ({error})") from None
    return parse_roots(data, path.resolve().parent, str(path))


def select_sources(roots: dict[str, Root], spec: str) -> list[Root]:
    """``all`` (every database in the roots file, in file order) or a comma list of names."""
    spec = spec.strip()
    if spec == "all":
        chosen = list(roots)
    else:
        chosen = [name.strip() for name in spec.split(",") if name.strip()]
        if not chosen:
            raise RootsError("--sources: empty list")
        missing = [name for name in chosen if name not in roots]
        if missing:
            raise RootsError(f"--sources: {', '.join(missing)} not in the roots file "
                             f"(it has: {', '.join(roots)})")
        if len(set(chosen)) != len(chosen):
            raise RootsError("--sources: a database is named twice")
    for name in chosen:
        if not roots[name].path.is_dir():
            raise RootsError(f"{name}: folder {roots[name].path} does not exist")
    return [roots[name] for name in chosen]

"""Where each file lives inside a correspondence folder (the folder itself: :mod:`landmark_fusion.paths`)."""
from __future__ import annotations

import os
from pathlib import Path

from ..paths import correspondences_dir
from .conventions import NAME_PATTERN

VOCABULARY_FILE = "landmarks.yaml"
SCHEMES_DIR = "schemes"


def resolved_folder(corr_dir: str | os.PathLike | None = None) -> Path:
    """The correspondence folder in use (``corr_dir`` if given), resolved."""
    return correspondences_dir(corr_dir).resolve()


def vocabulary_path(corr_dir: str | os.PathLike | None = None) -> Path:
    """Where the vocabulary (``landmarks.yaml``) of ``corr_dir`` lives."""
    return resolved_folder(corr_dir) / VOCABULARY_FILE


def scheme_path(name: str, corr_dir: str | os.PathLike | None = None) -> Path:
    """Where the file of scheme ``name`` lives."""
    if not NAME_PATTERN.match(name):
        raise KeyError(f"not a scheme name: {name!r}")
    return resolved_folder(corr_dir) / SCHEMES_DIR / f"{name}.yaml"


def list_schemes(corr_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the schemes in ``corr_dir`` (file stems of ``schemes/*.yaml``), sorted."""
    folder = resolved_folder(corr_dir) / SCHEMES_DIR
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())


__all__ = ["SCHEMES_DIR", "VOCABULARY_FILE", "list_schemes", "resolved_folder", "scheme_path",
           "vocabulary_path"]

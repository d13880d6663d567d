"""Face models: `FaceModel` (one convention, own npz format), converters, Manifold Harmonics.

``load_model_table`` (model vertex tables) lives in ``tables.py`` and is imported on first use.
"""
from typing import Any

from .convert import PickleRefusedError, detect_format, load_model
from .model import FaceModel, FaceModelError

__all__ = ["FaceModel", "FaceModelError", "PickleRefusedError", "detect_format", "load_model",
           "load_model_table"]


def __getattr__(name: str) -> Any:
    if name in ("load_model_table", "ModelTable"):
        from . import tables

        return getattr(tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

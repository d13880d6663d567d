"""Converters from the real model formats to `FaceModel`, chosen by what a path is.

`load_model` accepts anything `fuse model convert` reads: the project's own npz, the converted ICT npz,
an eos ``.bin``, a BFM2009 ``.mat``, a BFM2017 ``.h5``, an ICT ``FaceXModel/`` folder, a 3DDFA folder,
or (only with ``allow_pickle``) a 3DDFA_V2 pickle. Each format is one record of ``formats.py``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...safeload import ArrayFileError
from ..model import FaceModel, FaceModelError
from .common import PickleRefusedError
from .formats import FORMAT_NAMES, ModelFormat, model_format
from .formats import FORMATS as FORMAT_RECORDS

__all__ = ["load_model", "detect_format", "PickleRefusedError", "FORMATS"]

FORMATS = FORMAT_NAMES


def _none_of(descriptions: Sequence[str]) -> str:
    if len(descriptions) == 1:
        return f"not {descriptions[0]}"
    if len(descriptions) == 2:
        return f"neither {descriptions[0]} nor {descriptions[1]}"
    return "none of " + ", ".join(descriptions)


def detect_format(path: str | os.PathLike) -> str:
    """Which of `FORMATS` ``path`` is, from its type, name and (cheaply read) content."""
    path = Path(path)
    if not path.exists():
        raise FaceModelError(f"{path}: no such file or folder")
    claiming = [fmt for fmt in FORMAT_RECORDS if fmt.claims(path)]
    if not claiming:
        raise FaceModelError(f"{path}: unknown model format")
    for fmt in claiming:
        if fmt.check is None or fmt.check(path):
            return fmt.name
    what = "a folder" if path.is_dir() else f"a {path.suffix.lower() or path.name} file"
    hints = "; ".join(fmt.hint for fmt in claiming if fmt.hint)
    raise FaceModelError(f"{path}: {what} that is {_none_of([fmt.description for fmt in claiming])}"
                         + (f" ({hints})" if hints else ""))


def load_model(path: str | os.PathLike, allow_pickle: bool = False, num_id: int | None = None,
               num_exp: int | None = None, units: str | None = None, **options: Any) -> FaceModel:
    """Read any supported model file as a `FaceModel`.

    ``num_id`` / ``num_exp`` pick component counts (default: the paper's 100 + 29 where the model has
    them, else all); ``units`` converts lengths (e.g. ``"mm"``); other ``options`` go to the
    converter (``expression``, ``trim_index``, ``exp_std`` for BFM2009; ``blendshapes`` for eos;
    ``region`` for the ICT folder; ``name``): an option the format's converter does not take is an
    error naming the formats that take it.
    """
    path = Path(path)
    fmt = "a model file"
    try:
        fmt = detect_format(path)
        model = _convert(path, model_format(fmt), allow_pickle, num_id, num_exp, options)
    except (FaceModelError, ArrayFileError, FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as error:  # noqa: BLE001 - scipy, h5py, struct, zip: each raises its own kind
        # a damaged or truncated file inside a converter's parser
        raise FaceModelError(f"{path}: cannot read it as {fmt} ({type(error).__name__}: {error})") from None
    model.metadata.setdefault("format_detected", fmt)
    return model.to_units(units) if units else model


def _convert(path: Path, fmt: ModelFormat, allow_pickle: bool, num_id: int | None,
             num_exp: int | None, options: dict[str, Any]) -> FaceModel:
    """The converter of ``fmt`` applied to ``path``."""
    unknown = [key for key in options if key not in fmt.options]
    if unknown:
        takers = [f.name for f in FORMAT_RECORDS if unknown[0] in f.options]
        raise FaceModelError(f"{path}: option {unknown[0]} is for {', '.join(takers) or 'no format'}, "
                             f"not {fmt.name} ({fmt.name} takes {', '.join(fmt.options) or 'none'})")
    extra = {"allow_pickle": allow_pickle} if fmt.pickle else {}
    return fmt.convert(path, num_id=num_id, num_exp=num_exp, **extra, **options)

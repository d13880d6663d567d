"""Converters from the real model formats to `FaceModel`, chosen by what a path is.

`load_model` accepts anything `fuse model convert` reads: the project's own npz, the converted ICT npz,
an eos ``.bin``, a BFM2009 ``.mat``, a BFM2017 ``.h5``, an ICT ``FaceXModel/`` folder, a 3DDFA folder,
or (only with ``allow_pickle``) a 3DDFA_V2 pickle.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...safeload import ArrayFileError, open_npz
from ..model import FaceModel, FaceModelError, is_facemodel_npz
from .common import PickleRefusedError, is_pickle_path, load_pickle

__all__ = ["load_model", "detect_format", "PickleRefusedError", "FORMATS"]

FORMATS = ("facemodel-npz", "ict-npz", "eos", "bfm2009", "bfm2017", "ict-folder", "3ddfa", "3ddfa-pickle")


def detect_format(path: str | os.PathLike) -> str:
    """Which of `FORMATS` ``path`` is, from its type, name and (cheaply read) content."""
    path = Path(path)
    if not path.exists():
        raise FaceModelError(f"{path}: no such file or folder")
    if path.is_dir():
        from .ddfa import is_ddfa_folder
        from .ict import NEUTRAL_OBJ

        if (path / NEUTRAL_OBJ).exists():
            return "ict-folder"
        if is_ddfa_folder(path):
            return "3ddfa"
        raise FaceModelError(f"{path}: a folder with neither {NEUTRAL_OBJ} (ICT) nor u_shp.npy (3DDFA)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        from .ict import is_ict_npz

        with open_npz(path) as d:
            if is_facemodel_npz(d):
                return "facemodel-npz"
            if is_ict_npz(d):
                return "ict-npz"
        raise FaceModelError(f"{path}: an npz that is neither a FaceModel file nor the ICT face npz")
    if suffix == ".bin":
        with open(path, "rb") as fh:
            head = np.frombuffer(fh.read(12), "<u4")
        if len(head) >= 1 and 1 <= head[0] <= 4:
            return "eos"
        raise FaceModelError(f"{path}: not an eos MorphableModel (an expression-only file such as "
                             "Exp_Pca.bin or eos blendshapes goes with --expression/--blendshapes)")
    if suffix == ".mat":
        import scipy.io

        keys = {name for name, _, _ in scipy.io.whosmat(str(path))}
        if {"shapeMU", "shapePC", "shapeEV", "tl"} <= keys:
            return "bfm2009"
        raise FaceModelError(f"{path}: a .mat without BFM2009's shapeMU/shapePC/shapeEV/tl "
                             "(an expression .mat goes with --expression)")
    if suffix in (".h5", ".hdf5"):
        return "bfm2017"
    if is_pickle_path(path):
        return "3ddfa-pickle"
    if path.name == "u_shp.npy":
        return "3ddfa"
    raise FaceModelError(f"{path}: unknown model format")


def load_model(path: str | os.PathLike, allow_pickle: bool = False, num_id: int | None = None,
               num_exp: int | None = None, units: str | None = None, **options: Any) -> FaceModel:
    """Read any supported model file as a `FaceModel`.

    ``num_id`` / ``num_exp`` pick component counts (default: the paper's 100 + 29 where the model has
    them, else all); ``units`` converts lengths (e.g. ``"mm"``); other ``options`` go to the
    converter (``expression``, ``trim_index``, ``exp_std`` for BFM2009; ``blendshapes`` for eos;
    ``region`` for the ICT folder; ``name``).
    """
    path = Path(path)
    fmt = "a model file"
    try:
        fmt = detect_format(path)
        model = _convert(path, fmt, allow_pickle, num_id, num_exp, options)
    except (FaceModelError, ArrayFileError, FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as error:  # noqa: BLE001 - scipy, h5py, struct, zip: each raises its own kind
        # a damaged or truncated file inside a converter's parser
        raise FaceModelError(f"{path}: cannot read it as {fmt} ({type(error).__name__}: {error})") from None
    model.metadata.setdefault("format_detected", fmt)
    return model.to_units(units) if units else model


def _convert(path: Path, fmt: str, allow_pickle: bool, num_id: int | None, num_exp: int | None,
             options: dict[str, Any]) -> FaceModel:
    """The converter of ``fmt`` applied to ``path``."""
    if fmt == "facemodel-npz":
        model = FaceModel.load(path)
        return model.truncate(num_id, num_exp) if num_id is not None or num_exp is not None else model
    if fmt == "ict-npz":
        from .ict import convert_ict_npz

        return convert_ict_npz(path, num_id, num_exp, **options)
    if fmt == "ict-folder":
        from .ict import convert_ict_folder

        return convert_ict_folder(path, num_id=num_id, num_exp=num_exp, **options)
    if fmt == "eos":
        from .eos import convert_eos

        return convert_eos(path, num_id=num_id, num_exp=num_exp, **options)
    if fmt == "bfm2009":
        from .bfm import convert_bfm2009

        return convert_bfm2009(path, num_id=num_id, num_exp=num_exp, **options)
    if fmt == "bfm2017":
        from .bfm import convert_bfm2017

        return convert_bfm2017(path, num_id=num_id, num_exp=num_exp, **options)
    if fmt == "3ddfa":
        from .ddfa import convert_ddfa_folder

        folder = path if path.is_dir() else path.parent
        return convert_ddfa_folder(folder, allow_pickle, num_id, num_exp, **options)
    from .ddfa import convert_ddfa_pickle

    return convert_ddfa_pickle(path, allow_pickle, num_id, num_exp, **options)

"""The project's own model npz (docs/models.md §File format) as one more input of ``load_model``."""
from __future__ import annotations

import os
from dataclasses import replace

from ...safeload import open_npz
from ..model import FaceModel, is_facemodel_npz


def is_facemodel_npz_file(path: str | os.PathLike) -> bool:
    """Whether an ``.npz`` file is a `FaceModel` file (its ``format`` key)."""
    with open_npz(path) as npz:
        return is_facemodel_npz(npz)


def convert_facemodel_npz(path: str | os.PathLike, num_id: int | None = None,
                          num_exp: int | None = None, name: str | None = None) -> FaceModel:
    """The saved model, with its first ``num_id`` / ``num_exp`` components and ``name`` if given."""
    model = FaceModel.load(path)
    if num_id is not None or num_exp is not None:
        model = model.truncate(num_id, num_exp)
    return model if name is None else replace(model, name=name)

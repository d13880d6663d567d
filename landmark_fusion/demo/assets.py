"""The face the demo renders: the synthetic model by default, or a real FaceModel (``--model PATH``).

A real model has no materials, so they are painted from its landmark table: vertices inside the
brow loops, the eye outlines and the lip outlines (seen from the front) get brow, eye and lip colours.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .scene import FaceAssets
from .synthetic_model import BROW, IRIS, LIPS, MOUTH, PUPIL, SCLERA, SKIN, synthetic_model

_BROW = ("outer", "upper_1of4", "upper_mid", "upper_3of4", "inner", "lower_4of5", "lower_3of5",
         "lower_2of5", "lower_1of5")
_EYE = ("outer", "upper_lid_1of4", "upper_lid_mid", "upper_lid_3of4", "inner", "lower_lid_3of4",
        "lower_lid_mid", "lower_lid_1of4")
_LIPS_OUTER = ("mouth_r_corner", "mouth_r_upper_outer_1of3", "mouth_r_upper_outer_2of3", "mouth_upper_outer_mid",
               "mouth_l_upper_outer_2of3", "mouth_l_upper_outer_1of3", "mouth_l_corner",
               "mouth_l_lower_outer_1of3", "mouth_l_lower_outer_2of3", "mouth_lower_outer_mid",
               "mouth_r_lower_outer_2of3", "mouth_r_lower_outer_1of3")
_LIPS_INNER = ("mouth_r_inner_corner", "mouth_r_upper_inner_1of2", "mouth_upper_inner_mid",
               "mouth_l_upper_inner_1of2", "mouth_l_inner_corner", "mouth_l_lower_inner_1of2",
               "mouth_lower_inner_mid", "mouth_r_lower_inner_1of2")


def face_size(mean: np.ndarray, table: dict[str, int]) -> float:
    """Brow-to-chin height of the mean face (model units): what the framing scales to pixels."""
    return float(abs(mean[table["nose_bridge_top"], 1] - mean[table["chin"], 1]) * 1.3)


def synthetic_assets() -> FaceAssets:
    face = synthetic_model()
    return FaceAssets(face.model, face.table, face.materials, face_size(face.model.mean, face.table))


def painted_materials(mean: np.ndarray, table: dict[str, int]) -> np.ndarray:
    """Materials of a real model's vertices from the outlines its landmark table spans."""
    from matplotlib.path import Path as Polygon

    mat = np.full(len(mean), SKIN, dtype=np.int8)
    xy = mean[:, :2]

    def paint(names, material, inside_of=None):
        if not all(n in table for n in names):
            return np.zeros(len(mean), dtype=bool)
        pts = mean[[table[n] for n in names]]
        front = mean[:, 2] >= pts[:, 2].min() - 0.3 * np.ptp(pts[:, 0])
        inside = Polygon(pts[:, :2]).contains_points(xy) & front
        if inside_of is not None:
            inside &= inside_of
        mat[inside] = material
        return inside

    for side in ("r", "l"):
        paint([f"brow_{side}_{p}" for p in _BROW], BROW)
        names = [f"eye_{side}_{p}" for p in _EYE]
        eye = paint(names, SCLERA)
        if eye.any():
            pts = mean[[table[n] for n in names]]
            centre = pts.mean(axis=0)
            radius = 0.2 * np.ptp(pts[:, 0])
            r = np.linalg.norm(xy - centre[:2], axis=1)
            mat[eye & (r <= radius)] = IRIS
            mat[eye & (r <= 0.4 * radius)] = PUPIL
    lips = paint(_LIPS_OUTER, LIPS)
    paint(_LIPS_INNER, MOUTH, inside_of=lips)
    return mat


def load_assets(model_path: str | Path | None = None) -> FaceAssets:
    """The synthetic face, or the FaceModel npz at ``model_path`` with its vertex table."""
    if model_path is None:
        return synthetic_assets()
    from landmark_fusion.facemodel import tables
    from landmark_fusion.facemodel.model import FaceModel

    model = FaceModel.load(model_path)
    mapping = _vertices(tables.table_for(model))
    return FaceAssets(model, mapping, painted_materials(model.mean, mapping), face_size(model.mean, mapping))


def _vertices(table) -> dict[str, int]:
    """canonical name → vertex of a ModelTable (a mapping of name → entry with ``.vertex``)."""
    return {name: int(getattr(entry, "vertex", entry)) for name, entry in table.items()}

"""Each scheme's native points for a rendered face: the semantic half of the demo's annotations.

Every native index of a scheme is produced by one of three rules:

- a **named** index (scheme index → canonical name → model vertex): the projected vertex;
- a **2-D contour** point (iBUG-68 jaw 0–16, FaceWarehouse contour 0–14, WFLW contour 0–32 except
  the chin): the face outline for the current pose. The fixed 3-D jaw line of the model (the
  ``jaw_*`` landmarks) is resampled to the scheme's number of contour points; through each resampled
  point runs an iso-height line of vertices across the cheek, and the contour point is the vertex on
  that line that lies outermost in the image on its side -- the fixed jaw vertex where that side
  faces the camera, the cheek silhouette where it turns away;
- a **centre** (AFLW eye and mouth centres, FaceWarehouse mouth centre, WFLW pupils): the mean of the
  vertices of the named landmarks around it (3DDFA's ``benchmark_aflw.py`` uses the same means for
  AFLW: eye centre = mean of the six eye points, mouth centre = mean of the eight inner-lip points).

Layouts of the contours and centres: docs/formats.md §1.1, §2, §6, §8.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmark_fusion.correspondence import load_scheme

from .renderer import visible_points

# native index ranges of the 2-D contours (image-left end → chin → image-right end)
CONTOURS: dict[str, range] = {"ibug68": range(0, 17), "fw74": range(0, 15), "wflw98": range(0, 33)}

_EYE = ("outer", "upper_lid_1of3", "upper_lid_2of3", "inner", "lower_lid_2of3", "lower_lid_1of3")
_EYE8 = ("outer", "upper_lid_1of4", "upper_lid_mid", "upper_lid_3of4", "inner", "lower_lid_3of4",
         "lower_lid_mid", "lower_lid_1of4")
_INNER_LIP = ("mouth_r_inner_corner", "mouth_r_upper_inner_1of2", "mouth_upper_inner_mid",
              "mouth_l_upper_inner_1of2", "mouth_l_inner_corner", "mouth_l_lower_inner_1of2",
              "mouth_lower_inner_mid", "mouth_r_lower_inner_1of2")

#: centre points: scheme → native index → canonical names whose vertices are averaged
CENTRES: dict[str, dict[int, tuple[str, ...]]] = {
    "aflw21": {7: tuple(f"eye_r_{p}" for p in _EYE), 10: tuple(f"eye_l_{p}" for p in _EYE), 18: _INNER_LIP},
    "fw74": {64: _INNER_LIP},
    "wflw98": {96: tuple(f"eye_r_{p}" for p in _EYE8), 97: tuple(f"eye_l_{p}" for p in _EYE8)},
}

#: the fixed 3-D jaw line, subject's right upper end → chin → left upper end (iBUG-68-fixed 0–16)
JAW_NAMES = (["jaw_r_top"] + [f"jaw_r_{k}of8" for k in range(1, 8)] + ["chin"]
             + [f"jaw_l_{k}of8" for k in range(7, 0, -1)] + ["jaw_l_top"])


@dataclass
class _Rule:
    kind: str                   # vertex | contour | centre
    vertices: np.ndarray        # vertex (1,), contour line, or centre members
    side: int = 0               # contour: -1 image-left (subject's right), +1 image-right, 0 chin


@dataclass
class NativePoints:
    points: np.ndarray          # (K, 2) image pixels, 0-based, native order
    visible: np.ndarray         # (K,) bool, by the z-buffer
    points3d: np.ndarray        # (K, 3) x, y, depth (pixels, + = closer), before annotation noise


class SchemePoints:
    """Native points of every scheme for faces of one model (built once, used for every render)."""

    def __init__(self, model, table: dict[str, int], schemes: tuple[str, ...] = ("ibug68", "ibug68_fixed",
                 "aflw21", "fw74", "wflw98"), corr_dir=None):
        self.model = model
        self.table = dict(table)
        mean = np.asarray(model.mean, dtype=np.float64)
        missing = [n for n in JAW_NAMES if n not in self.table]
        if missing:
            raise KeyError(f"model table of {model.name!r} lacks the jaw landmarks {missing}")
        jaw = mean[[self.table[n] for n in JAW_NAMES]]
        size = float(np.ptp(mean[[self.table[n] for n in ("chin", "nose_bridge_top")], 1]))
        self.rules: dict[str, list[_Rule]] = {}
        for name in schemes:
            scheme = load_scheme(name, corr_dir)
            contour = CONTOURS.get(name, range(0))
            lines = _contour_lines(mean, jaw, len(contour), size) if len(contour) else []
            rules = []
            for i, canon in enumerate(scheme.index_to_name):
                if canon is not None:
                    if canon not in self.table:
                        raise KeyError(f"model table of {model.name!r} lacks {canon!r} ({name} index {i})")
                    rules.append(_Rule("vertex", np.array([self.table[canon]])))
                elif i in contour:
                    k = i - contour.start
                    mid = (len(contour) - 1) / 2
                    rules.append(_Rule("contour", lines[k], int(np.sign(k - mid))))
                elif i in CENTRES.get(name, {}):
                    rules.append(_Rule("centre", np.array([self.table[n] for n in CENTRES[name][i]])))
                else:
                    raise KeyError(f"no rule for {name} index {i} (dropped, neither contour nor centre)")
            self.rules[name] = rules

    def native(self, scheme: str, vertices: np.ndarray, rotation: np.ndarray, raster=None,
               face_size: float = 1.0, noise: float = 0.0, rng: np.random.Generator | None = None,
               tolerance: float = 0.02) -> NativePoints:
        """Points of ``scheme`` for projected ``vertices`` (N,3: x, y pixels, depth).

        ``rotation`` is the model→camera rotation (its first column gives the face's left-right
        direction for the contour); ``raster`` (the z-buffer) decides visibility; ``noise`` is the
        annotation noise in units of ``face_size`` (Gaussian, per coordinate).
        """
        lateral = np.array([rotation[0, 0], -rotation[1, 0]])
        pts3 = np.zeros((len(self.rules[scheme]), 3))
        is_vertex = np.zeros(len(pts3), dtype=bool)
        for i, rule in enumerate(self.rules[scheme]):
            if rule.kind == "contour" and rule.side != 0:
                cand = vertices[rule.vertices]
                pick = np.argmax(rule.side * (cand[:, :2] @ lateral))
                pts3[i] = cand[pick]
            else:
                pts3[i] = vertices[rule.vertices].mean(axis=0)
                is_vertex[i] = rule.kind != "centre"
        visible = np.ones(len(pts3), dtype=bool)
        if raster is not None:
            vis = visible_points(pts3[:, :2], pts3[:, 2], raster, tolerance * face_size)
            for i, rule in enumerate(self.rules[scheme]):
                if rule.kind == "centre":
                    v = vertices[rule.vertices]
                    vis[i] = visible_points(v[:, :2], v[:, 2], raster, tolerance * face_size).mean() >= 0.5
                elif rule.kind == "contour":
                    vis[i] = True
            visible = vis
        pts = pts3[:, :2].copy()
        if noise > 0:
            rng = rng or np.random.default_rng()
            pts += rng.normal(0.0, noise * face_size, pts.shape)
        return NativePoints(pts, visible, pts3)


def _contour_lines(mean: np.ndarray, jaw: np.ndarray, n: int, size: float) -> list[np.ndarray]:
    """For n contour points, the vertices of the iso-height line through each resampled jaw point."""
    seg = np.linalg.norm(np.diff(jaw, axis=0), axis=1)
    arc = np.concatenate([[0], np.cumsum(seg)])
    targets = np.linspace(0, arc[-1], n)
    fixed = np.stack([np.interp(targets, arc, jaw[:, d]) for d in range(3)], 1)
    band = 0.02 * size
    centre_x = jaw[len(jaw) // 2, 0]
    out = []
    for p in fixed:
        v0 = int(np.argmin(np.linalg.norm(mean - p, axis=1)))
        dx = mean[:, 0] - centre_x
        px = p[0] - centre_x
        near = np.abs(mean[:, 1] - p[1]) <= band
        same_side = (dx * np.sign(px) >= 0.3 * abs(px)) & (np.abs(dx) <= abs(px) + band)
        front = mean[:, 2] >= p[2] - band
        line = np.nonzero(near & same_side & front)[0]
        out.append(np.unique(np.concatenate([[v0], line])).astype(np.int64))
    return out

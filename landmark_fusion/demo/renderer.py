"""A small software renderer: z-buffered triangle rasterisation in numpy, no GPU, no OpenGL.

Triangles are rasterised all at once, grouped by the size of their pixel bounding box: each group
tests the pixel centres of its boxes with edge functions in one vectorised step, and the nearest
fragment per pixel wins (z-buffer; larger depth = closer to the viewer). Colours are per vertex
(Gouraud) and interpolated with the barycentric coordinates. Pixel centres are at integer
coordinates (0-based), the convention of the fusion readers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Raster:
    """Result of rasterising a mesh: per pixel, the covering triangle (-1 = none) and its depth."""

    triangle: np.ndarray   # (H, W) int64
    depth: np.ndarray      # (H, W) float64, -inf where empty
    bary: np.ndarray       # (H, W, 3) float64 barycentric weights of the triangle's vertices

    @property
    def mask(self) -> np.ndarray:
        return self.triangle >= 0


def rasterize(xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, height: int, width: int,
              cull_back: bool = True) -> Raster:
    """Rasterise triangles given in image coordinates (x right, y down) with per-vertex depth.

    ``cull_back`` drops triangles whose corners run clockwise on screen in the (x, -y) frame, i.e.
    faces turned away from the viewer for a mesh that is counter-clockwise seen from the front.
    """
    xy = np.asarray(xy, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    p = xy[tri]                                   # (T, 3, 2)
    e1 = p[:, 1] - p[:, 0]
    e2 = p[:, 2] - p[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # image frame (y down): front faces negative
    keep = np.abs(area) > 1e-12
    if cull_back:
        keep &= area < 0
    x0 = np.ceil(p[:, :, 0].min(1)).astype(np.int64)
    x1 = np.floor(p[:, :, 0].max(1)).astype(np.int64)
    y0 = np.ceil(p[:, :, 1].min(1)).astype(np.int64)
    y1 = np.floor(p[:, :, 1].max(1)).astype(np.int64)
    x0, y0 = np.maximum(x0, 0), np.maximum(y0, 0)
    x1, y1 = np.minimum(x1, width - 1), np.minimum(y1, height - 1)
    keep &= (x1 >= x0) & (y1 >= y0)
    ids = np.nonzero(keep)[0]

    best_depth = np.full(height * width, -np.inf)
    best_tri = np.full(height * width, -1, dtype=np.int64)
    best_bary = np.zeros((height * width, 3))
    if len(ids) == 0:
        return Raster(best_tri.reshape(height, width), best_depth.reshape(height, width),
                      best_bary.reshape(height, width, 3))

    bw_log = np.ceil(np.log2(x1[ids] - x0[ids] + 1)).astype(np.int64)
    bh_log = np.ceil(np.log2(y1[ids] - y0[ids] + 1)).astype(np.int64)
    key = bw_log * 64 + bh_log
    frag_pix, frag_depth, frag_tri, frag_bary = [], [], [], []
    for k in np.unique(key):
        sel = ids[key == k]
        nw, nh = 1 << int(k // 64), 1 << int(k % 64)
        oy, ox = np.divmod(np.arange(nw * nh), nw)
        # process in chunks to bound memory (chunk × nw·nh candidates)
        chunk = max(1, 2_000_000 // (nw * nh))
        for start in range(0, len(sel), chunk):
            t = sel[start:start + chunk]
            px = x0[t, None] + ox[None, :]
            py = y0[t, None] + oy[None, :]
            inside_box = (px <= x1[t, None]) & (py <= y1[t, None])
            a, bb, c = p[t, 0], p[t, 1], p[t, 2]
            ar = area[t][:, None]
            w0 = ((bb[:, None, 0] - px) * (c[:, None, 1] - py) - (bb[:, None, 1] - py) * (c[:, None, 0] - px)) / ar
            w1 = ((c[:, None, 0] - px) * (a[:, None, 1] - py) - (c[:, None, 1] - py) * (a[:, None, 0] - px)) / ar
            w2 = 1.0 - w0 - w1
            eps = -1e-9
            inside = inside_box & (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
            ti, ci = np.nonzero(inside)
            if len(ti) == 0:
                continue
            tt = t[ti]
            bw = np.stack([w0[ti, ci], w1[ti, ci], w2[ti, ci]], axis=1)
            dz = (bw * depth[tri[tt]]).sum(1)
            frag_pix.append(py[ti, ci] * width + px[ti, ci])
            frag_depth.append(dz)
            frag_tri.append(tt)
            frag_bary.append(bw)
    if frag_pix:
        pix = np.concatenate(frag_pix)
        dz = np.concatenate(frag_depth)
        tt = np.concatenate(frag_tri)
        bw = np.concatenate(frag_bary)
        order = np.lexsort((-dz, pix))             # per pixel, nearest first
        pix, dz, tt, bw = pix[order], dz[order], tt[order], bw[order]
        first = np.ones(len(pix), dtype=bool)
        first[1:] = pix[1:] != pix[:-1]
        best_depth[pix[first]] = dz[first]
        best_tri[pix[first]] = tt[first]
        best_bary[pix[first]] = bw[first]
    return Raster(best_tri.reshape(height, width), best_depth.reshape(height, width),
                  best_bary.reshape(height, width, 3))


def shade_vertices(normals: np.ndarray, albedo: np.ndarray, light_dir: np.ndarray,
                   ambient: float, diffuse: float) -> np.ndarray:
    """Lambert + ambient vertex colours (V, 3) in [0, 255] (normals in camera space, +z to viewer)."""
    light = np.asarray(light_dir, dtype=np.float64)
    light = light / np.linalg.norm(light)
    lambert = np.clip(normals @ light, 0.0, None)
    return albedo * (ambient + diffuse * lambert)[:, None]


def compose(raster: Raster, triangles: np.ndarray, vertex_colors: np.ndarray,
            background: np.ndarray) -> np.ndarray:
    """Interpolate vertex colours over the covered pixels and lay them over ``background``."""
    out = background.astype(np.float64).copy()
    m = raster.mask
    tri = triangles[raster.triangle[m]]            # (P, 3)
    col = (raster.bary[m][:, :, None] * vertex_colors[tri]).sum(1)
    out[m] = col
    return np.clip(out, 0, 255).astype(np.uint8)


def visible_points(points_xy: np.ndarray, points_depth: np.ndarray, raster: Raster,
                   tolerance: float) -> np.ndarray:
    """Which projected points are not hidden: inside the image and within ``tolerance`` of the z-buffer."""
    h, w = raster.depth.shape
    xi = np.rint(points_xy[:, 0]).astype(np.int64)
    yi = np.rint(points_xy[:, 1]).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    ok = np.zeros(len(points_xy), dtype=bool)
    # seen if any pixel of the 3x3 neighbourhood has no nearer surface: points on a silhouette count
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            xx = np.clip(xi + dx, 0, w - 1)
            yy = np.clip(yi + dy, 0, h - 1)
            ok |= raster.depth[yy, xx] <= points_depth + tolerance
    return inside & ok

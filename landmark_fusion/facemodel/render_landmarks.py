"""A picture of a model's mean face, front and profile, with the vertex of each landmark drawn and
numbered, so that a wrong vertex in a table is seen at a glance (`fuse corr show --model`)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..figures import save_figure
from ..geometry import euler_to_rotation, vertex_normals

#: Views drawn: (title, yaw in degrees, positive = turned towards image-left). 90 shows the subject's
#: left side.
VIEWS = (("front", 0.0), ("profile (subject's left)", 90.0))
_REGION_COLORS = {"jaw": "tab:orange", "ear": "tab:brown", "brow": "tab:green", "eye": "tab:blue",
                  "nose": "tab:red", "mouth": "tab:purple"}


def _shaded_mesh(ax: Any, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """Camera-facing triangles, Lambert-shaded, drawn back to front (painter's algorithm)."""
    from matplotlib.collections import PolyCollection

    tri = vertices[triangles]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    front = normal[:, 2] > 0
    tri, normal = tri[front], normal[front]
    order = np.argsort(tri[:, :, 2].mean(1))
    light = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    shade = 0.25 + 0.75 * np.clip(normal[order] @ light, 0.0, 1.0)
    colors = np.stack([shade * 0.93, shade * 0.85, shade * 0.78, np.ones_like(shade)], axis=1)
    ax.add_collection(PolyCollection(tri[order][:, :, :2], facecolors=colors, edgecolors="none"))


def render_landmarks(model: Any, table: Any, names: Sequence[str], path: str | os.PathLike,
                     title: str = "", regions: dict[str, str] | None = None) -> list[str]:
    """Write a PNG of ``model``'s mean face with the ``table`` vertex of each of ``names``; points
    are numbered in ``names`` order, with the number → name legend beside. Returns the names that
    have no vertex (listed in the legend as missing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if regions is None:
        try:
            from ..correspondence import load_vocabulary

            vocab = load_vocabulary()
            regions = {n: vocab.landmarks[n].region for n in names if n in vocab}
        except Exception:  # noqa: BLE001 - the picture does not need the colours
            regions = {}
    mean = np.asarray(model.mean, dtype=np.float64)
    mean = mean - mean.mean(0)
    triangles = np.asarray(model.triangles)
    normals = vertex_normals(mean, triangles)
    idx, has = table.vertex_indices(list(names))
    missing = [n for n, h in zip(names, has, strict=True) if not h]

    fig = plt.figure(figsize=(17, 9))
    grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 1.0, 0.75])
    for col, (label, yaw) in enumerate(VIEWS):
        ax = fig.add_subplot(grid[0, col])
        rot = euler_to_rotation(0.0, np.deg2rad(yaw), 0.0)
        v = mean @ rot.T
        _shaded_mesh(ax, v, triangles)
        facing = (normals @ rot.T)[:, 2] > -0.05
        for k, (name, vid, ok) in enumerate(zip(names, idx, has, strict=True)):
            if not ok:
                continue
            p = v[vid]
            visible = facing[vid]
            color = _REGION_COLORS.get(regions.get(name, ""), "black")
            ax.plot(p[0], p[1], "o", ms=4.5 if visible else 3, mfc=color if visible else "none",
                    mec=color, zorder=3)
            if visible:
                ax.annotate(str(k), (p[0], p[1]), xytext=(3, 3), textcoords="offset points",
                            fontsize=7, color=color, zorder=4,
                            bbox=dict(boxstyle="round,pad=0.08", fc="white", ec="none", alpha=0.6))
        ax.set_title(label)
        ax.set_aspect("equal")
        lo, hi = v[:, :2].min(0), v[:, :2].max(0)
        pad = 0.04 * (hi - lo).max()
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
        ax.axis("off")
    legend = fig.add_subplot(grid[0, 2])
    legend.axis("off")
    lines = []
    for k, (name, vid, ok) in enumerate(zip(names, idx, has, strict=True)):
        mark = "" if not ok else ("  (est.)" if table[name].estimated else "")
        lines.append(f"{k:3d} {name} {'-- missing' if not ok else int(vid)}{mark}")
    per_col = int(np.ceil(len(lines) / 2)) if len(lines) > 40 else len(lines)
    for c in range(0, len(lines), max(per_col, 1)):
        legend.text(0.0 + 0.52 * (c // max(per_col, 1)), 1.0, "\n".join(lines[c:c + per_col]),
                    va="top", ha="left", family="monospace", fontsize=7, transform=legend.transAxes)
    fig.suptitle(title or f"{getattr(model, 'name', 'model')}: landmark vertices "
                 "(number = position in the list; hollow = hidden in this view)")
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)
    return missing

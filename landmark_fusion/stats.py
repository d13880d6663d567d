"""Landmark coverage of a shard set: how many faces of each database carry each landmark.

Computed by streaming over the ``mask`` and ``source`` columns in chunks, so any size of shard set
works in constant memory.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .figures import save_figure
from .shards import ShardSet


@dataclass
class Coverage:
    """Counts of one shard set; ``counts[l, s]`` = faces of source ``s`` carrying landmark ``l``."""

    landmark_names: list[str]
    source_names: list[str]        # only the sources present in the shards
    counts: np.ndarray             # (L, S) int64
    faces: np.ndarray              # (S,) int64, faces per source
    splits: dict[str, dict[str, int]]  # source -> split -> faces

    @property
    def percent(self) -> np.ndarray:
        """``counts`` as a percentage of each source's faces."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.faces > 0, 100.0 * self.counts / np.maximum(self.faces, 1), 0.0)

    @property
    def total(self) -> np.ndarray:
        """(L,) faces carrying each landmark over all sources."""
        return self.counts.sum(axis=1)


def coverage(shards: ShardSet, chunk: int = 8192) -> Coverage:
    """Count, per landmark and source, the faces whose mask is set."""
    all_sources = shards.source_names
    num = len(all_sources)
    counts = np.zeros((len(shards.landmark_names), num), dtype=np.int64)
    faces = np.zeros(num, dtype=np.int64)
    split_counts: dict[tuple[int, str], int] = {}
    for _, columns in shards.iter_columns(("mask", "source", "split"), chunk):
        source = columns["source"].astype(np.int64)
        mask = columns["mask"]
        faces += np.bincount(source, minlength=num)
        for code in np.unique(source):
            counts[:, code] += mask[source == code].sum(axis=0)
        split_column = columns["split"].astype(str)
        pairs, n = np.unique(np.stack([source.astype(str), split_column]), axis=1, return_counts=True)
        for (code, split), count in zip(pairs.T, n, strict=True):
            key = (int(code), str(split))
            split_counts[key] = split_counts.get(key, 0) + int(count)
    present = [code for code in range(num) if faces[code] > 0]
    splits: dict[str, dict[str, int]] = {}
    for (code, split), count in sorted(split_counts.items()):
        splits.setdefault(all_sources[code], {})[split] = count
    return Coverage(list(shards.landmark_names), [all_sources[c] for c in present],
                    counts[:, present], faces[present], splits)


def format_table(cov: Coverage) -> str:
    """A text table: one row per landmark, ``count (pct%)`` per source, then per-split totals."""
    name_width = max([len("landmark"), *map(len, cov.landmark_names)]) + 2
    col = max([14, *(len(s) + 2 for s in cov.source_names)])
    lines = ["landmark".ljust(name_width) + "".join(s.rjust(col) for s in cov.source_names)
             + "total".rjust(col)]
    lines.append("-" * len(lines[0]))
    pct = cov.percent
    total_faces = int(cov.faces.sum())
    for i, name in enumerate(cov.landmark_names):
        cells = [f"{cov.counts[i, s]} ({pct[i, s]:.1f}%)".rjust(col)
                 for s in range(len(cov.source_names))]
        share = 100.0 * cov.total[i] / total_faces if total_faces else 0.0
        lines.append(name.ljust(name_width) + "".join(cells)
                     + f"{cov.total[i]} ({share:.1f}%)".rjust(col))
    lines.append("-" * len(lines[0]))
    lines.append("faces".ljust(name_width) + "".join(str(n).rjust(col) for n in cov.faces)
                 + str(total_faces).rjust(col))
    split_names = sorted({split for per in cov.splits.values() for split in per})
    for split in split_names:
        values = [cov.splits.get(s, {}).get(split, 0) for s in cov.source_names]
        lines.append(f"  {split}".ljust(name_width) + "".join(str(v).rjust(col) for v in values)
                     + str(sum(values)).rjust(col))
    return "\n".join(lines)


def format_csv(cov: Coverage) -> str:
    """CSV, one row per landmark: ``landmark``, then ``<source>_count``, ``<source>_pct`` per source,
    then ``total_count``, ``total_pct``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["landmark"]
    for s in cov.source_names:
        header += [f"{s}_count", f"{s}_pct"]
    writer.writerow(header + ["total_count", "total_pct"])
    pct = cov.percent
    total_faces = int(cov.faces.sum())
    for i, name in enumerate(cov.landmark_names):
        row: list[object] = [name]
        for j in range(len(cov.source_names)):
            row += [int(cov.counts[i, j]), f"{pct[i, j]:.2f}"]
        share = 100.0 * cov.total[i] / total_faces if total_faces else 0.0
        writer.writerow(row + [int(cov.total[i]), f"{share:.2f}"])
    return buffer.getvalue()


def plot_heatmap(cov: Coverage, path: str | Path) -> None:
    """Save a landmark × source heatmap of the coverage percentage as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(4.0, 0.16 * len(cov.landmark_names) + 1.5)
    width = max(4.0, 1.1 * len(cov.source_names) + 3.0)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(cov.percent, aspect="auto", cmap="viridis", vmin=0, vmax=100,
                      interpolation="nearest")
    ax.set_xticks(range(len(cov.source_names)), [f"{s}\n({n})" for s, n in
                                                zip(cov.source_names, cov.faces, strict=True)])
    ax.set_yticks(range(len(cov.landmark_names)), cov.landmark_names, fontsize=6)
    ax.set_title("landmark coverage (% of each database's faces)")
    fig.colorbar(image, ax=ax, label="%")
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)

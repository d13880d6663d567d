"""Contact sheet of shard rows: crops with their unified landmarks, coloured by database."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .figures import save_figure
from .shards import ShardSet

if TYPE_CHECKING:  # matplotlib is imported when a preview is drawn
    from matplotlib.artist import Artist


def pick_rows(shards: ShardSet, n: int, seed: int = 0) -> np.ndarray:
    """Up to ``n`` row indices, spread over the databases present (round-robin, random within)."""
    source = np.concatenate([cols["source"] for _, cols in shards.iter_columns(("source",))]
                            if len(shards) else [np.zeros(0, np.int16)])
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(np.flatnonzero(source == code)).tolist() for code in np.unique(source)]
    chosen: list[int] = []
    while len(chosen) < n and any(pools):
        for pool in pools:
            if pool and len(chosen) < n:
                chosen.append(pool.pop())
    return np.asarray(sorted(chosen), dtype=np.int64)


def draw_contact_sheet(shards: ShardSet, path: str | Path, n: int = 16, columns: int | None = None,
                       seed: int = 0) -> Path:
    """Save a PNG grid of ``n`` crops with their masked-in landmarks; one colour per database."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = pick_rows(shards, n, seed)
    if len(rows) == 0:
        raise ValueError("the shard set has no rows to draw")
    batch = shards.get_batch(rows, ("images", "landmarks", "mask", "source", "sample_id"))
    columns = columns or int(np.ceil(np.sqrt(len(rows))))
    lines = int(np.ceil(len(rows) / columns))
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(lines, columns, figsize=(2.2 * columns, 2.4 * lines), squeeze=False)
    seen: dict[str, Artist] = {}
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= len(rows):
            continue
        code = int(batch["source"][k])
        name = shards.source_names[code]
        points = batch["landmarks"][k][batch["mask"][k]]
        ax.imshow(batch["images"][k])
        handle = ax.scatter(points[:, 0], points[:, 1], s=4, color=colours(code % 10), label=name)
        seen.setdefault(name, handle)
        ax.set_title(str(batch["sample_id"][k])[-28:], fontsize=6)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(len(seen), 5),
               fontsize=8, markerscale=3)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    try:
        return save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)

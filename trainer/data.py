"""Training data from the fusion stage's shards (HDF5 or Parquet, through ``landmark_fusion.shards``).

The shard set is opened lazily in each process that reads it (never pickled open), which is what
DataLoader workers need with both fork and spawn (docs/shards.md §Reading). Selection by split and source
names; ``--db A|B|C|D`` are the paper's fusion databases (§4.1).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from landmark_fusion.sources.registry import paper_databases

from .augment import AugmentConfig, augment_sample, OUTPUT_SIZE
from .errors import InputError

# The paper's fusion databases (§4.1), as source names of the shards, from the database records'
# ``group`` (landmark_fusion.sources.registry): A = 300W-LP; B = A + FaceWarehouse + LFW-74;
# C = B + WFLW; D = C + LS3D-W.
DB_PRESETS: dict[str, tuple[str, ...]] = paper_databases()
PIXEL_MEAN, PIXEL_SCALE = 127.5, 128.0


def open_shard_set(path: str, option: str = "--shards") -> Any:
    """``landmark_fusion.shards.open_shards(path)`` (imported here so this module loads without it), its
    metadata read once so that a file that is not a shard set fails here: :class:`InputError` naming it."""
    from pathlib import Path

    from landmark_fusion.shards import open_shards

    p = Path(path)
    if not str(path):
        raise InputError("no shards given", option)
    if not p.exists():
        raise InputError(f"{p}: shards not found", option)
    try:
        shards = open_shards(str(path))
        shards.meta()
        list(shards.landmark_names), list(shards.source_names)
    except Exception as error:  # noqa: BLE001 - any failure to read them: not shards of `fuse build`
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise InputError(f"{p}: not a shard file or folder written by `fuse build` "
                         f"({type(error).__name__}{': ' + first if first else ''})", option) from None
    return shards


def source_names_for(db: str | None, sources: Sequence[str] | None) -> list[str] | None:
    """Names chosen by ``--db`` and/or ``--sources`` (union); None means every source."""
    names: list[str] = []
    if db:
        key = db.upper().removeprefix("DB-")
        if key not in DB_PRESETS:
            raise InputError(f"unknown database {db!r}; choose one of {', '.join(DB_PRESETS)}", "--db")
        names += DB_PRESETS[key]
    names += [s for s in (sources or []) if s not in names]
    return names or None


def source_codes(meta_source: Any, source_names: Sequence[str]) -> np.ndarray:
    """Integer source codes of a ``meta()['source']`` column, whether stored as codes or names."""
    if hasattr(meta_source, "cat"):  # pandas categorical: codes are the stored codes
        return np.asarray(meta_source.cat.codes, dtype=np.int64)
    col = np.asarray(meta_source)
    if col.dtype.kind in "iu":
        return col.astype(np.int64)
    lookup = {n: i for i, n in enumerate(source_names)}
    return np.array([lookup[str(v)] for v in col], dtype=np.int64)


def select_indices(shards: Any, split: str | None, sources: Iterable[str] | None) -> np.ndarray:
    """Rows of the shard set in ``split`` (None: all) whose source is one of ``sources`` (None: all)."""
    meta = shards.meta()
    names = list(shards.source_names)
    keep = np.ones(len(meta), bool)
    if split is not None:
        keep &= meta["split"].astype(str).to_numpy() == split
    if sources is not None:
        wanted = {s.lower() for s in sources}
        unknown = wanted - {n.lower() for n in names}
        if unknown:
            raise InputError(f"{', '.join(sorted(unknown))}: not a source of the shards (they hold "
                             f"{', '.join(names)})", "--sources")
        codes = source_codes(meta["source"], names)
        keep &= np.isin(codes, [i for i, n in enumerate(names) if n.lower() in wanted])
    return np.flatnonzero(keep)


def describe_empty(shards: Any, path: str, split: str | None, sources: Sequence[str] | None) -> str:
    """Why a selection of shard rows is empty: the splits and sources the shards do hold."""
    meta = shards.meta()
    held = sorted(set(meta["split"].astype(str)))
    text = f"{path}: no faces in split {split!r}" if split else f"{path}: no faces"
    if sources:
        text += f" of sources {', '.join(sources)}"
    return text + f" (the shards hold splits {', '.join(held) or 'none'} of sources {', '.join(shards.source_names)})"


def mirror_permutation(landmark_names: Sequence[str]) -> np.ndarray:
    """Index of each landmark's mirror partner among ``landmark_names`` (from the vocabulary)."""
    from landmark_fusion.correspondence import load_vocabulary

    return np.asarray(load_vocabulary().mirror_permutation(list(landmark_names)), dtype=np.int64)


def to_network_image(image: np.ndarray) -> np.ndarray:
    """(H,W,3) 0…255 → (3,H,W) float32 normalised as (pixel − 127.5)/128."""
    return ((np.asarray(image, np.float32) - PIXEL_MEAN) / PIXEL_SCALE).transpose(2, 0, 1).copy()


class ShardDataset:
    """Map-style dataset over selected rows of a shard set.

    Keys are a selection position or a ``(position, seed)`` pair from :class:`BalancedSampler`; with a
    seed and an ``augment`` config the draw is augmented with ``np.random.default_rng(seed)``. Items are
    dicts of numpy arrays: image (3,128,128), landmarks (L,2) input pixels, mask (L,), norm_size (input
    pixels), affine (2,3) crop → input, source, yaw, row (index in the shard set).
    """

    def __init__(self, path: str, rows: np.ndarray, augment: AugmentConfig | None = None,
                 mirror: np.ndarray | None = None, shards: Any = None) -> None:
        self.path = str(path)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.augment = augment
        self.mirror = mirror
        self._shards = shards

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_shards"] = None  # reopened lazily in the receiving process
        return state

    @property
    def shards(self) -> Any:
        if self._shards is None:
            self._shards = open_shard_set(self.path)
        return self._shards

    def __len__(self) -> int:
        return self.rows.size

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        pos, seed = (key if isinstance(key, tuple) else (key, None))
        row = int(self.rows[pos])
        rec = self.shards.get(row)
        rng = np.random.default_rng(seed) if (seed is not None and self.augment is not None) else None
        cfg = self.augment or AugmentConfig()
        mirror = self.mirror if cfg.flip_prob > 0 else None
        if rng is not None and mirror is None:
            cfg = AugmentConfig(**{**cfg.to_dict(), "flip_prob": 0.0})
        out = augment_sample(np.asarray(rec["images"]),
                             np.asarray(rec["landmarks"], np.float32), np.asarray(rec["mask"], bool),
                             float(rec["norm_size"]), rng, cfg, mirror, OUTPUT_SIZE)
        return {"image": to_network_image(out["image"]), "landmarks": out["landmarks"],
                "mask": out["mask"], "norm_size": out["norm_size"], "affine": out["affine"],
                "source": np.int64(rec["source"]), "yaw": np.float32(rec["yaw"]), "row": np.int64(row)}

"""Training data from the fusion stage's shards (HDF5 or Parquet, through ``landmark_fusion.shards``).

The shard set is opened lazily in each process that reads it (never pickled open), which is what
DataLoader workers need with both fork and spawn (docs/shards.md §Reading). Selection by split and source
names; ``--db A|B|C|D`` are the paper's fusion databases (§4.1). The dataset loads whole batches: it is
handed a list of draws by a batch sampler (:func:`batch_loader`), reads the batch's crops at once
(:mod:`trainer.data_rows`), warps them on the CPU and returns uint8 images with their colour factors;
:func:`trainer.augment_device.network_input` jitters and normalises them on the training device.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from landmark_fusion.correspondence import load_vocabulary
from landmark_fusion.lifetime import deferred_iteration, end_with
from landmark_fusion.shards import open_shards
from landmark_fusion.sources.registry import paper_databases

from .augment import OUTPUT_SIZE, AugmentConfig, BatchDraw, draw_batch, plain_draw, warp_batch, warp_targets
from .augment_device import PIXEL_MEAN, PIXEL_SCALE, network_input
from .data_rows import ImageReader, load_small_fields
from .errors import InputError

# The paper's fusion databases (§4.1), as source names of the shards, from the database records'
# ``group`` (landmark_fusion.sources.registry): A = 300W-LP; B = A + FaceWarehouse + LFW-74;
# C = B + WFLW; D = C + LS3D-W.
DB_PRESETS: dict[str, tuple[str, ...]] = paper_databases()
__all__ = ["PIXEL_MEAN", "PIXEL_SCALE", "ShardDataset", "batch_loader", "loader_batches", "open_shard_set",
           "select_indices", "worker_lifeline"]


def open_shard_set(path: str, option: str = "--shards") -> Any:
    """``landmark_fusion.shards.open_shards(path)`` (imported here so this module loads without it), its
    metadata read once so that a file that is not a shard set fails here: :class:`InputError` naming it."""
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
    return np.asarray(load_vocabulary().mirror_permutation(list(landmark_names)), dtype=np.int64)


def to_network_image(image: np.ndarray) -> np.ndarray:
    """(H,W,3) 0…255 → (3,H,W) float32 normalised as (pixel − 127.5)/128."""
    return ((np.asarray(image, np.float32) - PIXEL_MEAN) / PIXEL_SCALE).transpose(2, 0, 1).copy()


Key = int | tuple[int, int]


class ShardDataset:
    """Map-style dataset over selected rows of a shard set.

    Keys are a selection position or a ``(position, seed)`` pair from :class:`BalancedSampler`; with a
    seed and an ``augment`` config the draw is augmented from ``np.random.default_rng(seed)``.

    A list of keys (what :func:`batch_loader` hands it) gives one batch: ``image`` (B,128,128,3) uint8
    warped but not yet jittered or normalised, ``jitter`` (B,3) its colour factors (saturation, contrast,
    brightness), landmarks (B,L,2) input pixels, mask (B,L), norm_size (input pixels), affine (B,2,3) crop →
    input, source, yaw, row (index in the shard set). One key gives one item as before: ``image``
    (3,128,128) float32, jittered and normalised, and the same fields without the batch axis.

    The small per-row fields of the selection are read once per process and kept in memory.
    """

    def __init__(self, path: str, rows: np.ndarray, augment: AugmentConfig | None = None,
                 mirror: np.ndarray | None = None, shards: Any = None) -> None:
        self.path = str(path)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.augment = augment
        self.mirror = mirror
        self._shards = shards
        self._small: dict[str, np.ndarray] | None = None
        self._images: ImageReader | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_shards=None, _images=None, _small=None)  # reopened and reloaded in the receiving process
        return state

    @property
    def shards(self) -> Any:
        if self._shards is None:
            self._shards = open_shard_set(self.path)
        return self._shards

    def small_fields(self) -> dict[str, np.ndarray]:
        """The per-row fields of the selection, by position (loaded on first use)."""
        if self._small is None:
            self._small = load_small_fields(self.shards, self.rows)
        return self._small

    def image_reader(self) -> ImageReader:
        if self._images is None:
            self._images = ImageReader(self.shards, self.rows)
        return self._images

    def prepare(self) -> None:
        """Load the small fields and locate the crops now (in the parent: forked workers inherit them)."""
        self.small_fields()
        if len(self.rows):
            self.image_reader().read(self.rows[:1])

    def __len__(self) -> int:
        return self.rows.size

    def _draw(self, positions: np.ndarray, seeds: list[int | None]) -> tuple[BatchDraw, bool]:
        """The batch's transforms and whether they are all the plain resize."""
        size = self.shards.crop_size
        if self.augment is None or any(seed is None for seed in seeds):
            if self.augment is not None and any(seed is not None for seed in seeds):
                raise ValueError("a batch mixes augmented and plain draws")
            return plain_draw(positions.size, size, OUTPUT_SIZE), True
        cfg = self.augment
        if self.mirror is None and cfg.flip_prob > 0:  # no mirror pairs: never flip
            cfg = AugmentConfig(**{**cfg.to_dict(), "flip_prob": 0.0})
        return draw_batch([int(s) for s in seeds if s is not None], size, cfg, OUTPUT_SIZE), False

    def load_batch(self, keys: Sequence[Key]) -> dict[str, np.ndarray]:
        """One batch of ``keys`` (see the class): uint8 images and their colour factors."""
        pairs = [key if isinstance(key, tuple) else (key, None) for key in keys]
        positions = np.array([int(p) for p, _ in pairs], dtype=np.int64)
        rows = self.rows[positions]
        small = self.small_fields()
        draw, plain = self._draw(positions, [s for _, s in pairs])
        image = warp_batch(self.image_reader().read(rows), draw.affine, OUTPUT_SIZE, plain)
        mirror = self.mirror if draw.flip.any() else None
        landmarks, mask, norm = warp_targets(small["landmarks"][positions], small["mask"][positions],
                                             small["norm_size"][positions], draw, mirror)
        return {"image": image, "jitter": draw.jitter, "landmarks": landmarks, "mask": mask,
                "norm_size": norm, "affine": draw.affine.astype(np.float32),
                "source": small["source"][positions].astype(np.int64),
                "yaw": small["yaw"][positions].astype(np.float32), "row": rows}

    def __getitem__(self, key: Key | list) -> dict:
        import torch

        if isinstance(key, list):
            return self.load_batch(key)
        batch = self.load_batch([key])
        photometric = self.augment is not None and self.augment.photometric and isinstance(key, tuple)
        out = {name: values[0] for name, values in batch.items() if name not in ("image", "jitter")}
        image = network_input(torch.from_numpy(batch["image"]),
                              torch.from_numpy(batch["jitter"]) if photometric else None)
        out["image"] = image[0].numpy()
        return out


def batch_loader(dataset: ShardDataset, sampler: Any, batch_size: int, workers: int = 0,
                 pin_memory: bool = False, **options: Any) -> Any:
    """A DataLoader whose workers each load whole batches: the sampler's draws are grouped by a
    ``BatchSampler`` (incomplete last batch dropped) and handed to the dataset as lists."""
    from torch.utils.data import BatchSampler, DataLoader, Dataset

    options.setdefault("worker_init_fn", worker_lifeline())
    # ShardDataset is a map-style dataset by protocol (__getitem__, __len__), not by base class: the
    # module is imported by processes that never load torch.
    return DataLoader(cast("Dataset[Any]", dataset), sampler=BatchSampler(sampler, batch_size, drop_last=True),
                      batch_size=None, num_workers=workers, pin_memory=pin_memory, **options)


def _start_worker(parent: int, worker_id: int) -> None:
    end_with(parent)
    import cv2

    cv2.setNumThreads(1)  # the workers are the parallelism; OpenCV's own pool would contend with them


def worker_lifeline() -> Any:
    """A DataLoader ``worker_init_fn`` that ends each worker as soon as this process ends (SIGKILL
    included; PyTorch's own check compares the worker's parent with the one it had when the worker
    loop began, so a worker still starting when the training process is killed stays for ever), and
    gives each worker one OpenCV thread."""
    return functools.partial(_start_worker, os.getpid())


def loader_batches(loader: Iterable) -> Generator:
    """The batches of a DataLoader, fetched with signals deferred, and its workers shut down the same
    way when the batches end or the generator is closed (:func:`landmark_fusion.lifetime.deferred_iteration`:
    a SIGTERM that lands inside the loader's queue code would leave a queue lock taken, and the
    shutdown would then hang). Close it (``contextlib.closing``) to stop early."""
    def shut_down(iterator: Iterator) -> None:
        shutdown = getattr(iterator, "_shutdown_workers", None)  # what the iterator's __del__ calls
        if shutdown is not None:
            shutdown()

    return deferred_iteration(loader, shut_down)

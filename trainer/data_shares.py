"""Each process's share of the training rows under ``torchrun``: disjoint, together covering the
selection, and cut along the shard set's read units (a Parquet row group; an HDF5 image, its own chunk),
so that a rank reads only its own units of a set on shared storage.

The split is made per source, so that every rank holds every source and the balanced sampler keeps its
per-source shares on each rank: a source's units are dealt to the ranks in turn; a source with fewer units
than ranks is dealt row by row instead (its few row groups are then read by several ranks, each for its
own rows).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError


def read_units(shards: Any, rows: np.ndarray) -> np.ndarray:
    """The read unit of each row: its row group in a Parquet set, the row itself in an HDF5 file."""
    rows = np.asarray(rows, np.int64)
    if not hasattr(shards, "row_groups"):
        return rows.copy()
    starts = np.array([start for _, _, start in shards.row_groups()], np.int64)
    return np.searchsorted(starts, rows, side="right") - 1


def rank_seed(seed: int, rank: int) -> int:
    """The sampler seed of one rank (its share is its own, so are its draws' augmentations)."""
    return int(np.random.SeedSequence(seed, spawn_key=(rank,)).generate_state(1)[0])


def rank_share(rows: np.ndarray, codes: np.ndarray, units: np.ndarray, rank: int, world: int,
               source_names: list[str] | None = None) -> np.ndarray:
    """Rows (sorted) of ``rank`` among ``world``. Source by source, each read unit not yet given away goes
    to the rank holding the fewest rows of that source so far (a unit that holds the end of one source and
    the start of the next stays with the rank that got it first), so no unit is split; a source that
    cannot give every rank some rows that way is dealt row by row. :class:`InputError` when a source has
    fewer rows than ranks. The same on every rank: each computes all shares and keeps its own."""
    rows, codes, units = (np.asarray(a, np.int64) for a in (rows, codes, units))
    if world <= 1:
        return np.sort(rows)
    order = np.argsort(rows, kind="stable")
    rows, codes, units = rows[order], codes[order], units[order]
    owner_of: dict[int, int] = {}
    rank_of = np.full(rows.size, -1, np.int64)
    for code in np.unique(codes):
        of_source = np.flatnonzero(codes == code)
        if of_source.size < world:
            name = source_names[code] if source_names is not None else str(code)
            raise InputError(f"source {name} has {of_source.size} training faces, fewer than the {world} "
                             f"processes: each process needs faces of every source", "--sources")
        source_units, counts = np.unique(units[of_source], return_counts=True)
        held = np.zeros(world, np.int64)
        given: dict[int, int] = {}
        for unit, count in zip(source_units.tolist(), counts.tolist(), strict=False):
            owner = owner_of.get(unit, int(np.argmin(held)))
            given[unit] = owner
            held[owner] += count
        if (held == 0).any():  # too few units for every rank: deal this source's rows in turn
            rank_of[of_source] = np.arange(of_source.size) % world
            continue
        owner_of.update(given)
        rank_of[of_source] = [given[u] for u in units[of_source].tolist()]
    return rows[rank_of == rank]

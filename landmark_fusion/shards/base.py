"""What both shard readers share: lazy per-process opening, row selection, metadata frame.

h5py and pyarrow file handles do not survive a fork, so a :class:`ShardSet` holds only paths and
small index arrays when pickled; each process opens its own handles on first access (the owning
process id is remembered, a changed id means a forked or spawned worker and triggers a re-open).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .schema import FIELDS, META_FIELDS, ShardInfo


class ShardSet:
    """Random and streaming access to the rows of one shard file or shard set (lazy, picklable)."""

    format = ""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._pid: int | None = None
        self._info: ShardInfo | None = None
        self._length: int | None = None

    # -- lazy opening -------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in self._handle_attributes():
            state[key] = None
        state["_pid"] = None
        return state

    def _handle_attributes(self) -> Sequence[str]:
        """Attributes that hold open handles or caches (dropped when pickled)."""
        return ()

    def _ensure_open(self) -> None:
        if self._pid != os.getpid():
            self._open()
            self._pid = os.getpid()

    def _open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Close this process's handles (they re-open on the next access)."""
        self._pid = None

    def __enter__(self) -> ShardSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- attributes ---------------------------------------------------------------------------
    @property
    def info(self) -> ShardInfo:
        if self._info is None:
            self._ensure_open()
        assert self._info is not None
        return self._info

    @property
    def landmark_names(self) -> list[str]:
        return self.info.landmark_names

    @property
    def source_names(self) -> list[str]:
        return self.info.source_names

    @property
    def scheme_names(self) -> list[str]:
        return self.info.scheme_names

    @property
    def crop_size(self) -> int:
        return self.info.crop_size

    def __len__(self) -> int:
        if self._length is None:
            self._ensure_open()
        assert self._length is not None
        return self._length

    # -- rows ---------------------------------------------------------------------------------
    def _read_rows(self, rows: np.ndarray, fields: Sequence[str]) -> dict[str, np.ndarray]:
        """Rows at the sorted, unique positions ``rows``."""
        raise NotImplementedError

    def _read_range(self, start: int, stop: int, fields: Sequence[str]) -> dict[str, np.ndarray]:
        """Rows ``start:stop``."""
        raise NotImplementedError

    def get_batch(self, indices: Iterable[int], fields: Sequence[str] = FIELDS) -> dict[str, np.ndarray]:
        """The rows at ``indices`` (any order, repeats allowed), one array per field."""
        self._ensure_open()
        index = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices,
                           dtype=np.int64).reshape(-1)
        n = len(self)
        index = np.where(index < 0, index + n, index)
        if index.size and (index.min() < 0 or index.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        unique, inverse = np.unique(index, return_inverse=True)
        data = self._read_rows(unique, tuple(fields))
        if len(unique) == len(index) and np.array_equal(unique, index):
            return data
        return {name: values[inverse] for name, values in data.items()}

    def get(self, i: int, fields: Sequence[str] = FIELDS) -> dict:
        """One row as a dict (arrays per field, Python scalars for the scalar fields)."""
        batch = self.get_batch([i], fields)
        row = {}
        for name, values in batch.items():
            value = values[0]
            row[name] = value.item() if isinstance(value, np.generic) else value
        return row

    def __getitem__(self, i: int) -> dict:
        """``get(i)``: a ShardSet is a map-style dataset (e.g. for ``torch.utils.data.DataLoader``)."""
        return self.get(int(i))

    def iter_columns(self, fields: Sequence[str], chunk: int = 65536
                     ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Stream ``(start, columns)`` over all rows in chunks of about ``chunk`` rows."""
        self._ensure_open()
        for start in range(0, len(self), chunk):
            yield start, self._read_range(start, min(start + chunk, len(self)), tuple(fields))

    def meta(self):
        """A pandas DataFrame of the rows without pixels or landmarks.

        Columns: ``source`` and ``scheme`` (categoricals whose codes are the stored codes),
        ``split``, ``sample_id``, ``yaw`` (degrees, NaN if unknown), ``norm_size`` (crop pixels).
        """
        import pandas as pd

        parts = [cols for _, cols in self.iter_columns(META_FIELDS)]
        cols = {name: (np.concatenate([p[name] for p in parts]) if parts else np.zeros(0))
                for name in META_FIELDS}
        frame = pd.DataFrame({
            "source": pd.Categorical.from_codes(cols["source"].astype(np.int64), pd.Index(self.source_names)),
            "scheme": pd.Categorical.from_codes(cols["scheme"].astype(np.int64), pd.Index(self.scheme_names)),
            "split": cols["split"].astype(str) if len(cols["split"]) else np.zeros(0, str),
            "sample_id": cols["sample_id"].astype(str) if len(cols["sample_id"]) else np.zeros(0, str),
            "yaw": cols["yaw"].astype(np.float32),
            "norm_size": cols["norm_size"].astype(np.float32),
        })
        return frame

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

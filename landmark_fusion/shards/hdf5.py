"""One HDF5 file per shard set: resizable datasets, one chunk per image for random access.

Each field of docs/shards.md is a dataset of that name; file attributes carry ``landmark_names``,
``source_names``, ``scheme_names``, ``crop_size``, ``margin`` and ``format_version``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import ShardSet
from .crops import JPEG, crop_encoding, decode_crops, encode_crops
from .schema import ARRAY_FIELDS, STRING_FIELDS, ShardInfo

#: Rows per chunk of the small per-row fields (images are chunked one per row).
SMALL_CHUNK = 512
#: Every field but the images: written in whole chunks of :data:`SMALL_CHUNK` rows.
SMALL_FIELDS = tuple(name for name in (*ARRAY_FIELDS, *STRING_FIELDS) if name != "images")
#: Initial growth of the images dataset (rows); it doubles after that and is trimmed on close.
IMAGE_GROW_ROWS = 1024
#: Chunk cache per open file (bytes): keeps the small fields' recent chunks decoded.
CHUNK_CACHE = 32 * 1024 * 1024
#: Rows per chunk of JPEG-encoded images (a variable-length byte dataset).
JPEG_CHUNK = 64


class HDF5Writer:
    """Appends column batches to a new HDF5 file; ``compression`` is None or ``"lzf"``."""

    def __init__(self, path: str | Path, info: ShardInfo, compression: str | None = None) -> None:
        import h5py

        self.path = Path(path)
        self.info = info
        self.rows = 0
        encoding, self._quality = crop_encoding(info.extra)
        self._direct = compression is None  # raw image chunks go to the file as they are
        self._file = h5py.File(self.path, "w")
        size, count = info.crop_size, len(info.landmark_names)
        for name, (dtype, shape_of) in ARRAY_FIELDS.items():
            if name == "images" and encoding == JPEG:  # one JPEG file's bytes per row
                self._file.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(JPEG_CHUNK,),
                                          dtype=h5py.vlen_dtype(np.uint8))
                continue
            shape = shape_of(size, count)
            chunk_rows = 1 if name == "images" else SMALL_CHUNK
            self._file.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                                      chunks=(chunk_rows, *shape), compression=compression)
        for name in STRING_FIELDS:
            self._file.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(SMALL_CHUNK,),
                                      dtype=h5py.string_dtype("utf-8"), compression=compression)
        self._datasets = {name: self._file[name] for name in (*ARRAY_FIELDS, *STRING_FIELDS)}
        self._images_capacity = 0
        self._small: list[dict[str, np.ndarray]] = []  # small-field batches not yet written
        self._small_rows = 0
        self._small_written = 0
        self._write_attrs()

    def _write_attrs(self) -> None:
        import h5py

        attrs = self.info.to_attrs()
        for key, value in attrs.items():
            if isinstance(value, list):
                self._file.attrs[key] = np.array(value, dtype=h5py.string_dtype("utf-8"))
            elif isinstance(value, (dict, tuple)):
                self._file.attrs[key] = json.dumps(value)
            else:
                self._file.attrs[key] = value

    def append(self, batch: dict[str, np.ndarray]) -> None:
        """Add the rows of one column batch (as made by ``schema.stack_samples``).

        Images (one chunk per row) are written at once; the small fields are held back until
        they fill whole :data:`SMALL_CHUNK`-row chunks, so that no chunk is written twice.
        """
        n = len(batch["images"])
        if n == 0:
            return
        start, stop = self.rows, self.rows + n
        images = self._datasets["images"]
        if stop > self._images_capacity:  # grow in large steps; ``close`` trims the excess
            self._images_capacity = max(stop, 2 * self._images_capacity, IMAGE_GROW_ROWS)
            images.resize(self._images_capacity, axis=0)
        if self._quality is not None:
            encoded = np.empty(n, dtype=object)
            for row, blob in enumerate(encode_crops(batch["images"], self._quality)):
                encoded[row] = np.frombuffer(blob, np.uint8)
            if n == 1:  # h5py would broadcast a one-row object array's bytes over the row
                images[start] = encoded[0]
            else:
                images[start:stop] = encoded
        elif self._direct:  # one chunk per row: skip HDF5's selection and chunk-cache machinery
            pixels = np.ascontiguousarray(batch["images"], dtype=np.uint8)
            for row in range(n):
                images.id.write_direct_chunk((start + row, 0, 0, 0), pixels[row])
        else:
            images[start:stop] = batch["images"]
        # copies (a few hundred bytes a row): the caller may reuse its arrays after this call
        self._small.append({name: np.array(batch[name]) for name in SMALL_FIELDS})
        self._small_rows += n
        self.rows = stop
        if self._small_rows >= SMALL_CHUNK:
            self._flush_small(whole_chunks=True)

    def _flush_small(self, whole_chunks: bool) -> None:
        """Write the held-back small-field rows (only whole chunks unless ``whole_chunks`` is False)."""
        count = self._small_rows - self._small_rows % SMALL_CHUNK if whole_chunks else self._small_rows
        if count == 0:
            return
        columns = {name: (self._small[0][name] if len(self._small) == 1 else
                          np.concatenate([part[name] for part in self._small]))
                   for name in SMALL_FIELDS}
        start, stop = self._small_written, self._small_written + count
        for name in SMALL_FIELDS:
            dataset = self._datasets[name]
            dataset.resize(stop, axis=0)
            dataset[start:stop] = columns[name][:count]
        rest = self._small_rows - count
        self._small = [{name: columns[name][count:] for name in SMALL_FIELDS}] if rest else []
        self._small_rows = rest
        self._small_written = stop

    def close(self) -> None:
        """Write the held-back rows and finish the file (attributes are final)."""
        self._flush_small(whole_chunks=False)
        self._datasets["images"].resize(self.rows, axis=0)
        self._write_attrs()
        self._file.attrs["num_rows"] = self.rows
        self._file.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        try:
            self._file.close()
        except Exception:  # noqa: BLE001 - closing a broken file must not hide the first error
            pass


def read_info(attrs) -> ShardInfo:
    """:class:`ShardInfo` from HDF5 file attributes."""
    plain = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = [v.decode() if isinstance(v, bytes) else str(v) for v in value.tolist()]
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        plain[key] = value
    return ShardInfo.from_attrs(plain)


class HDF5ShardSet(ShardSet):
    """Lazy reader of one HDF5 shard file."""

    format = "hdf5"

    def __init__(self, path) -> None:
        super().__init__(path)
        self._file: Any = None  # an h5py.File once opened (h5py ships no types)
        self._jpeg = False

    def _handle_attributes(self) -> Sequence[str]:
        return ("_file",)

    def _open(self) -> None:
        import h5py

        self._file = h5py.File(self.path, "r", rdcc_nbytes=CHUNK_CACHE)
        self._info = read_info(self._file.attrs)
        self._length = int(self._file["images"].shape[0])
        self._jpeg = crop_encoding(self._info.extra)[0] == JPEG

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - a handle inherited over fork may be unusable
                pass
        self._file = None
        super().close()

    def _dataset(self, name: str):
        dataset = self._file[name]
        return dataset.asstr() if name in STRING_FIELDS else dataset

    def _read_rows(self, rows: np.ndarray, fields: Sequence[str]) -> dict[str, np.ndarray]:
        out = {}
        for name in fields:
            dataset = self._dataset(name)
            if len(rows) == 0:
                values = self._read_range(0, 0, (name,))[name]
            elif len(rows) == 1 or rows[-1] - rows[0] + 1 == len(rows):
                values = dataset[int(rows[0]):int(rows[-1]) + 1]
            else:
                values = dataset[rows]
            out[name] = self._values(name, values)
        return out

    def _values(self, name: str, values: np.ndarray) -> np.ndarray:
        """Stored values as the field's arrays: strings as objects, JPEG crops decoded."""
        if name in STRING_FIELDS:
            return np.asarray(values, dtype=object)
        if name == "images" and self._jpeg:
            return decode_crops(values, self.info.crop_size)
        return values

    def _read_range(self, start: int, stop: int, fields: Sequence[str]) -> dict[str, np.ndarray]:
        out = {}
        for name in fields:
            out[name] = self._values(name, self._dataset(name)[start:stop])
        return out

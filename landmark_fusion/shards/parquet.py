"""A Parquet shard set: a folder of ``part-NNNNN.parquet`` files with the same fields as HDF5.

Images are stored raw (``fixed_size_binary`` of S·S·3 bytes, uncompressed): lossless, and a row
decodes with one memory copy; a set built with ``--crop-encoding jpeg`` stores each as a JPEG
file's bytes (``binary``, :mod:`.crops`), decoded by the reader. Row groups are small
(:data:`ROW_GROUP_ROWS` rows, about 1.2 MB at
S=160) so that a random read touches little data; the other columns are zstd-compressed.
Every file's schema metadata (key ``landmark_fusion``) holds the JSON of the file attributes.

A set written by ``fuse build`` also holds ``manifest.json`` (:mod:`.manifest`): its parts in row
order, the rows of each database in each part, and the set's attributes; the reader follows it
where it exists (a set grown with ``fuse build --add`` has parts of several builds). The writer
keeps the same bookkeeping (:attr:`ParquetWriter.parts`), can number its parts from
``first_part`` on, and can continue in a folder whose first parts it wrote before
(:meth:`ParquetWriter.resume`): a part is complete once it is closed, which is what makes a
Parquet build resumable.
"""
from __future__ import annotations

import json
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import ShardSet
from .crops import JPEG, crop_encoding, decode_crops, encode_crops
from .manifest import read_manifest
from .schema import ARRAY_FIELDS, FIELDS, STRING_FIELDS, ShardInfo

ROWS_PER_SHARD = 2000
ROW_GROUP_ROWS = 16
METADATA_KEY = b"landmark_fusion"
PART_GLOB = "part-*.parquet"
#: Decoded row groups kept per process (random access within a group costs nothing more).
ROW_GROUP_CACHE = 8
#: Parquet files kept open per process.
OPEN_FILES = 64


def arrow_schema(info: ShardInfo):
    """The Arrow schema of a shard file, with the attributes in its metadata."""
    import pyarrow as pa

    size, count = info.crop_size, len(info.landmark_names)
    jpeg = crop_encoding(info.extra)[0] == JPEG
    fields = [
        pa.field("images", pa.binary() if jpeg else pa.binary(size * size * 3)),
        pa.field("landmarks", pa.list_(pa.float32(), count * 2)),
        pa.field("mask", pa.list_(pa.bool_(), count)),
        pa.field("source", pa.int16()),
        pa.field("scheme", pa.int16()),
        pa.field("crop_to_image", pa.list_(pa.float32(), 6)),
        pa.field("norm_size", pa.float32()),
        pa.field("yaw", pa.float32()),
        pa.field("split", pa.string()),
        pa.field("sample_id", pa.string()),
    ]
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(info.to_attrs()).encode()})


def to_table(batch: dict[str, np.ndarray], schema, jpeg_quality: int | None = None):
    """Arrow table of one column batch (crops JPEG-encoded at ``jpeg_quality`` when given)."""
    import pyarrow as pa

    n = len(batch["images"])
    columns = []
    for field in schema:
        values = batch[field.name]
        if field.name == "images" and jpeg_quality is not None:
            column = pa.array(encode_crops(values, jpeg_quality), type=pa.binary())
        elif field.name == "images":  # a copy: Arrow keeps the buffer, the caller may reuse its array
            flat = np.array(values, dtype=np.uint8, order="C").reshape(-1)
            column = pa.FixedSizeBinaryArray.from_buffers(field.type, n, [None, pa.py_buffer(flat)])
        elif pa.types.is_fixed_size_list(field.type):
            flat = np.ascontiguousarray(values).reshape(-1)
            column = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=field.type.value_type),
                                                       field.type.list_size)
        elif field.name in STRING_FIELDS:
            column = pa.array([str(v) for v in values], type=pa.string())
        else:
            column = pa.array(np.asarray(values), type=field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def part_compression(schema) -> dict[str, str]:
    """Images raw, every other column zstd."""
    return {f.name: ("none" if f.name == "images" else "zstd") for f in schema}


def write_part(path: Path, table, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """One part file of ``table`` (its schema and metadata kept), laid out like the writer's."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(path, table.schema, compression=part_compression(table.schema),
                          use_dictionary=["split"], write_statistics=False) as writer:
        writer.write_table(table, row_group_size=row_group_rows)


class ParquetWriter:
    """Writes column batches into ``part-NNNNN.parquet`` files of ``rows_per_shard`` rows."""

    def __init__(self, path: str | Path, info: ShardInfo, rows_per_shard: int = ROWS_PER_SHARD,
                 row_group_rows: int = ROW_GROUP_ROWS, first_part: int = 0,
                 exist_ok: bool = False) -> None:
        """``first_part``: the number of the first part written; ``exist_ok``: the folder may
        exist already (it is the caller's, e.g. a resumed build's)."""
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=exist_ok)
        self.info = info
        self.rows = 0
        self.rows_per_shard = rows_per_shard
        self.row_group_rows = row_group_rows
        self._schema = arrow_schema(info)
        self._quality = crop_encoding(info.extra)[1]
        self._writer: Any = None  # the open part's pyarrow ParquetWriter (pyarrow ships no types)
        self._shard_rows = 0
        self._shards = first_part
        self._opened = 0  # parts this writer opened
        self._pending: list = []  # Arrow tables not yet a full row group
        self._pending_rows = 0
        #: the closed parts, in order: ``{"file", "rows", "sources": {code: rows}}``
        self.parts: list[dict] = []
        self._sources: Counter = Counter()  # rows per source code of the open part

    @classmethod
    def resume(cls, path: str | Path, info: ShardInfo, parts: list[dict],
               rows_per_shard: int = ROWS_PER_SHARD, row_group_rows: int = ROW_GROUP_ROWS
               ) -> ParquetWriter:
        """Continue a set in ``path`` after its closed ``parts`` (as :attr:`parts` listed them):
        any other part file there (the one being written when the build stopped) is removed."""
        first = int(parts[0]["file"][5:-8]) if parts else 0
        writer = cls(path, info, rows_per_shard, row_group_rows,
                     first_part=first + len(parts), exist_ok=True)
        keep = {part["file"] for part in parts}
        for entry in writer.path.glob(PART_GLOB):
            if entry.name not in keep:
                entry.unlink()
        writer.parts = [dict(part) for part in parts]
        writer.rows = sum(int(part["rows"]) for part in parts)
        return writer

    @property
    def closed_rows(self) -> int:
        """Rows in closed (complete) parts."""
        return sum(int(part["rows"]) for part in self.parts)

    def _open_next(self) -> None:
        import pyarrow.parquet as pq

        name = self.path / f"part-{self._shards:05d}.parquet"
        self._writer = pq.ParquetWriter(name, self._schema, compression=part_compression(self._schema),
                                        use_dictionary=["split"], write_statistics=False)
        self._name = name.name
        self._shards += 1
        self._opened += 1
        self._shard_rows = 0
        self._sources = Counter()

    def _close_part(self) -> None:
        self._writer.close()
        self._writer = None
        self.parts.append({"file": self._name, "rows": self._shard_rows,
                           "sources": {int(code): int(rows) for code, rows in
                                       sorted(self._sources.items())}})

    def _write(self, table) -> None:
        while table.num_rows:
            if self._writer is None:
                self._open_next()
            take = min(table.num_rows, self.rows_per_shard - self._shard_rows)
            part = table.slice(0, take)
            self._writer.write_table(part, row_group_size=self.row_group_rows)
            codes, counts = np.unique(part.column("source").to_numpy(), return_counts=True)
            self._sources.update(dict(zip(codes.tolist(), counts.tolist(), strict=False)))
            self._shard_rows += take
            table = table.slice(take)
            if self._shard_rows == self.rows_per_shard:
                self._close_part()

    def _flush(self, final: bool) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        keep = 0 if final else table.num_rows % self.row_group_rows
        # row groups must not straddle a shard boundary: cut at the shard's remaining rows first
        self._write(table.slice(0, table.num_rows - keep))
        rest = table.slice(table.num_rows - keep)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def append(self, batch: dict[str, np.ndarray]) -> None:
        """Add the rows of one column batch (as made by ``schema.stack_samples``).

        Everything is copied: the caller may reuse its arrays after this call.
        """
        n = len(batch["images"])
        if n == 0:
            return
        self._pending.append(to_table(batch, self._schema, self._quality))
        self._pending_rows += n
        self.rows += n
        if self._pending_rows >= self.row_group_rows:
            self._flush(final=False)

    def close(self) -> None:
        """Write what is pending and close the last file (an empty set gets one empty file)."""
        self._flush(final=True)
        if self._writer is None and not self.parts and self._opened == 0:
            self._open_next()
        if self._writer is not None:
            self._close_part()

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - closing a broken file must not hide the first error
                pass
            self._writer = None


def column_to_numpy(column, name: str, info: ShardInfo, decode: bool = True) -> np.ndarray:
    """A numpy array (rows first) from an Arrow column of the shard schema.

    ``decode=False`` leaves JPEG crops encoded: an object array of each row's bytes, for
    :func:`~.crops.decode_crops` once the rows wanted are picked."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(column)
    size, count = info.crop_size, len(info.landmark_names)
    if name == "images" and not pa.types.is_fixed_size_binary(column.type):  # JPEG crops
        if n == 0:
            return np.zeros((0, size, size, 3), dtype=np.uint8)
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset:column.offset + n + 1]
        data = np.frombuffer(column.buffers()[2], dtype=np.uint8)
        blobs = np.empty(n, dtype=object)
        for i in range(n):
            blobs[i] = data[offsets[i]:offsets[i + 1]]
        return decode_crops(blobs, size) if decode else blobs
    if name == "images":
        width = size * size * 3
        data = np.frombuffer(column.buffers()[1], dtype=np.uint8)
        data = data[column.offset * width:(column.offset + n) * width]
        return data.reshape(n, size, size, 3).copy()
    if name in STRING_FIELDS:
        return np.asarray(column.to_pylist(), dtype=object)
    dtype, shape_of = ARRAY_FIELDS[name]
    if pa.types.is_fixed_size_list(column.type):
        values = column.flatten().to_numpy(zero_copy_only=False)
        return values.astype(dtype, copy=False).reshape(n, *shape_of(size, count))
    return column.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def part_files(path: Path) -> list[Path]:
    """The shard files of a set, in row order."""
    files = sorted(Path(path).glob(PART_GLOB))
    if not files:
        raise FileNotFoundError(f"{path}: no {PART_GLOB} files")
    return files


@dataclass(frozen=True)
class PartIndex:
    """Where each row group of a Parquet shard set lies."""

    files: list[Path]                  # the part files, in row order
    group_starts: np.ndarray           # global first row of each row group
    group_ids: list[tuple[int, int]]   # (file, row group in it) of each group
    file_starts: np.ndarray            # global first row of each file


class ParquetShardSet(ShardSet):
    """Lazy reader of a Parquet shard folder (random access by row group, small LRU cache)."""

    format = "parquet"

    def __init__(self, path) -> None:
        super().__init__(path)
        self._index: PartIndex | None = None
        self._handles: OrderedDict[int, Any] | None = None  # pyarrow ParquetFile of each open part
        self._cache: OrderedDict[tuple[int, tuple[str, ...]], dict[str, np.ndarray]] | None = None

    def _handle_attributes(self) -> Sequence[str]:
        return ("_handles", "_cache")

    @property
    def _parts(self) -> PartIndex:
        """Where the row groups are (read by :meth:`_open`)."""
        self._ensure_open()
        assert self._index is not None
        return self._index

    def _open_handles(self) -> tuple[OrderedDict[int, Any], OrderedDict[tuple[int, tuple[str, ...]],
                                                                      dict[str, np.ndarray]]]:
        """This process's open part files and row-group cache."""
        self._ensure_open()
        assert self._handles is not None and self._cache is not None
        return self._handles, self._cache

    def _open(self) -> None:
        import pyarrow.parquet as pq

        self._handles = OrderedDict()
        self._cache = OrderedDict()
        if self._index is not None:  # index already known (built in the parent, then pickled)
            return
        manifest = read_manifest(self.path)
        if manifest is not None:  # the parts of a grown set come from several builds
            files = [self.path / part["file"] for part in manifest["parts"]]
            expected = [int(part["rows"]) for part in manifest["parts"]]
            info = ShardInfo.from_attrs(manifest["attributes"])
        else:
            files, expected, info = part_files(self.path), None, None
        starts, ids, file_starts, total = [], [], [], 0
        for f_index, path in enumerate(files):
            metadata = pq.read_metadata(path)
            if expected is not None and metadata.num_rows != expected[f_index]:
                raise ValueError(f"{path}: {metadata.num_rows} rows where the set's manifest.json "
                                 f"says {expected[f_index]}")
            if info is None:
                info = ShardInfo.from_attrs(json.loads(metadata.metadata[METADATA_KEY]))
            file_starts.append(total)
            for g in range(metadata.num_row_groups):
                starts.append(total)
                ids.append((f_index, g))
                total += metadata.row_group(g).num_rows
        self._index = PartIndex(files, np.asarray(starts, dtype=np.int64), ids,
                                np.asarray(file_starts, dtype=np.int64))
        self._info = info
        self._length = total

    def close(self) -> None:
        self._handles = None
        self._cache = None
        super().close()

    def row_groups(self) -> list[tuple[Path, int, int]]:
        """``(part file, row group in it, first row of the set)`` of each row group, in row order: the
        unit a reader of some rows reads."""
        parts = self._parts
        pairs = zip(parts.group_ids, parts.group_starts, strict=True)
        return [(parts.files[f], g, int(start)) for (f, g), start in pairs]

    def _parquet_file(self, f_index: int):
        import pyarrow.parquet as pq

        handles = self._open_handles()[0]
        handle = handles.get(f_index)
        if handle is None:
            handle = pq.ParquetFile(self._parts.files[f_index], memory_map=True)
            handles[f_index] = handle
            if len(handles) > OPEN_FILES:
                handles.popitem(last=False)
        else:
            handles.move_to_end(f_index)
        return handle

    def _row_group(self, group: int, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
        key = (group, fields)
        cache = self._open_handles()[1]
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
        f_index, g = self._parts.group_ids[group]
        table = self._parquet_file(f_index).read_row_group(g, columns=list(fields))
        # JPEG crops stay encoded in the cache: only the rows asked for are decoded
        data = {name: column_to_numpy(table.column(name), name, self.info, decode=False)
                for name in fields}
        cache[key] = data
        if len(cache) > ROW_GROUP_CACHE:
            cache.popitem(last=False)
        return data

    def _read_rows(self, rows: np.ndarray, fields: Sequence[str]) -> dict[str, np.ndarray]:
        fields = tuple(fields)
        starts = self._parts.group_starts
        groups = np.searchsorted(starts, rows, side="right") - 1
        parts: dict[str, list[np.ndarray]] = {name: [] for name in fields}
        for group in np.unique(groups):
            selected = rows[groups == group] - starts[group]
            data = self._row_group(int(group), fields)
            for name in fields:
                parts[name].append(data[name][selected])
        out = {name: self._concat(name, values) for name, values in parts.items()}
        if "images" in out and out["images"].dtype == object:
            out["images"] = decode_crops(out["images"], self.info.crop_size)
        return out

    def _concat(self, name: str, values: list[np.ndarray]) -> np.ndarray:
        if values:
            return np.concatenate(values)
        return self._empty(name)

    def _empty(self, name: str) -> np.ndarray:
        if name in STRING_FIELDS:
            return np.empty(0, dtype=object)
        dtype, shape_of = ARRAY_FIELDS[name]
        return np.zeros((0, *shape_of(self.info.crop_size, len(self.info.landmark_names))), dtype)

    def _read_range(self, start: int, stop: int, fields: Sequence[str]) -> dict[str, np.ndarray]:
        fields = tuple(fields)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in fields}
        if stop > start:
            file_starts = self._parts.file_starts
            first = int(np.searchsorted(file_starts, start, side="right") - 1)
            last = int(np.searchsorted(file_starts, stop - 1, side="right") - 1)
            for f_index in range(first, last + 1):
                table = self._parquet_file(f_index).read(columns=list(fields))
                offset = int(file_starts[f_index])
                lo, hi = max(start - offset, 0), min(stop - offset, table.num_rows)
                table = table.slice(lo, hi - lo)
                for name in fields:
                    parts[name].append(column_to_numpy(table.column(name), name, self.info))
        return {name: self._concat(name, values) for name, values in parts.items()}


__all__ = ["ParquetWriter", "ParquetShardSet", "FIELDS"]

"""Where each stored crop lies in the files of a Parquet shard set, so that a batch copies only its own
rows' pixels out of the memory-mapped files instead of decoding whole row groups (16 crops each).

The images column is raw ``fixed_size_binary`` (landmark_fusion.shards.parquet): PLAIN encoded, not
compressed. Its values then sit contiguously in each data page after the page header and the level
bytes. The page headers are read with a minimal Thrift compact-protocol decoder. Sources: the Parquet
format specification (apache/parquet-format, ``parquet.thrift``: PageHeader, DataPageHeader,
DataPageHeaderV2; README "Data Pages": levels then values, a v1 page's levels prefixed by their 4-byte
length) and the Thrift compact protocol specification (apache/thrift, ``doc/specs/thrift-compact-protocol.md``).
Anything else (a dictionary or other encoding, compression, nulls, nested columns) is reported as not
locatable, and the reader falls back to decoding row groups.
"""
from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np

#: Thrift compact types (the low nibble of a field header).
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
#: parquet.thrift PageType and Encoding values used here.
DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = 0, 2, 3
PLAIN = 0


class NotLocatable(ValueError):
    """The images column is not stored in a form whose values can be copied as they are."""


class _Compact:
    """Reads Thrift compact-protocol values from a buffer, from ``pos``."""

    def __init__(self, buf: Any, pos: int) -> None:
        self.buf, self.pos = buf, pos

    def byte(self) -> int:
        value = int(self.buf[self.pos])
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int) -> Any:
        if kind in (_TRUE, _FALSE):
            return kind == _TRUE
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE:
            self.pos += 8
            return None
        if kind == _BINARY:
            n = self.varint()
            self.pos += n
            return None
        if kind in (_LIST, _SET):
            head = self.byte()
            size, element = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            for _ in range(size):
                self.byte() if element in (_TRUE, _FALSE) else self.value(element)
            return None
        if kind == _MAP:
            size = self.varint()
            if size:
                types = self.byte()
                for _ in range(size):
                    self.value(types >> 4), self.value(types & 0x0F)
            return None
        if kind == _STRUCT:
            return self.struct()
        raise NotLocatable(f"unknown Thrift compact type {kind}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            head = self.byte()
            kind = head & 0x0F
            if kind == 0:
                return fields
            delta = head >> 4
            last = last + delta if delta else self.zigzag()
            fields[last] = self.value(kind)


def page_values(buf: Any, start: int, length: int, width: int, max_def: int) -> list[tuple[int, int]]:
    """``(offset of the first value, count)`` of each data page of one column chunk at ``start`` of
    ``length`` bytes in ``buf``, whose values are PLAIN, uncompressed, ``width`` bytes each, no nulls."""
    pages, pos, end = [], start, start + length
    while pos < end:
        reader = _Compact(buf, pos)
        header = reader.struct()
        data, size = reader.pos, int(header[3])
        kind = header[1]
        if kind == DICTIONARY_PAGE:
            raise NotLocatable("dictionary-encoded images")
        if kind == DATA_PAGE:
            page = header.get(5) or {}
            count, encoding = int(page.get(1, -1)), page.get(2)
            levels = 4 + int.from_bytes(bytes(buf[data:data + 4]), "little") if max_def > 0 else 0
        elif kind == DATA_PAGE_V2:
            page = header.get(8) or {}
            count, encoding = int(page.get(1, -1)), page.get(4)
            if page.get(2, 0) or page.get(7, True) and header[2] != size:
                raise NotLocatable("images with nulls or compressed pages")
            levels = int(page.get(5, 0)) + int(page.get(6, 0))
        else:
            raise NotLocatable(f"page type {kind}")
        if encoding != PLAIN or header[2] != size or size - levels != count * width:
            raise NotLocatable("images not stored PLAIN, uncompressed and without nulls")
        pages.append((data + levels, count))
        pos = data + size
    return pages


class ParquetImageIndex:
    """The file and byte offset of every crop of a Parquet shard set; ``read(rows)`` copies them out of
    the memory-mapped part files. :class:`NotLocatable` when the images are stored otherwise."""

    def __init__(self, shards: Any, rows: np.ndarray | None = None) -> None:
        """Index every crop, or only the row groups holding ``rows`` (the others' pages are not read)."""
        import pyarrow.parquet as pq

        size = shards.crop_size
        self.width = size * size * 3
        self.shape = (size, size, 3)
        self.files: list[Path] = []
        self._maps: list[np.ndarray] = []
        groups = shards.row_groups()
        starts = np.array([start for _, _, start in groups], np.int64)
        wanted = None if rows is None else set(np.unique(np.searchsorted(starts, rows, side="right") - 1).tolist())
        self.file_of = np.full(len(shards), -1, np.int32)
        self.offset_of = np.full(len(shards), -1, np.int64)
        metadata: dict[Path, Any] = {}
        for g_index, (path, group, first) in enumerate(groups):
            if wanted is not None and g_index not in wanted:
                continue
            if path not in metadata:
                parquet = pq.ParquetFile(path)
                metadata[path] = parquet.metadata
                column = parquet.schema.names.index("images")
                info = parquet.schema.column(column)
                if info.max_repetition_level or info.physical_type != "FIXED_LEN_BYTE_ARRAY":
                    raise NotLocatable("images not a flat fixed-size column")
                self.files.append(path)
                self._maps.append(self._map(path))
                current = (len(self.files) - 1, column, info.max_definition_level)
            f_index, column, max_def = current
            chunk = metadata[path].row_group(group).column(column)
            if chunk.compression != "UNCOMPRESSED":
                raise NotLocatable(f"images compressed with {chunk.compression}")
            start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
            rows_here = metadata[path].row_group(group).num_rows
            row = first
            for offset, count in page_values(self._maps[f_index], start, chunk.total_compressed_size,
                                             self.width, max_def):
                if row + count > first + rows_here:
                    break
                self.file_of[row:row + count] = f_index
                self.offset_of[row:row + count] = offset + self.width * np.arange(count, dtype=np.int64)
                row += count
            if row != first + rows_here:
                raise NotLocatable(f"{path}: row group {group} holds {rows_here} rows, its pages other counts")

    def covers(self, rows: np.ndarray) -> bool:
        """Whether every row of ``rows`` is indexed."""
        return bool((self.offset_of[np.asarray(rows, np.int64)] >= 0).all())

    @staticmethod
    def _map(path: Path) -> np.ndarray:
        with open(path, "rb") as f:
            return np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)

    def read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        out = np.empty((rows.size, *self.shape), np.uint8)
        flat = out.reshape(rows.size, -1)
        files, offsets = self.file_of[rows], self.offset_of[rows]
        for i in np.lexsort((offsets, files)):  # file order
            o = int(offsets[i])
            flat[i] = self._maps[files[i]][o:o + self.width]
        return out

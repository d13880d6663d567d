"""A lean reader of plain numeric variables in MATLAB 5 ``.mat`` files (the 300W-LP / AFLW2000-3D kind).

``scipy.io.loadmat`` costs about 0.4 ms per small file even when asked for one variable: it builds
a reader object, probes the file version and decompresses every variable's header through several
Python layers. A face of 300W-LP reads two such files. This module walks the file's elements
directly and inflates only the variables asked for; every other compressed variable before the
last one asked for costs the inflation of its first bytes (which hold its name), and the walk
stops once every name asked for is found.

Only real, full numeric arrays are decoded here (classes double, single and the integer classes,
stored as any numeric MAT data type). For anything else -- another file version, a char, cell,
struct, sparse, logical or complex variable, a damaged byte -- :func:`read_numeric` returns None
and the caller reads the file with scipy, whose result and error messages stay the reference.

The layout (MATLAB 5 MAT-file format, "MAT-File Format", The MathWorks, 2018, chapter 1): a 128-byte
header (text, version 0x0100, endian indicator ``IM``/``MI``), then data elements, each an 8-byte
tag ``(type, bytes)`` -- or a 4-byte "small" tag with up to 4 data bytes -- padded to 8 bytes;
``miCOMPRESSED`` (15) elements hold one zlib stream of an ``miMATRIX`` (14) element, which holds
the array flags, the dimensions, the name and the real part.
"""
from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable

import numpy as np

MI_MATRIX = 14
MI_COMPRESSED = 15
#: MAT data types → numpy dtypes (without byte order).
DATA_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8",
              13: "u8"}
#: mxClass codes of the numeric classes: double, single, int8 ... uint64.
NUMERIC_CLASSES = frozenset(range(6, 16))
#: Array-flag bits of a complex, global or logical array.
COMPLEX_FLAG, LOGICAL_FLAG = 0x0800, 0x0200
#: Inflated bytes that always hold a matrix's flags, dimensions and name (names are ≤ 63 chars).
HEAD_BYTES = 8 + 16 + 8 + 8 * 8 + 8 + 64


class Unsupported(Exception):
    """What this reader leaves to scipy."""


def _tag(buffer: bytes, pos: int, order: str) -> tuple[int, int, int, int]:
    """``(type, bytes, data start, next element)`` of the element at ``pos``."""
    first, second = struct.unpack_from(order + "II", buffer, pos)
    if first >> 16:  # small data element: 2-byte bytes count, 2-byte type, data in 4 bytes
        return first & 0xFFFF, first >> 16, pos + 4, pos + 8
    data = pos + 8
    return first, second, data, data + second + (-second % 8)


def _matrix_name(body: bytes, order: str) -> tuple[str, int, int, tuple[int, ...], int]:
    """``(name, class, flags, dims, position after the name)`` of an ``miMATRIX`` element's body."""
    kind, size, data, pos = _tag(body, 0, order)
    if kind != 6 or size != 8:
        raise Unsupported("array flags")
    flags = struct.unpack_from(order + "I", body, data)[0]
    kind, size, data, pos = _tag(body, pos, order)
    if kind != 5 or size % 4:
        raise Unsupported("dimensions")
    dims = struct.unpack_from(f"{order}{size // 4}i", body, data)
    kind, size, data, pos = _tag(body, pos, order)
    if kind not in (1, 2) or data + size > len(body):
        raise Unsupported("name")
    return body[data:data + size].decode("ascii"), flags & 0xFF, flags, dims, pos


def _numeric(body: bytes, order: str) -> tuple[str, np.ndarray]:
    """The name and (numeric) value of a whole ``miMATRIX`` element body."""
    name, klass, flags, dims, pos = _matrix_name(body, order)
    if klass not in NUMERIC_CLASSES or flags & (COMPLEX_FLAG | LOGICAL_FLAG):
        raise Unsupported(f"{name}: class {klass}")
    kind, size, data, _ = _tag(body, pos, order)
    code = DATA_TYPES.get(kind)
    if code is None or data + size > len(body):
        raise Unsupported(f"{name}: data type {kind}")
    dtype = np.dtype(order + code)
    count = math.prod(dims) if dims else 0
    if size != count * dtype.itemsize:
        raise Unsupported(f"{name}: {size} bytes for {dims}")
    values = np.frombuffer(body, dtype, count, data).astype(dtype.newbyteorder("="))
    return name, values.reshape(dims, order="F")


#: Per set of names asked for, the element positions where the last file that held them all had
#: them: files written by one program share their variables' order (300W-LP's main ``.mat`` holds
#: eight variables and the build asks for the last one), so only those elements are inflated.
_POSITIONS: dict[frozenset[str], tuple[int, ...]] = {}


def read_numeric(data: bytes, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The variables ``names`` of a MATLAB 5 file's bytes that it holds (absent names left out), or
    None when the file is not one this reader handles (see the module docstring). The elements after
    the last name found are not read.

    The positions of the variables in the last file that held them all are tried first: only the
    elements there are inflated, and their names checked; a file where they are not all found there
    is walked element by element."""
    wanted = frozenset(names)
    if len(data) < 128 or not data.startswith(b"MATLAB 5.0") or data[124:126] not in (b"\x00\x01",
                                                                                         b"\x01\x00"):
        return None
    order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if order is None:
        return None
    positions = _POSITIONS.get(wanted)
    try:
        if positions is not None:
            found = _walk(data, order, wanted, positions)
            if found is not None and len(found[0]) == len(wanted):
                return found[0]
        walked = _walk(data, order, wanted, None)
    except (Unsupported, struct.error, zlib.error, UnicodeDecodeError, ValueError):
        return None
    if walked is None:
        return None
    result, where = walked
    if wanted and len(result) == len(wanted):
        _POSITIONS[wanted] = where
    return result


def _inflated_matrix(element: bytes, order: str) -> bytes | None:
    """The ``miMATRIX`` body inside a compressed element's bytes (None if it holds another)."""
    whole = zlib.decompress(element)
    inner, inner_size, inner_start, _ = _tag(whole, 0, order)
    body = whole[inner_start:inner_start + inner_size]
    return body if inner == MI_MATRIX and len(body) == inner_size else None


def _walk(data: bytes, order: str, wanted: frozenset[str], positions: tuple[int, ...] | None
          ) -> tuple[dict[str, np.ndarray], tuple[int, ...]] | None:
    """``(the wanted variables found, their element positions)``, reading only the elements at
    ``positions`` when given (None there if one holds another name), else every element up to the
    last wanted one; None for a file this reader does not handle."""
    result: dict[str, np.ndarray] = {}
    where: list[int] = []
    last = positions[-1] if positions else -1
    pos, end, index = 128, len(data), 0
    while pos < end:
        if end - pos < 8:
            return None
        kind, size, start, following = _tag(data, pos, order)
        if start + size > end:
            return None
        if positions is not None and index in positions:  # a wanted variable's place: inflated whole
            if kind == MI_COMPRESSED:
                body = _inflated_matrix(data[start:start + size], order)
            elif kind == MI_MATRIX:
                body = data[start:start + size]
            else:
                return None
            if body is None:
                return None
            try:
                name, value = _numeric(body, order)
            except Unsupported:  # not what the remembered place held here: the caller walks
                return None
            if name not in wanted:
                return None
            result[name] = value
            where.append(index)
            if len(result) == len(wanted) or index == last:
                break
        elif positions is None:
            if kind == MI_COMPRESSED:
                inflater = zlib.decompressobj()
                head = inflater.decompress(data[start:start + size], HEAD_BYTES)
                inner, inner_size, inner_start, _ = _tag(head, 0, order)
                if inner != MI_MATRIX:
                    return None
                name = _matrix_name(head[inner_start:], order)[0]
                if name in wanted:
                    whole = head + inflater.decompress(inflater.unconsumed_tail) + inflater.flush()
                    body = whole[inner_start:inner_start + inner_size]
                    if len(body) != inner_size:
                        return None
                    result[name] = _numeric(body, order)[1]
                    where.append(index)
            elif kind == MI_MATRIX:
                body = data[start:start + size]
                name = _matrix_name(body, order)[0]
                if name in wanted:
                    result[name] = _numeric(body, order)[1]
                    where.append(index)
            else:
                return None
            if len(result) == len(wanted):
                break
        elif kind not in (MI_COMPRESSED, MI_MATRIX):
            return None
        if kind == MI_COMPRESSED:
            following = start + size  # compressed elements are not padded
        pos = following
        index += 1
    return result, tuple(where)


__all__ = ["read_numeric"]

"""The iBUG ``.pts`` landmark text format (300W and its relatives).

Layout (source: docs/formats.md §2)::

    version: 1
    n_points:  68
    {
    115.167660 220.807529
    ...
    }

Coordinates are 1-based pixels. The parser accepts any whitespace, CRLF line ends and a missing final
newline, and turns every defect into a :class:`SourceError` with a named reason.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .base import SourceError


def parse_pts(text: str, path: Path | str, expected: int | None = None) -> np.ndarray:
    """Parse ``.pts`` text into an ``(n, 2)`` float64 array of the file's own (1-based) coordinates.

    ``path`` only names the file in error details. ``expected`` (if given) is the point count the
    scheme needs; a header or body with another count is ``wrong_point_count``.
    """
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line]
    header: dict[str, str] = {}
    start = None
    for number, line in enumerate(lines):
        if line == "{":
            start = number + 1
            break
        key, sep, value = line.partition(":")
        if not sep:
            raise SourceError("corrupt_annotation", f"{path}: unexpected header line {line!r}")
        header[key.strip().lower()] = value.strip()
    if start is None:
        raise SourceError("corrupt_annotation", f"{path}: no opening '{{' (not a .pts file?)")
    try:
        end = lines.index("}", start)
    except ValueError:
        raise SourceError("corrupt_annotation",
                          f"{path}: truncated, no closing '}}' after {len(lines) - start} point lines") from None
    if end != len(lines) - 1:
        raise SourceError("corrupt_annotation", f"{path}: text after the closing '}}'")

    declared = None
    if "n_points" in header:
        try:
            declared = int(header["n_points"])
        except ValueError:
            raise SourceError("corrupt_annotation",
                              f"{path}: n_points is not an integer: {header['n_points']!r}") from None

    body = lines[start:end]
    rows = [line.split() for line in body]
    try:
        points = np.array(rows, dtype=np.float64)  # one C-level conversion when every line has 2
    except ValueError:
        points = None
    if points is None or points.shape != (len(body), 2):
        _raise_bad_line(rows, body, path)
        points = np.empty((0, 2))  # an empty body

    if declared is not None and declared != len(body):
        raise SourceError("wrong_point_count",
                          f"{path}: header says n_points {declared} but the body has {len(body)} lines")
    if expected is not None and len(body) != expected:
        raise SourceError("wrong_point_count", f"{path}: {len(body)} points, expected {expected}")
    if not np.all(np.isfinite(points)):
        bad = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise SourceError("bad_coordinates", f"{path}: NaN or infinite coordinate on point line {bad + 1}")
    return points


def _raise_bad_line(rows: list[list[str]], body: list[str], path: Path | str) -> None:
    """Raise the error of the first point line without exactly two numbers (the slow path)."""
    for row, (fields, line) in enumerate(zip(rows, body, strict=True)):
        if len(fields) != 2:
            raise SourceError("wrong_field_count",
                              f"{path}: point line {row + 1} has {len(fields)} fields, expected 2: {line!r}")
        try:
            float(fields[0]), float(fields[1])
        except ValueError:
            raise SourceError("corrupt_annotation", f"{path}: point line {row + 1} is not numeric: {line!r}") from None


def read_pts(path: Path, expected: int | None = None) -> np.ndarray:
    """Read and parse a ``.pts`` file (see :func:`parse_pts`); unreadable files are named errors."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SourceError("missing_annotation", f"{path}: file not found") from None
    except OSError as error:
        raise SourceError("corrupt_annotation", f"{path}: cannot read ({error})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("corrupt_annotation", f"{path}: not a text file (invalid UTF-8)") from None
    return parse_pts(text, path, expected)


def format_pts(points: np.ndarray) -> str:
    """``.pts`` text for 1-based ``points`` exactly as the iBUG files lay it out (no final newline)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or not all(math.isfinite(v) for v in points.ravel()):
        raise ValueError("format_pts needs a finite (n, 2) array")
    body = "\n".join(f"{x:.6f} {y:.6f}" for x, y in points)
    return f"version: 1\nn_points:  {len(points)}\n{{\n{body}\n}}"

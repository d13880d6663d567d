"""The ``.land`` landmark text format of FaceWarehouse (and, presumably, LFW-74).

A file is a point-count line followed by one ``u v`` line per point (source: docs/formats.md §6,
verified on the FaceWarehouse samples: CRLF endings, 74 points, ``u v`` normalised to [0, 1]
with ``v`` measured from the image bottom). LFW-74's files are unverified (docs/formats.md §7), so the
value range (normalised or pixels) and the y direction are decided per file set by
:func:`detect_convention` rather than assumed.

Conversion to 0-based pixel centres (y down) for an image of ``W x H`` pixels:

- normalised: ``x = u * W`` and ``y = (1 - v) * H`` (y up) or ``y = v * H`` (y down). Whether
  the normaliser is ``W`` or ``W - 1`` cannot be told from the samples (docs/formats.md §6); the two
  differ by at most half a pixel at the border and ``W`` is used;
- pixels: ``x = u`` and ``y = H - v`` (y up, the same reflection as the normalised case, so both
  conventions agree on where a point lands) or ``y = v`` (y down), taken as 0-based.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .base import RawFace, SourceError, check_points, image_size

#: fw74 indices of the eyebrows and of the mouth (source: docs/formats.md §6 index layout).
BROW_INDICES = range(15, 27)
MOUTH_INDICES = range(46, 64)

#: Largest absolute value a file may hold and still count as normalised (points slightly off
#: the image edge reach a little beyond 1; a pixel-coordinate face never stays below 2 px).
NORMALISED_LIMIT = 1.5

#: Number of files (in the set's sorted order) whose majority decides the convention.
DETECTION_SAMPLE = 50


@dataclass(frozen=True)
class LandConvention:
    """How the numbers of a ``.land`` file set map to pixels, and how that was decided."""

    normalised: bool
    y_up: bool
    how: str = "forced"  # "forced", "default" or the evidence of an automatic decision

    @property
    def label(self) -> str:
        """Short machine-friendly name, e.g. ``normalised/y_up``."""
        return f"{'normalised' if self.normalised else 'pixels'}/{'y_up' if self.y_up else 'y_down'}"

    def __str__(self) -> str:
        return f"{self.label} ({self.how})"


#: The verified FaceWarehouse convention (docs/formats.md §6).
FACEWAREHOUSE_CONVENTION = LandConvention(normalised=True, y_up=True,
                                          how="FaceWarehouse default, verified (docs/formats.md §6)")


def read_land(path: Path | str, expected: int | None = None) -> np.ndarray:
    """Parse a ``.land`` file into its raw ``(K, 2)`` numbers (no conversion).

    Checks the count line against the number of point lines (and against ``expected``), two
    numeric fields per line and finite values; every problem is a :class:`SourceError` naming
    the file and line.
    """
    try:
        handle = open(path, encoding="ascii", newline=None)
    except FileNotFoundError:
        raise SourceError("missing_annotation", f"{path}: file not found") from None
    except OSError as error:
        raise SourceError("corrupt_annotation", f"{path}: cannot open ({error})") from None
    rows: list[tuple[float, float]] = []
    declared: int | None = None
    try:
        with handle:
            for number, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields:
                    continue
                if declared is None:
                    if len(fields) != 1 or not fields[0].isdigit():
                        raise SourceError("corrupt_annotation",
                                          f"{path}:{number}: expected the point count, got {line.strip()!r}")
                    declared = int(fields[0])
                    continue
                if len(fields) != 2:
                    raise SourceError("wrong_field_count",
                                      f"{path}:{number}: expected 2 fields 'u v', got {len(fields)}")
                try:
                    u, v = float(fields[0]), float(fields[1])
                except ValueError:
                    raise SourceError("corrupt_annotation",
                                      f"{path}:{number}: non-numeric field in {line.strip()!r}") from None
                if not (math.isfinite(u) and math.isfinite(v)):
                    raise SourceError("bad_coordinates", f"{path}:{number}: NaN or infinite value")
                rows.append((u, v))
    except UnicodeDecodeError as error:
        raise SourceError("corrupt_annotation", f"{path}: not a text file ({error})") from None
    except OSError as error:
        raise SourceError("corrupt_annotation", f"{path}: read error ({error})") from None
    if declared is None:
        raise SourceError("corrupt_annotation", f"{path}: empty file")
    if declared != len(rows):
        raise SourceError("wrong_point_count",
                          f"{path}: count line says {declared} points, file holds {len(rows)}")
    if expected is not None and len(rows) != expected:
        raise SourceError("wrong_point_count", f"{path}: expected {expected} points, got {len(rows)}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def land_to_pixels(raw: np.ndarray, convention: LandConvention,
                   size: tuple[int, int]) -> np.ndarray:
    """Convert raw ``.land`` numbers to 0-based pixel centres, y down, in a ``W x H`` image."""
    width, height = size
    points = np.array(raw, dtype=np.float64, copy=True)
    if convention.normalised:
        points[:, 0] *= width
        points[:, 1] *= height
    if convention.y_up:
        points[:, 1] = height - points[:, 1]
    return points


def looks_normalised(raw: np.ndarray) -> bool:
    """True if every number of one file lies within the normalised range."""
    return bool(raw.size) and float(np.abs(raw).max()) <= NORMALISED_LIMIT


def looks_y_up(raw: np.ndarray) -> bool | None:
    """True if the brows lie at larger raw ``v`` than the mouth (v grows upwards); None if unknown.

    In an upright face the brows are above the mouth; in a y-down file that means a smaller
    ``v``. Only meaningful for the fw74 layout (74 points).
    """
    if raw.shape[0] <= max(MOUTH_INDICES):
        return None
    brows = raw[list(BROW_INDICES), 1].mean()
    mouth = raw[list(MOUTH_INDICES), 1].mean()
    if brows == mouth:
        return None
    return bool(brows > mouth)


def detect_convention(paths: Iterable[Path], sample: int = DETECTION_SAMPLE,
                      default: LandConvention = FACEWAREHOUSE_CONVENTION,
                      normalised: bool | None = None, y_up: bool | None = None) -> LandConvention:
    """Decide a file set's convention by majority over its first ``sample`` readable files.

    ``normalised`` / ``y_up`` force that half of the decision. Unreadable files are skipped (they
    are rejected when read); with no usable file the ``default`` is kept for the undecided half.
    """
    if normalised is not None and y_up is not None:
        return LandConvention(normalised=bool(normalised), y_up=bool(y_up), how="forced")
    votes_norm = votes_up = files = oriented = 0
    for path in paths:
        if files >= sample:
            break
        try:
            raw = read_land(path)
        except SourceError:
            continue
        if not raw.size:
            continue
        files += 1
        votes_norm += looks_normalised(raw)
        up = looks_y_up(raw)
        if up is not None:
            oriented += 1
            votes_up += up
    normalised, range_note = _decide("range", normalised, votes_norm, files, default.normalised,
                                     f"{votes_norm}/{files} files within ±{NORMALISED_LIMIT}",
                                     "no readable file")
    y_up, axis_note = _decide("orientation", y_up, votes_up, oriented, default.y_up,
                              f"{votes_up}/{oriented} files with brows at larger v than mouth",
                              "no usable file")
    return LandConvention(normalised=normalised, y_up=y_up, how=f"auto: {range_note}; {axis_note}")


def _decide(what: str, forced: bool | None, votes: int, voters: int, default: bool,
            evidence: str, no_voters: str) -> tuple[bool, str]:
    """One half of :func:`detect_convention`: forced, else the majority (a tie keeps ``default``),
    else ``default`` when nothing voted; with the note the ``how`` text gets for it."""
    if forced is not None:
        return bool(forced), f"{what} forced"
    if not voters:
        return bool(default), f"{what}: {no_voters}, default"
    return (2 * votes > voters if 2 * votes != voters else bool(default)), evidence


def parse_convention_options(coordinates: str = "auto", y_axis: str = "auto") -> tuple[bool | None, bool | None]:
    """Reader options ``coordinates`` (auto|normalised|pixels) and ``y_axis`` (auto|up|down)."""
    norm_map = {"auto": None, "normalised": True, "normalized": True, "pixels": False}
    axis_map = {"auto": None, "up": True, "down": False}
    if coordinates not in norm_map:
        raise ValueError(f"coordinates must be one of {sorted(norm_map)}, got {coordinates!r}")
    if y_axis not in axis_map:
        raise ValueError(f"y_axis must be one of {sorted(axis_map)}, got {y_axis!r}")
    return norm_map[coordinates], axis_map[y_axis]


def read_land_points(land_path: Path, image_path: Path, convention: LandConvention,
                     expected: int) -> np.ndarray:
    """Checked 0-based pixel points of one ``.land`` file in the frame of ``image_path``.

    Reads only the image header (for W and H); raises :class:`SourceError` on any problem.
    """
    raw = read_land(land_path, expected)
    size = image_size(image_path)
    points = land_to_pixels(raw, convention, size)
    check_points(points, np.ones(len(points), dtype=bool), expected, land_path, size)
    return points


class LandReader(Protocol):
    """What :func:`land_face` needs of a ``.land`` reader (FaceWarehouse, LFW-74)."""

    name: str
    scheme: str

    @property
    def convention(self) -> LandConvention: ...


def land_face(reader: LandReader, land_path: Path, image_name: str, image_path: Path, split: str,
              expected: int) -> RawFace:
    """The :class:`RawFace` of one ``.land`` file: all ``expected`` points annotated, converted by
    the reader's convention, whose label is recorded in ``extra['land_convention']``."""
    points = read_land_points(land_path, image_path, reader.convention, expected)
    return RawFace(reader.name, image_name, image_path, reader.scheme, points,
                   np.ones(expected, dtype=bool), split,
                   extra={"land_convention": reader.convention.label})

"""What every database reader produces, and the rules all readers share.

A reader (one module per database in this package) turns the database's native files into
:class:`RawFace` records in two steps, so that the build can spread the work over processes and
never hold a whole database in memory:

1. :meth:`Source.items` walks the on-disk layout and yields small, picklable work items
   (an annotation path, a list line, a row number) -- cheap, streaming, in a stable order;
2. :meth:`Source.read` parses one item in a worker and returns the faces it holds (one image may
   hold several faces) or :class:`Rejected` records naming what was wrong.

Coordinates in a :class:`RawFace` are always 0-based pixel centres in the frame of the image file
named by ``image_path`` (x right, y down): 1-based files, normalised or y-up files and points that
live in another frame (AFLW's 450-px frame vs. its 120-px crops) are converted by the reader.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: Images with more pixels than this are rejected (decompression-bomb guard), see ``read_image``.
DEFAULT_MAX_PIXELS = 64_000_000

#: Coordinates farther than this many image sizes outside the image are "absurd".
ABSURD_MARGIN = 2.0


@dataclass
class RawFace:
    """One annotated face, in its database's own landmark scheme.

    ``points`` has one row per index of ``scheme`` (native index order, after any re-indexing a
    reader must do, e.g. 300W-LP ``_Flip``); ``visible`` marks the indices that carry a point.
    """

    source: str                     # database name: aflw, 300w, 300w_lp, aflw2000_3d, ls3d_w, facewarehouse, lfw74,
                                    # wflw
    sample_id: str                  # database-relative image path, '#k' appended for the k-th face of an image
    image_path: Path                # absolute path of the image file
    scheme: str                     # landmark scheme name: ibug68, ibug68_fixed, aflw21, fw74, wflw98
    points: np.ndarray              # (K, 2) float64, 0-based pixel centres in the image's frame
    visible: np.ndarray             # (K,) bool
    split: str                      # train | val | test
    yaw: float = math.nan           # degrees, positive = face turned towards image-left; NaN if unknown
    box: np.ndarray | None = None   # (4,) x0, y0, x1, y1 face box from the database, if it has one
    extra: dict[str, Any] = field(default_factory=dict)  # reader-specific facts (e.g. aflw21 points of AFLW2000-3D)


@dataclass
class Rejected:
    """A sample that could not be used, with a short machine-readable reason and a human detail."""

    source: str
    sample_id: str
    reason: str      # one of REASONS (or a reader-specific lower_snake_case word)
    detail: str = ""  # names the file and what was wrong


#: Reasons shared by all readers; the build report counts rejections by these words.
REASONS = (
    "missing_image",
    "corrupt_image",
    "image_too_large",
    "missing_annotation",
    "corrupt_annotation",
    "wrong_point_count",
    "bad_coordinates",
    "degenerate_box",
    "wrong_field_count",
    "path_outside_root",
    "stale_landmarks",
    "no_visible_points",
    "duplicate_sample",
    "wrong_layout",
    "unreadable_folder",
    "link_loop",
)

#: Visible points whose box is narrower or lower than this many pixels are ``degenerate_box``:
#: every normalised error on such a face divides by (almost) zero.
MIN_BOX_SIDE = 1.0

ReadResult = Sequence[RawFace | Rejected]


class SourceError(Exception):
    """A problem with one sample; carries the rejection reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@runtime_checkable
class Source(Protocol):
    """A database reader. ``name`` is the database name used in ``roots.yaml``."""

    name: str

    def __init__(self, root: Path, **options: Any) -> None: ...

    def items(self) -> Iterator[Any]:
        """Yield picklable work items in a stable order, streaming over the layout.

        What the reader cannot use -- a root of unknown layout, an unreadable folder, a link
        loop, an undecodable or repeated list line -- is yielded as a :class:`Rejected` record
        in its place, so that the build names it instead of skipping it silently.
        """
        ...

    def read(self, item: Any) -> ReadResult:
        """Parse one item; never raises for bad input, returns :class:`Rejected` instead.

        A :class:`Rejected` record yielded by :meth:`items` comes back unchanged.
        """
        ...

    def sample_id(self, item: Any) -> str:
        """The ``sample_id`` the item's face gets, from the item alone (no annotation parsed).

        Declared splits that need every id of a database before the build (a fixed-size
        hold-out, the images of another database) call this.
        """
        ...


def safe_join(root: Path, relative: str | Path) -> Path:
    """:func:`safe_join_text` as a :class:`~pathlib.Path`."""
    return Path(safe_join_text(root, relative))


def safe_join_text(root: Path | str, relative: str | Path) -> str:
    """Join a database-relative path to its root, refusing paths that leave the root.

    ``relative`` is a path named by the database itself (a walked file, a list entry, a name
    inside an annotation): it must be relative and must not climb above the root with ``..``.
    The check is on the text alone (``..`` is folded lexically, so ``a/../b`` is ``b`` even when
    ``a`` is a link), and the links the user made inside the root -- file links, linked
    sub-folders, a linked root -- are followed wherever they point: they are the user's own
    layout. The result is ``root / relative`` with ``.`` and ``..`` folded, not resolved, as a
    string (a reader that only opens a file and names it needs no Path object per face).
    """
    text = os.fspath(relative)
    if "\0" in text:
        raise SourceError("corrupt_annotation", f"{text!r}: a path with a NUL byte")
    if os.path.isabs(text):
        raise SourceError("path_outside_root",
                          f"{text} is an absolute path; paths in a database must be relative to "
                          f"its root {root}")
    folded = os.path.normpath(text)
    if folded == ".." or folded.startswith(".." + os.sep):
        raise SourceError("path_outside_root", f"{text} leaves the database root {root}")
    if folded == ".":
        return os.fspath(root)
    return os.path.join(os.fspath(root), folded)


def check_points(points: np.ndarray, visible: np.ndarray, expected: int, path: Path | str,
                 image_size: tuple[int, int] | None = None) -> tuple[float, float, float, float]:
    """Validate a landmark array: count, finiteness, a usable box, and (given the image size)
    absurd values. Returns the visible points' extent ``(x_min, y_min, x_max, y_max)``, which the
    checks compute anyway (the build crops around it)."""
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] != expected:
        raise SourceError("wrong_point_count",
                          f"{path}: expected {expected} points, got shape {tuple(points.shape)}")
    vis = points if visible.all() else points[visible]
    if not len(vis):
        raise SourceError("no_visible_points", f"{path}: no annotated point")
    (x_min, y_min), (x_max, y_max) = vis.min(axis=0).tolist(), vis.max(axis=0).tolist()
    # min and max carry any NaN along, and an infinity shows in one of them
    if not all(map(math.isfinite, (x_min, y_min, x_max, y_max))):
        raise SourceError("bad_coordinates", f"{path}: NaN or infinite coordinates")
    if x_max - x_min < MIN_BOX_SIDE or y_max - y_min < MIN_BOX_SIDE:
        raise SourceError("degenerate_box",
                          f"{path}: the {len(vis)} annotated points span "
                          f"{x_max - x_min:.3g} x {y_max - y_min:.3g} px (less than "
                          f"{MIN_BOX_SIDE:g} px wide or high: no face size to normalise by)")
    extent = x_min, y_min, x_max, y_max
    if image_size is not None:
        check_within_image(extent, image_size, path)
    return extent


def usable_extents(points: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_points` for many faces of one scheme at once: ``(extents, usable)``.

    ``points`` is (n, K, 2), ``visible`` (n, K). Row ``i`` of the (n, 4) ``extents`` is face
    ``i``'s ``(x_min, y_min, x_max, y_max)`` where ``usable[i]``: some point visible, every visible
    one finite, a box at least :data:`MIN_BOX_SIDE` wide and high -- exactly the faces
    :func:`check_points` accepts (without an image size), with the same extent. The other faces
    are for :func:`check_points` to name.
    """
    mask = visible[..., None]
    low = np.where(mask, points, np.inf).min(axis=1)  # NaN carries through min and max
    high = np.where(mask, points, -np.inf).max(axis=1)
    extents = np.concatenate([low, high], axis=1)
    usable = np.isfinite(extents).all(axis=1) & ((high - low) >= MIN_BOX_SIDE).all(axis=1)
    return extents, usable


def check_within_image(extent: tuple[float, float, float, float], image_size: tuple[int, int],
                       path: Path | str) -> None:
    """Refuse points (their extent, from :func:`check_points`) far outside a ``(width, height)``
    image: absurd values, not a face partly out of the frame."""
    x_min, y_min, x_max, y_max = extent
    w, h = image_size
    if (min(x_min / w, y_min / h) < -ABSURD_MARGIN
            or max(x_max / w, y_max / h) > 1 + ABSURD_MARGIN):
        raise SourceError("bad_coordinates",
                          f"{path}: coordinates far outside the {w}x{h} image "
                          f"(min {[round(x_min, 1), round(y_min, 1)]}, "
                          f"max {[round(x_max, 1), round(y_max, 1)]})")


def image_size(path: Path | str) -> tuple[int, int]:
    """``(width, height)`` of an image read from its header only (no pixel decode).

    Readers whose coordinates depend on the frame size (normalised ``.land`` files) or that check
    points against it call this; decoding stays with the build. Errors become rejections.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise SourceError("missing_image", f"{path}: image file not found") from None
    except Image.DecompressionBombError as error:
        raise SourceError("image_too_large", f"{path}: {error}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise SourceError("corrupt_image", f"{path}: unreadable image header ({error})") from None
    if width * height > DEFAULT_MAX_PIXELS:
        raise SourceError("image_too_large",
                          f"{path}: {width}x{height} exceeds {DEFAULT_MAX_PIXELS} pixels")
    return int(width), int(height)

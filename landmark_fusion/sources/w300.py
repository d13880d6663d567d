"""300W reader: ``<name>.pts`` beside ``<name>.png|.jpg`` (source: docs/formats.md §2).

Folders of the iBUG release and the subset each belongs to (recorded in ``extra['subset']``):

=============================================  ===========
``lfpw/trainset``, ``helen/trainset``, ``afw``  ``train``
``lfpw/testset``, ``helen/testset``             ``common``
``ibug``                                        ``challenge``
``01_Indoor``, ``02_Outdoor``                   ``private``
=============================================  ===========

The paper trains on all of LFPW, HELEN, AFW and IBUG (3837 faces) and keeps the 600 private
challenge faces out, so by default ``private`` faces get split ``test`` and all others ``train``;
option ``test_subsets`` changes that (e.g. ``("common", "challenge", "private")`` for the usual 300-W
evaluation). ``.pts`` coordinates are 1-based and become 0-based here. One face per file.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .base import RawFace, Rejected, check_points
from .layout import annotated_image, expect_layout, guarded, image_id_beside, passes_rejections, walk_files
from .pts import read_pts

NUM_POINTS = 68
#: what a 300W root holds, as a ``wrong_layout`` message names it
EXPECTED = (".pts files beside their images (<name>.pts + <name>.png or .jpg) anywhere below the "
            "root, e.g. lfpw/trainset/, helen/testset/, afw/, ibug/")

#: (lower-case folder path prefix, subset) -- first match wins.
SUBSETS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("lfpw", "trainset"), "train"),
    (("helen", "trainset"), "train"),
    (("afw",), "train"),
    (("lfpw", "testset"), "common"),
    (("helen", "testset"), "common"),
    (("ibug",), "challenge"),
    (("01_indoor",), "private"),
    (("02_outdoor",), "private"),
)


def subset_of(relative: str) -> str:
    """The 300-W subset of a root-relative path (``other`` for folders outside the release)."""
    parts = tuple(p.lower() for p in relative.split("/")[:-1])
    for n in range(len(parts)):  # the release may sit below an extra folder level (e.g. 300W/...)
        for prefix, subset in SUBSETS:
            if parts[n:n + len(prefix)] == prefix:
                return subset
    return "other"


class W300Source:
    """Reads the 300W ``.pts`` files under ``root`` (scheme ``ibug68``)."""

    name = "300w"
    scheme = "ibug68"

    def __init__(self, root: Path, test_subsets: Iterable[str] = ("private",)) -> None:
        self.root = Path(root)
        self.test_subsets = frozenset(test_subsets)

    def items(self) -> Iterator[str | Rejected]:
        """Root-relative ``.pts`` paths, sorted per directory."""
        return expect_layout(self.name, self.root, EXPECTED, walk_files(self.root, (".pts",), self.name))

    def sample_id(self, item: str) -> str:
        return image_id_beside(self.root, item)

    @passes_rejections
    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, item, lambda: self._read(item))

    def _read(self, item: str) -> list[RawFace | Rejected]:
        pts_path, image_name, image_path = annotated_image(self.root, item)
        points = read_pts(pts_path, NUM_POINTS) - 1.0  # 1-based -> 0-based (docs/formats.md §2)
        visible = np.ones(NUM_POINTS, dtype=bool)
        check_points(points, visible, NUM_POINTS, pts_path)
        subset = subset_of(item)
        split = "test" if subset in self.test_subsets else "train"
        return [RawFace(self.name, image_name, image_path, self.scheme, points, visible, split,
                        extra={"subset": subset})]

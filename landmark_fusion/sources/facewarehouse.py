"""FaceWarehouse reader: ``Tester_<k>/TrainingPose/pose_<j>.{png,land}`` (source: formats.md §6).

Each ``.land`` holds 74 points normalised to [0, 1] with y up (verified on the samples), converted
by :mod:`.landfiles` (``x = u·W``, ``y = (1 − v)·H``). Options ``coordinates`` / ``y_axis`` override
that convention (``"auto"`` decides it from the files like LFW-74 does). Every face is ``train``
(the paper trains on FaceWarehouse); ``test_testers`` holds out whole testers as ``test``.

A pose with an image but no ``.land`` (or the reverse) is reported as a rejection rather than
skipped silently.
"""
from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

from .base import RawFace, Rejected, SourceError, safe_join
from .landfiles import (FACEWAREHOUSE_CONVENTION, LandConvention, detect_convention, land_face,
                         parse_convention_options)
from .layout import IMAGE_SUFFIXES, guarded

NUM_POINTS = 74
POSE_FOLDER = "TrainingPose"
_TESTER = re.compile(r"Tester_(\d+)$")
_POSE = re.compile(r"pose_(\d+)$")


def _numbered(folder: Path, pattern: re.Pattern, want_dir: bool) -> list[tuple[int, str]]:
    """(number, name) of the entries of ``folder`` matching ``pattern``, by number (one listing)."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name if want_dir else os.path.splitext(entry.name)[0]
                match = pattern.match(name)
                if match and entry.is_dir(follow_symlinks=False) == want_dir:
                    found.append((int(match.group(1)), entry.name))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    return sorted(found)


def tester_number(item: str) -> int:
    """The ``k`` of ``Tester_<k>/…``."""
    match = _TESTER.match(item.split("/", 1)[0])
    return int(match.group(1)) if match else -1


class FaceWarehouseSource:
    """Reads FaceWarehouse's ``.land`` files (scheme ``fw74``)."""

    name = "facewarehouse"
    scheme = "fw74"

    def __init__(self, root: Path, test_testers: Iterable[int | str] = (),
                 coordinates: str = "normalised", y_axis: str = "up") -> None:
        self.root = Path(root)
        self.test_testers = frozenset(int(str(t).removeprefix("Tester_")) for t in test_testers)
        self._forced = parse_convention_options(coordinates, y_axis)

    @cached_property
    def convention(self) -> LandConvention:
        """How the ``.land`` numbers map to pixels (forced by default, see the module doc)."""
        normalised, y_up = self._forced
        if (normalised, y_up) == (True, True):
            return FACEWAREHOUSE_CONVENTION
        paths = (self.root / item for item in self._land_paths())
        return detect_convention(paths, normalised=normalised, y_up=y_up)

    def _land_paths(self) -> Iterator[str]:
        for item in self.items():
            if (self.root / item).is_file():
                yield item

    def items(self) -> Iterator[str]:
        """Root-relative ``.land`` paths (existing or expected beside an image), by tester and pose."""
        for _, tester in _numbered(self.root, _TESTER, want_dir=True):
            folder = self.root / tester / POSE_FOLDER
            seen: dict[int, str] = {}
            for number, name in _numbered(folder, _POSE, want_dir=False):
                suffix = os.path.splitext(name)[1].lower()
                if suffix == ".land" or suffix in IMAGE_SUFFIXES:
                    seen.setdefault(number, f"pose_{number}")
            for number in sorted(seen):
                yield f"{tester}/{POSE_FOLDER}/{seen[number]}.land"

    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, item, lambda: self._read(item))

    def _read(self, item: str) -> list[RawFace | Rejected]:
        land_path = safe_join(self.root, item)
        image_name = self._image_name(item)
        image_path = safe_join(self.root, image_name)
        if not land_path.is_file():
            raise SourceError("missing_annotation", f"{land_path}: no .land beside {image_path.name}")
        split = "test" if tester_number(item) in self.test_testers else "train"
        return [land_face(self, land_path, image_name, image_path, split, NUM_POINTS)]

    def _image_name(self, item: str) -> str:
        stem = item[: -len(".land")]
        for suffix in (".png",) + tuple(s for s in IMAGE_SUFFIXES if s != ".png"):
            if (self.root / (stem + suffix)).is_file():
                return stem + suffix
        raise SourceError("missing_image", f"{self.root / item}: no image beside it (pose_<j>.png)")

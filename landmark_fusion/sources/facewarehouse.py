"""FaceWarehouse reader: ``Tester_<k>/TrainingPose/pose_<j>.{png,land}`` (source: docs/formats.md §6).

Each ``.land`` holds 74 points normalised to [0, 1] with y up (verified on the samples), converted
by :mod:`.landfiles` (``x = u·W``, ``y = (1 − v)·H``). Options ``coordinates`` / ``y_axis`` override
that convention (``"auto"`` decides it from the files like LFW-74 does). Every face is ``train``
(the paper trains on FaceWarehouse); ``test_testers`` holds out whole testers as ``test``.

A pose with an image but no ``.land`` (or the reverse) is reported as a rejection rather than
skipped silently; so is a folder of the root that is no ``Tester_<k>``, a tester without
``TrainingPose/`` (``wrong_layout``) and a folder that cannot be listed (``unreadable_folder``).
Linked folders are followed.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path

from .base import RawFace, Rejected, SourceError, safe_join
from .landfiles import FACEWAREHOUSE_CONVENTION, LandConvention, detect_convention, land_face, parse_convention_options
from .layout import IMAGE_SUFFIXES, ROOT_ID, guarded, passes_rejections, wrong_layout

NUM_POINTS = 74
POSE_FOLDER = "TrainingPose"
_TESTER = re.compile(r"Tester_(\d+)$")
_POSE = re.compile(r"pose_(\d+)$")


def _numbered(folder: Path, pattern: re.Pattern, want_dir: bool) -> tuple[list[tuple[int, str]], list[str]]:
    """(number, name) of the entries of ``folder`` matching ``pattern``, by number, and the names of
    the other folders in it (one listing; links followed). Raises ``OSError`` if unlistable."""
    found, others = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name if want_dir else os.path.splitext(entry.name)[0]
            match = pattern.match(name)
            is_dir = entry.is_dir()
            if match and is_dir == want_dir:
                found.append((int(match.group(1)), entry.name))
            elif is_dir:
                others.append(entry.name)
    return sorted(found), sorted(others)


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
            if not isinstance(item, Rejected) and (self.root / item).is_file():
                yield item

    def items(self) -> Iterator[str | Rejected]:
        """Root-relative ``.land`` paths (existing or expected beside an image), by tester and pose."""
        try:
            testers, others = _numbered(self.root, _TESTER, want_dir=True)
        except OSError as error:
            yield self._unreadable(ROOT_ID, self.root, error)
            return
        if not testers:
            yield wrong_layout(self.name, self.root,
                               f"folders Tester_<k>/{POSE_FOLDER}/ with pose_<j>.png + pose_<j>.land")
            return
        for name in others:
            if not name.startswith("."):
                yield Rejected(self.name, name + "/", "wrong_layout",
                               f"{self.root / name}: not a Tester_<k> folder; not read")
        for _, tester in testers:
            folder = self.root / tester / POSE_FOLDER
            if not folder.is_dir():
                yield Rejected(self.name, f"{tester}/", "wrong_layout",
                               f"{self.root / tester}: no {POSE_FOLDER}/ folder; not read")
                continue
            try:
                poses, _ = _numbered(folder, _POSE, want_dir=False)
            except OSError as error:
                yield self._unreadable(f"{tester}/{POSE_FOLDER}/", folder, error)
                continue
            seen: dict[int, str] = {}
            for number, name in poses:
                suffix = os.path.splitext(name)[1].lower()
                if suffix == ".land" or suffix in IMAGE_SUFFIXES:
                    seen.setdefault(number, f"pose_{number}")
            for number in sorted(seen):
                yield f"{tester}/{POSE_FOLDER}/{seen[number]}.land"

    def _unreadable(self, sample_id: str, folder: Path, error: OSError) -> Rejected:
        return Rejected(self.name, sample_id, "unreadable_folder",
                        f"{folder}: cannot list the folder ({error.strerror or error})")

    def sample_id(self, item: str) -> str:
        try:
            return self._image_name(item)
        except SourceError:
            return item

    @passes_rejections
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

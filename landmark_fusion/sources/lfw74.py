"""LFW-74 reader: ``.land`` files with an image beside them, anywhere below the root.

No LFW-74 file could be inspected (docs/formats.md §7); the database is believed to share
FaceWarehouse's 74-point layout and ``.land`` format. So the value range (normalised or pixels)
and the y direction are decided once per database root by a majority over its first 50 files
(:func:`.landfiles.detect_convention`), exposed as :attr:`LFW74Source.convention` for the build
report and stored in every face's ``extra['land_convention']``. A root mixing conventions must be
split into several roots; options ``coordinates`` (auto|normalised|pixels) and ``y_axis``
(auto|up|down) force the decision.

Splits, first rule that applies:

1. a folder named ``train``/``training`` or ``test``/``testing`` in the file's path;
2. a split list at the root, ``test.txt`` (listed → test, others train) or else ``train.txt``
   (listed → train, others test): one entry per line, a root-relative path of the image or the
   ``.land`` file, or a bare file name; extensions are ignored. Lists of this kind name a few
   thousand files, so they are held as a set of names;
3. otherwise ``train``.
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path, PurePosixPath

from .base import RawFace, Rejected
from .landfiles import DETECTION_SAMPLE, LandConvention, detect_convention, land_face, parse_convention_options
from .layout import annotated_image, expect_layout, guarded, image_id_beside, passes_rejections, walk_files

NUM_POINTS = 74
SPLIT_FOLDERS = {"train": "train", "training": "train", "test": "test", "testing": "test"}
SPLIT_LISTS = (("test.txt", "test"), ("train.txt", "train"))


def _key(entry: str) -> str:
    """A list entry or item without its extension, POSIX separators."""
    return PurePosixPath(entry.strip().replace("\\", "/")).with_suffix("").as_posix()


def read_split_list(path: Path) -> frozenset[str]:
    """The entries of a split list, extension-less (blank lines and ``#`` comments skipped)."""
    names = set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                names.add(_key(line.split()[0]))
    return frozenset(names)


class LFW74Source:
    """Reads LFW-74's ``.land`` files (scheme ``fw74``)."""

    name = "lfw74"
    scheme = "fw74"

    def __init__(self, root: Path, coordinates: str = "auto", y_axis: str = "auto",
                 detect_sample: int = DETECTION_SAMPLE) -> None:
        self.root = Path(root)
        self._forced = parse_convention_options(coordinates, y_axis)
        self.detect_sample = int(detect_sample)

    @cached_property
    def convention(self) -> LandConvention:
        """The root's ``.land`` convention (decided on first use, see the module doc)."""
        normalised, y_up = self._forced
        paths = (self.root / item for item in self.items() if not isinstance(item, Rejected))
        return detect_convention(paths, sample=self.detect_sample, normalised=normalised, y_up=y_up)

    @cached_property
    def split_list(self) -> tuple[str, frozenset[str]] | None:
        """(split of the listed files, listed names) from the first split list found, or None."""
        for name, split in SPLIT_LISTS:
            path = self.root / name
            if path.is_file():
                return split, read_split_list(path)
        return None

    def split_of(self, item: str) -> str:
        """The split of a root-relative ``.land`` path (rules in the module doc)."""
        for part in item.split("/")[:-1]:
            if part.lower() in SPLIT_FOLDERS:
                return SPLIT_FOLDERS[part.lower()]
        if self.split_list is not None:
            listed_split, names = self.split_list
            key = _key(item)
            listed = key in names or PurePosixPath(key).name in names
            if listed:
                return listed_split
            return "train" if listed_split == "test" else "test"
        return "train"

    def items(self) -> Iterator[str | Rejected]:
        """Root-relative ``.land`` paths, sorted per directory."""
        return expect_layout(self.name, self.root,
                             ".land files beside their images (<name>.land + <name>.jpg or .png) "
                             "anywhere below the root", walk_files(self.root, (".land",), self.name))

    def sample_id(self, item: str) -> str:
        return image_id_beside(self.root, item)

    @passes_rejections
    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, item, lambda: self._read(item))

    def _read(self, item: str) -> list[RawFace | Rejected]:
        land_path, image_name, image_path = annotated_image(self.root, item)
        return [land_face(self, land_path, image_name, image_path, self.split_of(item), NUM_POINTS)]

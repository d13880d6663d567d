"""WFLW reader: one face per list line (source: docs/formats.md §8, the official READMEs).

Lists, below the root:

- main lists ``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt``,
  207 fields: 196 coordinates ``x0 y0 … x97 y97``, the box ``x_min y_min x_max y_max``, the six
  0/1 attributes (pose, expression, illumination, make-up, occlusion, blur) and the image name;
- test lists ``WFLW_annotations/list_98pt_test/list_98pt_test.txt`` (all test faces) and
  ``list_98pt_test_<attribute>.txt`` (faces with that attribute), 197 fields: coordinates + name.

The test lists repeat faces of the main test list, so by default (``lists="auto"``) the main
lists are read and the 197-field lists only stand in for a missing main test list: the full test
list if present, else the union of the six attribute lists with faces found in several of them
read once (a face = its image name and coordinate text). ``lists="main"`` reads only main lists,
``lists="attribute"`` always takes test faces from the 197-field lists. Faces read from 197-field
lists carry ``extra['attribute_lists']``: the attribute lists that contain them.

Images live in ``WFLW_images/<event>/<name>.jpg`` (option ``images_dir``); a list line naming a
path outside that folder is rejected.

One image can hold several faces: every face of an image with more than one gets ``#k`` after
its image path, ``k`` counting that image's faces in reading order (list by list, line by line). The
official lists do not always keep the faces of one image on consecutive lines (the make-up list
names ``44_Aerobics_Aerobics_44_346.jpg`` on lines 2 and 6), so :meth:`WFLWSource.items` reads the
lists twice, streaming: once to count faces per image name (a dictionary of at most the 10,000
image names of the database), once to yield. A malformed line's item is named ``<list>:<line>``.

An exact repeat of a line -- the same face, box and attributes, in the same list or in a list
read earlier -- is read once; the repeat is rejected as ``duplicate_sample`` (a face in several
attribute lists is no repeat: that is the union above). A line that is not UTF-8 text is rejected
alone. The box and the attributes of a main-list line are extras: a non-number or a value other
than 0/1 there leaves them out with a note in ``extra['notes']`` and keeps the face.

The coordinate base is not documented; coordinates are taken as 0-based (``one_based=True``
subtracts 1 from points and box). A root without any of the lists is one ``wrong_layout``
rejection naming them.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import RawFace, Rejected, SourceError, check_points, image_size, safe_join
from .layout import guarded, passes_rejections, wrong_layout

NUM_POINTS = 98
ATTRIBUTES = ("pose", "expression", "illumination", "make-up", "occlusion", "blur")
MAIN_FIELDS = 2 * NUM_POINTS + 4 + len(ATTRIBUTES) + 1   # 207
POINTS_FIELDS = 2 * NUM_POINTS + 1                         # 197

MAIN_DIR = "WFLW_annotations/list_98pt_rect_attr_train_test"
MAIN_LISTS = {"train": f"{MAIN_DIR}/list_98pt_rect_attr_train.txt",
              "test": f"{MAIN_DIR}/list_98pt_rect_attr_test.txt"}
TEST_DIR = "WFLW_annotations/list_98pt_test"
FULL_TEST_LIST = f"{TEST_DIR}/list_98pt_test.txt"
#: attribute test list file -> attribute name (source: list_98pt_test/README)
ATTRIBUTE_LISTS = {
    f"{TEST_DIR}/list_98pt_test_largepose.txt": "pose",
    f"{TEST_DIR}/list_98pt_test_expression.txt": "expression",
    f"{TEST_DIR}/list_98pt_test_illumination.txt": "illumination",
    f"{TEST_DIR}/list_98pt_test_makeup.txt": "make-up",
    f"{TEST_DIR}/list_98pt_test_occlusion.txt": "occlusion",
    f"{TEST_DIR}/list_98pt_test_blur.txt": "blur",
}


@dataclass(frozen=True)
class WFLWItem:
    """One list line: where it is and the id its face gets."""

    list_path: str      # root-relative list file
    line: int           # 1-based line number
    offset: int         # byte offset of the line in the list file
    split: str
    fields: int         # expected field count: 207 (main) or 197 (points only)
    sample_id: str
    attribute_lists: tuple[str, ...] = ()


def face_key(line: str) -> tuple[str, bytes]:
    """(image name, digest of the coordinate text): the same face in different lists."""
    body, _, name = line.strip().rpartition(" ")
    return name, hashlib.sha1(" ".join(body.split()[: 2 * NUM_POINTS]).encode()).digest()


def line_key(parts: list[str]) -> bytes:
    """Digest of a whole line's fields: an exact repeat has the same key."""
    return hashlib.sha1(" ".join(parts).encode()).digest()


@dataclass(frozen=True)
class _Line:
    """What :meth:`WFLWSource._lines_to_read` learns of one non-blank list line."""

    list_path: str
    split: str
    fields: int
    number: int
    offset: int
    image: str | None                  # None: the line is malformed (read() names how)
    attributes: tuple[str, ...] = ()
    problem: str | None = None         # why the line is rejected before reading it
    reason: str = ""


def _lines(path: Path) -> Iterator[tuple[int, int, str | None]]:
    """(1-based line number, byte offset, text or None if not UTF-8) of each line, streaming."""
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text: str | None = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            yield number, offset, text
            offset += len(raw)


class WFLWSource:
    """Reads the WFLW list files under ``root`` (scheme ``wflw98``)."""

    name = "wflw"
    scheme = "wflw98"

    def __init__(self, root: Path, lists: str = "auto", images_dir: str = "WFLW_images",
                 one_based: bool = False, check_image_size: bool = True) -> None:
        if lists not in ("auto", "main", "attribute"):
            raise ValueError(f"lists must be auto, main or attribute, got {lists!r}")
        self.root = Path(root)
        self.lists = lists
        self.images_dir = images_dir
        self.one_based = bool(one_based)
        self.check_image_size = bool(check_image_size)

    # -- which lists ---------------------------------------------------------------------------

    def _exists(self, relative: str) -> bool:
        return (self.root / relative).is_file()

    def plan(self) -> list[tuple[str, str, int]]:
        """(list file, split, field count) of every list to read, in reading order."""
        plan = []
        if self._exists(MAIN_LISTS["train"]):  # the only source of training faces
            plan.append((MAIN_LISTS["train"], "train", MAIN_FIELDS))
        if self.lists != "attribute" and self._exists(MAIN_LISTS["test"]):
            plan.append((MAIN_LISTS["test"], "test", MAIN_FIELDS))
        elif self.lists != "main":
            if self._exists(FULL_TEST_LIST):
                plan.append((FULL_TEST_LIST, "test", POINTS_FIELDS))
            else:
                plan.extend((path, "test", POINTS_FIELDS)
                            for path in ATTRIBUTE_LISTS if self._exists(path))
        return plan

    def _membership(self) -> dict[tuple[str, bytes], list]:
        """face key -> [attribute names, (list, line) of its first occurrence] over the attribute lists."""
        membership: dict[tuple[str, bytes], list] = {}
        for path, attribute in ATTRIBUTE_LISTS.items():
            if not self._exists(path):
                continue
            for number, _, text in _lines(self.root / path):
                if text is None or len(text.split()) != POINTS_FIELDS:
                    continue
                entry = membership.setdefault(face_key(text), [[], (path, number)])
                if attribute not in entry[0]:
                    entry[0].append(attribute)
        return membership

    # -- items ---------------------------------------------------------------------------------

    def _lines_to_read(self, plan: list[tuple[str, str, int]], membership: dict) -> Iterator[_Line]:
        """Every non-blank line to read or reject, list by list (repeats and bad text marked)."""
        first: dict[bytes, tuple[str, int]] = {}
        for list_path, split, fields, in plan:
            for number, offset, text in _lines(self.root / list_path):
                if text is None:
                    yield _Line(list_path, split, fields, number, offset, None,
                                problem=f"{self.root / list_path}:{number}: not UTF-8 text",
                                reason="corrupt_annotation")
                    continue
                parts = text.split()
                if not parts:
                    continue
                if len(parts) != fields:
                    yield _Line(list_path, split, fields, number, offset, None)
                    continue
                attributes: tuple[str, ...] = ()
                if fields == POINTS_FIELDS:
                    entry = membership.get(face_key(text))
                    if entry is not None:
                        if list_path in ATTRIBUTE_LISTS and entry[1][0] != list_path:
                            continue  # the same face was read from an earlier attribute list
                        attributes = tuple(entry[0])
                key = line_key(parts)
                if key in first:
                    where = first[key]
                    yield _Line(list_path, split, fields, number, offset, parts[-1],
                                problem=f"{self.root / list_path}:{number}: repeats {where[0]}:"
                                        f"{where[1]} exactly; only that line's face is read",
                                reason="duplicate_sample")
                    continue
                first[key] = (list_path, number)
                yield _Line(list_path, split, fields, number, offset, parts[-1], attributes)

    def items(self) -> Iterator[WFLWItem | Rejected]:
        """One item per face line, list by list, in file order (see the module doc for ids).

        Two streaming passes: the first counts the faces of each image, the second yields.
        """
        plan = self.plan()
        if not plan:
            yield wrong_layout(self.name, self.root, "the WFLW lists " + ", ".join(
                [*MAIN_LISTS.values(), FULL_TEST_LIST, f"{TEST_DIR}/list_98pt_test_<attribute>.txt"]))
            return
        membership = self._membership() if any(f == POINTS_FIELDS for _, _, f in plan) else {}
        faces_per_image: dict[str, int] = {}
        for line in self._lines_to_read(plan, membership):
            if line.image is not None and line.problem is None:
                faces_per_image[line.image] = faces_per_image.get(line.image, 0) + 1
        next_index: dict[str, int] = {}
        for line in self._lines_to_read(plan, membership):
            where = f"{line.list_path}:{line.number}"
            if line.problem is not None:
                yield Rejected(self.name, where, line.reason, line.problem)
                continue
            if line.image is None:
                sample_id = where
            elif faces_per_image.get(line.image, 0) > 1:
                k = next_index.get(line.image, 0)
                next_index[line.image] = k + 1
                sample_id = f"{self.images_dir}/{line.image}#{k}"
            else:
                sample_id = f"{self.images_dir}/{line.image}"
            yield WFLWItem(line.list_path, line.number, line.offset, line.split, line.fields,
                           sample_id, line.attributes)

    def sample_id(self, item: WFLWItem) -> str:
        return item.sample_id

    # -- reading -------------------------------------------------------------------------------

    @passes_rejections
    def read(self, item: WFLWItem) -> list[RawFace | Rejected]:
        return guarded(self.name, item.sample_id, lambda: [self._read(item)])

    def _line(self, item: WFLWItem) -> str:
        path = self.root / item.list_path
        try:
            with open(path, "rb") as handle:
                handle.seek(item.offset)
                raw = handle.readline()
        except FileNotFoundError:
            raise SourceError("missing_annotation", f"{path}: list file not found") from None
        except OSError as error:
            raise SourceError("corrupt_annotation", f"{path}:{item.line}: read error ({error})") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError("corrupt_annotation", f"{path}:{item.line}: not UTF-8 text") from None

    def _read(self, item: WFLWItem) -> RawFace:
        where = f"{self.root / item.list_path}:{item.line}"
        parts = self._line(item).split()
        if len(parts) != item.fields:
            raise SourceError("wrong_field_count",
                              f"{where}: expected {item.fields} fields, got {len(parts)}")
        points = _floats(parts[: 2 * NUM_POINTS], where).reshape(NUM_POINTS, 2)
        box = None
        notes: list[str] = []
        extra: dict[str, object] = {"list": item.list_path, "line": item.line}
        if item.fields == MAIN_FIELDS:
            box, attributes = _box_and_attributes(parts[2 * NUM_POINTS: -1], notes)
            if attributes is not None:
                extra["attributes"] = attributes
        else:
            extra["attribute_lists"] = item.attribute_lists
        if self.one_based:
            points = points - 1.0
            box = None if box is None else box - 1.0
        image_path = safe_join(self.root / self.images_dir, parts[-1])
        if not image_path.is_file():
            raise SourceError("missing_image", f"{where}: image {image_path} not found")
        visible = np.ones(NUM_POINTS, dtype=bool)
        size = image_size(image_path) if self.check_image_size else None
        check_points(points, visible, NUM_POINTS, where, size)
        if notes:
            extra["notes"] = notes
        return RawFace(self.name, item.sample_id, image_path, self.scheme, points, visible,
                       item.split, yaw=math.nan, box=box, extra=extra)


def _box_and_attributes(fields: list[str], notes: list[str]
                        ) -> tuple[np.ndarray | None, dict[str, int] | None]:
    """The box and the six attributes of a main-list line (its fields after the coordinates);
    either is None, with a note, when its values are not numbers (box: finite; attributes: 0/1)."""
    box_text, flag_text = fields[:4], fields[4:]
    try:
        box = np.array([float(v) for v in box_text])
    except ValueError:
        box = None
    if box is None or not np.all(np.isfinite(box)):
        notes.append(f"box {' '.join(box_text)} is not four finite numbers; left out")
        box = None
    try:
        flags = [float(v) for v in flag_text]
    except ValueError:
        flags = None
    if flags is None or not all(v in (0.0, 1.0) for v in flags):
        notes.append(f"attributes {' '.join(flag_text)} are not six 0/1 values; left out")
        return box, None
    return box, {name: int(v) for name, v in zip(ATTRIBUTES, flags, strict=True)}


def _floats(fields: list[str], where: str) -> np.ndarray:
    """The numeric fields of a line; a non-number is named with its 1-based field position."""
    values = np.empty(len(fields), dtype=np.float64)
    for index, text in enumerate(fields):
        try:
            values[index] = float(text)
        except ValueError:
            raise SourceError("corrupt_annotation",
                              f"{where}: field {index + 1} is not a number ({text!r})") from None
    return values

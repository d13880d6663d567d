"""Canonical landmark vocabulary and landmark schemes: load, validate, mirror, list.

The data lives in the correspondence folder (see :mod:`landmark_fusion.paths`): ``landmarks.yaml``
names every canonical landmark with its region and mirror partner; ``schemes/<scheme>.yaml`` maps
each native index of a scheme to a canonical name or drops it by one of the paper's rules (§3.4).
Flip permutations are derived from the vocabulary's mirror partners (dropped points through their
``mirror_index``), never written per scheme by hand.

Validation reports every problem with the file and line it comes from, so a user can check an edited
copy (``fuse corr validate --corr-dir DIR``). The loaders refuse invalid data with the same messages.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import yaml

from .paths import correspondences_dir

VOCABULARY_FILE = "landmarks.yaml"
SCHEMES_DIR = "schemes"

#: The selection rules of the paper (§3.4). Rule 1 keeps points; rules 2 and 3 drop them.
RULES: dict[int, str] = {
    1: "every point of a 'fixed' (3-D consistent) scheme is kept",
    2: "points whose place on the 3-D face varies (the 2-D jaw contour, which slides with yaw) are dropped",
    3: "points that are not a surface point of the face model (pupils, eye centres, mouth centre) are dropped",
}
DROP_RULES = (2, 3)

#: Names that tools outside the project rely on, with their iBUG-68 index (issue text).
FIXED_NAMES: dict[str, int] = {
    "eye_r_outer": 36, "eye_r_inner": 39, "eye_l_inner": 42, "eye_l_outer": 45,
    "nose_tip": 30, "mouth_r_corner": 48, "mouth_l_corner": 54, "chin": 8,
}

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
SIDES = ("r", "l")

_VOCABULARY_KEYS = {"version", "regions", "landmarks"}
_LANDMARK_KEYS = {"name", "region", "mirror", "description"}
_SCHEME_KEYS = {"name", "description", "databases", "num_points", "expected_kept", "paper_kept",
                "fixed", "notes", "points"}
_POINT_KEYS = {"index", "name", "drop", "mirror_index", "describes", "native"}
_DROP_KEYS = {"rule", "reason"}


# ----------------------------------------------------------------------------- errors

@dataclass(frozen=True)
class Problem:
    """One validation finding: the file, the 1-based line (0 when unknown) and what is wrong."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class CorrespondenceError(ValueError):
    """Raised by the loaders when a vocabulary or scheme file is invalid; lists every problem."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("invalid correspondence data:\n" + "\n".join(f"  {p}" for p in self.problems))


# ----------------------------------------------------------------------------- YAML with line numbers

class _LineDict(dict):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict
    duplicate_keys: list

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: 5x faster
    """Safe loader whose mappings are :class:`_LineDict` (line numbers from the node start marks)."""


def _construct_line_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    mapping = _LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.duplicate_keys = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            mapping.duplicate_keys.append((key, key_node.start_mark.line + 1))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_line_mapping)


def read_yaml_with_lines(path: str | os.PathLike) -> tuple[object, Problem | None]:
    """Parse a YAML file safely, each mapping a dict with ``.line`` and ``.line_of(key)`` (1-based).

    Returns ``(data, None)``, or ``(None, problem)`` for a file that cannot be read, is not UTF-8
    text or is not YAML; the problem names the file and, where there is one, the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, Problem(str(path), 0, f"cannot read: {error.strerror or error}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        return None, Problem(str(path), line, f"not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                                              f"offset {error.start}); save the file as UTF-8")
    try:
        return yaml.load(text, Loader=_LineLoader), None  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return None, Problem(str(path), line, f"YAML syntax error: {getattr(error, 'problem', None) or error}")


def line_of(value: object, key: str | None = None) -> int:
    """The line of a mapping read by :func:`read_yaml_with_lines` (of ``key`` in it), 0 unknown."""
    return _line(value, key)


def _read_yaml(path: Path, problems: list[Problem]) -> object:
    """Parse ``path``; an unreadable file or a YAML syntax error becomes a problem (returns None)."""
    data, problem = read_yaml_with_lines(path)
    if problem is not None:
        problems.append(problem)
    return data


def _read_top_mapping(path: Path, problems: list[Problem], allowed: set[str], what: str,
                      needed: str) -> _LineDict | None:
    """Parse a correspondence file whose top level must be a mapping with the keys ``allowed``.

    An unreadable, empty or non-mapping file becomes a problem (returns None); unknown or repeated
    top-level keys are reported but the mapping is still returned for the remaining checks.
    """
    data = _read_yaml(path, problems)
    if data is None:
        if not problems:
            problems.append(Problem(str(path), 0, "the file is empty"))
        return None
    if not isinstance(data, _LineDict):
        problems.append(Problem(str(path), 1, f"the top level must be a mapping with {needed}"))
        return None
    _check_keys(data, allowed, what, str(path), problems)
    return data


def _line(value: object, key: str | None = None) -> int:
    if isinstance(value, _LineDict):
        return value.line_of(key) if key is not None else value.line
    return 0


def _check_keys(mapping: _LineDict, allowed: set[str], what: str, path: str,
                problems: list[Problem]) -> None:
    for key, line in mapping.duplicate_keys:
        problems.append(Problem(path, line, f"{what}: key {key!r} given twice"))
    for key in mapping:
        if key not in allowed:
            problems.append(Problem(path, mapping.line_of(key),
                                    f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- vocabulary

@dataclass(frozen=True)
class Landmark:
    """One canonical landmark."""

    name: str
    region: str
    mirror: str
    description: str

    @property
    def side(self) -> str | None:
        """``"r"`` or ``"l"`` (the subject's side), or None on the midline."""
        return side_of(self.name)


def side_of(name: str) -> str | None:
    """The side token of a canonical name (``<part>_<side>_...``), None for a midline name."""
    parts = name.split("_")
    return parts[1] if len(parts) > 1 and parts[1] in SIDES else None


def mirrored_name(name: str) -> str:
    """The name the naming convention gives the mirror of ``name`` (itself on the midline)."""
    parts = name.split("_")
    if len(parts) > 1 and parts[1] in SIDES:
        parts[1] = "l" if parts[1] == "r" else "r"
    return "_".join(parts)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cache key of the scheme loader
class Vocabulary:
    """The canonical landmarks in file order (the order of the shards' landmark axis)."""

    names: tuple[str, ...]
    landmarks: Mapping[str, Landmark]
    regions: Mapping[str, str]
    path: str = ""

    def __contains__(self, name: object) -> bool:
        return name in self.landmarks

    def __len__(self) -> int:
        return len(self.names)

    def mirror(self, name: str) -> str:
        """The mirror partner of ``name``."""
        return self.landmarks[name].mirror

    def mirror_permutation(self, names: Sequence[str]) -> np.ndarray:
        """For each of ``names``, the index of its mirror partner within ``names`` (int64).

        Raises ``KeyError`` for an unknown name and ``ValueError`` when a partner is not in ``names``.
        """
        position = {name: i for i, name in enumerate(names)}
        permutation = np.empty(len(names), dtype=np.int64)
        for i, name in enumerate(names):
            partner = self.landmarks[name].mirror
            if partner not in position:
                raise ValueError(f"the mirror of {name!r} ({partner!r}) is not among the names")
            permutation[i] = position[partner]
        return permutation

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` (a set or any iterable) sorted into vocabulary order."""
        wanted = set(names)
        unknown = wanted - set(self.landmarks)
        if unknown:
            raise KeyError(f"not in the vocabulary: {', '.join(sorted(unknown))}")
        return [name for name in self.names if name in wanted]


def check_vocabulary(path: str | os.PathLike) -> tuple[Vocabulary | None, list[Problem]]:
    """Parse and validate ``landmarks.yaml``: the vocabulary (None when unusable) and all problems."""
    path = Path(path)
    where = str(path)
    problems: list[Problem] = []
    data = _read_top_mapping(path, problems, _VOCABULARY_KEYS, "vocabulary", "'landmarks'")
    if data is None:
        return None, problems

    regions = data.get("regions")
    if regions is not None and not isinstance(regions, dict):
        problems.append(Problem(where, data.line_of("regions"), "'regions' must map region name → description"))
        regions = None
    entries = data.get("landmarks")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(where, data.line_of("landmarks"), "'landmarks' must be a non-empty list"))
        return None, problems

    landmarks: dict[str, Landmark] = {}
    lines: dict[str, int] = {}
    for number, entry in enumerate(entries):
        if not isinstance(entry, _LineDict):
            problems.append(Problem(where, data.line_of("landmarks"),
                                    f"landmark #{number} must be a mapping with name, region, mirror, description"))
            continue
        line = entry.line
        _check_keys(entry, _LANDMARK_KEYS, f"landmark #{number}", where, problems)
        missing = [key for key in ("name", "region", "mirror", "description")
                   if not isinstance(entry.get(key), str) or not entry.get(key).strip()]
        if missing:
            problems.append(Problem(where, line, f"landmark #{number}: missing or empty {', '.join(missing)}"))
            continue
        name = entry["name"]
        if not NAME_PATTERN.match(name):
            problems.append(Problem(where, entry.line_of("name"),
                                    f"{name!r}: names are lower-case words joined by '_'"))
        if name in landmarks:
            problems.append(Problem(where, line, f"duplicate landmark name {name!r} (first on line {lines[name]})"))
            continue
        if regions is not None and entry["region"] not in regions:
            problems.append(Problem(where, entry.line_of("region"),
                                    f"{name}: unknown region {entry['region']!r} (regions: {', '.join(regions)})"))
        landmarks[name] = Landmark(name, entry["region"], entry["mirror"], entry["description"].strip())
        lines[name] = line

    for name, landmark in landmarks.items():
        line = lines[name]
        partner = landmarks.get(landmark.mirror)
        if partner is None:
            problems.append(Problem(where, line, f"{name}: mirror {landmark.mirror!r} is not a landmark"))
            continue
        if partner.mirror != name:
            problems.append(Problem(where, line, f"asymmetric mirror: {name} → {partner.name}, "
                                                 f"but {partner.name} → {partner.mirror}"))
        if partner.region != landmark.region:
            problems.append(Problem(where, line, f"mirror across regions: {name} ({landmark.region}) ↔ "
                                                 f"{partner.name} ({partner.region})"))
        if landmark.mirror != mirrored_name(name):
            expected = mirrored_name(name)
            rule = "a midline name is its own mirror" if expected == name else f"expected {expected}"
            problems.append(Problem(where, line, f"{name}: mirror {landmark.mirror} breaks the naming "
                                                 f"convention ({rule})"))
    for name in FIXED_NAMES:
        if name not in landmarks:
            problems.append(Problem(where, data.line_of("landmarks"), f"fixed name {name!r} is missing"))

    vocabulary = Vocabulary(tuple(landmarks), landmarks, dict(regions or {}), where)
    return vocabulary, problems


# ----------------------------------------------------------------------------- schemes

@dataclass(frozen=True, eq=False)
class Scheme:
    """One native landmark scheme: each index is a canonical name or a drop (rule, reason)."""

    name: str
    num_points: int
    names: tuple[str | None, ...]
    drop_rules: Mapping[int, tuple[int, str]]
    drop_mirrors: Mapping[int, int]
    vocabulary: Vocabulary = field(repr=False)
    description: str = ""
    databases: tuple[str, ...] = ()
    expected_kept: int | None = None
    paper_kept: int | None = None
    fixed: bool = False
    notes: str = ""
    describes: Mapping[int, str] = field(default_factory=dict, repr=False)
    native: Mapping[int, str] = field(default_factory=dict, repr=False)
    path: str = ""

    @property
    def index_to_name(self) -> list[str | None]:
        """Canonical name per native index; None where the point is dropped."""
        return list(self.names)

    @property
    def drops(self) -> dict[int, tuple[int, str]]:
        """``{index: (rule, reason)}`` of the dropped points."""
        return dict(self.drop_rules)

    @property
    def kept_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.names) if name is not None]

    @property
    def kept_names(self) -> list[str]:
        """Canonical names of the kept points, in native index order."""
        return [name for name in self.names if name is not None]

    def drop_counts(self) -> dict[int, int]:
        """Number of dropped points per rule."""
        counts: dict[int, int] = {}
        for rule, _ in self.drop_rules.values():
            counts[rule] = counts.get(rule, 0) + 1
        return counts

    def flip_permutation(self) -> np.ndarray:
        """Native-index permutation ``p`` with ``p[i]`` = the index of point i's mirror partner.

        Mirroring an image horizontally moves point ``p[i]`` to where point ``i`` belongs, so
        ``points_flipped = mirror_x(points)[p]``. Kept points pair up through the vocabulary; dropped
        points through their ``mirror_index``.
        """
        return _flip_permutation(self)


def _flip_permutation(scheme: Scheme) -> np.ndarray:
    position = {name: i for i, name in enumerate(scheme.names) if name is not None}
    permutation = np.empty(scheme.num_points, dtype=np.int64)
    for i, name in enumerate(scheme.names):
        permutation[i] = position[scheme.vocabulary.mirror(name)] if name is not None else scheme.drop_mirrors[i]
    return permutation


def check_scheme(path: str | os.PathLike, vocabulary: Vocabulary) -> tuple[Scheme | None, list[Problem]]:
    """Parse and validate one scheme file against ``vocabulary``: the scheme (None when unusable)
    and all problems."""
    path = Path(path)
    where = str(path)
    problems: list[Problem] = []
    data = _read_top_mapping(path, problems, _SCHEME_KEYS, "scheme", "'name', 'num_points', 'points'")
    if data is None:
        return None, problems

    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(where, data.line_of("name"), "'name' must be the scheme name"))
        name = path.stem
    elif name != path.stem:
        problems.append(Problem(where, data.line_of("name"), f"name {name!r} differs from the file name {path.stem!r}"))
    num_points = data.get("num_points")
    if not _is_int(num_points) or num_points <= 0:
        problems.append(Problem(where, data.line_of("num_points"), "'num_points' must be a positive integer"))
        return None, problems
    expected_kept = data.get("expected_kept")
    if not _is_int(expected_kept) or not 0 <= expected_kept <= num_points:
        problems.append(Problem(where, data.line_of("expected_kept"),
                                f"'expected_kept' must be an integer in 0..{num_points}"))
        expected_kept = None
    paper_kept = data.get("paper_kept")
    if paper_kept is not None and not _is_int(paper_kept):
        problems.append(Problem(where, data.line_of("paper_kept"), "'paper_kept' must be an integer"))
        paper_kept = None
    notes = data.get("notes") or ""
    if not isinstance(notes, str):
        problems.append(Problem(where, data.line_of("notes"), "'notes' must be text"))
        notes = ""
    if paper_kept is not None and expected_kept is not None and paper_kept != expected_kept and not notes.strip():
        problems.append(Problem(where, data.line_of("expected_kept"),
                                f"expected_kept {expected_kept} differs from the paper's {paper_kept}: "
                                "explain why in 'notes'"))
    fixed = data.get("fixed", False)
    if not isinstance(fixed, bool):
        problems.append(Problem(where, data.line_of("fixed"), "'fixed' must be true or false"))
        fixed = False
    databases = data.get("databases", [])
    if not isinstance(databases, list) or not all(isinstance(d, str) for d in databases):
        problems.append(Problem(where, data.line_of("databases"), "'databases' must be a list of names"))
        databases = []
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem(where, data.line_of("description"), "'description' must be text"))
        description = ""

    points = data.get("points")
    if not isinstance(points, list):
        problems.append(Problem(where, data.line_of("points"), "'points' must be a list, one entry per index"))
        return None, problems

    names: list[str | None] = [None] * num_points
    seen: dict[int, int] = {}  # index → line
    name_lines: dict[str, tuple[int, int]] = {}  # name → (index, line)
    drop_rules: dict[int, tuple[int, str]] = {}
    drop_mirrors: dict[int, tuple[int, int]] = {}  # index → (mirror_index, line)
    describes: dict[int, str] = {}
    native: dict[int, str] = {}
    previous = -1
    for number, point in enumerate(points):
        if not isinstance(point, _LineDict):
            problems.append(Problem(where, data.line_of("points"), f"point #{number} must be a mapping"))
            continue
        line = point.line
        _check_keys(point, _POINT_KEYS, f"point #{number}", where, problems)
        index = point.get("index")
        if not _is_int(index):
            problems.append(Problem(where, line, f"point #{number}: 'index' must be an integer"))
            continue
        if not 0 <= index < num_points:
            problems.append(Problem(where, line, f"index {index} out of range 0..{num_points - 1}"))
            continue
        if index in seen:
            problems.append(Problem(where, line, f"index {index} given twice (first on line {seen[index]})"))
            continue
        if index < previous:
            problems.append(Problem(where, line, f"index {index} out of order (after {previous}): list points by index"))
        previous = max(previous, index)
        seen[index] = line
        if isinstance(point.get("describes"), str):
            describes[index] = point["describes"]
        if isinstance(point.get("native"), str):
            native[index] = point["native"]
        has_name, has_drop = "name" in point, "drop" in point
        if has_name == has_drop:
            problems.append(Problem(where, line, f"index {index}: give exactly one of 'name' or 'drop'"))
            continue
        if has_name:
            landmark = point["name"]
            if not isinstance(landmark, str) or landmark not in vocabulary:
                problems.append(Problem(where, point.line_of("name"),
                                        f"index {index}: unknown landmark name {landmark!r} (not in {VOCABULARY_FILE})"))
                continue
            if landmark in name_lines:
                other, other_line = name_lines[landmark]
                problems.append(Problem(where, point.line_of("name"), f"duplicate name {landmark} at indices "
                                                                      f"{other} (line {other_line}) and {index}"))
                continue
            if "mirror_index" in point:
                problems.append(Problem(where, point.line_of("mirror_index"),
                                        f"index {index}: a kept point mirrors through the vocabulary; "
                                        "remove its 'mirror_index'"))
            names[index] = landmark
            name_lines[landmark] = (index, line)
            continue
        drop = point["drop"]
        if not isinstance(drop, _LineDict):
            problems.append(Problem(where, point.line_of("drop"), f"index {index}: 'drop' must be {{rule, reason}}"))
            continue
        _check_keys(drop, _DROP_KEYS, f"index {index} drop", where, problems)
        rule, reason = drop.get("rule"), drop.get("reason")
        if not _is_int(rule) or rule not in RULES:
            problems.append(Problem(where, drop.line_of("rule"),
                                    f"index {index}: unknown rule {rule!r} (rules: {', '.join(map(str, RULES))})"))
            continue
        if rule not in DROP_RULES:
            problems.append(Problem(where, drop.line_of("rule"),
                                    f"index {index}: rule {rule} keeps points; it cannot drop one"))
            continue
        if fixed:
            problems.append(Problem(where, point.line_of("drop"),
                                    f"index {index}: rule 1 keeps every point of a fixed scheme"))
        if not isinstance(reason, str) or not reason.strip():
            problems.append(Problem(where, drop.line_of("reason"), f"index {index}: a drop needs a one-line reason"))
            reason = ""
        mirror_index = point.get("mirror_index")
        if not _is_int(mirror_index) or not 0 <= mirror_index < num_points:
            problems.append(Problem(where, point.line_of("mirror_index"),
                                    f"index {index}: a dropped point needs 'mirror_index' in 0..{num_points - 1}"))
            mirror_index = None
        drop_rules[index] = (rule, reason.strip())
        if mirror_index is not None:
            drop_mirrors[index] = (mirror_index, point.line_of("mirror_index"))

    missing = [i for i in range(num_points) if i not in seen]
    if missing:
        problems.append(Problem(where, data.line_of("points"), f"indices missing: {_ranges(missing)}"))

    for landmark, (index, line) in name_lines.items():
        partner = vocabulary.mirror(landmark)
        if partner not in name_lines:
            problems.append(Problem(where, line, f"index {index} ({landmark}): its mirror {partner} is not in "
                                                 "the scheme, so the scheme cannot be flipped"))
    for index, (mirror_index, line) in drop_mirrors.items():
        if names[mirror_index] is not None:
            problems.append(Problem(where, line, f"index {index}: mirror_index {mirror_index} is a kept point "
                                                 f"({names[mirror_index]}); a dropped point mirrors a dropped point"))
        elif mirror_index in drop_mirrors and drop_mirrors[mirror_index][0] != index:
            problems.append(Problem(where, line, f"asymmetric mirror: {index} → {mirror_index}, but "
                                                 f"{mirror_index} → {drop_mirrors[mirror_index][0]}"))

    kept = sum(name is not None for name in names)
    if expected_kept is not None and not missing and kept != expected_kept:
        problems.append(Problem(where, data.line_of("expected_kept"),
                                f"{kept} points kept, but expected_kept says {expected_kept}"))
    if name.startswith("ibug68") and num_points == 68:
        for landmark, index in FIXED_NAMES.items():
            if names[index] != landmark:
                problems.append(Problem(where, seen.get(index, data.line_of("points")),
                                        f"index {index} must be the fixed name {landmark} "
                                        f"(found {names[index]})"))

    if problems:
        return None, problems
    scheme = Scheme(
        name=name, num_points=num_points, names=tuple(names), drop_rules=drop_rules,
        drop_mirrors={i: m for i, (m, _) in drop_mirrors.items()}, vocabulary=vocabulary,
        description=description.strip(), databases=tuple(databases), expected_kept=expected_kept,
        paper_kept=paper_kept, fixed=fixed, notes=notes.strip(), describes=describes, native=native,
        path=where)
    return scheme, problems


def _ranges(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` → ``"0-2, 5"``."""
    parts: list[str] = []
    start = previous = indices[0]
    for index in list(indices[1:]) + [None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ", ".join(parts)


# ----------------------------------------------------------------------------- cached loaders

def _resolve(corr_dir: str | os.PathLike | None) -> Path:
    return correspondences_dir(corr_dir).resolve()


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of a file, so an edited file is reloaded; (0, 0) when absent."""
    try:
        status = path.stat()
    except OSError:
        return 0, 0
    return status.st_mtime_ns, status.st_size


def load_vocabulary(corr_dir: str | os.PathLike | None = None) -> Vocabulary:
    """The vocabulary of ``corr_dir`` (default: :func:`~landmark_fusion.paths.correspondences_dir`).

    Cached per resolved folder (and file stamp). Raises :class:`CorrespondenceError` when invalid.
    """
    path = _resolve(corr_dir) / VOCABULARY_FILE
    return _load_vocabulary_cached(str(path), _stamp(path))


@functools.lru_cache(maxsize=16)
def _load_vocabulary_cached(path: str, stamp: tuple[int, int]) -> Vocabulary:
    vocabulary, problems = check_vocabulary(path)
    if problems or vocabulary is None:
        raise CorrespondenceError(problems)
    return vocabulary


def scheme_path(name: str, corr_dir: str | os.PathLike | None = None) -> Path:
    """Where the file of scheme ``name`` lives."""
    if not NAME_PATTERN.match(name):
        raise KeyError(f"not a scheme name: {name!r}")
    return _resolve(corr_dir) / SCHEMES_DIR / f"{name}.yaml"


def list_schemes(corr_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the schemes in ``corr_dir`` (file stems of ``schemes/*.yaml``), sorted."""
    folder = _resolve(corr_dir) / SCHEMES_DIR
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())


def load_scheme(name: str, corr_dir: str | os.PathLike | None = None) -> Scheme:
    """Scheme ``name`` of ``corr_dir``, validated against its vocabulary. Cached per resolved folder.

    Raises ``KeyError`` for an unknown scheme and :class:`CorrespondenceError` when invalid.
    """
    path = scheme_path(name, corr_dir)
    if not path.is_file():
        known = ", ".join(list_schemes(corr_dir)) or "none"
        raise KeyError(f"unknown scheme {name!r} (known: {known})")
    vocabulary = load_vocabulary(corr_dir)
    return _load_scheme_cached(str(path), _stamp(path), vocabulary)


@functools.lru_cache(maxsize=64)
def _load_scheme_cached(path: str, stamp: tuple[int, int], vocabulary: Vocabulary) -> Scheme:
    scheme, problems = check_scheme(path, vocabulary)
    if problems or scheme is None:
        raise CorrespondenceError(problems)
    return scheme


def canonical_landmarks(schemes: Iterable[str] | None = None,
                        corr_dir: str | os.PathLike | None = None) -> list[str]:
    """Union of the names kept by ``schemes`` (all schemes by default), in vocabulary order.

    This is the landmark axis ``L`` of the shards.
    """
    names = list_schemes(corr_dir) if schemes is None else list(schemes)
    kept: set[str] = set()
    for name in names:
        kept.update(load_scheme(name, corr_dir).kept_names)
    return load_vocabulary(corr_dir).order(kept)


def validate(corr_dir: str | os.PathLike | None = None) -> list[Problem]:
    """Every problem in the vocabulary and all schemes of ``corr_dir`` (empty when valid).

    Unlike the loaders this never raises and is not cached, so it sees a file as it is on disk now.
    """
    folder = _resolve(corr_dir)
    vocabulary, problems = check_vocabulary(folder / VOCABULARY_FILE)
    schemes = list_schemes(folder)
    if not schemes:
        problems.append(Problem(str(folder / SCHEMES_DIR), 0, "no scheme files (*.yaml)"))
    if vocabulary is None:
        return problems
    for name in schemes:
        problems.extend(check_scheme(folder / SCHEMES_DIR / f"{name}.yaml", vocabulary)[1])
    return problems


__all__ = [
    "CorrespondenceError", "FIXED_NAMES", "Landmark", "Problem", "RULES", "Scheme", "Vocabulary",
    "canonical_landmarks", "check_scheme", "check_vocabulary", "line_of", "list_schemes",
    "load_scheme", "load_vocabulary", "mirrored_name", "read_yaml_with_lines", "scheme_path",
    "side_of", "validate",
]

"""Check one ``schemes/<scheme>.yaml`` against the vocabulary and build its :class:`~.scheme.Scheme`.

Each point on its own is checked by :class:`~.file_schema.SchemeFile`; the functions here check what
needs several points, the file name or the vocabulary: the name, the counts, each index (in range,
once, in order), each kept name (in the vocabulary, once, its mirror in the scheme), each dropped
point's mirror (in range, mutual, dropped too), and the fixed names of an iBUG-68 scheme. A point
found wrong by one check is left out of the later ones. Every problem names the file and line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .conventions import FIXED_NAMES
from .file_schema import SchemeFile
from .folder import VOCABULARY_FILE
from .problems import Problem
from .scheme import Scheme
from .typed_reading import Located, read_typed
from .vocabulary import Vocabulary


@dataclass
class _Points:
    """What the checks found out about the points so far (index → ...)."""

    position: dict[int, int] = field(default_factory=dict)         # index → position in ``points``
    names: dict[int, str] = field(default_factory=dict)            # kept points with a usable name
    drop_mirrors: dict[int, int] = field(default_factory=dict)     # dropped points with a usable mirror

    def line(self, located: Located[SchemeFile], index: int, *key: str) -> int:
        return located.line("points", self.position[index], *key)


def check_scheme(path: str | os.PathLike, vocabulary: Vocabulary) -> tuple[Scheme | None, list[Problem]]:
    """Parse and validate one scheme file against ``vocabulary``: the scheme (None when unusable)
    and all problems."""
    path = Path(path)
    located, problems = read_typed(path, SchemeFile)
    if located is None:
        return None, problems
    problems += file_name_problems(located, path.stem)
    problems += expected_kept_range(located)
    problems += paper_kept_problems(located)
    points = _Points()
    problems += placed_indices(located, points)
    problems += kept_names(located, points, vocabulary)
    problems += dropped_points(located, points)
    problems += missing_indices(located, points)
    problems += unflippable_names(located, points, vocabulary)
    problems += drop_mirror_problems(located, points)
    problems += kept_count(located, points)
    problems += fixed_name_problems(located, points)
    if problems:
        return None, problems
    return _scheme(located, points, vocabulary), problems


def file_name_problems(located: Located[SchemeFile], stem: str) -> list[Problem]:
    """The scheme's name must be its file's name."""
    name = located.model.name
    if name == stem:
        return []
    return [located.problem(("name",), f"name {name!r} differs from the file name {stem!r}")]


def expected_kept_range(located: Located[SchemeFile]) -> list[Problem]:
    """``expected_kept`` cannot exceed ``num_points``."""
    scheme = located.model
    if scheme.expected_kept <= scheme.num_points:
        return []
    return [located.problem(("expected_kept",), f"expected_kept: must be in 0..{scheme.num_points} "
                                                f"(num_points), not {scheme.expected_kept}")]


def paper_kept_problems(located: Located[SchemeFile]) -> list[Problem]:
    """A count that departs from the paper's must be explained in ``notes``."""
    scheme = located.model
    if scheme.paper_kept is None or scheme.paper_kept == scheme.expected_kept or (scheme.notes or "").strip():
        return []
    return [located.problem(("expected_kept",), f"expected_kept {scheme.expected_kept} differs from the "
                                                f"paper's {scheme.paper_kept}: explain why in 'notes'")]


def placed_indices(located: Located[SchemeFile], points: _Points) -> list[Problem]:
    """Each point's index: in range and given once (else the point is left out), listed in order."""
    problems = []
    num_points = located.model.num_points
    previous = -1
    for number, point in enumerate(located.model.points):
        index = point.index
        if index >= num_points:
            problems.append(located.problem(("points", number),
                                            f"index {index} out of range 0..{num_points - 1}"))
            continue
        if index in points.position:
            first = points.line(located, index)
            problems.append(located.problem(("points", number),
                                            f"index {index} given twice (first on line {first})"))
            continue
        if index < previous:
            problems.append(located.problem(("points", number), f"index {index} out of order (after "
                                                                f"{previous}): list points by index"))
        previous = max(previous, index)
        points.position[index] = number
    return problems


def kept_names(located: Located[SchemeFile], points: _Points, vocabulary: Vocabulary) -> list[Problem]:
    """Each kept point's name: in the vocabulary and used once in the scheme."""
    problems = []
    used: dict[str, int] = {}  # name → index
    for index, number in points.position.items():
        name = located.model.points[number].name
        if name is None:
            continue
        where = ("points", number, "name")
        if name not in vocabulary:
            problems.append(located.problem(where, f"index {index}: unknown landmark name {name!r} "
                                                   f"(not in {VOCABULARY_FILE})"))
            continue
        if name in used:
            other = used[name]
            problems.append(located.problem(where, f"duplicate name {name} at indices {other} (line "
                                                   f"{points.line(located, other)}) and {index}"))
            continue
        used[name] = index
        points.names[index] = name
    return problems


def dropped_points(located: Located[SchemeFile], points: _Points) -> list[Problem]:
    """Each dropped point: allowed in the scheme (not in a fixed one), its ``mirror_index`` in range."""
    problems = []
    num_points = located.model.num_points
    for index, number in points.position.items():
        point = located.model.points[number]
        if point.drop is None:
            continue
        if located.model.fixed:
            problems.append(located.problem(("points", number, "drop"),
                                            f"index {index}: rule 1 keeps every point of a fixed scheme"))
        if point.mirror_index is not None and point.mirror_index < num_points:
            points.drop_mirrors[index] = point.mirror_index
        else:
            problems.append(located.problem(("points", number, "mirror_index"), f"index {index}: a dropped "
                                            f"point needs 'mirror_index' in 0..{num_points - 1}"))
    return problems


def missing_indices(located: Located[SchemeFile], points: _Points) -> list[Problem]:
    """Every index from 0 to ``num_points - 1`` has a point."""
    missing = [i for i in range(located.model.num_points) if i not in points.position]
    return [located.problem(("points",), f"indices missing: {_ranges(missing)}")] if missing else []


def kept_count(located: Located[SchemeFile], points: _Points) -> list[Problem]:
    """The kept points number ``expected_kept`` (checked once every index has a point)."""
    scheme = located.model
    if scheme.expected_kept > scheme.num_points or len(points.position) < scheme.num_points:
        return []
    if len(points.names) == scheme.expected_kept:
        return []
    return [located.problem(("expected_kept",), f"{len(points.names)} points kept, but expected_kept "
                                                f"says {scheme.expected_kept}")]


def unflippable_names(located: Located[SchemeFile], points: _Points, vocabulary: Vocabulary) -> list[Problem]:
    """Kept names whose mirror partner the scheme does not keep (so it cannot be flipped)."""
    kept = set(points.names.values())
    return [located.problem(("points", points.position[index]), f"index {index} ({name}): its mirror "
                            f"{vocabulary.mirror(name)} is not in the scheme, so the scheme cannot be flipped")
            for index, name in points.names.items() if vocabulary.mirror(name) not in kept]


def drop_mirror_problems(located: Located[SchemeFile], points: _Points) -> list[Problem]:
    """A dropped point mirrors a dropped point, and that one mirrors it back."""
    problems = []
    for index, mirror in points.drop_mirrors.items():
        where = ("points", points.position[index], "mirror_index")
        if mirror in points.names:
            problems.append(located.problem(where, f"index {index}: mirror_index {mirror} is a kept point "
                                                   f"({points.names[mirror]}); a dropped point mirrors a "
                                                   "dropped point"))
        elif mirror in points.drop_mirrors and points.drop_mirrors[mirror] != index:
            problems.append(located.problem(where, f"asymmetric mirror: {index} → {mirror}, but {mirror} → "
                                                   f"{points.drop_mirrors[mirror]}"))
    return problems


def fixed_name_problems(located: Located[SchemeFile], points: _Points) -> list[Problem]:
    """An iBUG-68 scheme has the fixed names at their iBUG indices."""
    scheme = located.model
    if not (scheme.name.startswith("ibug68") and scheme.num_points == 68):
        return []
    problems = []
    for name, index in FIXED_NAMES.items():
        found = points.names.get(index)
        if found != name:
            where = ("points", points.position[index]) if index in points.position else ("points",)
            problems.append(located.problem(where, f"index {index} must be the fixed name {name} (found {found})"))
    return problems


def _scheme(located: Located[SchemeFile], points: _Points, vocabulary: Vocabulary) -> Scheme:
    """The loaded scheme of a file that passed every check."""
    file = located.model
    by_index = {index: file.points[number] for index, number in points.position.items()}
    return Scheme(
        name=file.name, num_points=file.num_points,
        names=tuple(points.names.get(i) for i in range(file.num_points)),
        drop_rules={i: (p.drop.rule, p.drop.reason.strip()) for i, p in sorted(by_index.items())
                    if p.drop is not None},
        drop_mirrors=dict(sorted(points.drop_mirrors.items())), vocabulary=vocabulary,
        description=file.description.strip(), databases=tuple(file.databases),
        expected_kept=file.expected_kept, paper_kept=file.paper_kept, fixed=file.fixed,
        notes=(file.notes or "").strip(),
        describes={i: p.describes for i, p in by_index.items() if p.describes is not None},
        native={i: p.native for i, p in by_index.items() if p.native is not None},
        path=located.path)


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``"0-2, 5"``."""
    parts: list[str] = []
    start = previous = indices[0]
    for index in indices[1:] + [None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ", ".join(parts)


__all__ = ["check_scheme"]

"""Check ``landmarks.yaml`` and build the :class:`~.vocabulary.Vocabulary` from it.

Each entry on its own is checked by :class:`~.file_schema.VocabularyFile`; the functions here check
what needs several entries: names given twice, regions the file does not list, mirror partners
(one that is not a landmark, not mutual, across regions, against the naming convention), and the
fixed names. Every problem names the file and line.
"""
from __future__ import annotations

import os
from pathlib import Path

from .conventions import FIXED_NAMES, mirrored_name
from .file_schema import VocabularyFile
from .problems import Problem
from .typed_reading import Located, read_typed
from .vocabulary import Landmark, Vocabulary

#: landmark name → its position in the file's ``landmarks`` list
Positions = dict[str, int]


def check_vocabulary(path: str | os.PathLike) -> tuple[Vocabulary | None, list[Problem]]:
    """Parse and validate ``landmarks.yaml``: the vocabulary (None when unusable) and all problems."""
    located, problems = read_typed(Path(path), VocabularyFile)
    if located is None:
        return None, problems
    landmarks, positions = unique_landmarks(located, problems)
    problems += unknown_regions(located, landmarks, positions)
    for check in (unknown_mirrors, one_sided_mirrors, mirrors_across_regions, unconventional_mirrors):
        problems += check(located, landmarks, positions)
    problems += missing_fixed_names(located, landmarks)
    regions = located.model.regions or {}
    return Vocabulary(tuple(landmarks), landmarks, dict(regions), located.path), problems


def unique_landmarks(located: Located[VocabularyFile], problems: list[Problem]
                     ) -> tuple[dict[str, Landmark], Positions]:
    """The landmarks in file order; a name given again is a problem (its later entries are left out)."""
    landmarks: dict[str, Landmark] = {}
    positions: Positions = {}
    for number, entry in enumerate(located.model.landmarks):
        if entry.name in landmarks:
            first = located.line("landmarks", positions[entry.name])
            problems.append(located.problem(("landmarks", number),
                                            f"duplicate landmark name {entry.name!r} (first on line {first})"))
            continue
        landmarks[entry.name] = Landmark(entry.name, entry.region, entry.mirror, entry.description.strip())
        positions[entry.name] = number
    return landmarks, positions


def unknown_regions(located: Located[VocabularyFile], landmarks: dict[str, Landmark],
                    positions: Positions) -> list[Problem]:
    """Landmarks whose region is not one of ``regions`` (when the file lists regions)."""
    regions = located.model.regions
    if regions is None:
        return []
    return [located.problem(("landmarks", positions[name], "region"),
                            f"{name}: unknown region {landmark.region!r} (regions: {', '.join(regions)})")
            for name, landmark in landmarks.items() if landmark.region not in regions]


def unknown_mirrors(located: Located[VocabularyFile], landmarks: dict[str, Landmark],
                    positions: Positions) -> list[Problem]:
    """Landmarks whose mirror is not a landmark."""
    return [located.problem(("landmarks", positions[name]),
                            f"{name}: mirror {landmark.mirror!r} is not a landmark")
            for name, landmark in landmarks.items() if landmark.mirror not in landmarks]


def one_sided_mirrors(located: Located[VocabularyFile], landmarks: dict[str, Landmark],
                      positions: Positions) -> list[Problem]:
    """Mirror partners that are not mutual: a → b, but b → c."""
    problems = []
    for name, landmark in landmarks.items():
        partner = landmarks.get(landmark.mirror)
        if partner is not None and partner.mirror != name:
            problems.append(located.problem(("landmarks", positions[name]), f"asymmetric mirror: {name} → "
                                            f"{partner.name}, but {partner.name} → {partner.mirror}"))
    return problems


def mirrors_across_regions(located: Located[VocabularyFile], landmarks: dict[str, Landmark],
                           positions: Positions) -> list[Problem]:
    """Mirror partners in different regions."""
    problems = []
    for name, landmark in landmarks.items():
        partner = landmarks.get(landmark.mirror)
        if partner is not None and partner.region != landmark.region:
            problems.append(located.problem(("landmarks", positions[name]), f"mirror across regions: {name} "
                                            f"({landmark.region}) ↔ {partner.name} ({partner.region})"))
    return problems


def unconventional_mirrors(located: Located[VocabularyFile], landmarks: dict[str, Landmark],
                           positions: Positions) -> list[Problem]:
    """Mirrors other than the name with ``r`` and ``l`` swapped (itself on the midline)."""
    problems = []
    for name, landmark in landmarks.items():
        expected = mirrored_name(name)
        if landmark.mirror in landmarks and landmark.mirror != expected:
            rule = "a midline name is its own mirror" if expected == name else f"expected {expected}"
            problems.append(located.problem(("landmarks", positions[name]), f"{name}: mirror "
                                            f"{landmark.mirror} breaks the naming convention ({rule})"))
    return problems


def missing_fixed_names(located: Located[VocabularyFile], landmarks: dict[str, Landmark]) -> list[Problem]:
    """Fixed names (tools outside the project rely on them) that the vocabulary lacks."""
    return [located.problem(("landmarks",), f"fixed name {name!r} is missing")
            for name in FIXED_NAMES if name not in landmarks]


__all__ = ["check_vocabulary"]

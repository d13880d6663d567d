"""The conventions every correspondence file follows: how canonical names are built, which names
are fixed, and the paper's rules (§3.4) for keeping or dropping a scheme's points."""
from __future__ import annotations

import re

#: The selection rules of the paper (§3.4). Rule 1 keeps points; rules 2 and 3 drop them.
RULES: dict[int, str] = {
    1: "every point of a 'fixed' (3-D consistent) scheme is kept",
    2: "points whose place on the 3-D face varies (the 2-D jaw contour, which slides with yaw) are dropped",
    3: "points that are not a surface point of the face model (pupils, eye centres, mouth centre) are dropped",
}
DROP_RULES = (2, 3)

#: Names that tools outside the project rely on, with their iBUG-68 index.
FIXED_NAMES: dict[str, int] = {
    "eye_r_outer": 36, "eye_r_inner": 39, "eye_l_inner": 42, "eye_l_outer": 45,
    "nose_tip": 30, "mouth_r_corner": 48, "mouth_l_corner": 54, "chin": 8,
}

#: Canonical names (and scheme names): lower-case words joined by ``_``.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
SIDES = ("r", "l")


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


__all__ = ["DROP_RULES", "FIXED_NAMES", "NAME_PATTERN", "RULES", "SIDES", "mirrored_name", "side_of"]

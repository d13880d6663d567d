"""A loaded landmark scheme: each native index is a canonical name or a drop (rule, reason).

Built from a checked ``schemes/<scheme>.yaml`` by :mod:`.scheme_checks`; load it with
:func:`~landmark_fusion.correspondence.load_scheme`. Its flip permutation is derived from the
vocabulary's mirror partners (dropped points through their ``mirror_index``), never written per
scheme by hand.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .vocabulary import Vocabulary


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
        position = {name: i for i, name in enumerate(self.names) if name is not None}
        permutation = np.empty(self.num_points, dtype=np.int64)
        for i, name in enumerate(self.names):
            permutation[i] = position[self.vocabulary.mirror(name)] if name is not None else self.drop_mirrors[i]
        return permutation


__all__ = ["Scheme"]

"""The loaded vocabulary: the canonical landmarks in file order, with their mirror partners.

Built from a checked ``landmarks.yaml`` by :mod:`.vocabulary_checks`; load it with
:func:`~landmark_fusion.correspondence.load_vocabulary`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .conventions import side_of


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


__all__ = ["Landmark", "Vocabulary"]

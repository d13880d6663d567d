"""What a check of the correspondence files reports: one :class:`Problem` per finding, and the
:class:`CorrespondenceError` that the loaders raise with all of them."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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


__all__ = ["CorrespondenceError", "Problem"]

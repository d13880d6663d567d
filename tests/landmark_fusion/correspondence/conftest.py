"""Fixtures of the correspondence tests: an editable copy of the installed data, and planting an error."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from landmark_fusion.paths import installed_correspondences


@pytest.fixture
def corr_copy(tmp_path: Path) -> Path:
    """A copy of the installed vocabulary and schemes (no model tables)."""
    copy = tmp_path / "corr"
    shutil.copytree(installed_correspondences(), copy,
                    ignore=shutil.ignore_patterns("*.py", "__pycache__", "models"))
    return copy


@pytest.fixture
def plant() -> Callable[[Path, str, str, str], int]:
    """``plant(folder, relative, old, new)``: replace the first ``old`` with ``new`` in the file;
    returns the 1-based line of the change."""
    def replace(folder: Path, relative: str, old: str, new: str) -> int:
        path = folder / relative
        text = path.read_text()
        assert old in text, old
        at = text.index(old)
        path.write_text(text[:at] + new + text[at + len(old):])
        return text[:at].count("\n") + 1

    return replace

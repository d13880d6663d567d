"""Where the files of a correspondence folder live."""
from __future__ import annotations

from pathlib import Path

import pytest

from landmark_fusion.correspondence.folder import list_schemes, scheme_path, vocabulary_path


def test_paths_in_a_folder(corr_copy: Path) -> None:
    assert vocabulary_path(corr_copy) == corr_copy.resolve() / "landmarks.yaml"
    assert scheme_path("ibug68", corr_copy) == corr_copy.resolve() / "schemes" / "ibug68.yaml"
    (corr_copy / "schemes" / "notes.txt").write_text("not a scheme")
    (corr_copy / "schemes" / "folder.yaml").mkdir()
    assert list_schemes(corr_copy) == ["aflw21", "fw74", "ibug68", "ibug68_fixed", "wflw98"]


@pytest.mark.parametrize("name", ["../landmarks", "IBUG68", "ibug68/x", ""])
def test_scheme_names_cannot_leave_the_folder(name: str) -> None:
    with pytest.raises(KeyError, match="not a scheme name"):
        scheme_path(name)

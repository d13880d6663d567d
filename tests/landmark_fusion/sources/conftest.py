"""Helpers the reader tests share: read one face, or read a whole source and sort out rejections."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from landmark_fusion.sources.base import RawFace, Rejected


def _read_face(source: Any, item: Any) -> RawFace:
    results = source.read(item)
    assert len(results) == 1, f"{item}: expected one result, got {len(results)}"
    (face,) = results
    assert isinstance(face, RawFace), f"{item} was rejected: {face}"
    image_id = face.sample_id.partition("#")[0]  # sample id = image path below the root (+ '#k')
    assert face.image_path == Path(source.root) / image_id  # joined, links not resolved
    return face


def _read_results(source: Any) -> tuple[dict[Any, RawFace | Rejected], dict[Any, str]]:
    results = {item: source.read(item)[0] for item in source.items()}
    reasons = {item: r.reason for item, r in results.items() if isinstance(r, Rejected)}
    return results, reasons


@pytest.fixture()
def read_face() -> Callable[[Any, Any], RawFace]:
    """``read_face(source, item)``: the single :class:`RawFace` of ``item`` (a rejection fails the
    test with its reason and detail), checked to name its image by a root-relative sample id."""
    return _read_face


@pytest.fixture()
def read_results() -> Callable[[Any], tuple[dict, dict]]:
    """``read_results(source)``: ``({item: first result}, {item: rejection reason})`` over every
    item of ``source``, in item order."""
    return _read_results

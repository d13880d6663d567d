"""Shared test fixtures.

Tests that need the real reference data read it from ``../shared`` beside the checkout. Where it is
missing they skip, except under CI (``CI=true``), where a missing ``../shared`` is a failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory):
    """The tests' checked-correspondence cache (``checked_cache``) lives in a temporary folder,
    not the user's ``~/.cache``; the commands the tests start inherit it."""
    previous = os.environ.get("LANDMARK_FUSION_CACHE")
    os.environ["LANDMARK_FUSION_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("LANDMARK_FUSION_CACHE", None)
    else:
        os.environ["LANDMARK_FUSION_CACHE"] = previous
SHARED = REPO.parent / "shared"


def _shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{path} is missing: CI needs ../shared beside the checkout")
    pytest.skip(f"{path} not available")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (skips, or fails under CI, when absent)."""
    return _shared_or_skip()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``../shared/samples``: small real files of every database."""
    return _shared_or_skip("samples")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """``../shared/models``: real morphable models and published vertex tables."""
    return _shared_or_skip("models")

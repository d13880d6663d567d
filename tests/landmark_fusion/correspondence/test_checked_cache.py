"""The cache of checked correspondence files: the same data as the checks give, a new check for any
edit, bad entries ignored, and a command that finds its files there never imports the checks."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from landmark_fusion.correspondence import (
    CorrespondenceError,
    clear_caches,
    list_schemes,
    load_scheme,
    load_vocabulary,
)
from landmark_fusion.correspondence.checked_cache import cache_folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty cache of this test's own, and no loads left in this process."""
    monkeypatch.setenv("LANDMARK_FUSION_CACHE", str(tmp_path / "cache"))
    clear_caches()
    yield tmp_path / "cache" / "correspondences"
    clear_caches()


def _fields(value) -> dict:
    data = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if "vocabulary" in data:
        data["vocabulary"] = _fields(data["vocabulary"])
    return {name: dict(item) if hasattr(item, "items") else item for name, item in data.items()}


def test_a_stored_file_loads_as_the_checks_made_it(cache: Path, corr_copy: Path, monkeypatch) -> None:
    monkeypatch.setenv("LANDMARK_FUSION_CACHE", "off")
    checked = {name: _fields(load_scheme(name, corr_copy)) for name in list_schemes(corr_copy)}
    words = _fields(load_vocabulary(corr_copy))
    clear_caches()
    monkeypatch.setenv("LANDMARK_FUSION_CACHE", str(cache.parent))
    for name in checked:  # the first loads check the files and store them
        load_scheme(name, corr_copy)
    assert len(list(cache.glob("*.json"))) == len(checked) + 1
    clear_caches()
    for name, expected in checked.items():  # the next ones take them from the cache
        assert _fields(load_scheme(name, corr_copy)) == expected
    assert _fields(load_vocabulary(corr_copy)) == words


def test_an_edit_is_checked_again(cache: Path, corr_copy: Path, plant) -> None:
    path = corr_copy / "schemes" / "ibug68.yaml"
    good = path.read_text()
    assert load_scheme("ibug68", corr_copy).index_to_name[8] == "chin"
    stored = len(list(cache.glob("*.json")))
    clear_caches()
    plant(corr_copy, "schemes/ibug68.yaml", "name: chin}", "name: chinn}")
    with pytest.raises(CorrespondenceError, match="unknown landmark name 'chinn'"):
        load_scheme("ibug68", corr_copy)
    assert len(list(cache.glob("*.json"))) == stored  # a refused file is never stored
    clear_caches()
    path.write_text(good)
    assert load_scheme("ibug68", corr_copy).index_to_name[8] == "chin"
    assert len(list(cache.glob("*.json"))) == stored  # the same bytes as before: their entry
    clear_caches()
    words = corr_copy / "landmarks.yaml"
    words.write_text(words.read_text() + "\n# an edit of the vocabulary's bytes only\n")
    assert load_scheme("ibug68", corr_copy).index_to_name[8] == "chin"
    assert len(list(cache.glob("*.json"))) == stored + 2  # the vocabulary and the scheme again


def test_a_bad_entry_is_a_miss(cache: Path, corr_copy: Path) -> None:
    expected = _fields(load_scheme("aflw21", corr_copy))
    for entry in cache.glob("*.json"):
        text = entry.read_text()
        entry.write_text(text[: len(text) // 2] if "aflw21" in text else json.dumps({"key": 1}))
    clear_caches()
    assert _fields(load_scheme("aflw21", corr_copy)) == expected
    assert all(json.loads(entry.read_text())["key"] == entry.stem for entry in cache.glob("*.json"))


def test_off_or_unwritable_means_no_cache(tmp_path: Path, corr_copy: Path, monkeypatch) -> None:
    monkeypatch.setenv("LANDMARK_FUSION_CACHE", "off")
    assert cache_folder() is None
    clear_caches()
    assert load_scheme("aflw21", corr_copy).name == "aflw21"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LANDMARK_FUSION_CACHE", str(blocker))
    clear_caches()
    assert load_scheme("aflw21", corr_copy).name == "aflw21"
    assert blocker.read_text() == "not a folder"
    clear_caches()


def test_a_command_that_finds_its_files_stored_does_not_import_the_checks(cache: Path,
                                                                          corr_copy: Path) -> None:
    code = ("import sys; from landmark_fusion.correspondence import canonical_landmarks; "
            f"canonical_landmarks(None, {str(corr_copy)!r}); print('pydantic' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]

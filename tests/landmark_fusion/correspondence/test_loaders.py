"""Loaders: one validation per file and process, edits seen, other folders kept apart, the L axis."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from landmark_fusion.correspondence import (
    CorrespondenceError,
    canonical_landmarks,
    clear_caches,
    install_loaded,
    list_schemes,
    load_scheme,
    load_vocabulary,
    loaded_folder,
    validate,
)
from landmark_fusion.paths import using_correspondences


def test_canonical_landmarks_union_in_vocabulary_order() -> None:
    vocabulary = load_vocabulary()
    aflw = canonical_landmarks(["aflw21"])
    assert set(aflw) == set(load_scheme("aflw21").kept_names) and len(aflw) == 18
    assert aflw == [n for n in vocabulary.names if n in set(aflw)]
    both = canonical_landmarks(["ibug68", "wflw98"])
    assert set(both) == set(load_scheme("ibug68").kept_names) | set(load_scheme("wflw98").kept_names)
    assert canonical_landmarks() == list(vocabulary.names)


def test_loads_are_cached_and_see_edits(corr_copy: Path, plant) -> None:
    assert load_scheme("ibug68") is load_scheme("ibug68")
    assert load_scheme("aflw21", corr_copy).name == "aflw21"
    assert load_scheme("aflw21", corr_copy) is not load_scheme("aflw21")  # another folder, another object
    plant(corr_copy, "schemes/aflw21.yaml", "name: ear_r,", "name: jaw_r_2of8,")
    plant(corr_copy, "schemes/aflw21.yaml", "name: ear_l,", "name: jaw_l_2of8,")
    assert load_scheme("aflw21", corr_copy).index_to_name[12] == "jaw_r_2of8"


def test_the_folder_of_the_process_is_read(corr_copy: Path, plant) -> None:
    """A build's workers switch folders with ``use_correspondences``; the cache keeps them apart."""
    plant(corr_copy, "schemes/aflw21.yaml", "name: ear_r,", "name: jaw_r_2of8,")
    plant(corr_copy, "schemes/aflw21.yaml", "name: ear_l,", "name: jaw_l_2of8,")
    with using_correspondences(corr_copy):
        assert load_scheme("aflw21").index_to_name[12] == "jaw_r_2of8"
    assert load_scheme("aflw21").index_to_name[12] == "ear_r"


def test_clear_caches_reads_the_files_again(corr_copy: Path) -> None:
    first = load_vocabulary(corr_copy)
    assert load_vocabulary(corr_copy) is first
    clear_caches()
    assert load_vocabulary(corr_copy) is not first


def _installed_aflw_name(loaded, folder: str) -> tuple[str, bool]:
    """In a fresh process: install ``loaded``, then index 12 of aflw21 in ``folder`` and whether
    the checks (pydantic) had to be imported for it."""
    import sys

    from landmark_fusion.correspondence import install_loaded, load_scheme

    install_loaded(loaded)
    return load_scheme("aflw21", folder).index_to_name[12], "pydantic" in sys.modules


def test_an_installed_folder_is_used_as_validated_in_another_process(corr_copy: Path, plant) -> None:
    """A build's workers get the files its building process validated: no YAML read, no checks,
    and an edit made meanwhile does not reach them (every face of a build sees the same files)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    loaded = loaded_folder(corr_copy)
    assert set(loaded.files) == {str((corr_copy / "landmarks.yaml").resolve())} | {
        str((corr_copy / "schemes" / f"{name}.yaml").resolve()) for name in list_schemes(corr_copy)}
    plant(corr_copy, "schemes/aflw21.yaml", "name: ear_r,", "name: jaw_r_2of8,")
    plant(corr_copy, "schemes/aflw21.yaml", "name: ear_l,", "name: jaw_l_2of8,")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        name, checked = pool.submit(_installed_aflw_name, loaded, str(corr_copy)).result()
    assert (name, checked) == ("ear_r", False)
    # in the process that validated them, the loaders go on seeing the files as they are now
    install_loaded(loaded)
    assert load_scheme("aflw21", corr_copy).index_to_name[12] == "jaw_r_2of8"


def test_an_invalid_file_is_refused_until_it_is_fixed(corr_copy: Path, plant) -> None:
    path = corr_copy / "schemes" / "ibug68.yaml"
    good = path.read_text()
    plant(corr_copy, "schemes/ibug68.yaml", "name: chin}", "name: chinn}")
    with pytest.raises(CorrespondenceError, match=r"ibug68\.yaml:\d+: index 8: unknown landmark name 'chinn'"):
        load_scheme("ibug68", corr_copy)
    with pytest.raises(CorrespondenceError):
        canonical_landmarks(None, corr_copy)
    path.write_text(good)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert load_scheme("ibug68", corr_copy).index_to_name[8] == "chin"


def test_unknown_scheme() -> None:
    with pytest.raises(KeyError, match="unknown scheme"):
        load_scheme("ibug69")


def test_validate_reports_a_folder_without_schemes(tmp_path: Path, corr_copy: Path) -> None:
    for path in (corr_copy / "schemes").glob("*.yaml"):
        path.unlink()
    assert list_schemes(corr_copy) == []
    assert [p.message for p in validate(corr_copy)] == ["no scheme files (*.yaml)"]
    assert validate(tmp_path / "nowhere")[0].message.startswith("cannot read")

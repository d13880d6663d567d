"""300W reader on the real LFPW sample files and on a release layout with damaged entries."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from landmark_fusion.sources import get_source
from landmark_fusion.sources.base import RawFace
from landmark_fusion.sources.w300 import W300Source, subset_of


def test_registry_names_the_reader():
    assert get_source("300w") is W300Source


def test_real_samples_exact(samples_dir, read_face):
    root = samples_dir / "300W"
    source = W300Source(root)
    items = list(source.items())
    assert items == [f"lfpw/trainset/image_000{i}.pts" for i in (1, 2, 3)]
    for item in items:
        face = read_face(source, item)
        assert face.sample_id == item.replace(".pts", ".png")
        assert face.scheme == "ibug68" and face.source == "300w"
        assert face.split == "train" and face.extra["subset"] == "train"
        assert face.visible.all() and np.isnan(face.yaw)
        np.testing.assert_array_equal(face.points, np.loadtxt(root / item, skiprows=3, max_rows=68) - 1)
    (first,) = source.read(items[0])
    assert first.points[0].tolist() == pytest.approx([114.167660, 219.807529], abs=1e-9)


def test_subsets():
    assert subset_of("lfpw/trainset/a.pts") == "train"
    assert subset_of("helen/testset/a.pts") == "common"
    assert subset_of("300W/ibug/a.pts") == "challenge"
    assert subset_of("300W/02_Outdoor/outdoor_001.pts") == "private"
    assert subset_of("AFW/a.pts") == "train"
    assert subset_of("elsewhere/a.pts") == "other"


@pytest.fixture()
def release(samples_dir, tmp_path):
    """A 300W layout built from the real files, with one damaged entry of each kind."""
    real = samples_dir / "300W" / "lfpw" / "trainset"
    root = tmp_path / "300W"
    text = (real / "image_0001.pts").read_text()
    lines = text.split("\n")

    def put(folder, stem, pts_text, image=True):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / f"{stem}.pts").write_text(pts_text)
        if image:
            shutil.copy(real / "image_0001.png", root / folder / f"{stem}.jpg")

    put("helen/testset", "good_common", text)
    put("ibug", "good_challenge", text.replace("\n", "\r\n"))
    put("01_Indoor", "indoor_001", text + "\n")
    put("afw", "a_67", "\n".join(lines[:-2] + ["}"]))
    put("afw", "b_nan", "\n".join(lines[:5] + ["nan 1.0"] + lines[6:]))
    put("afw", "c_truncated", "\n".join(lines[:40]))
    put("afw", "d_no_image", text, image=False)
    outside = tmp_path / "outside.pts"
    outside.write_text(text)
    shutil.copy(real / "image_0001.png", tmp_path / "outside.png")
    os.symlink(outside, root / "afw" / "e_link.pts")  # the user's links: followed
    os.symlink(tmp_path / "outside.png", root / "afw" / "e_link.png")
    return root


def test_release_layout_with_damaged_entries(release, read_results):
    source = W300Source(release)
    items = list(source.items())
    assert items == ["01_Indoor/indoor_001.pts", "afw/a_67.pts", "afw/b_nan.pts", "afw/c_truncated.pts",
                     "afw/d_no_image.pts", "afw/e_link.pts", "helen/testset/good_common.pts",
                     "ibug/good_challenge.pts"]
    results, rejected = read_results(source)
    assert rejected == {"afw/a_67.pts": "wrong_point_count", "afw/b_nan.pts": "bad_coordinates",
                        "afw/c_truncated.pts": "corrupt_annotation", "afw/d_no_image.pts": "missing_image"}
    for item in rejected:
        assert item.split("/")[-1].split(".")[0] in results[item].detail
    faces = {item: r for item, r in results.items() if isinstance(r, RawFace)}
    assert {f.extra["subset"]: f.split for f in faces.values()} == {
        "private": "test", "common": "train", "challenge": "train", "train": "train"}
    assert faces["afw/e_link.pts"].sample_id == "afw/e_link.png"  # read through the links
    reference = faces["helen/testset/good_common.pts"].points
    for face in faces.values():
        np.testing.assert_array_equal(face.points, reference)
    custom = W300Source(release, test_subsets=("common", "challenge", "private"))
    assert {custom.read(item)[0].split for item in faces if item != "afw/e_link.pts"} == {"test"}
    assert custom.read("afw/e_link.pts")[0].split == "train"  # afw is a training subset

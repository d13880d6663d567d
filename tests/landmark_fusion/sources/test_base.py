"""Rules every reader shares: root-confined paths, the user's own links, landmark checks."""
from __future__ import annotations

import os

import numpy as np
import pytest

from landmark_fusion.sources.base import SourceError, check_points, safe_join, usable_extents


@pytest.fixture()
def root(tmp_path):
    """``db/`` with a file, a sub-folder, and links pointing inside and outside it."""
    db = tmp_path / "db"
    (db / "sub").mkdir(parents=True)
    (db / "sub" / "face.jpg").write_bytes(b"x")
    (tmp_path / "secret.jpg").write_bytes(b"s")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "face.jpg").write_bytes(b"o")
    os.symlink(tmp_path / "secret.jpg", db / "sub" / "file_link.jpg")
    os.symlink(tmp_path / "outside", db / "dir_link")
    os.symlink(db / "sub" / "face.jpg", db / "inner_link.jpg")
    return db


def _reason(root, relative) -> str | None:
    try:
        safe_join(root, relative)
    except SourceError as error:
        assert str(relative) in error.detail
        return error.reason
    return None


def test_paths_inside_the_root_are_joined_not_resolved(root):
    assert safe_join(root, "sub/face.jpg") == root / "sub" / "face.jpg"
    assert safe_join(root, "sub/./face.jpg") == root / "sub" / "face.jpg"
    assert safe_join(root, "sub/../sub/face.jpg") == root / "sub" / "face.jpg"
    assert safe_join(root, "inner_link.jpg") == root / "inner_link.jpg"
    assert safe_join(root, "sub/missing.jpg") == root / "sub" / "missing.jpg"
    assert safe_join(root, ".") == root


def test_the_users_links_are_followed_wherever_they_point(root):
    """A file link or a linked folder is the user's layout (``ln -s``, ``cp -rs``): followed."""
    assert safe_join(root, "sub/file_link.jpg").read_bytes() == b"s"
    assert safe_join(root, "dir_link/face.jpg").read_bytes() == b"o"


def test_dot_dot_is_folded_on_the_text_not_through_a_link(root):
    # dir_link/.. would be the link target's parent on disk; on the text it is the root
    assert safe_join(root, "dir_link/../sub/face.jpg") == root / "sub" / "face.jpg"


@pytest.mark.parametrize("relative", ["../secret.jpg", "sub/../../secret.jpg", "..", "sub/../..",
                                      "dir_link/../../secret.jpg"])
def test_paths_leaving_the_root_are_refused(root, relative):
    assert _reason(root, relative) == "path_outside_root"


def test_a_nul_byte_is_a_corrupt_path(root):
    with pytest.raises(SourceError) as info:
        safe_join(root, "sub/fa\0ce.jpg")
    assert info.value.reason == "corrupt_annotation"


def test_absolute_paths_are_refused(root, tmp_path):
    assert _reason(root, str(tmp_path / "secret.jpg")) == "path_outside_root"


def test_a_sibling_folder_sharing_the_prefix_is_outside(root, tmp_path):
    (tmp_path / "db2").mkdir()
    assert _reason(root, "../db2/x.jpg") == "path_outside_root"


def test_check_points_reasons():
    points = np.array([[10.0, 20.0], [30.0, 40.0]])
    visible = np.array([True, True])
    check_points(points, visible, 2, "f.pts", image_size=(50, 50))
    with pytest.raises(SourceError) as info:
        check_points(points, visible, 3, "f.pts")
    assert info.value.reason == "wrong_point_count"
    with pytest.raises(SourceError) as info:
        check_points(np.array([[np.nan, 1.0], [2.0, 3.0]]), visible, 2, "f.pts")
    assert info.value.reason == "bad_coordinates"
    # a NaN on a point marked invisible is not looked at
    check_points(np.array([[np.nan, 1.0], [2.0, 3.0], [9.0, 9.0]]), np.array([False, True, True]), 3,
                 "f.pts")
    with pytest.raises(SourceError) as info:
        check_points(points, np.array([False, False]), 2, "f.pts")
    assert info.value.reason == "no_visible_points"
    with pytest.raises(SourceError) as info:  # one visible point: no box, norm size 0
        check_points(points, np.array([True, False]), 2, "f.pts")
    assert info.value.reason == "degenerate_box"
    with pytest.raises(SourceError) as info:
        check_points(points * 10, visible, 2, "f.pts", image_size=(50, 50))  # 400 > 3 x 50
    assert info.value.reason == "bad_coordinates" and "50x50" in info.value.detail
    check_points(points * 3, visible, 2, "f.pts", image_size=(50, 50))  # 120 <= 3 x 50


@pytest.mark.parametrize("points", [
    [[10.0, 20.0], [10.0, 20.0], [10.0, 20.0]],   # all identical
    [[10.0, 20.0], [10.0, 40.0], [10.0, 30.0]],   # zero width
    [[10.0, 20.0], [30.0, 20.0], [50.0, 20.0]],   # zero height
    [[10.0, 20.0], [10.5, 40.0], [10.2, 30.0]],   # under one pixel wide
])
def test_degenerate_boxes_are_rejected(points):
    with pytest.raises(SourceError) as info:
        check_points(np.array(points), np.ones(3, bool), 3, "f.pts")
    assert info.value.reason == "degenerate_box" and "f.pts" in info.value.detail


def test_a_one_pixel_box_is_kept():
    check_points(np.array([[10.0, 20.0], [11.0, 21.0]]), np.ones(2, bool), 2, "f.pts")


def test_usable_extents_accept_and_measure_what_check_points_does():
    """Face for face, the batched check keeps exactly the faces check_points keeps, with the same
    extent: NaN or infinity on a visible point, none visible, one visible, thin boxes, and NaN on
    an invisible point (not looked at)."""
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 100, (40, 5, 2))
    visible = rng.random((40, 5)) > 0.3
    points[1, 2] = np.nan
    visible[1, 2] = True
    points[2, 0, 1] = np.inf
    visible[2, 0] = True
    points[3, 4] = np.nan
    visible[3, 4] = False
    visible[4] = False
    visible[5] = [True, False, False, False, False]
    points[6, :, 0] = 7.0  # zero width
    visible[6] = True
    points[7, :, 1] = np.linspace(3.0, 4.0, 5)  # exactly one pixel high: kept
    visible[7] = True
    extents, usable = usable_extents(points, visible)
    for i in range(len(points)):
        try:
            expected = check_points(points[i], visible[i], 5, "f.pts")
        except SourceError:
            assert not usable[i], i
        else:
            assert usable[i], i
            assert tuple(extents[i].tolist()) == expected


def _fixture_roots(samples_dir, tmp_path) -> dict[str, list]:
    """database -> readers over real samples (and written files where no sample exists)."""
    from landmark_fusion.demo.writers.base import FixtureFace
    from landmark_fusion.demo.writers.landfiles import write_lfw74
    from landmark_fusion.demo.writers.ls3d_w import write_ls3d_w
    from landmark_fusion.sources import get_source

    rng = np.random.default_rng(0)
    faces68 = [FixtureFace(image=np.zeros((60, 60, 3), np.uint8), points=rng.uniform(5, 55, (68, 2)),
                           yaw=10.0 * i) for i in range(3)]
    faces74 = [FixtureFace(image=np.zeros((60, 60, 3), np.uint8), points=rng.uniform(5, 55, (74, 2)),
                           name=f"p{i}") for i in range(3)]
    write_ls3d_w(tmp_path / "ls3d_w", faces68)
    write_lfw74(tmp_path / "lfw74", faces74)
    roots = {"300w": [samples_dir / "300W"], "300w_lp": [samples_dir / "300W-LP", samples_dir / "300W-LP-AFW"],
             "aflw2000_3d": [samples_dir / "AFLW2000-3D"], "aflw": [samples_dir / "AFLW"],
             "facewarehouse": [samples_dir / "FaceWarehouse"], "wflw": [samples_dir / "WFLW"],
             "ls3d_w": [tmp_path / "ls3d_w"], "lfw74": [tmp_path / "lfw74"]}
    return {name: [get_source(name)(root) for root in paths] for name, paths in roots.items()}


def test_every_reader_knows_its_ids_from_the_item_and_hands_records_back(samples_dir, tmp_path):
    """``sample_id(item)`` is the id ``read(item)`` gives a kept face; ids are unique per database;
    a :class:`Rejected` from ``items()`` comes back from ``read`` unchanged."""
    from landmark_fusion.sources import SOURCES
    from landmark_fusion.sources.base import RawFace, Rejected

    readers = _fixture_roots(samples_dir, tmp_path)
    assert set(readers) == set(SOURCES)
    for name, sources in readers.items():
        kept = 0
        for source in sources:
            ids = []
            for n, item in enumerate(source.items()):
                assert not isinstance(item, Rejected), (name, item)
                ids.append(source.sample_id(item))
                if name == "aflw" and n % 1000 and not (source.root / ids[-1]).is_file():
                    continue  # 21,073 list rows without a crop in the sample: ids only
                (result,) = source.read(item)
                if isinstance(result, RawFace):
                    assert result.sample_id == ids[-1], (name, item)
                    kept += 1
            assert len(set(ids)) == len(ids), name
        assert kept or name == "wflw", name  # the WFLW sample holds lists but no images
        record = Rejected(name, "x/", "link_loop", "d")
        assert sources[0].read(record) == [record]

"""WFLW reader: the real make-up list (exact values) and written main-list fixtures."""
from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest

from landmark_fusion.demo.writers.base import FixtureFace, save_rgb
from landmark_fusion.demo.writers.wflw import write_wflw
from landmark_fusion.sources import get_source
from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.wflw import MAIN_LISTS, WFLWSource

MAKEUP = "WFLW_annotations/list_98pt_test/list_98pt_test_makeup.txt"


def test_registry_names_the_reader():
    assert get_source("wflw") is WFLWSource


@pytest.fixture()
def makeup_copy(samples_dir, tmp_path):
    """The real make-up list in a tmp root, with a blank image for the faces of its first line."""
    shutil.copytree(samples_dir / "WFLW" / "WFLW_annotations", tmp_path / "WFLW_annotations")
    first = (tmp_path / MAKEUP).read_text().splitlines()[0].split(" ")
    save_rgb(tmp_path / "WFLW_images" / first[-1], np.zeros((1000, 1000, 3), np.uint8))
    return tmp_path, first


def test_real_makeup_list(makeup_copy, read_face):
    root, first = makeup_copy
    source = WFLWSource(root)
    items = list(source.items())
    assert len(items) == 206 and len({item.sample_id for item in items}) == 206
    assert all(item.split == "test" and item.attribute_lists == ("make-up",) for item in items)
    face = read_face(source, items[0])
    assert len(first) == 197
    expected = np.array([float(v) for v in first[:196]]).reshape(98, 2)
    np.testing.assert_array_equal(face.points, expected)
    assert face.points[0].tolist() == [593.518005, 227.281006]
    assert face.sample_id == "WFLW_images/45--Balloonist/45_Balloonist_Balloonist_45_687.jpg"
    assert face.scheme == "wflw98" and face.box is None
    assert face.extra["attribute_lists"] == ("make-up",)
    assert face.extra["line"] == 1
    # the other faces have no image here: named rejections, nothing raised
    rejected = source.read(items[1])[0]
    assert rejected.reason == "missing_image" and f"{MAKEUP}:2" in rejected.detail


def test_faces_of_one_image_get_numbered_ids(samples_dir):
    source = WFLWSource(samples_dir / "WFLW")
    ids = [item.sample_id for item in source.items()]
    names = [line.split()[-1] for line in (samples_dir / "WFLW" / MAKEUP).read_text().splitlines()]
    aerobics = "WFLW_images/44--Aerobics/44_Aerobics_Aerobics_44_346.jpg"
    assert names[1] == names[5] == aerobics.removeprefix("WFLW_images/")
    assert ids[1] == aerobics + "#0" and ids[5] == aerobics + "#1"
    single = [n for n in names if names.count(n) == 1][0]
    assert ids[names.index(single)] == "WFLW_images/" + single
    assert len(set(names)) == 164


def _face(rng, name, split="train", **extra):
    points = rng.uniform(5, 95, size=(98, 2))
    return FixtureFace(image=np.full((100, 100, 3), 128, np.uint8), points=points, name=name,
                       split=split, extra=extra)


@pytest.fixture()
def main_lists(tmp_path):
    rng = np.random.default_rng(5)
    faces = [
        _face(rng, "1--Handshaking/a.jpg", attributes={"pose": 1, "blur": 1}),
        _face(rng, "1--Handshaking/a.jpg", box=[3, 4, 90, 96]),
        _face(rng, "1--Handshaking/b.jpg"),
        _face(rng, "2--Demo/c.jpg", split="test", attributes={"make-up": 1, "occlusion": 1}),
        _face(rng, "2--Demo/c.jpg", split="test", attributes={"make-up": 1}),
        _face(rng, "2--Demo/d.jpg", split="test"),
    ]
    write_wflw(tmp_path, faces)
    return tmp_path, faces


def test_main_lists_fixture(main_lists):
    root, faces = main_lists
    source = pickle.loads(pickle.dumps(WFLWSource(root)))
    items = list(source.items())
    assert [i.list_path for i in items] == [MAIN_LISTS["train"]] * 3 + [MAIN_LISTS["test"]] * 3
    read = [source.read(pickle.loads(pickle.dumps(item)))[0] for item in items]
    assert [f.sample_id for f in read] == [
        "WFLW_images/1--Handshaking/a.jpg#0", "WFLW_images/1--Handshaking/a.jpg#1",
        "WFLW_images/1--Handshaking/b.jpg",
        "WFLW_images/2--Demo/c.jpg#0", "WFLW_images/2--Demo/c.jpg#1", "WFLW_images/2--Demo/d.jpg"]
    for face, fixture in zip(read, faces, strict=True):
        np.testing.assert_allclose(face.points, fixture.points, atol=5e-7)
        assert face.split == fixture.split
    assert read[0].extra["attributes"] == {"pose": 1, "expression": 0, "illumination": 0,
                                           "make-up": 0, "occlusion": 0, "blur": 1}
    assert read[1].box.tolist() == [3, 4, 90, 96]
    lo, hi = np.floor(faces[2].points.min(0)), np.ceil(faces[2].points.max(0))
    assert read[2].box.tolist() == [lo[0], lo[1], hi[0], hi[1]]
    assert read[3].extra["attributes"]["make-up"] == 1 and read[3].extra["attributes"]["occlusion"] == 1
    # the attribute lists duplicate the main test list: not read while it is there
    assert all(item.fields == 207 for item in items)


def test_attribute_lists_stand_in_for_a_missing_main_test_list(main_lists):
    root, faces = main_lists
    (root / MAIN_LISTS["test"]).unlink()
    source = WFLWSource(root)
    items = list(source.items())
    test_items = [i for i in items if i.split == "test"]
    # c#0 is in the make-up and occlusion lists, c#1 in make-up: read once each; d is in none
    assert len(test_items) == 2
    read = {source.read(i)[0].sample_id: source.read(i)[0] for i in test_items}
    assert set(read) == {"WFLW_images/2--Demo/c.jpg#0", "WFLW_images/2--Demo/c.jpg#1"}
    memberships = sorted(face.extra["attribute_lists"] for face in read.values())
    assert memberships == [("make-up",), ("make-up", "occlusion")]
    assert len(WFLWSource(root, lists="main").plan()) == 1  # only the train list


def test_broken_lines_are_rejected_and_the_rest_read(main_lists):
    root, faces = main_lists
    path = root / MAIN_LISTS["train"]
    good = path.read_text().splitlines()
    fields = good[2].split(" ")
    short = " ".join(fields[:-2] + fields[-1:])                        # 206 fields
    outside = " ".join(fields[:-1] + ["../x.jpg"])
    words = " ".join(fields[:10] + ["abc"] + fields[11:-1] + ["1--Handshaking/e.jpg"])
    nan = " ".join(fields[:4] + ["nan"] + fields[5:-1] + ["1--Handshaking/f.jpg"])
    bad_flag = " ".join(fields[:-2] + ["7", "1--Handshaking/g.jpg"])  # an extra: the face stays
    bad_box = " ".join(fields[:196] + ["1", "x", "3", "4"] + fields[200:-1] + ["1--Handshaking/h.jpg"])
    missing = " ".join(fields[:-1] + ["1--Handshaking/none.jpg"])
    repeat = good[1]                                                    # line 2 again, exactly
    path.write_text("\n".join(good + [short, outside, words, nan, bad_flag, bad_box, missing, repeat])
                    + "\n")
    with open(path, "ab") as handle:                                    # one undecodable line
        handle.write(good[0].encode().replace(b"Handshaking", b"Hand\xffshaking") + b"\n")
    for name in ("e", "f", "g", "h"):
        save_rgb(root / "WFLW_images" / "1--Handshaking" / f"{name}.jpg", np.zeros((100, 100, 3), np.uint8))
    save_rgb(root / "x.jpg", np.zeros((100, 100, 3), np.uint8))
    source = WFLWSource(root)
    results = [source.read(item)[0] for item in source.items()]
    rejected = [r for r in results if isinstance(r, Rejected)]
    train = MAIN_LISTS["train"]
    assert [(r.reason, r.sample_id) for r in rejected] == [
        ("wrong_field_count", f"{train}:4"),
        ("path_outside_root", "WFLW_images/../x.jpg"),
        ("corrupt_annotation", "WFLW_images/1--Handshaking/e.jpg"),
        ("bad_coordinates", "WFLW_images/1--Handshaking/f.jpg"),
        ("missing_image", "WFLW_images/1--Handshaking/none.jpg"),
        ("duplicate_sample", f"{train}:11"),
        ("corrupt_annotation", f"{train}:12"),
    ]
    assert f"{train}:4: expected 207 fields, got 206" in rejected[0].detail
    assert f"{train}:6" in rejected[2].detail and "field 11" in rejected[2].detail
    assert f"{train}:7" in rejected[3].detail
    assert f"repeats {train}:2" in rejected[5].detail and "UTF-8" in rejected[6].detail
    kept = {r.sample_id: r for r in results if isinstance(r, RawFace)}
    assert len(kept) == 8
    flag = kept["WFLW_images/1--Handshaking/g.jpg"]
    assert "attributes" not in flag.extra and "0/1" in flag.extra["notes"][0]
    assert flag.box is not None
    box = kept["WFLW_images/1--Handshaking/h.jpg"]
    assert box.box is None and "box" in box.extra["notes"][0] and "attributes" in box.extra
    assert len({r.sample_id for r in results}) == len(results)  # no id twice


def test_a_face_in_several_attribute_lists_is_no_duplicate_but_a_repeat_in_one_is(samples_dir, tmp_path):
    shutil.copytree(samples_dir / "WFLW" / "WFLW_annotations", tmp_path / "WFLW_annotations")
    makeup = (tmp_path / MAKEUP).read_text().splitlines()
    blur = tmp_path / "WFLW_annotations/list_98pt_test/list_98pt_test_blur.txt"
    blur.write_text("\n".join(makeup[:3]) + "\n")
    (tmp_path / MAKEUP).write_text("\n".join(makeup + [makeup[7]]) + "\n")
    items = list(WFLWSource(tmp_path).items())
    faces = [i for i in items if not isinstance(i, Rejected)]
    (repeat,) = [i for i in items if isinstance(i, Rejected)]
    assert len(faces) == 206 and repeat.reason == "duplicate_sample"
    assert repeat.sample_id == f"{MAKEUP}:207" and f"{MAKEUP}:8" in repeat.detail
    assert [f.attribute_lists for f in faces[:4]] == [("make-up", "blur")] * 3 + [("make-up",)]


def test_a_root_without_lists_names_them(tmp_path):
    (tmp_path / "WFLW_images").mkdir()
    (rejected,) = WFLWSource(tmp_path).items()
    assert rejected.reason == "wrong_layout" and "list_98pt_rect_attr_train.txt" in rejected.detail
    assert "WFLW_images/" in rejected.detail


def test_one_based_option(main_lists):
    root, faces = main_lists
    item = next(iter(WFLWSource(root).items()))
    zero = WFLWSource(root).read(item)[0]
    one = WFLWSource(root, one_based=True).read(item)[0]
    np.testing.assert_allclose(one.points, zero.points - 1.0)
    np.testing.assert_allclose(one.box, zero.box - 1.0)
    with pytest.raises(ValueError):
        WFLWSource(root, lists="everything")

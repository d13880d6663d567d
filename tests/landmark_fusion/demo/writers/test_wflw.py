"""WFLW list lines: 207 / 197 fields in the official layout; the real make-up line reproduced."""
from __future__ import annotations

import numpy as np

from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.wflw import format_main_line, format_points_line, write_wflw
from landmark_fusion.sources.wflw import ATTRIBUTE_LISTS, FULL_TEST_LIST, MAIN_LISTS


def test_reproduces_a_real_attribute_list_line(samples_dir):
    path = samples_dir / "WFLW" / "WFLW_annotations" / "list_98pt_test" / "list_98pt_test_makeup.txt"
    with open(path) as handle:
        lines = [next(handle).rstrip("\n") for _ in range(3)]
    for line in lines:
        fields = line.split(" ")
        points = np.array([float(v) for v in fields[:196]]).reshape(98, 2)
        assert format_points_line(points, fields[-1]) == line


def test_main_line_fields():
    points = np.arange(196, dtype=np.float64).reshape(98, 2) / 3
    line = format_main_line(points, [1, 2, 30.0, 40], {"occlusion": 1, "blur": 1}, "3--Riot/x.jpg")
    fields = line.split(" ")
    assert len(fields) == 207
    assert fields[:2] == ["0.000000", "0.333333"]
    assert fields[196:200] == ["1", "2", "30", "40"]
    assert fields[200:206] == ["0", "0", "0", "0", "1", "1"]
    assert fields[206] == "3--Riot/x.jpg"
    assert len(format_points_line(points, "3--Riot/x.jpg").split(" ")) == 197


def test_write_wflw_lists(tmp_path):
    rng = np.random.default_rng(1)
    image = np.zeros((20, 20, 3), np.uint8)
    faces = [FixtureFace(image=image, points=rng.uniform(0, 19, (98, 2)), name="7--Cheering/a.jpg"),
             FixtureFace(image=image, points=rng.uniform(0, 19, (98, 2)), name="b", split="test",
                         extra={"attributes": {"pose": 1, "make-up": 1}})]
    write_wflw(tmp_path, faces, full_test_list=True)
    train = (tmp_path / MAIN_LISTS["train"]).read_text()
    test = (tmp_path / MAIN_LISTS["test"]).read_text()
    assert train.count("\n") == 1 and train.endswith(" 7--Cheering/a.jpg\n") and not train.endswith(" \n")
    assert test.split(" ")[-1] == "0--Parade/b.jpg\n" and len(test.split()) == 207
    assert (tmp_path / "WFLW_images" / "7--Cheering" / "a.jpg").is_file()
    assert (tmp_path / "WFLW_images" / "0--Parade" / "b.jpg").is_file()
    counts = {ATTRIBUTE_LISTS[p]: (tmp_path / p).read_text().count("\n") for p in ATTRIBUTE_LISTS}
    assert counts == {"pose": 1, "expression": 0, "illumination": 0, "make-up": 1, "occlusion": 0, "blur": 0}
    assert len((tmp_path / FULL_TEST_LIST).read_text().split()) == 197

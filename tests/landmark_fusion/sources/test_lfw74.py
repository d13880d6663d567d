"""LFW-74 reader: per-set convention detection, splits and broken files, on written fixtures."""
from __future__ import annotations

import numpy as np
import pytest

from landmark_fusion.demo.writers.base import FixtureFace, save_rgb
from landmark_fusion.demo.writers.landfiles import write_land, write_lfw74
from landmark_fusion.sources import get_source
from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.lfw74 import LFW74Source

WIDTH, HEIGHT = 250, 250


def _faces(count: int, seed: int = 0) -> list[FixtureFace]:
    """Upright fw74-shaped faces: brows (15-26) above the mouth (46-63)."""
    rng = np.random.default_rng(seed)
    faces = []
    for i in range(count):
        points = np.column_stack([rng.uniform(70, 180, 74), rng.uniform(110, 140, 74)])
        points[15:27, 1] = rng.uniform(80, 95, 12)
        points[46:64, 1] = rng.uniform(165, 185, 18)
        faces.append(FixtureFace(image=np.zeros((HEIGHT, WIDTH, 3), np.uint8), points=points,
                                 name=f"Person_{i}/Person_{i}_0001",
                                 split="test" if i % 3 == 0 else "train"))
    return faces


def test_registry_names_the_reader():
    assert get_source("lfw74") is LFW74Source


@pytest.mark.parametrize("normalised", [True, False])
@pytest.mark.parametrize("y_up", [True, False])
def test_each_convention_is_detected_and_read_back(tmp_path, normalised, y_up, read_face):
    faces = _faces(5)
    write_lfw74(tmp_path, faces, normalised=normalised, y_up=y_up)
    source = LFW74Source(tmp_path)
    assert (source.convention.normalised, source.convention.y_up) == (normalised, y_up)
    label = f"{'normalised' if normalised else 'pixels'}/{'y_up' if y_up else 'y_down'}"
    by_id = {}
    for item in source.items():
        face = read_face(source, item)
        assert face.scheme == "fw74"
        assert face.extra["land_convention"] == label
        by_id[face.sample_id] = face
    for fixture in faces:
        face = by_id[f"{fixture.split}/{fixture.name}.jpg"]
        assert face.split == fixture.split
        np.testing.assert_allclose(face.points, fixture.points, atol=WIDTH * 1e-6)


def test_forcing_the_convention_overrides_detection(tmp_path):
    faces = _faces(3)
    write_lfw74(tmp_path, faces, normalised=False, y_up=False)
    forced = LFW74Source(tmp_path, y_axis="up")
    assert forced.convention.label == "pixels/y_up"
    (face,) = forced.read(next(iter(forced.items())))
    np.testing.assert_allclose(face.points[:, 1], HEIGHT - faces[0].points[:, 1], atol=1e-5)


def test_split_list_when_no_split_folders(tmp_path):
    faces = _faces(6)
    write_lfw74(tmp_path, faces, split_folders=False)
    assert (tmp_path / "test.txt").read_text().splitlines() == [
        f"{f.name}.jpg" for f in faces if f.split == "test"]
    source = LFW74Source(tmp_path)
    splits = {source.read(item)[0].sample_id: source.read(item)[0].split for item in source.items()}
    assert splits == {f"{f.name}.jpg": f.split for f in faces}


def test_train_list_and_bare_names(tmp_path):
    faces = _faces(4)
    write_lfw74(tmp_path, faces, split_folders=False)
    (tmp_path / "test.txt").unlink()
    (tmp_path / "train.txt").write_text("Person_1_0001\n# comment\n\nPerson_2/Person_2_0001.land\n")
    source = LFW74Source(tmp_path)
    assert source.split_of("Person_1/Person_1_0001.land") == "train"
    assert source.split_of("Person_2/Person_2_0001.land") == "train"
    assert source.split_of("Person_3/Person_3_0001.land") == "test"
    assert source.split_of("Testing/x.land") == "test"  # a split folder wins over the list
    (tmp_path / "train.txt").unlink()
    assert LFW74Source(tmp_path).split_of("Person_3/Person_3_0001.land") == "train"


def test_broken_files_are_rejected_and_the_rest_read(tmp_path):
    faces = _faces(6)
    write_lfw74(tmp_path, faces, normalised=False, y_up=False)
    folder = tmp_path / "train"
    text = (folder / "Person_1" / "Person_1_0001.land").read_bytes().split(b"\r\n")
    (folder / "Person_1" / "Person_1_0001.land").write_bytes(b"\r\n".join([b"73"] + text[1:-2] + [b""]))
    text[5] = b"nan 12.0"
    (folder / "Person_2" / "Person_2_0001.land").write_bytes(b"\r\n".join(text))
    text[5] = b"12.0 twelve"
    (folder / "Person_4" / "Person_4_0001.land").write_bytes(b"\r\n".join(text))
    (folder / "Person_5" / "Person_5_0001.jpg").unlink()
    save_rgb(tmp_path / "extra" / "huge.jpg", np.zeros((10, 10, 3), np.uint8))  # points far outside
    write_land(tmp_path / "extra" / "huge.land", faces[0].points * 50, (10, 10), False, False)
    source = LFW74Source(tmp_path)
    assert source.convention.label == "pixels/y_down"  # broken files do not sway the decision
    results = {item: source.read(item)[0] for item in source.items()}
    rejected = {item: (r.reason, r.detail) for item, r in results.items() if isinstance(r, Rejected)}
    assert {item: reason for item, (reason, _) in rejected.items()} == {
        "train/Person_1/Person_1_0001.land": "wrong_point_count",
        "train/Person_2/Person_2_0001.land": "bad_coordinates",
        "train/Person_4/Person_4_0001.land": "corrupt_annotation",
        "train/Person_5/Person_5_0001.land": "missing_image",
        "extra/huge.land": "bad_coordinates",
    }
    assert "Person_2_0001.land:6" in rejected["train/Person_2/Person_2_0001.land"][1]
    assert "Person_4_0001.land:6" in rejected["train/Person_4/Person_4_0001.land"][1]
    assert sum(isinstance(r, RawFace) for r in results.values()) == 2

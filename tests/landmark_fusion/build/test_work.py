"""The per-item work of a build: the points are checked before the image is decoded, each image is
decoded once for all its faces, every face gets a row or a named rejection."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from landmark_fusion.build import BuildSettings, work
from landmark_fusion.build.context import WorkerContext
from landmark_fusion.build.run import scheme_names
from landmark_fusion.correspondence import canonical_landmarks
from landmark_fusion.roots import Root
from landmark_fusion.shards.schema import Sample
from landmark_fusion.sources import SOURCES, get_source
from landmark_fusion.sources.base import RawFace, Rejected


class ListedFaces:
    """A reader whose one item holds the given records (real faces, changed per test)."""

    def __init__(self, records: list[RawFace | Rejected]) -> None:
        self.records = records

    def read(self, item: str) -> list[RawFace | Rejected]:
        return list(self.records)


@pytest.fixture
def real_face(samples_dir: Path) -> RawFace:
    """The first face of the real 300W (LFPW) samples, as its reader reads it."""
    reader = get_source("300w")(samples_dir / "300W")
    item = next(i for i in reader.items() if not isinstance(i, Rejected))
    face = reader.read(item)[0]
    assert isinstance(face, RawFace)
    return face


@pytest.fixture
def context(samples_dir: Path):
    """A worker prepared in this process for a 300W build; its reader is replaced per test."""
    settings = BuildSettings(progress=False)
    names = tuple(canonical_landmarks())
    ctx = WorkerContext({"300w": Root("300w", samples_dir / "300W")}, settings, names,
                        {name: i for i, name in enumerate(SOURCES)},
                        {name: i for i, name in enumerate(scheme_names())})
    work.init_worker(ctx)
    yield ctx
    work.init_worker(ctx)  # forget the replaced reader


def _run(records: list[RawFace | Rejected], ctx: WorkerContext, monkeypatch) -> tuple[list, list[Path]]:
    """``process_item`` over one item holding ``records``; also the images it decoded."""
    decoded: list[Path] = []
    original = work.decode_image

    def counting(path, *args, **kwargs):
        decoded.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(work, "decode_image", counting)
    work._READERS["300w"] = ListedFaces(records)
    return work.process_item("300w", "item", ctx), decoded


def test_faces_of_one_image_share_one_decode(real_face, context, monkeypatch):
    second = replace(real_face, sample_id=real_face.sample_id + "#1", points=real_face.points + 3.0)
    out, decoded = _run([real_face, second], context, monkeypatch)
    assert [type(row) for row in out] == [Sample, Sample]
    assert decoded == [real_face.image_path]
    # each face its own crop of the one decode: the box moved with the points, not the points in it
    np.testing.assert_allclose(out[1].crop_to_image[:, 2] - out[0].crop_to_image[:, 2], 3.0, atol=1e-4)
    np.testing.assert_allclose(out[1].landmarks, out[0].landmarks, atol=1e-4)


def test_bad_points_are_named_before_any_decode(real_face, context, monkeypatch, tmp_path):
    """A face whose points cannot be used is rejected for them, even when its image is missing:
    its image is not opened for it."""
    points = real_face.points.copy()
    points[5] = np.nan
    broken = replace(real_face, points=points, image_path=tmp_path / "absent.png")
    out, decoded = _run([broken], context, monkeypatch)
    assert [(row.reason, row.sample_id) for row in out] == [("bad_coordinates", real_face.sample_id)]
    assert decoded == []


def test_points_far_outside_the_decoded_image_are_rejected(real_face, context, monkeypatch):
    """The image's own size is checked once it is decoded; the good face beside it is kept."""
    far = replace(real_face, sample_id=real_face.sample_id + "#1", points=real_face.points * 40.0)
    out, decoded = _run([far, real_face], context, monkeypatch)
    assert isinstance(out[0], Rejected) and out[0].reason == "bad_coordinates"
    assert "far outside" in out[0].detail and isinstance(out[1], Sample)
    assert decoded == [real_face.image_path]

"""The per-chunk work of a build: the points are checked before the image is decoded, each image is
decoded once for all its faces, every face gets a row or a named rejection, and the rows made for
all faces at once are those of the one-face crop and unification."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from landmark_fusion.build import BuildSettings, work
from landmark_fusion.build.context import WorkerContext
from landmark_fusion.build.results import ChunkResult
from landmark_fusion.build.run import scheme_names
from landmark_fusion.correspondence import canonical_landmarks
from landmark_fusion.crop import box_around, crop_box_image, extent_norm_size
from landmark_fusion.roots import Root
from landmark_fusion.sources import SOURCES, get_source
from landmark_fusion.sources.base import RawFace, Rejected, check_points
from landmark_fusion.unify import unify


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


def _run(records: list[RawFace | Rejected], ctx: WorkerContext, monkeypatch
         ) -> tuple[ChunkResult, list[Path]]:
    """``process_chunk`` over one item holding ``records``; also the images it decoded."""
    decoded: list[Path] = []
    original = work.decode_image

    def counting(path, *args, **kwargs):
        decoded.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(work, "decode_image", counting)
    work._READERS["300w"] = ListedFaces(records)
    return work.process_chunk([("300w", "item")]), decoded


def _reasons(result: ChunkResult) -> list[tuple[str, str]]:
    return [(row.reason, row.sample_id) for row in result.rejected[0]]


def test_faces_of_one_image_share_one_decode(real_face, context, monkeypatch):
    second = replace(real_face, sample_id=real_face.sample_id + "#1", points=real_face.points + 3.0)
    result, decoded = _run([real_face, second], context, monkeypatch)
    assert result.kept == [2] and result.rows is not None
    assert decoded == [real_face.image_path]
    # each face its own crop of the one decode: the box moved with the points, not the points in it
    crop_to_image, landmarks = result.rows["crop_to_image"], result.rows["landmarks"]
    np.testing.assert_allclose(crop_to_image[1, :, 2] - crop_to_image[0, :, 2], 3.0, atol=1e-4)
    np.testing.assert_allclose(landmarks[1], landmarks[0], atol=1e-4)


def test_bad_points_are_named_before_any_decode(real_face, context, monkeypatch, tmp_path):
    """A face whose points cannot be used is rejected for them, even when its image is missing:
    its image is not opened for it."""
    points = real_face.points.copy()
    points[5] = np.nan
    broken = replace(real_face, points=points, image_path=tmp_path / "absent.png")
    result, decoded = _run([broken], context, monkeypatch)
    assert _reasons(result) == [("bad_coordinates", real_face.sample_id)]
    assert result.kept == [0] and result.rows is None and decoded == []


def test_points_far_outside_the_decoded_image_are_rejected(real_face, context, monkeypatch):
    """The image's own size is checked once it is decoded; the good face beside it is kept."""
    far = replace(real_face, sample_id=real_face.sample_id + "#1", points=real_face.points * 40.0)
    result, decoded = _run([far, real_face], context, monkeypatch)
    assert _reasons(result) == [("bad_coordinates", far.sample_id)]
    assert "far outside" in result.rejected[0][0].detail and result.kept == [1]
    assert result.rows is not None and list(result.rows["sample_id"]) == [real_face.sample_id]
    assert decoded == [real_face.image_path]


def test_rejections_keep_the_items_order(real_face, context, monkeypatch):
    """The reader's own rejections and the build's stay in reading order; a face with the wrong
    number of points is named beside faces checked together."""
    short = replace(real_face, sample_id="short", points=real_face.points[:60],
                    visible=real_face.visible[:60])
    hidden = replace(real_face, sample_id="hidden", visible=np.zeros_like(real_face.visible))
    records = [Rejected("300w", "first", "corrupt_annotation", "planted"), short, real_face,
               hidden, Rejected("300w", "last", "missing_image", "planted")]
    result, _ = _run(records, context, monkeypatch)
    assert _reasons(result) == [("corrupt_annotation", "first"), ("wrong_point_count", "short"),
                                ("no_visible_points", "hidden"), ("missing_image", "last")]
    assert result.kept == [1]


def test_a_scheme_that_cannot_be_loaded_rejects_its_faces_only(real_face, context, monkeypatch):
    stray = replace(real_face, sample_id="stray", scheme="no_such_scheme")
    result, _ = _run([stray, real_face], context, monkeypatch)
    assert _reasons(result) == [("internal_error", "stray")] and result.kept == [1]
    assert "no_such_scheme" in result.rejected[0][0].detail


def test_rows_are_the_one_face_crop_and_unification(real_face, context, monkeypatch):
    """The rows made for all faces at once hold, bit for bit, what cropping and unifying each face
    alone gives: pixels (RGB), landmarks, mask, maps, normalising size, codes and names."""
    import cv2

    rng = np.random.default_rng(4)
    faces = [real_face]
    for k in range(1, 4):
        visible = real_face.visible & (rng.random(len(real_face.visible)) > 0.3)
        faces.append(replace(real_face, sample_id=f"{real_face.sample_id}#{k}", visible=visible,
                             points=real_face.points * (1.0 + 0.1 * k) - 7.5 * k, yaw=5.0 * k))
    result, _ = _run(faces, context, monkeypatch)
    assert result.kept == [4] and result.rows is not None
    rows = result.rows
    image = cv2.imread(str(real_face.image_path), cv2.IMREAD_COLOR)
    settings = context.settings
    for i, face in enumerate(faces):
        extent = check_points(face.points, face.visible, len(face.points), face.image_path)
        crop = crop_box_image(image, *box_around(extent, settings.margin), settings.crop_size)
        targets, mask = unify(face.points * crop.scale + crop.image_to_crop[:, 2], face.visible,
                              face.scheme, context.landmark_names)
        np.testing.assert_array_equal(rows["images"][i], cv2.cvtColor(crop.image, cv2.COLOR_BGR2RGB))
        np.testing.assert_array_equal(rows["landmarks"][i], targets)
        np.testing.assert_array_equal(rows["mask"][i], mask)
        np.testing.assert_array_equal(rows["crop_to_image"][i], crop.crop_to_image.astype(np.float32))
        assert rows["norm_size"][i] == np.float32(crop.scale * extent_norm_size(extent))
        assert rows["sample_id"][i] == face.sample_id and rows["split"][i] == face.split
        assert rows["source"][i] == context.source_codes["300w"]
        assert rows["scheme"][i] == context.scheme_codes[face.scheme]
        assert rows["yaw"][i] == np.float32(face.yaw) or (np.isnan(face.yaw) and np.isnan(rows["yaw"][i]))


def test_jpeg_rows_are_the_same_whichever_library_decodes(samples_dir, context, monkeypatch):
    """A JPEG's crops come out bit for bit the same whether simplejpeg (RGB, no conversion of the
    crop) or OpenCV (BGR, the crop converted) decodes it, at full size and reduced."""
    pytest.importorskip("simplejpeg")
    from landmark_fusion import imageio

    reader = get_source("aflw2000_3d")(samples_dir / "AFLW2000-3D")
    faces = [face for item in reader.items() if not isinstance(item, Rejected)
             for face in reader.read(item) if isinstance(face, RawFace)][:3]
    assert faces
    for reduced in (False, True):
        context.settings.reduced_decode = reduced
        context.settings.crop_size = 48 if reduced else 160  # 48 px: these faces allow 1/2 or more
        rgb, _ = _run(faces, context, monkeypatch)
        with monkeypatch.context() as patch:
            patch.setattr(imageio, "simplejpeg_module", lambda: None)
            bgr, _ = _run(faces, context, monkeypatch)
        assert rgb.kept == bgr.kept == [len(faces)]
        assert rgb.rows is not None and bgr.rows is not None
        for name in rgb.rows:
            np.testing.assert_array_equal(rgb.rows[name], bgr.rows[name], err_msg=name)

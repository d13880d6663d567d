"""Native points of each scheme on the synthetic face: named vertices, 2-D contour, centres, visibility."""
import math

import numpy as np
import pytest

from landmark_fusion.demo.renderer import rasterize
from landmark_fusion.demo.scene import rotation
from landmark_fusion.demo.scheme_points import SchemePoints
from landmark_fusion.demo.synthetic_model import synthetic_model


@pytest.fixture(scope="module")
def setup():
    face = synthetic_model()
    return face, SchemePoints(face.model, face.table)


def _view(face, yaw_degrees, scale=1.5, size=400):
    rot = rotation(0.0, math.radians(yaw_degrees), 0.0)
    cam = face.model.mean.astype(float) @ rot.T * scale
    verts = np.column_stack([cam[:, 0] + size / 2, -cam[:, 1] + size / 2, cam[:, 2]])
    raster = rasterize(verts[:, :2], verts[:, 2], face.model.triangles, size, size)
    return verts, rot, raster


def test_contour_is_the_fixed_jaw_when_frontal_and_the_silhouette_when_turned(setup):
    face, sp = setup
    size = 1.5 * 110  # face size in pixels at scale 1.5
    verts, rot, raster = _view(face, 0.0)
    contour = sp.native("ibug68", verts, rot, raster, size).points[:17]
    fixed = sp.native("ibug68_fixed", verts, rot, raster, size).points[:17]
    assert np.abs(contour - fixed).max() < 0.03 * size

    verts, rot, raster = _view(face, 60.0)  # turned to image-left: the image-left side turns away
    contour = sp.native("ibug68", verts, rot, raster, size).points[:17]
    fixed = sp.native("ibug68_fixed", verts, rot, raster, size).points[:17]
    far = np.linalg.norm(contour[1:5] - fixed[1:5], axis=1)  # the cheek part of the far side
    assert far.min() > 0.05 * size
    # the silhouette lies outside the hidden fixed jaw, towards image-left
    assert (contour[1:7, 0] < fixed[1:7, 0]).all()
    near = np.linalg.norm(contour[10:16] - fixed[10:16], axis=1)
    assert near.max() < 0.03 * size


def test_named_points_are_the_landmark_vertices_and_centres_are_means(setup):
    face, sp = setup
    verts, rot, raster = _view(face, 10.0)
    aflw = sp.native("aflw21", verts, rot, raster, 220.0)
    t = face.table
    assert np.allclose(aflw.points[14], verts[t["nose_tip"], :2])
    eye = [t[f"eye_r_{p}"] for p in ("outer", "upper_lid_1of3", "upper_lid_2of3", "inner",
                                    "lower_lid_2of3", "lower_lid_1of3")]
    assert np.allclose(aflw.points[7], verts[eye, :2].mean(0))
    wflw = sp.native("wflw98", verts, rot, raster, 220.0)
    assert wflw.points.shape == (98, 2) and np.allclose(wflw.points[16], verts[t["chin"], :2])


def test_aflw_visibility_hides_the_far_side(setup):
    face, sp = setup
    verts, rot, raster = _view(face, 80.0)  # profile towards image-left: subject's right side hidden
    vis = sp.native("aflw21", verts, rot, raster, 220.0).visible
    assert vis[[14, 15, 16]].all()          # nose tip, near (image-right) nose wing and ear are seen
    assert not vis[[6, 12]].any()           # far eye corner and far ear are hidden
    verts, rot, raster = _view(face, 0.0)
    vis = sp.native("aflw21", verts, rot, raster, 220.0).visible
    assert vis[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 17, 18, 19, 20]].all()


def test_annotation_noise_has_the_requested_size(setup):
    face, sp = setup
    verts, rot, raster = _view(face, 0.0)
    clean = sp.native("wflw98", verts, rot, raster, 200.0).points
    noisy = sp.native("wflw98", verts, rot, raster, 200.0, noise=0.01, rng=np.random.default_rng(0)).points
    assert 1.0 < np.std(noisy - clean) < 3.0

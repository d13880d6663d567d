"""The demo's pictures follow the shared geometry: the Pose_Para it writes is the pose it rendered, and
the depth it writes grows towards the viewer, as in the real AFLW2000-3D files."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io

from landmark_fusion.correspondence import load_scheme
from landmark_fusion.demo.assets import synthetic_assets
from landmark_fusion.demo.scene import random_scene, render_face
from landmark_fusion.demo.scheme_points import SchemePoints
from landmark_fusion.demo.writers.aflw2000_3d import write_aflw2000_3d
from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.geometry import euler_to_rotation, project


@pytest.fixture(scope="module")
def assets():
    return synthetic_assets()


def _written_face(assets, tmp_path, pitch: float, yaw: float, roll: float):
    """Render a face at the given Pose_Para angles (degrees), write it as AFLW2000-3D, read the .mat."""
    params = random_scene(assets, np.random.default_rng(3), 300, 300)
    params.pitch, params.yaw, params.roll = (math.radians(a) for a in (pitch, yaw, roll))
    render = render_face(assets, params, 300, 300)
    pts = SchemePoints(assets.model, assets.table).native("ibug68_fixed", render.vertices,
                                                          euler_to_rotation(params.pitch, params.yaw, params.roll))
    face = FixtureFace(render.image, pts.points, None, "image00002", "test", math.degrees(params.yaw),
                       (params.pitch, params.yaw, params.roll), pts.points3d)
    (path,) = write_aflw2000_3d(tmp_path, [face])
    return params, scipy.io.loadmat(path)


@pytest.mark.parametrize("angles", [(25.0, 40.0, 15.0), (-20.0, -65.0, -10.0)])
def test_written_pose_para_reproduces_the_written_points(assets, tmp_path, angles) -> None:
    """Placing the face's fixed 68 vertices with the written Pose_Para angles (the real files'
    convention, tests/landmark_fusion/test_geometry.py) gives its pt3d_68: x, y and depth."""
    params, mat = _written_face(assets, tmp_path, *angles)
    pitch, yaw, roll = mat["Pose_Para"][0, :3].astype(np.float64)
    assert np.degrees([pitch, yaw, roll]) == pytest.approx(angles, abs=1e-4)
    names = load_scheme("ibug68_fixed").index_to_name
    verts = assets.model.decode(params.x_id, params.x_exp).astype(np.float64)[[assets.table[n] for n in names]]
    expect = project(verts, params.scale, euler_to_rotation(pitch, yaw, roll), np.asarray(params.center))
    pt3d = mat["pt3d_68"].astype(np.float64).T
    size = params.scale * assets.size_mm
    np.testing.assert_allclose(pt3d[:, :2] - 1.0, expect[:, :2], atol=1e-4 * size)
    np.testing.assert_allclose(pt3d[:, 2], expect[:, 2], atol=1e-4 * size)


def test_written_depth_is_larger_nearer_the_viewer(assets, tmp_path) -> None:
    _, mat = _written_face(assets, tmp_path, 0.0, 0.0, 0.0)
    depth = mat["pt3d_68"][2]
    nose_tip, jaw_r_top, chin = 30, 0, 8   # ibug68_fixed indices
    assert depth[nose_tip] > depth[chin] > depth[jaw_r_top]

"""The shared geometry: rotations, Pose_Para angles, weak perspective with depth, normals; the axis and
angle conventions checked against real AFLW2000-3D files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy.spatial.transform import Rotation

from landmark_fusion.geometry import (
    axis_rotation,
    euler_to_rotation,
    face_normals,
    image_jacobian,
    project,
    rodrigues,
    rotation_to_euler,
    rotation_vector,
    vertex_normals,
)


def test_rodrigues_matches_scipy_and_inverts() -> None:
    rng = np.random.default_rng(0)
    axis = rng.normal(size=(30, 3))
    omega = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(1e-9, 3.0, size=(30, 1))
    r = rodrigues(omega)
    np.testing.assert_allclose(r, Rotation.from_rotvec(omega).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rotation_vector(r), omega, atol=1e-9)
    assert np.allclose(rodrigues(np.zeros(3)), np.eye(3))


def test_axis_rotations_are_right_handed() -> None:
    # a quarter turn about z takes +x to +y, about x takes +y to +z, about y takes +z to +x
    assert np.allclose(axis_rotation(2, np.pi / 2) @ [1, 0, 0], [0, 1, 0])
    assert np.allclose(axis_rotation(0, np.pi / 2) @ [0, 1, 0], [0, 0, 1])
    assert np.allclose(axis_rotation(1, np.pi / 2) @ [0, 0, 1], [1, 0, 0])


def test_euler_round_trip_and_scipy_form() -> None:
    rng = np.random.default_rng(1)
    pitch, roll = rng.uniform(-1.2, 1.2, (2, 50))
    yaw = rng.uniform(-1.5, 1.5, 50)
    r = euler_to_rotation(pitch, yaw, roll)
    np.testing.assert_allclose(r, Rotation.from_euler("XYZ", np.stack([-pitch, -yaw, -roll], 1)).as_matrix(),
                               atol=1e-12)
    back = np.stack(rotation_to_euler(r), 1)
    np.testing.assert_allclose(back, np.stack([pitch, yaw, roll], 1), atol=1e-9)


def test_euler_at_ninety_degrees_yaw_keeps_the_rotation() -> None:
    r = euler_to_rotation(0.3, np.pi / 2, 0.2)
    pitch, yaw, roll = rotation_to_euler(r)
    assert yaw == pytest.approx(np.pi / 2) and roll == 0.0
    np.testing.assert_allclose(euler_to_rotation(pitch, yaw, roll), r, atol=1e-9)


def _nose_and_left_cheek(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Image points of a nose tip (0, 0, 1) and the subject's left cheek (1, 0, 0) at the origin."""
    return project(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), 10.0, euler_to_rotation(pitch, yaw, roll),
                   np.array([100.0, 100.0]))


def test_angle_signs() -> None:
    front = _nose_and_left_cheek(0, 0, 0)
    assert front.tolist() == [[100.0, 100.0, 10.0], [110.0, 100.0, 0.0]]  # the left cheek on image-right
    assert _nose_and_left_cheek(0, 0.5, 0)[0, 0] < 100.0    # yaw > 0: the nose to image-left
    assert _nose_and_left_cheek(0.5, 0, 0)[0, 1] < 100.0    # pitch > 0: the nose up (smaller y)
    assert _nose_and_left_cheek(0, 0, 0.5)[1, 1] > 100.0    # roll > 0: clockwise, image-right side down


def test_projection_flips_y_keeps_depth_towards_the_viewer() -> None:
    pts = np.array([[[0.0, 1.0, 0.0], [2.0, 0.0, 5.0]]])
    q = project(pts, np.array([3.0]), np.eye(3)[None], np.array([[10.0, 20.0]]))
    assert q.tolist() == [[[10.0, 17.0, 0.0], [16.0, 20.0, 15.0]]]  # model up = image up (smaller y)
    q2 = project(pts, np.array([3.0]), np.eye(3)[None], np.array([[10.0, 20.0]]), depth=False)
    assert q2.tolist() == q[..., :2].tolist()
    q3 = project(pts, 3.0, np.eye(3), np.array([10.0, 20.0, -4.0]))
    assert q3[..., 2].tolist() == [[-4.0, 11.0]]


def test_image_jacobian_is_the_linear_part_of_the_projection() -> None:
    rng = np.random.default_rng(2)
    r = rodrigues(rng.normal(size=(4, 3)))
    s = rng.uniform(1, 3, 4)
    x = rng.normal(size=(4, 6, 3))
    t = rng.normal(size=(4, 2))
    expect = project(x, s, r, t, depth=False) - t[:, None, :]
    np.testing.assert_allclose(x @ np.swapaxes(image_jacobian(s, r), 1, 2), expect, atol=1e-12)


def test_normals_point_out_of_a_closed_counter_clockwise_mesh() -> None:
    # an octahedron, counter-clockwise seen from outside; vertex 6 is used by no triangle
    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1], [5, 5, 5]], float)
    tri = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    assert (np.einsum("ij,ij->i", face_normals(v, tri), v[tri].mean(1)) > 0).all()
    n = vertex_normals(v, tri)
    np.testing.assert_allclose(n[:6], v[:6], atol=1e-12)
    assert n[6].tolist() == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------------
# The conventions on real data: AFLW2000-3D's pt3d_68 and Pose_Para
# ---------------------------------------------------------------------------------------------

def _pose_para_projection(mat: dict, mean68: np.ndarray, pitch_sign: float = 1.0,
                          depth_sign: float = 1.0) -> tuple[np.ndarray, np.ndarray, float]:
    """(x, y residuals, depth residuals, face size) of the 3DDFA mean face at the 68 keypoints placed
    with a file's Pose_Para (``ProjectVertex = f·R·vertex + t3d``, then ``y = 450 + 1 − y``)."""
    pitch, yaw, roll, tx, ty, tz, f = mat["Pose_Para"].reshape(7).astype(np.float64)
    # 3DDFA's t3d is in MATLAB's y-up frame: image y = 451 − (f·(R·X)_y + ty)
    q = project(mean68, f, euler_to_rotation(pitch_sign * pitch, yaw, roll), np.array([tx, 451.0 - ty, tz]))
    q[:, 2] *= depth_sign
    pt = mat["pt3d_68"].astype(np.float64).T          # 1-based x, y; depth
    size = float(np.sqrt(np.ptp(pt[:, 0]) * np.ptp(pt[:, 1])))
    return q[:, :2] - pt[:, :2], q[:, 2] - pt[:, 2], size


@pytest.fixture(scope="module")
def aflw2000_and_mean(samples_dir: Path, models_dir: Path) -> tuple[list[dict], np.ndarray]:
    files = sorted((samples_dir / "AFLW2000-3D" / "AFLW2000").glob("*.mat"))
    mean68 = np.loadtxt(models_dir / "bfm-3ddfa" / "3DDFA" / "u_base.txt").reshape(68, 3)  # xyz interleaved
    return [scipy.io.loadmat(f) for f in files], mean68


def test_pose_para_and_pt3d_depth_follow_the_geometry(aflw2000_and_mean) -> None:
    """On the AFLW2000-3D samples the 3DDFA mean face at the 68 keypoints, placed by Pose_Para through
    euler_to_rotation and project, lands on pt3d_68 -- x, y and depth -- within the shape difference
    (a few % of the face size); a flipped pitch or a depth away from the viewer does not."""
    mats, mean68 = aflw2000_and_mean
    assert len(mats) >= 5
    for mat in mats:
        dxy, dz, size = _pose_para_projection(mat, mean68)
        assert np.linalg.norm(dxy, axis=1).mean() / size < 0.03
        assert np.abs(dz - dz.mean()).mean() / size < 0.02 and abs(dz.mean()) / size < 0.05
    pitched = [m for m in mats if abs(m["Pose_Para"][0, 0]) > np.radians(20)]
    assert pitched, "the samples hold pitched faces"
    for mat in pitched:
        dxy, _, size = _pose_para_projection(mat, mean68, pitch_sign=-1.0)
        assert np.linalg.norm(dxy, axis=1).mean() / size > 0.1
    for mat in mats:
        _, dz, size = _pose_para_projection(mat, mean68, depth_sign=-1.0)
        assert np.abs(dz - dz.mean()).mean() / size > 0.1

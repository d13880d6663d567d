import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from landmark_fusion.geometry import euler_to_rotation, project
from landmark_fusion.geometry import rodrigues as geometry_rodrigues
from trainer.decoder import FaceDecoder, rodrigues, rotation_to_euler
from trainer.network import EncoderOutput


class TinyModel:
    """FaceModel-like arrays: 5 vertices, 2 id and 1 exp components."""

    def __init__(self):
        self.mean = np.array([[-2, 1, 0], [2, 1, 0], [0, 0, 1], [-1, -2, 0], [1, -2, 0]], np.float32)
        rng = np.random.default_rng(0)
        self.id_basis = rng.normal(size=(2, 5, 3)).astype(np.float32)
        self.exp_basis = rng.normal(size=(1, 5, 3)).astype(np.float32)


def params(pose, x_id=(0, 0), x_exp=(0,), k=0):
    return EncoderOutput(torch.tensor([pose], dtype=torch.float64), torch.tensor([x_id], dtype=torch.float64),
                         torch.tensor([x_exp], dtype=torch.float64), torch.zeros(1, k, 3, dtype=torch.float64))


def test_rodrigues_matches_scipy_and_small_angles():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(20, 3)) * rng.uniform(1e-7, 3, size=(20, 1))
    r = rodrigues(torch.tensor(v)).numpy()
    np.testing.assert_allclose(r, Rotation.from_rotvec(v).as_matrix(), atol=1e-12)
    z = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    rodrigues(z).sum().backward()
    assert torch.isfinite(z.grad).all()
    np.testing.assert_allclose(z.grad.numpy(), [[0, 0, 0]], atol=1e-12)  # d(sum R)/dv at 0: K sums to 0


def test_zero_parameters_give_the_mean_face_frontal_centred_width_128():
    dec = FaceDecoder(TinyModel(), np.arange(5), n_corr=0).double()
    pts = dec.landmarks(params([0, 0, 0, 0, 0, 0]))[0].numpy()
    assert pts[:, 0].max() - pts[:, 0].min() == pytest.approx(128.0)
    # bbox centre of the mean is (0, -0.5, 0.5) → image centre; y is flipped (+y up → image down)
    np.testing.assert_allclose(pts[0], [63.5 - 64, 63.5 - (1.5 / 4) * 128])
    np.testing.assert_allclose(pts[3], [63.5 - 32, 63.5 + (1.5 / 4) * 128])


def test_formula_with_pose_and_coefficients():
    m = TinyModel()
    dec = FaceDecoder(m, [0, 2, 4], n_corr=0).double()
    pose = [np.log(0.5), 0.1, -0.3, 0.2, 0.1, -0.2]
    p = params(pose, (0.5, -1.0), (2.0,))
    got = dec.landmarks(p)[0].numpy()
    shape = m.mean + 0.5 * m.id_basis[0] - m.id_basis[1] + 2.0 * m.exp_basis[0]
    centre = (m.mean.min(0) + m.mean.max(0)) / 2
    s_n = (shape.astype(np.float64) - centre) / 4.0
    r = Rotation.from_rotvec(pose[1:4]).as_matrix()
    proj = 128 * 0.5 * s_n @ r.T
    expect = np.stack([proj[:, 0] + 63.5 + 64 * 0.1, -proj[:, 1] + 63.5 - 64 * 0.2], -1)
    np.testing.assert_allclose(got, expect[[0, 2, 4]], atol=1e-9)
    full = dec.mesh(p)[0].numpy()
    np.testing.assert_allclose(full[[0, 2, 4], :2], got, atol=1e-9)
    unposed = dec.mesh(p, posed=False)[0].numpy()
    np.testing.assert_allclose(unposed, shape, atol=1e-5)


def test_correction_field_unit_rms():
    m = TinyModel()
    h = np.random.default_rng(3).normal(size=(5, 2))
    dec = FaceDecoder(m, np.arange(5), harmonics=h, n_corr=2, correction_unit=0.01).double()
    p = params([0] * 6, k=2)
    base = dec.mesh(p, posed=False)
    p2 = EncoderOutput(p.pose, p.x_id, p.x_exp, torch.tensor([[[1.0, 0, 0], [0, 0, 0]]], dtype=torch.float64))
    moved = dec.mesh(p2, posed=False) - base
    rms = moved[0, :, 0].pow(2).mean().sqrt().item()
    assert rms == pytest.approx(0.01 * 4.0)  # 1 % of the face width (4 model units)
    assert moved[0, :, 1:].abs().max() == 0


def test_euler_angles_are_the_pose_para_convention():
    # positive yaw label = face turned towards the image left: the nose (+z) moves to −x (image left)
    r = Rotation.from_rotvec([0, -np.radians(30), 0]).as_matrix()
    assert (r @ [0, 0, 1])[0] < 0
    yaw, pitch, roll = rotation_to_euler(r)
    assert (yaw, pitch, roll) == pytest.approx((30, 0, 0))
    # R = Rx(−pitch)·Ry(−yaw)·Rz(−roll), the rotation of 300W-LP / AFLW2000-3D Pose_Para
    r = Rotation.from_euler("XYZ", [-0.2, -0.3, 0.1]).as_matrix()
    assert rotation_to_euler(r) == pytest.approx(tuple(np.degrees([0.3, 0.2, -0.1])))
    pitch, yaw, roll = np.radians([12.0, -40.0, 7.0])
    got = rotation_to_euler(euler_to_rotation(pitch, yaw, roll))
    assert got == pytest.approx(tuple(np.degrees([yaw, pitch, roll])))


def test_posed_points_and_depth_match_the_numpy_geometry():
    """The torch decoder projects as landmark_fusion.geometry.project: x, y and depth (towards the
    viewer), for random poses and shapes."""
    m = TinyModel()
    dec = FaceDecoder(m, [0, 2, 4], n_corr=0).double()
    rng = np.random.default_rng(7)
    centre = (m.mean.min(0) + m.mean.max(0)) / 2
    width = float(np.ptp(m.mean[:, 0]))
    for _ in range(8):
        pose = np.concatenate([[rng.normal(0, 0.3)], rng.normal(0, 0.8, 3), rng.normal(0, 0.2, 2)])
        x_id, x_exp = rng.normal(size=2), rng.normal(size=1)
        p = params(pose.tolist(), tuple(x_id), tuple(x_exp))
        shape = m.mean.astype(np.float64) + np.tensordot(x_id, m.id_basis, 1) + np.tensordot(x_exp, m.exp_basis, 1)
        expect = project((shape - centre) / width, 128 * np.exp(pose[0]), geometry_rodrigues(pose[1:4]),
                         63.5 + 64 * pose[4:6])
        np.testing.assert_allclose(dec.mesh(p)[0].numpy(), expect, atol=1e-5)
        np.testing.assert_allclose(dec.landmarks(p)[0].numpy(), expect[[0, 2, 4], :2], atol=1e-5)
    np.testing.assert_allclose(rodrigues(torch.tensor(pose[1:4])).numpy(), geometry_rodrigues(pose[1:4]),
                               atol=1e-12)


def test_depth_grows_towards_the_viewer():
    dec = FaceDecoder(TinyModel(), np.arange(5), n_corr=0).double()
    mesh = dec.mesh(params([0, 0, 0, 0, 0, 0]))[0].numpy()
    assert mesh[2, 2] > mesh[0, 2]  # vertex 2 (z = 1) is the "nose": in front of the others


def test_bad_vertex_index_is_refused():
    with pytest.raises(ValueError):
        FaceDecoder(TinyModel(), [0, 9])

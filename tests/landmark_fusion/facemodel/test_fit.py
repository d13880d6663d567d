"""Batched landmark fitting: recovery of known parameters, real-sample figures, suggest (the
geometry itself is tested in tests/landmark_fusion/test_geometry.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from landmark_fusion.correspondence import load_scheme
from landmark_fusion.facemodel import load_model
from landmark_fusion.facemodel.fit import (
    AnnotatedFaces,
    LandmarkModel,
    fit_landmarks,
    fitted_vertices,
    flag_outliers,
    landmark_residuals,
    nme_normaliser,
    suggest_vertices,
    yaw_start,
)
from landmark_fusion.facemodel.tables import load_model_table
from landmark_fusion.geometry import euler_to_rotation, project, rodrigues


@pytest.fixture(scope="module")
def sfm(models_dir: Path):
    return load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin")


@pytest.fixture(scope="module")
def ict(models_dir: Path):
    return load_model(models_dir / "ict-facekit" / "ict_facekit_face.npz", num_id=40, num_exp=53)


def _aflw2000_faces(samples_dir: Path) -> AnnotatedFaces:
    """The five AFLW2000-3D sample .mat files, 68-fixed points (1-based -> 0-based)."""
    files = sorted((samples_dir / "AFLW2000-3D" / "AFLW2000").glob("*.mat"))
    pts = np.stack([scipy.io.loadmat(f)["pt3d_68"][:2].T - 1.0 for f in files])
    names = load_scheme("ibug68_fixed").index_to_name
    return AnnotatedFaces(names, pts.astype(np.float32), np.ones(pts.shape[:2], bool),
                          np.zeros(len(pts), np.int64), ["aflw2000_3d"])


def _w300_faces(samples_dir: Path) -> AnnotatedFaces:
    """The 300W LFPW sample .pts files on the ibug68 kept names (1-based -> 0-based)."""
    scheme = load_scheme("ibug68")
    pts = []
    for f in sorted((samples_dir / "300W" / "lfpw" / "trainset").glob("*.pts")):
        lines = f.read_text().split("{")[1].split("}")[0].split()
        pts.append(np.array(lines, dtype=np.float64).reshape(68, 2)[scheme.kept_indices] - 1.0)
    pts = np.stack(pts)
    return AnnotatedFaces(scheme.kept_names, pts.astype(np.float32), np.ones(pts.shape[:2], bool),
                          np.zeros(len(pts), np.int64), ["300w"])


def test_yaw_start_turns_the_nose_towards_image_left_for_positive_yaw() -> None:
    assert np.allclose(yaw_start(90.0) @ [0, 0, 1.0], [-1, 0, 0], atol=1e-12)
    assert np.allclose(yaw_start(-30.0), rodrigues([0.0, np.deg2rad(30.0), 0.0]), atol=1e-12)


def test_nme_normaliser_is_sqrt_box_area() -> None:
    pts = np.array([[[0, 0], [4, 0], [4, 9], [100, 100]]], dtype=float)
    mask = np.array([[True, True, True, False]])
    assert nme_normaliser(pts, mask).tolist() == [6.0]


def test_recovers_known_pose_and_shape(ict) -> None:
    vid = load_model_table("ict_facekit").vertex_indices(load_scheme("ibug68_fixed").index_to_name)[0]
    lm = LandmarkModel.from_model(ict, vid, n_id=20, n_exp=0, w_id=1e-9)
    rng = np.random.default_rng(3)
    b = 12
    coeffs = rng.normal(size=(b, 20))
    yaw = np.linspace(-70, 70, b)
    rot = euler_to_rotation(rng.uniform(-0.2, 0.2, b), np.deg2rad(yaw), rng.uniform(-0.2, 0.2, b))
    scale, shift = rng.uniform(5, 12, b), rng.uniform(100, 300, (b, 2))
    target = project(lm.shape(coeffs), scale, rot, shift, depth=False)
    result = fit_landmarks(lm, target, alternations=12)
    assert np.nanmax(result.nme) < 0.004  # alternating solver: close, not exact, after 12 rounds
    assert np.allclose(result.yaw, yaw, atol=2.0)  # the Pose_Para yaw of the rotation drawn
    assert result.x_exp.shape == (b, 0) and result.x_id.shape == (b, 20)


def test_correction_basis_of_the_harmonics_lowers_the_residual(sfm, samples_dir: Path) -> None:
    """The fit takes E_c of harmonics.correction_basis (1 mm RMS per unit) as the decoder's §3.2 term."""
    from landmark_fusion.facemodel.harmonics import correction_basis

    faces = _aflw2000_faces(samples_dir)
    vid, _ = load_model_table("sfm3448").vertex_indices(faces.names)
    corr, _ = correction_basis(sfm, 10)
    plain = fit_landmarks(LandmarkModel.from_model(sfm, vid), faces.points)
    lm = LandmarkModel.from_model(sfm, vid, correction=corr)
    corrected = fit_landmarks(lm, faces.points)
    assert lm.n_corr == 30 and corrected.x_corr.shape == (len(faces), 30)
    assert np.nanmean(corrected.nme) < 0.9 * np.nanmean(plain.nme)
    full = fitted_vertices(sfm, corrected, vid, correction=corr)
    np.testing.assert_allclose(full, lm.shape(corrected.coeffs), atol=1e-6)


def test_masked_points_and_unusable_faces(sfm) -> None:
    names = load_scheme("ibug68").kept_names
    vid, has = load_model_table("sfm3448").vertex_indices(names)
    lm = LandmarkModel.from_model(sfm, vid[has])
    target = project(lm.mean[None], np.array([2.0]), yaw_start(-20.0)[None], np.array([[50.0, 60.0]]),
                     depth=False)
    target = np.concatenate([target, target])
    mask = np.ones(target.shape[:2], bool)
    mask[0, :5] = False
    target[0, :5] = 1e6  # masked, must not matter
    mask[1, 3:] = False  # three points: too few to fit
    result = fit_landmarks(lm, target, mask)
    assert result.nme[0] < 1e-3 and np.isnan(result.nme[1])
    assert np.isnan(result.point_error[0, :5]).all()


def test_aflw2000_samples_fit_within_3_percent(sfm, ict, samples_dir: Path) -> None:
    faces = _aflw2000_faces(samples_dir)
    for model, table in ((sfm, "sfm3448"), (ict, "ict_facekit")):
        report, _ = landmark_residuals(model, load_model_table(table).vertex_indices(faces.names)[0], faces)
        assert report.faces == 5
        assert report.nme <= 3.0, (table, report.nme)


def test_300w_samples_fit_within_4_percent(sfm, ict, samples_dir: Path) -> None:
    faces = _w300_faces(samples_dir)
    assert len(faces) == 3
    for model, table in ((sfm, "sfm3448"), (ict, "ict_facekit")):
        idx, has = load_model_table(table).vertex_indices(faces.names)
        assert has.all()
        report, _ = landmark_residuals(model, idx, faces)
        assert report.nme <= 4.0, (table, report.nme)


def test_check_flags_a_wrong_vertex_and_suggest_finds_the_right_one(sfm) -> None:
    names = load_scheme("ibug68").kept_names
    vid, _ = load_model_table("sfm3448").vertex_indices(names)
    lm = LandmarkModel.from_model(sfm, vid)
    rng = np.random.default_rng(5)
    b = 40
    coeffs = np.concatenate([rng.normal(scale=0.7, size=(b, lm.n_id)), np.zeros((b, lm.n_exp))], 1)
    omega = np.stack([rng.uniform(-0.2, 0.2, b), rng.uniform(-0.6, 0.6, b), rng.uniform(-0.1, 0.1, b)], 1)
    pts = project(lm.shape(coeffs), np.full(b, 2.0), rodrigues(omega), np.full((b, 2), 200.0), depth=False)
    pts += rng.normal(scale=0.3, size=pts.shape)
    faces = AnnotatedFaces(names, pts.astype(np.float32), np.ones(pts.shape[:2], bool),
                           np.zeros(b, np.int64), ["synthetic"])
    wrong = vid.copy()
    k = names.index("nose_tip")
    wrong[k] = vid[names.index("mouth_r_corner")] + 0  # a plainly wrong vertex
    report, _ = landmark_residuals(sfm, wrong, faces)
    assert report.flagged[:1] == ["nose_tip"] and report.rows()[0]["name"] == "nose_tip"
    found = suggest_vertices(sfm, wrong, faces, ["nose_tip"])[0]
    near = np.linalg.norm(np.asarray(sfm.mean)[found.vertex] - np.asarray(sfm.mean)[vid[k]])
    assert near < 3.0  # mm: the true vertex or its immediate neighbour
    assert found.faces == b and found.data == f"synthetic: {b} faces"
    assert found.previous[0] == wrong[k] and found.previous[1] > 3 * found.error


def test_flag_outliers() -> None:
    v = np.array([1.0, 1.1, 0.9, 1.2, 5.0, np.nan])
    assert flag_outliers(v).tolist() == [False, False, False, False, True, False]

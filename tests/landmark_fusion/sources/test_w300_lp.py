"""300W-LP reader on the real HELEN / IBUG samples (incl. a _Flip pair) and on damaged copies."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.io

from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.matfiles import save_mat
from landmark_fusion.sources.w300_lp import W300LPSource, parse_name


@pytest.fixture(scope="module")
def flip_perm() -> np.ndarray:
    from landmark_fusion.vocabulary import load_scheme

    return np.asarray(load_scheme("ibug68_fixed").flip_permutation())


def test_default_permutation_comes_from_the_vocabulary(samples_dir, flip_perm):
    reader = W300LPSource(samples_dir / "300W-LP")
    np.testing.assert_array_equal(reader.flip_permutation(), flip_perm)
    assert flip_perm[0] == 16 and flip_perm[36] == 45 and flip_perm[30] == 30  # jaw ends, eye corners, nose tip


@pytest.fixture()
def source(samples_dir, flip_perm):
    return W300LPSource(samples_dir / "300W-LP", flip_permutation=flip_perm)


def test_items_sorted_db_then_flip(source):
    assert list(source.items()) == [
        "HELEN/HELEN_232194_1_0.mat", "HELEN/HELEN_232194_1_1.mat",
        "HELEN_Flip/HELEN_232194_1_0.mat", "HELEN_Flip/HELEN_232194_1_1.mat",
        "IBUG/IBUG_image_008_1_0.mat"]


def test_parse_name():
    assert parse_name("IBUG_image_008_1_0", "x") == ("IBUG_image_008", 1, 0)
    assert parse_name("HELEN_232194_1_1", "x") == ("HELEN_232194", 1, 1)


def test_k0_points_pose_and_roi_exact(source, samples_dir, read_face):
    for item in ("HELEN/HELEN_232194_1_0.mat", "IBUG/IBUG_image_008_1_0.mat"):
        mat = scipy.io.loadmat(samples_dir / "300W-LP" / item)
        face = read_face(source, item)
        assert face.scheme == "ibug68_fixed"
        assert face.sample_id == item.replace(".mat", ".jpg")
        np.testing.assert_array_equal(face.points, mat["pt2d"].T - 1.0)
        assert face.visible.all()
        assert face.yaw == pytest.approx(np.degrees(float(mat["Pose_Para"][0][1])), abs=1e-9)
        np.testing.assert_array_equal(face.extra["roi"], mat["roi"][0])
        assert face.extra["profile_step"] == 0 and not face.extra["flipped"]
    (ibug,) = source.read("IBUG/IBUG_image_008_1_0.mat")
    assert ibug.yaw == pytest.approx(-44.0, abs=1.0)  # formats.md §3: turned towards image-right


def test_flip_reindexed_equals_mirrored_original(source, samples_dir, flip_perm):
    (plain,) = source.read("HELEN/HELEN_232194_1_0.mat")
    (flipped,) = source.read("HELEN_Flip/HELEN_232194_1_0.mat")
    raw_flip = scipy.io.loadmat(samples_dir / "300W-LP/HELEN_Flip/HELEN_232194_1_0.mat")["pt2d"].T - 1.0
    np.testing.assert_array_equal(flipped.points, raw_flip[flip_perm])
    mirrored = np.column_stack([449.0 - plain.points[:, 0], plain.points[:, 1]])[flip_perm]
    np.testing.assert_allclose(flipped.points, mirrored, atol=1e-4)
    # iBUG semantics restored: jaw index 0 on the image-left side in both images
    assert flipped.points[0, 0] < flipped.points[16, 0] and plain.points[0, 0] < plain.points[16, 0]
    assert flipped.yaw == pytest.approx(-plain.yaw, abs=0.2)
    assert flipped.split == plain.split


def test_profiled_image_without_landmarks_is_stale(source):
    for item in ("HELEN/HELEN_232194_1_1.mat", "HELEN_Flip/HELEN_232194_1_1.mat"):
        (rejected,) = source.read(item)
        assert isinstance(rejected, Rejected) and rejected.reason == "stale_landmarks"
        assert "HELEN_232194_1_1_pts.mat" in rejected.detail


@pytest.fixture()
def copy_root(samples_dir, tmp_path):
    root = tmp_path / "300W_LP"
    shutil.copytree(samples_dir / "300W-LP", root)
    return root


def test_profiled_image_reads_landmarks_file(copy_root, flip_perm):
    truth = np.random.default_rng(0).uniform(50, 400, size=(68, 2))  # 1-based, as written by MATLAB
    save_mat(copy_root / "landmarks/HELEN/HELEN_232194_1_1_pts.mat", {"pts_2d": truth, "pts_3d": truth})
    source = W300LPSource(copy_root, flip_permutation=flip_perm)
    (face,) = source.read("HELEN/HELEN_232194_1_1.mat")
    np.testing.assert_array_equal(face.points, truth - 1.0)
    assert face.extra["landmarks_from"].startswith("landmarks/HELEN/")
    (flip,) = source.read("HELEN_Flip/HELEN_232194_1_1.mat")  # mirrored from the non-flip file
    expected = np.column_stack([450 - 1.0 - (truth[:, 0] - 1.0), truth[:, 1] - 1.0])[flip_perm]
    np.testing.assert_allclose(flip.points, expected, atol=1e-9)
    own = truth + 3.0  # a _Flip landmarks folder, when present, wins (mirrored x, original order)
    save_mat(copy_root / "landmarks/HELEN_Flip/HELEN_232194_1_1_pts.mat", {"pts_2d": own, "pts_3d": own})
    (flip,) = source.read("HELEN_Flip/HELEN_232194_1_1.mat")
    np.testing.assert_array_equal(flip.points, (own - 1.0)[flip_perm])


def test_damaged_entries_rejected_rest_read(copy_root, flip_perm, read_results):
    data = (copy_root / "IBUG/IBUG_image_008_1_0.mat").read_bytes()
    (copy_root / "IBUG/IBUG_image_008_1_0.mat").write_bytes(data[: len(data) // 3])
    (copy_root / "HELEN_Flip/HELEN_232194_1_0.jpg").unlink()
    (copy_root / "HELEN/HELEN_badname.mat").write_bytes(b"x")
    save_mat(copy_root / "landmarks/HELEN/HELEN_232194_1_1_pts.mat", {"pts_3d": np.full((67, 2), 100.0)})
    source = W300LPSource(copy_root, flip_permutation=flip_perm)
    results, reasons = read_results(source)
    assert reasons == {
        "HELEN/HELEN_badname.mat": "corrupt_annotation",
        "HELEN/HELEN_232194_1_1.mat": "corrupt_annotation",   # _pts.mat with 67 rows
        "HELEN_Flip/HELEN_232194_1_0.mat": "missing_image",
        "HELEN_Flip/HELEN_232194_1_1.mat": "corrupt_annotation",
        "IBUG/IBUG_image_008_1_0.mat": "corrupt_annotation",
    }
    assert "IBUG_image_008_1_0.mat" in results["IBUG/IBUG_image_008_1_0.mat"].detail
    assert "pts_3d" in results["HELEN/HELEN_232194_1_1.mat"].detail
    assert isinstance(results["HELEN/HELEN_232194_1_0.mat"], RawFace)


def test_identity_split(samples_dir, flip_perm):
    root = samples_dir / "300W-LP"
    assert {f.split for i in W300LPSource(root, val_fraction=1.0, flip_permutation=flip_perm).items()
            for f in W300LPSource(root, val_fraction=1.0, flip_permutation=flip_perm).read(i)
            if isinstance(f, RawFace)} == {"val"}
    reader = W300LPSource(root, val_fraction=0.0, flip_permutation=flip_perm)
    assert {f.split for i in reader.items() for f in reader.read(i) if isinstance(f, RawFace)} == {"train"}
    from landmark_fusion.sources.layout import hold_out_split
    splits = [hold_out_split(f"HELEN_{n}", 0.05) for n in range(4000)]
    assert 0.03 < splits.count("val") / len(splits) < 0.07
    assert splits == [hold_out_split(f"HELEN_{n}", 0.05) for n in range(4000)]

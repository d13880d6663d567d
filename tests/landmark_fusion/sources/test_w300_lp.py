"""300W-LP reader on the real samples: HELEN / IBUG (incl. a _Flip pair, no landmarks/) and the AFW
root with its real landmarks/*_pts.mat (poses k = 0, 3, 8), and on damaged copies."""
from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
import scipy.io

from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.matfiles import save_mat
from landmark_fusion.sources.w300_lp import W300LPSource, parse_name


@pytest.fixture(scope="module")
def flip_perm() -> np.ndarray:
    from landmark_fusion.correspondence import load_scheme

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


def test_k0_without_landmarks_reads_pt2d_under_the_2d_scheme(source, samples_dir, read_face):
    for item in ("HELEN/HELEN_232194_1_0.mat", "IBUG/IBUG_image_008_1_0.mat"):
        mat = scipy.io.loadmat(samples_dir / "300W-LP" / item)
        face = read_face(source, item)
        assert face.scheme == "ibug68"  # the annotated contour jaw, dropped as for 300W
        assert face.extra["landmarks_from"] == "pt2d"
        assert face.sample_id == item.replace(".mat", ".jpg") == source.sample_id(item)
        np.testing.assert_array_equal(face.points, mat["pt2d"].T - 1.0)
        assert face.visible.all()
        assert face.yaw == pytest.approx(np.degrees(float(mat["Pose_Para"][0][1])), abs=1e-9)
        np.testing.assert_array_equal(face.extra["roi"], mat["roi"][0])
        assert face.extra["profile_step"] == 0 and not face.extra["flipped"]
        assert "notes" not in face.extra
    (ibug,) = source.read("IBUG/IBUG_image_008_1_0.mat")
    assert ibug.yaw == pytest.approx(-44.0, abs=1.0)  # docs/formats.md §3: turned towards image-right


AFW = ["AFW/AFW_111076519_1_0.mat", "AFW/AFW_111076519_1_3.mat", "AFW/AFW_111076519_1_8.mat",
       "AFW/AFW_1130084326_2_0.mat"]


@pytest.fixture(scope="module")
def afw(samples_dir):
    return samples_dir / "300W-LP-AFW"


def test_every_pose_takes_pts_3d_from_the_landmarks_folder(afw, read_face):
    source = W300LPSource(afw)
    assert list(source.items()) == AFW
    for item in AFW:
        stem = item.split("/")[1][:-4]
        pts = scipy.io.loadmat(afw / f"landmarks/AFW/{stem}_pts.mat")
        mat = scipy.io.loadmat(afw / item)
        assert pts["pts_3d"].shape == pts["pts_2d"].shape == (68, 2) and pts["pts_3d"].dtype == np.float32
        face = read_face(source, item)
        assert face.scheme == "ibug68_fixed"
        assert face.extra["landmarks_from"] == f"landmarks/AFW/{stem}_pts.mat:pts_3d"
        np.testing.assert_array_equal(face.points, pts["pts_3d"].astype(np.float64) - 1.0)
        assert face.yaw == pytest.approx(np.degrees(float(mat["Pose_Para"][0][1])), abs=1e-9)
    # the poses really differ (k = 3, 8 are synthesised turns; their pt2d is the stale k = 0 copy)
    k0, k3, k8 = (read_face(source, item) for item in AFW[:3])
    assert np.abs(k8.points - k0.points).max() > 20 and abs(k8.yaw - k0.yaw) > 20
    np.testing.assert_array_equal(scipy.io.loadmat(afw / AFW[2])["pt2d"], scipy.io.loadmat(afw / AFW[0])["pt2d"])


def _interior_offset(afw, stem):
    """Mean pt2d - pts_3d over the nose, eye and mouth points (27..67), which both schemes share."""
    pts3 = scipy.io.loadmat(afw / f"landmarks/AFW/{stem}_pts.mat")["pts_3d"].astype(np.float64)
    pt2d = scipy.io.loadmat(afw / f"AFW/{stem}.mat")["pt2d"].T
    return (pt2d[27:] - pts3[27:]).mean(axis=0), pt2d, pts3


@pytest.mark.parametrize("stem", ["AFW_111076519_1_0", "AFW_1130084326_2_0"])
def test_pts_3d_shares_the_1_based_frame_of_pt2d(afw, stem):
    """The fit residual on points that do not move between the schemes is below a pixel; a 0-based
    pts_3d would put pt2d one pixel right of and below it (docs/databases.md gives the numbers of
    the whole AFW part: (+0.48, -0.46) px over 337 faces)."""
    offset, pt2d, pts3 = _interior_offset(afw, stem)
    assert np.abs(offset).max() < 0.8
    assert np.linalg.norm(offset) < np.linalg.norm(offset - 1.0)
    # the annotated jaw follows the visible contour: several pixels off the fixed jaw
    assert np.linalg.norm(pt2d[:17] - pts3[:17], axis=1).mean() > 5.0


@pytest.mark.parametrize("stem", ["AFW_111076519_1_0", "AFW_1130084326_2_0"])
def test_pts_2d_is_the_fit_with_a_contour_jaw_not_the_annotation(afw, stem):
    pts = scipy.io.loadmat(afw / f"landmarks/AFW/{stem}_pts.mat")
    pts2, pts3 = pts["pts_2d"], pts["pts_3d"]
    np.testing.assert_array_equal(pts2[17:], pts3[17:])            # non-jaw points: identical
    same = np.all(pts2[:17] == pts3[:17], axis=1)
    assert same[8] and (same[:8].all() != same[9:].all())         # one jaw half and the chin
    pt2d = scipy.io.loadmat(afw / f"AFW/{stem}.mat")["pt2d"].T
    assert np.abs(pt2d - pts2).max() > 1.0                         # not the annotation


def _flip_copy(afw, root, flip_landmarks=False):
    """``root`` = the AFW sample plus an AFW_Flip/ copy made by the release's rule (mirrored image,
    pt2d x' = 451 - x, index order kept, yaw negated)."""
    shutil.copytree(afw, root)
    for item in AFW:
        name = item.split("/")[1]
        image = cv2.imread(str(afw / item.replace(".mat", ".jpg")))
        (root / "AFW_Flip").mkdir(exist_ok=True)
        cv2.imwrite(str(root / "AFW_Flip" / name.replace(".mat", ".jpg")), image[:, ::-1])
        mat = scipy.io.loadmat(afw / item)
        mat["pt2d"][0] = 451.0 - mat["pt2d"][0]
        mat["Pose_Para"][0, 1] *= -1
        save_mat(root / "AFW_Flip" / name, {k: v for k, v in mat.items() if not k.startswith("__")})
    return root


def test_flipped_faces_take_the_mirrored_pts_3d_of_their_original(afw, tmp_path, flip_perm):
    root = _flip_copy(afw, tmp_path / "lp")
    source = W300LPSource(root)
    assert list(source.items()) == AFW + [i.replace("AFW/", "AFW_Flip/") for i in AFW]
    for item in AFW:
        (plain,) = source.read(item)
        (flip,) = source.read(item.replace("AFW/", "AFW_Flip/"))
        assert flip.scheme == "ibug68_fixed" and flip.extra["landmarks_from"].endswith("(mirrored)")
        mirrored = np.column_stack([450 - 1.0 - plain.points[:, 0], plain.points[:, 1]])[flip_perm]
        np.testing.assert_allclose(flip.points, mirrored, atol=1e-12)
        assert flip.points[0, 0] < flip.points[16, 0]  # iBUG semantics: index 0 on the image-left
        assert flip.yaw == pytest.approx(-plain.yaw) and flip.split == plain.split


def test_without_landmarks_k0_keeps_pt2d_as_2d_and_k_above_0_is_stale(afw, tmp_path, flip_perm):
    root = _flip_copy(afw, tmp_path / "lp")
    shutil.rmtree(root / "landmarks")
    source = W300LPSource(root)
    results = {item: source.read(item)[0] for item in source.items()}
    for item, result in results.items():
        k = int(item[:-4].rsplit("_", 1)[1])
        if k == 0:
            assert isinstance(result, RawFace) and result.scheme == "ibug68", item
        else:
            assert isinstance(result, Rejected) and result.reason == "stale_landmarks", item
    plain, flip = results["AFW/AFW_111076519_1_0.mat"], results["AFW_Flip/AFW_111076519_1_0.mat"]
    mirrored = np.column_stack([450 - 1.0 - plain.points[:, 0], plain.points[:, 1]])[flip_perm]
    np.testing.assert_allclose(flip.points, mirrored, atol=1e-9)  # x' = 451 - x, 1-based


def test_a_defective_pose_or_roi_keeps_the_face(afw, tmp_path):
    root = tmp_path / "lp"
    shutil.copytree(afw, root)
    mat = scipy.io.loadmat(root / AFW[0])
    mat["Pose_Para"] = np.zeros((1, 3))
    mat["roi"] = np.array([[1.0, np.nan]])
    save_mat(root / AFW[0], {k: v for k, v in mat.items() if not k.startswith("__")})
    mat = scipy.io.loadmat(root / AFW[1])
    mat["Pose_Para"][0, 1] = np.nan
    save_mat(root / AFW[1], {k: v for k, v in mat.items() if not k.startswith("__")})
    (root / AFW[2]).write_bytes(b"not a mat file")  # its _pts.mat holds the points
    source = W300LPSource(root)
    first, second, third = (source.read(item)[0] for item in AFW[:3])
    assert all(isinstance(face, RawFace) for face in (first, second, third))
    assert np.isnan(first.yaw) and "roi" not in first.extra
    assert any("Pose_Para" in n for n in first.extra["notes"]) and any("roi" in n for n in first.extra["notes"])
    assert np.isnan(second.yaw) and "non-finite yaw" in second.extra["notes"][0]
    assert np.isnan(third.yaw) and "pose and roi unknown" in third.extra["notes"][0]


def test_layouts_the_reader_does_not_know_are_named(afw, tmp_path):
    (tmp_path / "photos").mkdir()
    (rejected,) = W300LPSource(tmp_path).items()
    assert rejected.reason == "wrong_layout" and rejected.sample_id == "<root>"
    assert "AFW/" in rejected.detail and "HELEN_Flip/" in rejected.detail and "photos/" in rejected.detail
    root = tmp_path / "lp"
    shutil.copytree(afw, root)
    (root / "AFW_backup").mkdir()
    (root / "Code").mkdir()  # the release's code folder: no faces, not reported
    items = list(W300LPSource(root).items())
    extra = [i for i in items if isinstance(i, Rejected)]
    assert [(r.sample_id, r.reason) for r in extra] == [("AFW_backup/", "wrong_layout")]
    assert [i for i in items if not isinstance(i, Rejected)] == AFW


def test_linked_folders_and_file_links_are_read(afw, tmp_path, read_face):
    """``ln -s`` of the database folders and a ``cp -rs`` copy: the same faces as the real files."""
    linked = tmp_path / "linked"
    linked.mkdir()
    for folder in ("AFW", "landmarks"):
        os.symlink(afw / folder, linked / folder)
    mirror = tmp_path / "mirror"
    for path in afw.rglob("*"):
        if path.is_file():
            target = mirror / path.relative_to(afw)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, target)
    reference = W300LPSource(afw)
    for root in (linked, mirror):
        source = W300LPSource(root)
        assert list(source.items()) == AFW
        for item in AFW:
            face = read_face(source, item)
            np.testing.assert_array_equal(face.points, reference.read(item)[0].points)


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

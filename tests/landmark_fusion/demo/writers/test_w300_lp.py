"""300W-LP writer: real key signature, the stale-pt2d and _Flip quirks, and reader round trips."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.w300_lp import write_300w_lp
from landmark_fusion.sources.base import RawFace
from landmark_fusion.sources.w300_lp import W300LPSource


def _signature(path):
    return {k: (v.shape, v.dtype) for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}


@pytest.fixture()
def written(tmp_path):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 255, size=(96, 90, 3), dtype=np.uint8)  # not 450: the width must be read
    faces = [FixtureFace(image=image, points=rng.uniform(5, 85, size=(68, 2)), name=name, yaw=yaw)
             for name, yaw in [("HELEN_1001_1_0", -10.0), ("HELEN_1001_1_1", -25.0), ("AFW_77_2_0", 40.0)]]
    write_300w_lp(tmp_path, faces)
    return tmp_path, faces


def test_files_match_the_real_signature(written, samples_dir):
    root, _ = written
    real = samples_dir / "300W-LP"
    assert _signature(root / "HELEN/HELEN_1001_1_0.mat") == _signature(real / "HELEN/HELEN_232194_1_0.mat")
    assert _signature(root / "HELEN_Flip/HELEN_1001_1_1.mat") == _signature(real / "HELEN_Flip/HELEN_232194_1_1.mat")
    landmarks = scipy.io.loadmat(root / "landmarks/HELEN/HELEN_1001_1_1_pts.mat")
    assert landmarks["pts_3d"].shape == (68, 2) and landmarks["pts_2d"].shape == (68, 2)


def test_quirks_reproduced(written):
    root, faces = written
    k0 = scipy.io.loadmat(root / "HELEN/HELEN_1001_1_0.mat")["pt2d"]
    k1 = scipy.io.loadmat(root / "HELEN/HELEN_1001_1_1.mat")["pt2d"]
    np.testing.assert_array_equal(k0, k1)  # stale pt2d of the profiled image, as in the real files
    flip = scipy.io.loadmat(root / "HELEN_Flip/HELEN_1001_1_0.mat")["pt2d"]
    np.testing.assert_allclose(flip[0], 90 + 1 - k0[0])  # x mirrored, index order kept
    np.testing.assert_array_equal(flip[1], k0[1])


def test_round_trip(written):
    root, faces = written
    from landmark_fusion.correspondence import load_scheme

    perm = np.asarray(load_scheme("ibug68_fixed").flip_permutation())
    source = W300LPSource(root, landmarks_one_based=True)
    read = {f.sample_id: f for item in source.items() for f in source.read(item)}
    assert all(isinstance(f, RawFace) for f in read.values()) and len(read) == 6
    for face in faces:
        db = face.name.split("_")[0]
        plain = read[f"{db}/{face.name}.jpg"]
        flipped = read[f"{db}_Flip/{face.name}.jpg"]
        np.testing.assert_allclose(plain.points, face.points, atol=1e-9)
        mirrored = np.column_stack([90 - 1 - face.points[:, 0], face.points[:, 1]])[perm]
        np.testing.assert_allclose(flipped.points, mirrored, atol=1e-9)
        assert plain.yaw == pytest.approx(face.yaw, abs=1e-4)
        assert flipped.yaw == pytest.approx(-face.yaw, abs=1e-4)
        assert plain.split == flipped.split
    assert read["HELEN/HELEN_1001_1_1.jpg"].extra["landmarks_from"] == "landmarks/HELEN/HELEN_1001_1_1_pts.mat:pts_3d"

"""`fuse build`: real samples end to end, planted bad files, strict mode, atomic output."""
from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from landmark_fusion.build import BuildSettings, OutputError, build_shards, report_paths, work
from landmark_fusion.commands import fuse
from landmark_fusion.crop import apply_affine
from landmark_fusion.roots import Root
from landmark_fusion.shards import open_shards

REAL = {"300w": "300W", "300w_lp": "300W-LP", "aflw2000_3d": "AFLW2000-3D", "aflw": "AFLW",
        "facewarehouse": "FaceWarehouse"}


def _roots_file(tmp_path: Path, samples_dir: Path) -> Path:
    lines = [f"{name}: {samples_dir / folder}" for name, folder in REAL.items()]
    path = tmp_path / "roots.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real_build(tmp_path_factory, samples_dir):
    """One CLI build over the real samples, shared by the checks below."""
    tmp_path = tmp_path_factory.mktemp("real")
    roots = _roots_file(tmp_path, samples_dir)
    out = tmp_path / "fused.h5"
    result = CliRunner().invoke(fuse, ["build", "--sources", "all", "--roots", str(roots),
                                       "--out", str(out), "--workers", "2", "--no-progress"])
    return tmp_path, out, result


def test_real_samples_exact_counts(real_build, samples_dir):
    tmp_path, out, result = real_build
    assert result.exit_code == 0, result.output
    report = json.loads(report_paths(out)[0].read_text())
    per = report["sources"]
    aflw_list = (samples_dir / "AFLW/test.data/AFLW_GT_crop.list").read_text().split()
    aflw_images = sorted(p.name for p in (samples_dir / "AFLW/test.data/AFLW_GT_crop").glob("*.jpg"))
    assert len(aflw_list) == 21080 and len(aflw_images) == 7
    assert per["aflw"] == {"items": 21080, "read": 21080, "kept": 7, "rejected": 21073,
                           "rejected_by_reason": {"missing_image": 21073}}
    assert per["300w"] == {"items": 3, "read": 3, "kept": 3, "rejected": 0, "rejected_by_reason": {}}
    # 300W-LP: the two profiled (_1) .mat files carry the stale pt2d of their _0 (docs/formats.md §3)
    assert per["300w_lp"] == {"items": 5, "read": 5, "kept": 3, "rejected": 2,
                              "rejected_by_reason": {"stale_landmarks": 2}}
    assert per["aflw2000_3d"] == {"items": 5, "read": 5, "kept": 5, "rejected": 0,
                                  "rejected_by_reason": {}}
    assert per["facewarehouse"] == {"items": 2, "read": 2, "kept": 2, "rejected": 0,
                                    "rejected_by_reason": {}}
    assert report["status"] == "ok" and report["totals"]["kept"] == 20
    rejected = report_paths(out)[1].read_text().splitlines()
    assert len(rejected) == 21075 and len(report["first_rejected"]) == 100
    assert "database" in result.output and "stale_landmarks" in result.output


def test_real_samples_rows(real_build, samples_dir):
    _, out, _ = real_build
    shards = open_shards(out)
    assert len(shards) == 20
    meta = shards.meta()
    assert meta.groupby("source", observed=True).size().to_dict() == {
        "aflw": 7, "300w": 3, "300w_lp": 3, "aflw2000_3d": 5, "facewarehouse": 2}
    # AFLW2000-3D image00050: the pt3d_68 points, 1-based in the .mat, come back through the affine
    mat = scipy.io.loadmat(samples_dir / "AFLW2000-3D/AFLW2000/image00050.mat")
    expected = mat["pt3d_68"][:2].T - 1.0
    row = int(np.flatnonzero(meta["sample_id"].str.endswith("image00050.jpg")
                             & (meta["source"] == "aflw2000_3d"))[0])
    sample = shards.get(row)
    assert shards.scheme_names[sample["scheme"]] == "ibug68_fixed"
    from landmark_fusion.correspondence import load_scheme

    scheme = load_scheme("ibug68_fixed")
    names = shards.landmark_names
    for index in scheme.kept_indices:
        j = names.index(scheme.index_to_name[index])
        assert sample["mask"][j]
        back = apply_affine(sample["crop_to_image"].astype(np.float64), sample["landmarks"][j])
        np.testing.assert_allclose(back, expected[index], atol=2e-3)
    w, h = expected.max(0) - expected.min(0)
    scale = 1.0 / float(sample["crop_to_image"][0, 0])
    assert sample["norm_size"] == pytest.approx(np.sqrt(w * h) * scale, rel=1e-4)
    assert sample["images"].shape == (160, 160, 3)
    assert np.isfinite(meta["yaw"][meta["source"] == "aflw2000_3d"]).all()
    assert np.isnan(meta["yaw"][meta["source"] == "300w"]).all()


def test_real_samples_pixels_are_rgb_crops_of_the_image(real_build, samples_dir):
    """The worker crops OpenCV's BGR decode and converts only the crop: same pixels, RGB order."""
    from landmark_fusion.crop import crop_face
    from landmark_fusion.imageio import read_image

    _, out, _ = real_build
    shards = open_shards(out)
    meta = shards.meta()
    row = int(np.flatnonzero(meta["sample_id"].str.endswith("image00050.jpg")
                             & (meta["source"] == "aflw2000_3d"))[0])
    mat = scipy.io.loadmat(samples_dir / "AFLW2000-3D/AFLW2000/image00050.mat")
    points = mat["pt3d_68"][:2].T - 1.0
    rgb = read_image(samples_dir / "AFLW2000-3D/AFLW2000/image00050.jpg")
    expected = crop_face(rgb, points, np.ones(68, bool)).image
    stored = shards.get(row)["images"]
    np.testing.assert_array_equal(stored, expected)
    assert not np.array_equal(stored, expected[..., ::-1])  # a colour image: the order matters


def _planted(tmp_path: Path, samples_dir: Path) -> Path:
    """300W folder: the 3 real faces + a truncated jpg, a .pts without image, a 67-point .pts."""
    root = tmp_path / "300W"
    folder = root / "lfpw/trainset"
    shutil.copytree(samples_dir / "300W/lfpw/trainset", folder)
    for path in folder.iterdir():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    real_pts = (folder / "image_0001.pts").read_text()
    jpg = (samples_dir / "300W-LP/IBUG/IBUG_image_008_1_0.jpg").read_bytes()
    (folder / "image_0004.pts").write_text(real_pts)
    (folder / "image_0004.jpg").write_bytes(jpg[: len(jpg) // 2])
    (folder / "image_0005.pts").write_text(real_pts)
    lines = real_pts.splitlines()
    (folder / "image_0006.pts").write_text("\n".join(lines[:3] + lines[4:]))  # 67 points
    (folder / "image_0006.jpg").write_bytes(jpg)
    return root


def test_planted_bad_files_are_named_rejections(tmp_path, samples_dir):
    root = _planted(tmp_path, samples_dir)
    (tmp_path / "roots.yaml").write_text(f"300w: {root.name}\n")  # relative to the roots file
    out = tmp_path / "out" / "set.parquet"
    result = CliRunner().invoke(fuse, ["build", "--roots", str(tmp_path / "roots.yaml"), "--out",
                                       str(out), "--workers", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(report_paths(out)[0].read_text())
    assert report["sources"]["300w"]["rejected_by_reason"] == {
        "corrupt_image": 1, "missing_image": 1, "wrong_point_count": 1}
    rejected = [json.loads(line) for line in report_paths(out)[1].read_text().splitlines()]
    assert {(r["sample_id"], r["reason"]) for r in rejected} == {
        ("lfpw/trainset/image_0004.jpg", "corrupt_image"),
        ("lfpw/trainset/image_0005.pts", "missing_image"),
        ("lfpw/trainset/image_0006.pts", "wrong_point_count")}
    assert all(r["detail"] for r in rejected)
    shards = open_shards(out)
    assert sorted(shards.meta()["sample_id"]) == [f"lfpw/trainset/image_000{i}.png" for i in (1, 2, 3)]
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []

    strict = CliRunner().invoke(fuse, ["build", "--roots", str(tmp_path / "roots.yaml"), "--out",
                                       str(tmp_path / "strict.h5"), "--workers", "0", "--strict",
                                       "--no-progress"])
    assert strict.exit_code != 0 and "--strict" in strict.output
    assert not (tmp_path / "strict.h5").exists()
    assert json.loads(report_paths(tmp_path / "strict.h5")[0].read_text())["status"] == "failed_strict"


def test_nothing_usable_fails_without_output(tmp_path, monkeypatch):
    root = tmp_path / "300W"
    root.mkdir()
    (root / "a.pts").write_text("version: 1\nn_points: 68\n{\n1 2\n}")
    monkeypatch.setenv("LANDMARK_FUSION_ROOTS", str(tmp_path / "r.yaml"))
    (tmp_path / "r.yaml").write_text(f"300w: {root}\n")
    out = tmp_path / "fused.h5"
    result = CliRunner().invoke(fuse, ["build", "--sources", "all", "--out", str(out), "--workers",
                                       "0", "--no-progress"])
    assert result.exit_code != 0 and "no usable face" in result.output
    assert not out.exists() and list(tmp_path.glob(".fused.h5*")) == []
    report = json.loads(report_paths(out)[0].read_text())
    assert report["status"] == "failed_nothing_usable" and report["totals"]["rejected"] == 1


def test_worker_exception_becomes_internal_error(tmp_path, samples_dir, monkeypatch):
    original = work.crop_face
    faces = iter(range(100))

    def flaky(*args, **kwargs):
        if next(faces) == 1:  # the second face of the three, in reading order
            raise ZeroDivisionError("planted")
        return original(*args, **kwargs)

    monkeypatch.setattr(work, "crop_face", flaky)
    report = build_shards([Root("300w", samples_dir / "300W")], tmp_path / "x.h5",
                          BuildSettings(workers=0, progress=False))
    assert report.kept["300w"] == 2
    assert report.first == [{"source": "300w", "sample_id": "lfpw/trainset/image_0002.png",
                             "reason": "internal_error", "detail": "ZeroDivisionError: planted"}]


def test_failure_while_writing_leaves_no_file(tmp_path, samples_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full (planted)")

    from landmark_fusion.shards.hdf5 import HDF5Writer

    monkeypatch.setattr(HDF5Writer, "append", broken)
    out = tmp_path / "fused.h5"
    with pytest.raises(OSError):
        build_shards([Root("300w", samples_dir / "300W")], out,
                     BuildSettings(workers=0, progress=False))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in report_paths(out))
    assert json.loads(report_paths(out)[0].read_text())["status"] == "error"


def test_limit_crop_size_and_replacing_an_old_output(tmp_path, samples_dir):
    out = tmp_path / "fused.h5"
    roots = [Root("300w", samples_dir / "300W")]
    build_shards(roots, out, BuildSettings(workers=0, progress=False, limit=1))
    with pytest.raises(OutputError, match="pass --overwrite"):
        build_shards(roots, out, BuildSettings(workers=0, progress=False, limit=2, crop_size=64))
    report = build_shards(roots, out, BuildSettings(workers=0, progress=False, limit=2, crop_size=64,
                                                    overwrite=True))
    assert report.items["300w"] == 2
    with h5py.File(out, "r") as f:
        assert f["images"].shape == (2, 64, 64, 3) and int(f.attrs["crop_size"]) == 64
    out.write_bytes(b"not ours")  # anything else at OUT is never replaced, --overwrite or not
    with pytest.raises(OutputError, match="was not written by fuse build"):
        build_shards(roots, out, BuildSettings(workers=0, progress=False, overwrite=True))
    assert out.read_bytes() == b"not ours"


def test_bad_roots_are_usage_errors(tmp_path):
    (tmp_path / "r.yaml").write_text("nosuchdb: /tmp\n")
    result = CliRunner().invoke(fuse, ["build", "--roots", str(tmp_path / "r.yaml"), "--out",
                                       str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and "unknown database" in result.output


def test_reduced_decode_switch(tmp_path, samples_dir):
    """Small crops of the real 450x450 photos decode at reduced size unless switched off: the
    pixels stay close, everything else is equal, and the report records the choice."""
    roots = [Root("aflw2000_3d", samples_dir / "AFLW2000-3D"), Root("300w_lp", samples_dir / "300W-LP")]
    builds = {}
    for reduced in (True, False):
        out = tmp_path / f"reduced_{reduced}.h5"
        settings = BuildSettings(crop_size=48, workers=0, progress=False, reduced_decode=reduced)
        report = build_shards(roots, out, settings)
        assert report.settings["reduced_decode"] is reduced
        builds[reduced] = open_shards(out).get_batch(range(len(open_shards(out))))
    on, off = builds[True], builds[False]
    for name in on:
        if name != "images":
            np.testing.assert_array_equal(on[name], off[name])
    diff = np.abs(on["images"].astype(int) - off["images"].astype(int))
    assert diff.any() and diff.mean() < 4.0

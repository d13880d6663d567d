import numpy as np
import pytest

from trainer.evaluate import evaluate, face_nme, make_row, mean_shape_baseline, point_errors, to_markdown, yaw_bucket


def test_yaw_buckets_put_beyond_90_in_the_last():
    assert yaw_bucket(np.array([0, -30, 30.01, 60, -61, 95, -167.9, np.nan])).tolist() == [0, 0, 1, 1, 2, 2, 2, -1]


def test_nme_is_mean_error_over_visible_points_divided_by_norm():
    pred = np.array([[[3.0, 4], [0, 0], [9, 9]]])
    gt = np.zeros((1, 3, 2))
    err = point_errors(pred, gt, np.array([[True, True, False]]), np.array([10.0]))
    assert face_nme(err).tolist() == [25.0]  # (5 + 0) / 2 / 10 → 25 %


def test_bucket_mean_is_mean_of_bucket_means_and_per_face_mean_beside():
    nme = np.array([1.0, 1.0, 1.0, 4.0, 7.0])
    yaw = np.array([10, 20, 25, 45, 80])
    row = make_row("db", "8", nme, nme * 2, yaw)
    assert row.bucket_mean == 4.0 and row.face_mean == pytest.approx(14 / 5)
    assert row.base_bucket_mean == 8.0
    md = to_markdown([row])
    assert "| db | 8 |" in md and "4.00 | 8.00 | 2.80 | 5.60 |" in md


def test_mean_shape_fills_the_ground_truth_box():
    mean_pts = np.array([[-1.0, 1], [1, 1], [0, -1]])  # y up
    gt = np.array([[[10.0, 20], [30, 20], [20, 60]]])
    out = mean_shape_baseline(mean_pts, gt, np.ones((1, 3), bool))
    np.testing.assert_allclose(out[0], gt[0])


def test_evaluate_writes_tables_and_plot(trained_checkpoint, small_shards, tmp_path):
    res = evaluate(str(trained_checkpoint), str(small_shards), split="val", out=str(tmp_path))
    assert {r.database for r in res.rows} == {"300w_lp", "wflw"}
    assert all(np.isfinite(r.face_mean) and np.isfinite(r.base_face_mean) for r in res.rows)
    for name in ("results.md", "results.csv", "per_landmark.csv", "per_landmark.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "per-face mean" in (tmp_path / "results.csv").read_text().splitlines()[0]
    assert list(res.per_landmark["landmark"])[:2] == ["eye_r_outer", "eye_r_inner"]


def test_each_row_lists_the_landmarks_it_evaluated(trained_checkpoint, small_shards, tmp_path):
    import csv

    from landmark_fusion.shards import open_shards
    from trainer.evaluate import landmark_list

    assert landmark_list(["a", "b", "c"], np.array([True, False, True])) == "2: a c"
    res = evaluate(str(trained_checkpoint), str(small_shards), split="val", out=str(tmp_path))
    shards = open_shards(small_shards)
    from trainer.data import source_codes

    meta = shards.meta()
    names = list(shards.landmark_names)
    codes = source_codes(meta["source"], shards.source_names)
    for row in res.rows:
        code = list(shards.source_names).index(row.database)
        rows = np.flatnonzero((meta["split"].astype(str) == "val").to_numpy() & (codes == code))
        with_truth = shards.get_batch(rows, ("mask",))["mask"].any(axis=0)
        expected = [n for n, m in zip(names, with_truth, strict=True) if m]
        assert row.landmarks == f"{len(expected)}: {' '.join(expected)}"
    with (tmp_path / "results.csv").open() as f:
        assert [r["landmarks"] for r in csv.DictReader(f)] == [r.landmarks for r in res.rows]

"""3DDFA's AFLW protocol: the 68 → 21 composition, the 68-point-box normaliser from a file in 3DDFA's
layout, and `train eval --protocol aflw-3ddfa` on shards built from the real AFLW sample."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from trainer.protocols import IND_68TO21, Pts68Normaliser, aflw_plan, compose_aflw21

AFLW_ROWS = 29  # the first 29 list lines hold the sample crops image00002, image00004 and image00050


def _points_k_ksq() -> np.ndarray:
    k = np.arange(1, 69, dtype=np.float64)  # point k (1-based) at (k, k²)
    return np.stack([k, k ** 2], -1)


def test_composition_picks_single_points_and_averages_lists():
    out = compose_aflw21(_points_k_ksq())
    assert out.shape == (21, 2)
    assert out[0].tolist() == [18, 324] and out[1].tolist() == [20, 400] and out[20].tolist() == [9, 81]
    assert out[12].tolist() == [3, 9] and out[16].tolist() == [15, 225]  # ears from jaw points 3, 15
    np.testing.assert_allclose(out[7], [39.5, 9379 / 6])     # eye centre: mean of 37..42
    np.testing.assert_allclose(out[10], [45.5, 12439 / 6])   # mean of 43..48
    np.testing.assert_allclose(out[18], [64.5, 33324 / 8])   # mouth centre: mean of 61..68
    batch = np.stack([_points_k_ksq(), 2 * _points_k_ksq()])
    np.testing.assert_allclose(compose_aflw21(batch)[1], 2 * out)
    with pytest.raises(ValueError):
        compose_aflw21(np.zeros((21, 2)))


def test_plan_evaluates_the_18_aflw_points_with_ground_truth():
    from landmark_fusion.correspondence import canonical_landmarks, load_scheme

    names68 = load_scheme("ibug68_fixed").index_to_name
    aflw = load_scheme("aflw21").index_to_name
    shard_names = list(canonical_landmarks())
    plan = aflw_plan(shard_names, {n: 1000 + i for i, n in enumerate(names68)})
    assert plan.evaluated.tolist() == [i for i in range(21) if i not in (7, 10, 18)]
    assert plan.gt_names == load_scheme("aflw21").kept_names
    assert [shard_names[c] for c in plan.gt_columns] == plan.gt_names
    assert plan.vertices.tolist() == list(range(1000, 1068))
    # every single-point AFLW landmark but the ears is the same canonical point as its iBUG source
    for j in plan.evaluated:
        if len(IND_68TO21[j]) == 1 and j not in (12, 16):
            assert names68[IND_68TO21[j][0] - 1] == aflw[j]
    assert "7, 10, 18" in plan.label() and "not in the shards" in plan.label()
    pred = np.tile(_points_k_ksq(), (3, 1, 1))
    np.testing.assert_allclose(plan.to_aflw(pred)[2], compose_aflw21(_points_k_ksq())[plan.evaluated])
    # without vertices for most of the 68, only the points composed from known ones are evaluated
    small = aflw_plan(shard_names, {"chin": 5, "nose_tip": 6, "jaw_r_2of8": 7})
    assert [aflw[j] for j in small.evaluated] == ["ear_r", "nose_tip", "chin"]
    assert "no vertex for brow_r_outer" in small.label()


def _write_3ddfa_layout(root: Path, pts68: np.ndarray, roi: np.ndarray, names: list[str]) -> Path:
    (root / "test.configs").mkdir(parents=True)
    (root / "test.data").mkdir()
    np.save(root / "test.configs/AFLW_GT_pts68.npy", pts68)
    np.save(root / "test.configs/AFLW_GT_crop_roi_box.npy", roi)
    (root / "test.data/AFLW_GT_crop.list").write_text("".join(f"{n}\n" for n in names))
    return root / "test.configs/AFLW_GT_pts68.npy"


@pytest.mark.parametrize("dims", [3, 2])
def test_pts68_normaliser_maps_the_box_into_the_evaluation_frame(tmp_path, dims):
    pts = np.zeros((2, dims, 68), np.float32)
    pts[:, 0] = np.linspace(101, 181, 68)       # 1-based 450 frame: x spans 80 px
    pts[:, 1] = np.linspace(121, 166, 68)[::-1]  # y spans 45 px
    pts[1, 0, 5], pts[1, 1, 5] = -1, 452         # a missing point (3DDFA marker) is left out
    if dims == 3:
        pts[:, 2] = 7.0
    roi = np.array([[0, 0, 450, 450], [100, 100, 340, 340]], np.uint16)  # row 1: 240 px → 120 px crop
    path = _write_3ddfa_layout(tmp_path, pts, roi, ["image00002.jpg", "image00004.jpg"])
    norm = Pts68Normaliser(path)  # list found beside it, as in 3DDFA's layout
    crop_to_image = np.array([[0.75, 0, 10], [0, 0.75, 10]])  # shard crop → 120-px AFLW crop
    to_input = np.array([[0.8, 0, 0.1], [0, 0.8, 0.1]])      # 160 → 128 resize
    # 80 x 45 → roi scale 0.5 → 40 x 22.5 → /0.75 → 53.33 x 30 → x0.8 → 42.67 x 24: sqrt = 32
    assert norm.normaliser("test.data/AFLW_GT_crop/image00004.jpg", crop_to_image, to_input) == pytest.approx(32.0)
    first = norm.crop_points("test.data/AFLW_GT_crop/image00002.jpg")
    np.testing.assert_allclose(first[0], [100 * 120 / 450, 165 * 120 / 450], rtol=1e-6)  # 0-based (101, 166)
    assert np.isnan(norm.normaliser("test.data/AFLW_GT_crop/image99999.jpg", crop_to_image, to_input))
    assert np.isnan(norm.normaliser("flickr/0/image00004.jpg", crop_to_image, to_input))  # sqlite-form id


def test_pts68_normaliser_rejects_mismatched_files(tmp_path):
    path = _write_3ddfa_layout(tmp_path, np.zeros((2, 2, 21), np.float32), np.zeros((2, 4), np.uint16),
                               ["a.jpg", "b.jpg"])
    with pytest.raises(ValueError, match="expected"):
        Pts68Normaliser(path)
    with pytest.raises(FileNotFoundError):
        Pts68Normaliser(path, list_path=tmp_path / "nowhere.list")


@pytest.fixture(scope="module")
def aflw_shards(tmp_path_factory, samples_dir) -> Path:
    """Shards of the first 29 list lines of the real AFLW sample (3 crops present)."""
    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import Root

    out = tmp_path_factory.mktemp("aflw") / "aflw.h5"
    build_shards([Root("aflw", samples_dir / "AFLW")], out,
                 BuildSettings(limit=AFLW_ROWS, workers=0, progress=False))
    return out


@pytest.fixture(scope="module")
def pts68_double_box(tmp_path_factory, samples_dir) -> tuple[Path, Path]:
    """(pts68, list) in 3DDFA's layout: per row 68 points whose box is the visible 21-point box of
    ``AFLW_GT_pts21.npy`` doubled about its centre (first 21 columns: the 21 points themselves)."""
    configs = samples_dir / "AFLW/test.configs"
    pts21 = np.load(configs / "AFLW_GT_pts21.npy", mmap_mode="r")[:AFLW_ROWS].astype(np.float64)
    roi = np.load(configs / "AFLW_GT_crop_roi_box.npy")[:AFLW_ROWS]
    lines = (samples_dir / "AFLW/test.data/AFLW_GT_crop.list").read_text().split()[:AFLW_ROWS]
    pts68 = np.zeros((AFLW_ROWS, 3, 68), np.float32)
    for r in range(AFLW_ROWS):
        vis = pts21[r, 0] != -1
        visible = pts21[r][:, vis]  # (2, V)
        lo, hi = visible.min(1), visible.max(1)
        centre, half = (lo + hi) / 2, hi - lo  # half the doubled extent
        pts68[r, :2, :21] = np.where(vis, pts21[r], visible[:, :1])  # missing ones: a visible point
        pts68[r, :2, 21:] = centre[:, None] + half[:, None] * np.linspace(-1, 1, 47)[None]
        pts68[r, 2] = 3.5
    root = tmp_path_factory.mktemp("3ddfa")
    path = _write_3ddfa_layout(root, pts68, roi, lines)
    elsewhere = root / "other.list"
    elsewhere.write_text("".join(f"{n}\n" for n in lines))
    return path, elsewhere


def test_pts68_points_land_where_the_reader_puts_the_21_points(pts68_double_box, samples_dir):
    from landmark_fusion.sources.aflw import AFLWSource

    source = AFLWSource(samples_dir / "AFLW")
    item = next(i for i in source.items() if i.name == "image00004.jpg")
    face = source.read(item)[0]
    points = Pts68Normaliser(pts68_double_box[0]).crop_points(face.sample_id)
    np.testing.assert_allclose(points[:21][face.visible], face.points[face.visible], atol=1e-4)


@pytest.fixture(scope="module")
def table_68(tmp_path_factory) -> Path:
    """A vertex table giving every ibug68_fixed name a vertex of the tiny test model."""
    from landmark_fusion.correspondence import load_scheme

    path = tmp_path_factory.mktemp("table68") / "tiny68.json"
    path.write_text(json.dumps({n: 2 * i for i, n in enumerate(load_scheme("ibug68_fixed").index_to_name)}))
    return path


def test_eval_protocol_uses_the_68_point_box(trained_checkpoint, aflw_shards, pts68_double_box, table_68, tmp_path):
    from cli import train
    from trainer.evaluate import evaluate

    pts68, other_list = pts68_double_box
    res = CliRunner().invoke(train, ["eval", str(trained_checkpoint), "--shards", str(aflw_shards),
                                     "--protocol", "aflw-3ddfa", "--vertex-table", str(table_68),
                                     "--aflw-pts68", str(pts68), "--aflw-list", str(other_list),
                                     "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    assert "| aflw |" in res.output and "68-point ground-truth box (AFLW_GT_pts68.npy, 3DDFA)" in res.output
    assert "(eye centres, mouth centre) are not in the shards" in res.output
    table = (tmp_path / "eval/per_landmark.csv").read_text().splitlines()
    assert len(table) == 1 + 18 and table[1].startswith("brow_r_outer,") and table[-1].startswith("chin,")

    with_box = evaluate(str(trained_checkpoint), str(aflw_shards), protocol="aflw-3ddfa",
                        vertex_table=str(table_68), aflw_pts68=str(pts68))
    shard_norm = evaluate(str(trained_checkpoint), str(aflw_shards), protocol="aflw-3ddfa",
                          vertex_table=str(table_68))
    a, b = with_box.rows[0], shard_norm.rows[0]
    assert a.faces == b.faces == 3
    assert "not given" in b.normaliser and "AFLW_GT_pts68" in a.normaliser
    # the 68-point box is twice the shard's landmark box: every NME halves
    assert a.face_mean == pytest.approx(b.face_mean / 2, rel=1e-4)
    assert a.base_face_mean == pytest.approx(b.base_face_mean / 2, rel=1e-4)
    for (m, n), (m2, n2) in zip(a.buckets, b.buckets, strict=True):
        assert n == n2 and (np.isnan(m) and np.isnan(m2) or m == pytest.approx(m2 / 2, rel=1e-4))


def test_eval_protocol_without_68_vertices_names_what_it_skips(trained_checkpoint, aflw_shards):
    from cli import train

    res = CliRunner().invoke(train, ["eval", str(trained_checkpoint), "--shards", str(aflw_shards),
                                     "--protocol", "aflw-3ddfa"])
    assert res.exit_code == 0, res.output
    assert "8 AFLW points with ground truth" in res.output
    assert "not given" in res.output and "no vertex for" in res.output
    res = CliRunner().invoke(train, ["eval", str(trained_checkpoint), "--shards", str(aflw_shards),
                                     "--aflw-list", str(aflw_shards)])
    assert res.exit_code == 2

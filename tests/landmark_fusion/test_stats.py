"""Coverage statistics on a small shard with known masks; both formats give identical numbers."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.shards import Sample, ShardInfo, create_writer, open_shards, stack_samples
from landmark_fusion.stats import coverage, format_csv

NAMES = ["chin", "nose_tip", "ear_r"]
# (source code, split, mask): aflw=0, 300w=1, wflw=2 (wflw has no rows)
ROWS = [(0, "test", [1, 1, 0]), (0, "test", [1, 0, 1]), (0, "train", [1, 1, 1]),
        (1, "train", [1, 1, 0]), (1, "train", [0, 1, 0])]


def _write(path):
    info = ShardInfo(NAMES, ["aflw", "300w", "wflw"], ["aflw21", "ibug68"], 8, 0.25)
    rows = [Sample(np.zeros((8, 8, 3), np.uint8), np.zeros((3, 2), np.float32), np.array(m, bool),
                   src, src, split, f"id{i}", np.zeros((2, 3), np.float32), 1.0)
            for i, (src, split, m) in enumerate(ROWS)]
    writer = create_writer(path, info)
    writer.append(stack_samples(rows, 8, 3))
    writer.close()
    return open_shards(path)


@pytest.mark.parametrize("name", ["s.h5", "s.parquet"])
def test_known_counts(tmp_path, name):
    cov = coverage(_write(tmp_path / name), chunk=2)
    assert cov.source_names == ["aflw", "300w"]  # sources without rows are left out
    assert cov.counts.tolist() == [[3, 1], [2, 2], [2, 0]]
    assert cov.faces.tolist() == [3, 2]
    np.testing.assert_allclose(cov.percent, [[100, 50], [200 / 3, 100], [200 / 3, 0]])
    assert cov.splits == {"aflw": {"test": 2, "train": 1}, "300w": {"train": 2}}


def test_both_formats_identical_and_cli(tmp_path):
    runner = CliRunner()
    outputs = {}
    for name in ("s.h5", "s.parquet"):
        _write(tmp_path / name)
        result = runner.invoke(fuse, ["stats", str(tmp_path / name), "--csv"])
        assert result.exit_code == 0, result.output
        outputs[name] = result.output
    assert outputs["s.h5"] == outputs["s.parquet"]
    lines = outputs["s.h5"].splitlines()
    assert lines[0] == "landmark,aflw_count,aflw_pct,300w_count,300w_pct,total_count,total_pct"
    assert lines[1:] == ["chin,3,100.00,1,50.00,4,80.00", "nose_tip,2,66.67,2,100.00,4,80.00",
                         "ear_r,2,66.67,0,0.00,2,40.00"]
    table = runner.invoke(fuse, ["stats", str(tmp_path / "s.h5"), "--plot", str(tmp_path / "h.png")])
    assert table.exit_code == 0, table.output
    assert "chin" in table.output and "3 (100.0%)" in table.output
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert format_csv(coverage(open_shards(tmp_path / "s.parquet"))) == outputs["s.parquet"]


def test_contact_sheet(tmp_path):
    from landmark_fusion.preview import draw_contact_sheet, pick_rows

    shards = _write(tmp_path / "s.h5")
    assert sorted(pick_rows(shards, 2).tolist()) == sorted(pick_rows(shards, 2).tolist())
    assert {int(shards.get(i)["source"]) for i in pick_rows(shards, 2)} == {0, 1}
    path = draw_contact_sheet(shards, tmp_path / "sheet.png", n=4)
    assert path.read_bytes()[:4] == b"\x89PNG"

"""Parquet shard sets: every field and attribute round-trips; files, row groups and metadata."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq

from landmark_fusion.shards import create_writer, open_shards, stack_samples


def test_roundtrip_every_field_and_attribute(tmp_path, shard_info, shard_rows, checks):
    path = tmp_path / "fused.parquet"
    checks.check_roundtrip(path, shard_info, shard_rows)
    files = sorted(path.glob("part-*.parquet"))
    assert [f.name for f in files] == ["part-00000.parquet"]
    meta = pq.read_metadata(files[0])
    assert meta.num_rows == 53 and meta.row_group(0).num_rows == 16
    attrs = json.loads(meta.metadata[b"landmark_fusion"])
    assert attrs["landmark_names"] == shard_info.landmark_names and attrs["format_version"] == 1
    schema = pq.read_schema(files[0])
    assert str(schema.field("images").type) == "fixed_size_binary[1728]"  # raw 24·24·3 bytes


def test_rows_spread_over_several_files(tmp_path, shard_info, shard_rows, checks):
    from landmark_fusion.shards.parquet import ParquetWriter

    writer = ParquetWriter(tmp_path / "set", shard_info, rows_per_shard=20, row_group_rows=8)
    for lo in range(0, 53, 7):
        writer.append(stack_samples(shard_rows[lo:lo + 7], shard_info.crop_size, 5))
    writer.close()
    files = sorted((tmp_path / "set").glob("part-*.parquet"))
    assert [pq.read_metadata(f).num_rows for f in files] == [20, 20, 13]
    shards = open_shards(tmp_path / "set")
    order = [52, 19, 20, 0, 39, 40, 7]
    checks.rows_equal(shards.get_batch(order), [shard_rows[i] for i in order])
    checks.rows_equal(shards.get_batch(range(53)), shard_rows)
    starts = [start for start, _ in shards.iter_columns(("source",), chunk=15)]
    assert starts == [0, 15, 30, 45]
    assert open_shards(files[1]).get(0)["sample_id"] == shard_rows[0].sample_id  # a part → its set


def test_reopens_after_fork(tmp_path, shard_info, shard_rows, checks):
    shards = checks.write(tmp_path / "f.parquet", shard_info, shard_rows)
    checks.check_reopens_after_fork(shards, shard_rows)


def test_empty_set_has_one_file_and_no_rows(tmp_path, shard_info):
    writer = create_writer(tmp_path / "e.parquet", shard_info)
    writer.close()
    shards = open_shards(tmp_path / "e.parquet")
    assert len(shards) == 0 and len(shards.meta()) == 0
    assert shards.get_batch([])["images"].shape == (0, 24, 24, 3)
    assert np.asarray(shards.landmark_names).tolist() == shard_info.landmark_names

"""Both readers inside a torch DataLoader whose workers are spawned (fresh processes, pickled sets)."""
from __future__ import annotations


def test_dataloader_spawn_workers_read_both_formats(tmp_path, shard_info, shard_rows, checks):
    h5 = checks.write(tmp_path / "d.h5", shard_info, shard_rows)
    parquet = checks.write(tmp_path / "d.parquet", shard_info, shard_rows)
    h5.get(0), parquet.get(0)  # opened here first: the workers must not reuse these handles
    checks.check_dataloader_spawn([h5, parquet], shard_rows)

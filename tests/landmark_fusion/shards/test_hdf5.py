"""HDF5 shards: every field and attribute round-trips; lazy reopening in spawned workers."""
from __future__ import annotations

import h5py
import numpy as np


def test_roundtrip_every_field_and_attribute(tmp_path, shard_info, shard_rows, checks):
    path = tmp_path / "fused.h5"
    checks.check_roundtrip(path, shard_info, shard_rows)
    with h5py.File(path, "r") as f:  # the layout docs/shards.md describes
        assert f["images"].shape == (53, 24, 24, 3) and f["images"].chunks == (1, 24, 24, 3)
        assert f["landmarks"].dtype == np.float32 and f["mask"].dtype == bool
        assert f["source"].dtype == np.int16 and f["crop_to_image"].shape == (53, 2, 3)
        assert [n.decode() if isinstance(n, bytes) else n for n in f.attrs["landmark_names"]] == \
            shard_info.landmark_names
        assert int(f.attrs["format_version"]) == 1 and int(f.attrs["num_rows"]) == 53


def test_lzf_compression_reads_back(tmp_path, shard_info, shard_rows, checks):
    from landmark_fusion.shards import create_writer, open_shards, stack_samples

    writer = create_writer(tmp_path / "c.h5", shard_info, compression="lzf")
    writer.append(stack_samples(shard_rows, shard_info.crop_size, 5))
    writer.close()
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["images"].compression == "lzf"
    checks.rows_equal(open_shards(tmp_path / "c.h5").get_batch(range(53)), shard_rows)


def test_reopens_after_fork(tmp_path, shard_info, shard_rows, checks):
    shards = checks.write(tmp_path / "f.h5", shard_info, shard_rows)
    checks.check_reopens_after_fork(shards, shard_rows)
    assert shards.get(31)["sample_id"] == shard_rows[31].sample_id



def test_batches_across_small_field_chunks(tmp_path, shard_info, shard_rows, checks):
    """Uneven appends over several 512-row chunks (held back, then written whole) keep row order."""
    from landmark_fusion.shards import create_writer, open_shards, stack_samples
    from landmark_fusion.shards.hdf5 import SMALL_CHUNK

    rows = [shard_rows[i % len(shard_rows)] for i in range(2 * SMALL_CHUNK + 77)]
    rows = [type(r)(**{**r.__dict__, "sample_id": f"row_{i:05d}"}) for i, r in enumerate(rows)]
    writer = create_writer(tmp_path / "big.h5", shard_info, compression="lzf")
    cuts = [0, 1, 300, 511, 512, 513, 1100, len(rows)]
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        batch = stack_samples(rows[lo:hi], shard_info.crop_size, 5)
        writer.append(batch)
        for column in batch.values():  # the writer must not keep the caller's arrays
            column[...] = column[::-1].copy() if column.dtype == object else 0
    writer.close()
    with h5py.File(tmp_path / "big.h5", "r") as f:
        assert {f[name].shape[0] for name in f} == {len(rows)} and f.attrs["num_rows"] == len(rows)
    checks.rows_equal(open_shards(tmp_path / "big.h5").get_batch(range(len(rows))), rows)

import numpy as np
import pytest

from trainer.data import open_shard_set, select_indices, source_codes
from trainer.data_shares import rank_share, read_units
from trainer.errors import InputError

from .conftest import write_face_shards


def test_ranks_get_disjoint_shares_that_cover_every_row_and_never_split_a_unit():
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(10_000, 900, replace=False))
    codes = (rows >= 6_000).astype(np.int64) + (rows >= 9_000)  # three sources, in row order as in a build
    units = rows // 16
    for world in (2, 3, 5):
        shares = [rank_share(rows, codes, units, rank, world) for rank in range(world)]
        joined = np.concatenate(shares)
        assert np.array_equal(np.sort(joined), rows)  # covering, and disjoint (no row twice)
        owners = [set(units[np.isin(rows, share)].tolist()) for share in shares]
        for a in range(world):
            for b in range(a + 1, world):
                assert not owners[a] & owners[b]
            assert set(codes[np.isin(rows, shares[a])].tolist()) == {0, 1, 2}  # every source on every rank


def test_a_source_with_fewer_units_than_ranks_is_dealt_by_row():
    rows = np.arange(40)
    codes = np.r_[np.zeros(32, np.int64), np.ones(8, np.int64)]
    units = rows // 16  # the second source lies in one unit
    shares = [rank_share(rows, codes, units, rank, 2) for rank in range(2)]
    assert [np.count_nonzero(s >= 32) for s in shares] == [4, 4]
    assert np.array_equal(np.sort(np.concatenate(shares)), rows)


def test_a_source_with_fewer_rows_than_ranks_is_refused_by_name():
    with pytest.raises(InputError, match="source wflw has 1 training faces, fewer than the 2 processes"):
        rank_share(np.arange(5), np.array([0, 0, 0, 0, 1]), np.arange(5), 0, 2, ["300w_lp", "wflw"])


def test_read_units_are_parquet_row_groups_and_hdf5_rows(tmp_path, small_shards):
    path = write_face_shards(tmp_path / "set.parquet", {"300w_lp": 40, "wflw": 8}, size=32)
    shards = open_shard_set(str(path))
    units = read_units(shards, np.arange(len(shards)))
    assert units.tolist() == (np.arange(48) // 16).tolist()  # the writer's 16-row groups
    h5 = open_shard_set(str(small_shards))
    assert read_units(h5, np.array([3, 1])).tolist() == [3, 1]
    rows = select_indices(shards, "train", None)
    assert source_codes(shards.meta()["source"], shards.source_names)[rows].max() == 1

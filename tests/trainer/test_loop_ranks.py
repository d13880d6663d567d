"""Two processes under torch.distributed (gloo) train on one Parquet shard set, each reading only its own
share: what each actually reads (row groups decoded, crops copied) is recorded in that process."""
import json
import os

import numpy as np
import pytest
import torch

from trainer.data import open_shard_set, select_indices
from trainer.data_shares import read_units

from .conftest import write_face_shards
from .test_loop import _free_port, config


def _recording_worker(rank, world, port, cfg, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from landmark_fusion.shards.parquet import ParquetShardSet
    from trainer.data_rows import ImageReader
    from trainer.loop import train

    groups, crops = set(), set()
    row_group, read = ParquetShardSet._row_group, ImageReader.read

    def recorded_row_group(self, group, fields):
        groups.add(int(group))
        return row_group(self, group, fields)

    def recorded_read(self, rows):
        crops.update(np.asarray(rows).tolist())
        return read(self, rows)

    ParquetShardSet._row_group, ImageReader.read = recorded_row_group, recorded_read
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = train(cfg)
    finally:
        dist.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"train_rows": result.train_rows.tolist(), "groups": sorted(groups), "crops": sorted(crops),
                   "losses": result.losses}, f)


@pytest.mark.slow
def test_two_ranks_read_disjoint_shares_of_a_parquet_set(face_model_path, vertex_table_path, tmp_path):
    shards_path = write_face_shards(tmp_path / "set.parquet", {"300w_lp": 96, "wflw": 64}, size=32)
    cfg = config(shards_path, face_model_path, vertex_table_path, tmp_path / "run", steps=3, batch_size=4,
                 val_split="")
    torch.multiprocessing.spawn(_recording_worker, args=(2, _free_port(), cfg, str(tmp_path)), nprocs=2,
                                join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    shards = open_shard_set(str(shards_path))
    train_rows = select_indices(shards, "train", None)
    shares = [set(r["train_rows"]) for r in ranks]
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == set(train_rows.tolist())
    units = [set(read_units(shards, np.array(sorted(set(r["crops"]) | set(r["train_rows"])))).tolist())
             | set(r["groups"]) for r in ranks]
    assert units[0] and units[1] and not units[0] & units[1]  # no row group read by both
    for r, share in zip(ranks, shares, strict=False):
        assert set(r["crops"]) <= share and len(r["crops"]) >= 4  # crops of its own rows only
        assert len(r["losses"]) == 3

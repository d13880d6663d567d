import os
import socket

import numpy as np
import pytest
import torch

from trainer.loop import TrainConfig, load_checkpoint, train


def config(shards, model, table, out, **kw):
    base = dict(shards=str(shards), model=str(model), vertex_table=str(table), out=str(out), width=0.5,
                n_corr=3, batch_size=4, steps=4, workers=0, progress=False, log_every=1, max_val=2,
                tensorboard=False)
    base.update(kw)
    return TrainConfig(**base)


def test_resume_continues_the_same_trajectory(small_shards, face_model_path, vertex_table_path, tmp_path):
    torch.set_num_threads(1)
    full = train(config(small_shards, face_model_path, vertex_table_path, tmp_path / "full"))
    first = train(config(small_shards, face_model_path, vertex_table_path, tmp_path / "cut", stop_after=2))
    assert len(first.losses) == 2
    rest = train(TrainConfig(shards="", model="", resume=str(tmp_path / "cut" / "last.pt"), progress=False,
                             workers=0))
    assert first.losses + rest.losses == full.losses  # identical, not just close
    for k, v in full.state_dict.items():
        assert torch.equal(v, rest.state_dict[k]), k
    ck = load_checkpoint(str(tmp_path / "full" / "final.pt"))
    assert ck["step"] == 4 and ck["landmark_names"][0] == "eye_r_outer"
    log = (tmp_path / "full" / "train.csv").read_text().splitlines()
    assert log[0].startswith("step,epoch,lr,total,landmarks") and len(log) == 5
    shares = (tmp_path / "full" / "shares.csv").read_text()
    assert "0,300w_lp,0.5" in shares and "0,wflw,0.5" in shares
    assert "nme_percent" in (tmp_path / "full" / "val.csv").read_text()


def test_init_loads_weights_and_db_preset_selects_sources(small_shards, face_model_path, vertex_table_path,
                                                          tmp_path):
    torch.set_num_threads(1)
    a = train(config(small_shards, face_model_path, vertex_table_path, tmp_path / "a", steps=1, db="A",
                     val_split=""))
    shares = (tmp_path / "a" / "shares.csv").read_text()
    assert "300w_lp" in shares and "wflw" not in shares
    b = train(config(small_shards, face_model_path, vertex_table_path, tmp_path / "b", steps=1, lr=0.0,
                     init=str(tmp_path / "a" / "final.pt"), sources=("wflw",), val_split=""))
    for k, v in a.state_dict.items():
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(v, b.state_dict[k]), k  # lr 0: weights stay the initialised ones


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, cfg, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = train(cfg)
        torch.save(result.state_dict, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_ddp_on_gloo_ends_with_identical_parameters(small_shards, face_model_path,
                                                                 vertex_table_path, tmp_path):
    cfg = config(small_shards, face_model_path, vertex_table_path, tmp_path / "ddp", steps=2, batch_size=2,
                 val_split="")
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), cfg, str(tmp_path)), nprocs=2, join=True)
    s0, s1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    for k in s0:
        assert torch.equal(s0[k], s1[k]), k
    assert (tmp_path / "ddp" / "final.pt").exists()
    assert not np.allclose(s0["fc_pose.weight"].numpy(), 0)  # it did train

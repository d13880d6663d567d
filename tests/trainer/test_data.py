import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from trainer.augment import AugmentConfig
from trainer.data import ShardDataset, mirror_permutation, open_shard_set, select_indices, source_names_for
from trainer.sampler import BalancedSampler


def test_selection_by_split_and_source(small_shards):
    shards = open_shard_set(str(small_shards))
    assert select_indices(shards, "train", None).size == 18 + 6
    assert select_indices(shards, "val", ["wflw"]).size == 2
    with pytest.raises(ValueError, match="aflw: not a source of the shards"):
        select_indices(shards, "train", ["aflw"])
    assert source_names_for("D", ["extra"])[-2:] == ["ls3d_w", "extra"]
    assert source_names_for("a", None) == ["300w_lp"]


def test_mirror_permutation_from_the_vocabulary():
    names = ["eye_r_outer", "nose_tip", "eye_l_outer"]
    assert mirror_permutation(names).tolist() == [2, 1, 0]


def test_items_are_resized_crops_with_consistent_targets(small_shards):
    shards = open_shard_set(str(small_shards))
    ds = ShardDataset(str(small_shards), np.arange(3))
    item = ds[1]
    row = shards.get(1)
    assert item["image"].shape == (3, 128, 128) and abs(item["image"]).max() <= 1.0
    k = 128 / 96
    np.testing.assert_allclose(item["landmarks"][row["mask"]], ((row["landmarks"] + 0.5) * k - 0.5)[row["mask"]],
                               atol=1e-4)
    assert item["norm_size"] == pytest.approx(row["norm_size"] * k)
    pickle.loads(pickle.dumps(ds))  # picklable, also after it has opened its file


def test_spawned_workers_give_the_same_augmented_batches(small_shards):
    shards = open_shard_set(str(small_shards))
    rows = select_indices(shards, "train", None)
    mirror = mirror_permutation(shards.landmark_names)
    ds = ShardDataset(str(small_shards), rows, AugmentConfig(), mirror)
    ds[0]  # open in the parent first: workers must reopen, not inherit
    codes = np.asarray(shards.meta()["source"].cat.codes)[rows]

    def batches(workers):
        loader = DataLoader(ds, batch_size=4, sampler=BalancedSampler(codes, seed=2), num_workers=workers,
                            multiprocessing_context="spawn" if workers else None)
        return [b["landmarks"] for b in loader]

    single, spawned = batches(0), batches(2)
    assert len(single) == 3
    for a, b in zip(single, spawned, strict=True):
        assert torch.equal(a, b)


LIFELINE_SCRIPT = """
import os, signal, sys, time
from torch.utils.data import DataLoader
from trainer.data import worker_lifeline

lifeline = worker_lifeline()

def slow_start(worker_id):
    time.sleep(1.0)  # the training process is killed while its worker is still starting
    lifeline(worker_id)

loader = DataLoader(list(range(100)), batch_size=4, num_workers=1, worker_init_fn=slow_start)
iterator = iter(loader)
print(iterator._workers[0].pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="pidfd / prctl")
def test_a_loader_worker_still_starting_ends_with_a_killed_training_process(tmp_path):
    """PyTorch's worker compares its parent with the one it saw when its loop began, so a worker still
    starting when the training process is SIGKILLed would stay for ever; the lifeline ends it."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    def running(pid: int) -> bool:  # a zombie (ended, not yet reaped by its new parent) has ended
        try:
            return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": repo}
    training = subprocess.Popen([sys.executable, "-c", LIFELINE_SCRIPT], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    assert training.stdout is not None
    worker = int(training.stdout.readline())
    assert training.wait(timeout=120) == -9
    deadline = time.monotonic() + 30
    while running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = running(worker)
    if alive:
        os.kill(worker, 9)
    training.stdout.close()
    assert not alive

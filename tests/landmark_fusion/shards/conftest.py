"""Rows with every field filled and the round-trip checks, shared by the HDF5 and Parquet tests."""
from __future__ import annotations

import math
import multiprocessing
import os
import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from landmark_fusion.shards import FORMAT_VERSION, Sample, ShardInfo, create_writer, open_shards, stack_samples

SIZE, NAMES = 24, ["brow_r_outer", "eye_r_outer", "nose_tip", "chin", "mouth_l"]


@pytest.fixture
def shard_info() -> ShardInfo:
    return ShardInfo(list(NAMES), ["aflw", "300w", "wflw"], ["aflw21", "ibug68", "wflw98"], SIZE, 0.25)


@pytest.fixture
def shard_rows() -> list[Sample]:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(53):
        rows.append(Sample(
            image=rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
            landmarks=rng.normal(10, 5, (len(NAMES), 2)).astype(np.float32),
            mask=rng.random(len(NAMES)) > 0.3,
            source=i % 3, scheme=(i + 1) % 3,
            split=("train", "val", "test")[i % 3 if i % 5 else 0],
            sample_id=f"folder/ïmage_{i:03d}.jpg#{i % 2}",
            crop_to_image=rng.normal(size=(2, 3)).astype(np.float32),
            norm_size=float(rng.uniform(50, 90)),
            yaw=math.nan if i % 4 == 0 else float(rng.uniform(-90, 90)),
        ))
    return rows


def assert_rows_equal(batch: dict, rows: list[Sample]) -> None:
    """Every field of ``batch`` equals the rows it was written from."""
    np.testing.assert_array_equal(batch["images"], np.stack([r.image for r in rows]))
    np.testing.assert_array_equal(batch["landmarks"], np.stack([r.landmarks for r in rows]))
    np.testing.assert_array_equal(batch["mask"], np.stack([r.mask for r in rows]))
    assert batch["source"].tolist() == [r.source for r in rows]
    assert batch["scheme"].tolist() == [r.scheme for r in rows]
    assert list(batch["split"]) == [r.split for r in rows]
    assert list(batch["sample_id"]) == [r.sample_id for r in rows]
    np.testing.assert_array_equal(batch["crop_to_image"], np.stack([r.crop_to_image for r in rows]))
    np.testing.assert_array_equal(batch["norm_size"], np.float32([r.norm_size for r in rows]))
    np.testing.assert_array_equal(batch["yaw"], np.float32([r.yaw for r in rows]))
    assert batch["images"].dtype == np.uint8 and batch["landmarks"].dtype == np.float32
    assert batch["mask"].dtype == bool and batch["norm_size"].dtype == np.float32


def write(path, info, rows, splits=(0, 5, 21, 53)):
    writer = create_writer(path, info)
    for lo, hi in zip(splits[:-1], splits[1:], strict=True):
        writer.append(stack_samples(rows[lo:hi], info.crop_size, len(info.landmark_names)))
    writer.close()
    return open_shards(path)


def check_roundtrip(path, info, rows):
    shards = write(path, info, rows)
    assert len(shards) == len(rows)
    assert shards.landmark_names == info.landmark_names
    assert shards.source_names == info.source_names
    assert shards.scheme_names == info.scheme_names
    assert shards.crop_size == info.crop_size and shards.info.margin == info.margin
    assert shards.info.format_version == FORMAT_VERSION
    assert_rows_equal(shards.get_batch(range(len(rows))), rows)
    order = [40, 3, 3, 52, 0, 17, 16]
    assert_rows_equal(shards.get_batch(order), [rows[i] for i in order])
    row = shards.get(-1)
    assert row["sample_id"] == rows[-1].sample_id and row["source"] == rows[-1].source
    np.testing.assert_array_equal(row["images"], rows[-1].image)
    meta = shards.meta()
    assert list(meta.columns) == ["source", "scheme", "split", "sample_id", "yaw", "norm_size"]
    assert meta["source"].tolist() == [info.source_names[r.source] for r in rows]
    assert meta["source"].cat.codes.tolist() == [r.source for r in rows]
    assert meta["scheme"].tolist() == [info.scheme_names[r.scheme] for r in rows]
    assert meta["sample_id"].tolist() == [r.sample_id for r in rows]
    np.testing.assert_array_equal(meta["yaw"].to_numpy(), np.float32([r.yaw for r in rows]))
    chunks = list(shards.iter_columns(("mask", "split"), chunk=10))
    assert [start for start, _ in chunks] == list(range(0, len(rows), 10))
    np.testing.assert_array_equal(np.concatenate([c["mask"] for _, c in chunks]),
                                  np.stack([r.mask for r in rows]))
    clone = pickle.loads(pickle.dumps(shards))
    assert_rows_equal(clone.get_batch([7, 8]), rows[7:9])
    return shards


def check_dataloader_spawn(shard_sets, rows):
    """Two spawned DataLoader workers open the files themselves and read every row of each set."""
    import torch
    from torch.utils.data import ConcatDataset, DataLoader

    loader = DataLoader(ConcatDataset(shard_sets), batch_size=8, shuffle=False, num_workers=2,
                        multiprocessing_context=multiprocessing.get_context("spawn"))
    images, ids = [], []
    for batch in loader:
        assert isinstance(batch["images"], torch.Tensor)
        images.append(batch["images"].numpy())
        ids.extend(batch["sample_id"])
    expected = np.stack([r.image for r in rows])
    np.testing.assert_array_equal(np.concatenate(images), np.concatenate([expected] * len(shard_sets)))
    assert ids == [r.sample_id for r in rows] * len(shard_sets)


def check_reopens_after_fork(shards, rows, index=30):
    """A forked child, given a set already opened by its parent, opens its own handle and reads a row."""
    shards.get(0)  # opened in this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must open its own handle
        try:
            ok = shards.get(index)["sample_id"] == rows[index].sample_id
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"


@pytest.fixture
def checks() -> SimpleNamespace:
    """The shared helpers: ``write``, ``check_roundtrip``, ``check_dataloader_spawn``,
    ``check_reopens_after_fork``, ``rows_equal``."""
    return SimpleNamespace(write=write, check_roundtrip=check_roundtrip,
                           check_dataloader_spawn=check_dataloader_spawn,
                           check_reopens_after_fork=check_reopens_after_fork, rows_equal=assert_rows_equal)

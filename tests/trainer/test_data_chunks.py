import multiprocessing
import shutil

import h5py
import numpy as np
import pytest

from trainer.data import open_shard_set
from trainer.data_chunks import Hdf5ImageIndex
from trainer.data_pages import NotLocatable
from trainer.data_rows import ImageReader


def _stored(path, rows):
    return open_shard_set(str(path)).get_batch(np.asarray(rows), ("images",))["images"]


def test_the_index_copies_the_stored_crops_in_the_order_asked(small_shards):
    with h5py.File(small_shards, "r") as f:
        index = Hdf5ImageIndex(small_shards, f["images"])
    rows = np.array([31, 0, 7, 7, 19, 2])  # unsorted, one repeated
    assert index.covers(rows)
    assert np.array_equal(index.read(rows), _stored(small_shards, rows))


def test_the_reader_uses_the_index_and_reads_alike_in_a_forked_worker(small_shards):
    reader = ImageReader(open_shard_set(str(small_shards)))
    rows = np.array([5, 30, 1])
    assert np.array_equal(reader.read(rows), _stored(small_shards, rows))
    assert isinstance(reader._direct, Hdf5ImageIndex)
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        forked = pool.apply(reader.read, (rows[::-1],))
    assert np.array_equal(forked, _stored(small_shards, rows[::-1]))


def _recompressed(source, target):
    """``source`` with its images dataset stored lzf-compressed (one chunk per row as before)."""
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        images = f["images"][...]
        attrs = dict(f["images"].attrs)
        del f["images"]
        d = f.create_dataset("images", data=images, chunks=(1, *images.shape[1:]), compression="lzf",
                             maxshape=(None, *images.shape[1:]))
        d.attrs.update(attrs)
    return target


def test_compressed_images_are_not_located_and_the_reader_falls_back(small_shards, tmp_path):
    packed = _recompressed(small_shards, tmp_path / "lzf.h5")
    with h5py.File(packed, "r") as f, pytest.raises(NotLocatable):
        Hdf5ImageIndex(packed, f["images"])
    reader = ImageReader(open_shard_set(str(packed)))
    rows = np.array([3, 11])
    assert np.array_equal(reader.read(rows), _stored(small_shards, rows))
    assert reader._direct is None


def test_an_unwritten_chunk_is_not_covered(tmp_path):
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("images", shape=(4, 8, 8, 3), dtype=np.uint8, chunks=(1, 8, 8, 3))
        d[1] = 7
        d[3] = 9
    with h5py.File(path, "r") as f:
        index = Hdf5ImageIndex(path, f["images"])
    assert index.covers(np.array([1, 3])) and not index.covers(np.array([0, 1]))
    assert (index.read(np.array([3, 1]))[:, 0, 0, 0] == [9, 7]).all()

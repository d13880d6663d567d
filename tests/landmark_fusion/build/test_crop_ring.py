"""Shared crop slots: one file, views in two processes' terms, space reserved up front."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

from landmark_fusion.build import crop_ring
from landmark_fusion.build.crop_ring import CropRing


def test_slots_written_through_one_view_are_read_through_another():
    ring = CropRing.create(slots=3, rows=2, size=8)
    try:
        other = CropRing.attach(ring.spec)  # what a worker does with the spec it was sent
        pixels = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
        other.slot(1)[:] = pixels
        np.testing.assert_array_equal(ring.slot(1), pixels)
        assert not ring.slot(0).any() and not ring.slot(2).any()
        assert os.path.getsize(ring.spec.path) == 3 * 2 * 8 * 8 * 3
        other.close()
        assert Path(ring.spec.path).exists()  # only the owner removes the file
    finally:
        ring.close()
    assert not Path(ring.spec.path).exists()


def test_a_folder_without_room_is_skipped(tmp_path, monkeypatch):
    full, spare = tmp_path / "full", tmp_path / "spare"
    full.mkdir()
    spare.mkdir()
    monkeypatch.setattr(crop_ring, "_ring_folders", lambda: [str(full), str(spare)])
    real_reserve = crop_ring._reserve

    def reserve(fd: int, size: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(full)):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_reserve(fd, size)

    monkeypatch.setattr(crop_ring, "_reserve", reserve)
    ring = CropRing.create(slots=2, rows=1, size=4)
    try:
        assert Path(ring.spec.path).parent == spare
        assert list(full.iterdir()) == []  # the failed attempt left nothing behind
    finally:
        ring.close()
    monkeypatch.setattr(crop_ring, "_ring_folders", lambda: [str(full)])
    assert CropRing.create(slots=2, rows=1, size=4) is None
    assert list(full.iterdir()) == []

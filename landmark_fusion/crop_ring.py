"""Shared-memory slots through which build workers hand their crops to the writing process.

Sending a chunk's crops back through the process pool's result pipe costs a pickle in the worker,
two kernel copies and an unpickle in the writing process, which shares the CPU with the workers.
With the crops in shared memory instead, the writing process's CPU for 600 images with 2 workers
fell from 0.21–0.25 s to 0.15–0.17 s, most of the rest being the HDF5 writes (docs/benchmarks.md).
Instead the build maps one file of ``slots`` fixed slots (in ``/dev/shm`` where it exists): each
in-flight chunk owns a slot, its worker writes the crops there, and only the small fields travel
through the pipe. A slot is reused only after the writer has consumed the chunk that held it.
"""
from __future__ import annotations

import mmap
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RingSpec:
    """Where the ring lives and its shape; small and picklable (sent to every worker)."""

    path: str
    slots: int
    rows: int        # crops per slot
    size: int        # crop side in pixels

    @property
    def slot_bytes(self) -> int:
        return self.rows * self.size * self.size * 3


def _ring_folders() -> list[str]:
    """Where a ring may live, best first: ``/dev/shm`` (memory-backed), then the temporary folder."""
    shm = "/dev/shm"
    folders = [shm] if os.path.isdir(shm) and os.access(shm, os.W_OK) else []
    return folders + [tempfile.gettempdir()]


def _reserve(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of real storage (``posix_fallocate``), else at least its length."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
    else:
        os.ftruncate(fd, size)


class CropRing:
    """A mapped file of ``slots`` × ``rows`` crops of ``size``² RGB pixels."""

    def __init__(self, spec: RingSpec, owner: bool) -> None:
        self.spec = spec
        self.owner = owner
        fd = os.open(spec.path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, spec.slots * spec.slot_bytes)
        finally:
            os.close(fd)
        self._array = np.frombuffer(self._map, dtype=np.uint8).reshape(
            spec.slots, spec.rows, spec.size, spec.size, 3)

    @classmethod
    def create(cls, slots: int, rows: int, size: int) -> "CropRing | None":
        """A new ring file, removed again by :meth:`close`; None where no folder has the room.

        The file's space is reserved up front: a sparse file on a full ``/dev/shm`` (64 MiB in
        many containers) would kill the process that first touches a missing page (SIGBUS).
        """
        for folder in _ring_folders():
            path = Path(folder) / f"landmark-fusion-{os.getpid()}-{uuid.uuid4().hex[:8]}.ring"
            spec = RingSpec(str(path), slots, rows, size)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError:
                continue
            try:
                _reserve(fd, slots * spec.slot_bytes)
            except OSError:
                os.close(fd)
                path.unlink(missing_ok=True)
                continue
            os.close(fd)
            return cls(spec, owner=True)
        return None

    @classmethod
    def attach(cls, spec: RingSpec) -> "CropRing":
        """The ring made by another process (a worker's view of it)."""
        return cls(spec, owner=False)

    def slot(self, index: int) -> np.ndarray:
        """The (rows, size, size, 3) uint8 array of one slot (a view into the shared map)."""
        return self._array[index]

    def close(self) -> None:
        """Drop this process's view; the owner also removes the file."""
        self._array = None
        try:
            self._map.close()
        except BufferError:  # a view is still referenced somewhere: the map goes with it
            pass
        if self.owner:
            try:
                os.unlink(self.spec.path)
            except FileNotFoundError:
                pass

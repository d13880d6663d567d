"""Shared-memory slots through which build workers hand their crops to the writing process.

Sending a chunk's crops back through the process pool's result pipe costs a pickle in the worker,
two kernel copies and an unpickle in the writing process, which shares the CPU with the workers.
With the crops in shared memory instead, the writing process's CPU for 600 images with 2 workers
fell from 0.21–0.25 s to 0.15–0.17 s, most of the rest being the HDF5 writes (docs/benchmarks.md).
Instead the build maps one file of ``slots`` fixed slots (in ``/dev/shm`` where it exists): each
in-flight chunk owns a slot, its worker writes the crops there, and only the small fields travel
through the pipe. A slot is reused only after the writer has consumed the chunk that held it.

The file's name carries its owner's host and pid (``landmark-fusion-HOST-PID-XXXXXXXX.ring``): the
owner removes it when it closes the ring, and a ring whose owner was killed (SIGKILL) is removed by
the next build that makes one (:func:`remove_stale_rings`).
"""
from __future__ import annotations

import mmap
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..lifetime import HOST, TAG_PATTERN, owner_gone, process_tag, signals_deferred

RING_PREFIX = "landmark-fusion-"
RING_SUFFIX = ".ring"
#: ``landmark-fusion-HOST-PID-XXXXXXXX.ring``: a ring and the process that made it (earlier
#: versions wrote ``landmark-fusion-PID-XXXXXXXX.ring``, without the host).
RING_NAME = re.compile(rf"^{re.escape(RING_PREFIX)}(?:{TAG_PATTERN}|(?P<legacy_pid>\d+))"
                       rf"-[0-9a-f]{{8}}{re.escape(RING_SUFFIX)}$")


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


def _own(status: os.stat_result) -> bool:
    return not hasattr(os, "getuid") or status.st_uid == os.getuid()


def remove_stale_rings(folders: list[str] | None = None) -> list[Path]:
    """Remove the rings of builds that are no longer running (on this machine, of this user).

    Only files named like a ring (:data:`RING_NAME`) whose owning process is gone are touched.
    """
    removed = []
    for folder in folders if folders is not None else _ring_folders():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = RING_NAME.match(entry.name)
            if match is None:
                continue
            host, pid = (match["host"], match["pid"]) if match["pid"] else (HOST, match["legacy_pid"])
            if not owner_gone(host, pid):
                continue
            try:
                if not entry.is_file(follow_symlinks=False) or not _own(entry.stat(follow_symlinks=False)):
                    continue
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(Path(entry.path))
    return removed


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
        self._array: np.ndarray | None = np.frombuffer(self._map, dtype=np.uint8).reshape(
            spec.slots, spec.rows, spec.size, spec.size, 3)

    @classmethod
    def create(cls, slots: int, rows: int, size: int) -> CropRing | None:
        """A new ring file, removed again by :meth:`close`; None where no folder has the room.

        The file's space is reserved up front: a sparse file on a full ``/dev/shm`` (64 MiB in
        many containers) would kill the process that first touches a missing page (SIGBUS).
        """
        folders = _ring_folders()
        remove_stale_rings(folders)
        for folder in folders:
            path = Path(folder) / f"{RING_PREFIX}{process_tag()}-{uuid.uuid4().hex[:8]}{RING_SUFFIX}"
            ring = None
            try:
                with signals_deferred():  # no signal between making the file and owning it
                    ring = cls._make(RingSpec(str(path), slots, rows, size))
            except BaseException:  # the signal, acted on when the block ends
                if ring is not None:
                    ring.close()
                raise
            if ring is not None:
                return ring
        return None

    @classmethod
    def _make(cls, spec: RingSpec) -> CropRing | None:
        """The ring file of ``spec``, created and mapped; None (nothing left) where it cannot be."""
        path = Path(spec.path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return None
        try:
            _reserve(fd, spec.slots * spec.slot_bytes)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            return None
        os.close(fd)
        try:
            return cls(spec, owner=True)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    @classmethod
    def attach(cls, spec: RingSpec) -> CropRing:
        """The ring made by another process (a worker's view of it)."""
        return cls(spec, owner=False)

    def slot(self, index: int) -> np.ndarray:
        """The (rows, size, size, 3) uint8 array of one slot (a view into the shared map)."""
        if self._array is None:
            raise ValueError(f"{self.spec.path}: the crop ring is closed")
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

"""What a build does per work item: read it, decode its image, check, crop and unify its faces.

A process that works for a build is prepared once by :func:`init_worker` (given the build's
:class:`~.context.WorkerContext`) and then turns chunks of work items into
:class:`~.results.ChunkResult` objects with :func:`process_chunk`: the kept rows of a chunk as one
column batch (a few contiguous arrays pickle far faster than one object per row), and every
rejection with its reason. Any exception becomes a rejection (``internal_error``), never a failed
build. An engine (:mod:`.engine`) is handed these two functions and runs them wherever it runs the
work: in the building process itself with ``--workers 0``, in pool workers otherwise.

OpenCV is imported inside the functions that use it: a pool's server process imports it once for
all its workers (:func:`preload_modules`), and a building process that leaves the work to workers
never needs it (``import`` of this module stays cheap for the command line).
"""
from __future__ import annotations

import math
import signal
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .. import unify as unify_module
from ..correspondence import install_loaded, load_scheme
from ..crop import box_around, box_maps, extent_norm_sizes, reduction_for, resample_box
from ..imageio import Decoded, decode_image
from ..lifetime import end_with
from ..paths import use_correspondences
from ..roots import Root
from ..shards.schema import empty_batch
from ..sources import SOURCES, get_source
from ..sources.base import RawFace, Rejected, SourceError, check_points, check_within_image, usable_extents
from ..unify import unify_many
from .allocator import reuse_large_buffers
from .context import WorkerContext
from .crop_ring import CropRing
from .forkserver import WORK_MODULES
from .results import ChunkResult, internal_error, item_label
from .settings import BuildSettings

#: Reason of a face none of whose visible points has a canonical name.
NO_CANONICAL_POINTS = "no_canonical_points"

_CONTEXT: WorkerContext | None = None
_READERS: dict[str, Any] = {}
_RING: CropRing | None = None


def preload_modules(roots: list[Root]) -> list[str]:
    """Modules a process pool's server imports once, so that every worker starts with them loaded:
    :data:`~.forkserver.WORK_MODULES` (this module and OpenCV) and the readers of ``roots``.

    Each worker would otherwise import OpenCV (about 0.15 s of CPU), this module and its readers
    itself at the start of every build. The correspondence files come validated with the context,
    so neither PyYAML nor the checks (and pydantic, 0.1 s) are needed. Importing OpenCV in the server
    is fork-safe: its own thread pool is created only by the first parallel operation, which the
    server never runs (each worker sets one thread before its first), and the one thread the
    import starts belongs to the bundled OpenBLAS, which shuts its threads down around ``fork``.
    """
    readers = {SOURCES[root.name].split(":")[0] for root in roots if root.name in SOURCES}
    return [*WORK_MODULES, *sorted(readers)]


def init_worker(context: WorkerContext) -> None:
    """Prepare this process for the work: one OpenCV thread, fixed malloc thresholds, the context
    and the ring, the build's correspondence folder and its files as validated by the building
    process; a pool worker also ends with the building process and leaves Ctrl-C to it (the
    building process stops the pool)."""
    global _CONTEXT, _RING
    import cv2

    if context.builder_pid is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        end_with(context.builder_pid)
    cv2.setNumThreads(1)  # one decode per process; the pool provides the parallelism
    reuse_large_buffers()  # no page faults for every decoded frame (see allocator.py)
    if context.corr_dir is not None:
        use_correspondences(context.corr_dir)
    install_loaded(context.correspondences)
    scheme_size.cache_clear()  # both are cached by scheme name only: a new build may use
    unify_module._cached_mapping.cache_clear()  # another folder in the same process (--workers 0)
    _CONTEXT = context
    _READERS.clear()
    _RING = CropRing.attach(context.ring) if context.ring is not None else None


def _context() -> WorkerContext:
    """This worker's context (set by :func:`init_worker`)."""
    if _CONTEXT is None:
        raise RuntimeError("the build worker was not initialised (init_worker)")
    return _CONTEXT


def _reader(name: str):
    reader = _READERS.get(name)
    if reader is None:
        root = _context().roots[name]
        reader = get_source(name)(root.path, **root.options)
        _READERS[name] = reader
    return reader


@cache
def scheme_size(scheme: str) -> int:
    """Number of native points of a scheme (cached per process: loading validates the YAML)."""
    return load_scheme(scheme).num_points


#: ``(x_min, y_min, x_max, y_max)`` of a face's visible points.
Extent = tuple[float, float, float, float]


def read_item(name: str, item: Any) -> list[RawFace | Rejected]:
    """The records of one work item; a reader that fails rejects the item, never the build."""
    try:
        return list(_reader(name).read(item))
    except SourceError as error:
        return [Rejected(name, item_label(item), error.reason, error.detail)]
    except Exception as error:  # noqa: BLE001 - a reader bug rejects the item, not the build
        return [internal_error(name, item_label(item), error)]


@dataclass
class FaceTable:
    """The faces of a chunk as arrays, one group per scheme: what the checks, the unification and
    the landmarks' move into the crops do for all faces at once.

    ``extents[i]`` is face ``i``'s checked extent or the error its points gave; ``groups`` holds,
    per scheme, the unified points (in the image's frame) and masks of its faces, and
    ``where[i]`` face ``i``'s group and row there."""

    faces: list[RawFace]
    extents: list[Extent | Exception]
    groups: list[tuple[np.ndarray, np.ndarray]]       # per scheme: (n, L, 2) targets, (n, L) mask
    where: list[tuple[int, int]]                      # per face: (group, row), (-1, -1) if none

    def has_canonical(self, index: int) -> bool:
        group, row = self.where[index]
        return group >= 0 and bool(self.groups[group][1][row].any())


def face_table(faces: list[RawFace], landmark_names: tuple[str, ...]) -> FaceTable:
    """Check and unify every face of a chunk (see :class:`FaceTable`).

    Faces of one scheme whose arrays have the scheme's shape are checked together
    (:func:`~..sources.base.usable_extents`); any face that fails there, or has arrays of another
    shape, is checked alone by :func:`~..sources.base.check_points`, which names the problem. A
    scheme that cannot be loaded or unified rejects its own faces only, with that error."""
    extents: list[Extent | Exception | None] = [None] * len(faces)
    where = [(-1, -1)] * len(faces)
    by_scheme: dict[str, list[int]] = {}
    for index, face in enumerate(faces):
        by_scheme.setdefault(face.scheme, []).append(index)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for scheme, indices in by_scheme.items():
        try:
            stacked, boxes, usable, group = _scheme_group(faces, scheme, indices, landmark_names)
        except Exception as error:  # noqa: BLE001 - e.g. an unknown scheme (a reader bug)
            for index in indices:
                extents[index] = error
            continue
        if group is not None:
            for row, (index, extent, ok) in enumerate(zip(stacked, boxes, usable, strict=True)):
                where[index] = (len(groups), row)
                if ok:
                    x_min, y_min, x_max, y_max = extent
                    extents[index] = (x_min, y_min, x_max, y_max)
            groups.append(group)
        for index in indices:
            if extents[index] is None:
                try:
                    extents[index] = face_extent(faces[index])
                except Exception as error:  # noqa: BLE001 - named per face by process_chunk
                    extents[index] = error
    return FaceTable(faces, extents, groups, where)  # type: ignore[arg-type]


def _scheme_group(faces: list[RawFace], scheme: str, indices: list[int],
                  landmark_names: tuple[str, ...]
                  ) -> tuple[list[int], list[list[float]], list[bool], tuple[np.ndarray, np.ndarray] | None]:
    """The faces of ``indices`` (one scheme) whose arrays have its shape, their extents and
    whether each is usable, and their unified points and masks (None if no face has the shape)."""
    expected = scheme_size(scheme)
    stacked = [i for i in indices if np.shape(faces[i].points) == (expected, 2)
               and np.shape(faces[i].visible) == (expected,)]
    if not stacked:
        return stacked, [], [], None
    points = np.array([faces[i].points for i in stacked], dtype=np.float64)
    visible = np.array([faces[i].visible for i in stacked], dtype=bool)
    boxes, usable = usable_extents(points, visible)
    return stacked, boxes.tolist(), usable.tolist(), unify_many(points, visible, scheme, landmark_names)


def face_extent(face: RawFace) -> Extent:
    """The checked extent of a face's visible points (:func:`~..sources.base.check_points`; the
    image's size is checked once it is decoded)."""
    return check_points(np.asarray(face.points, dtype=np.float64),
                        np.asarray(face.visible, dtype=bool), scheme_size(face.scheme),
                        face.image_path)


def image_reductions(faces: list[RawFace], extents: list[Extent | Exception],
                     settings: BuildSettings) -> dict[Path, int]:
    """Per image, the decode reduction all its usable faces allow (the smallest of theirs); 1 for
    every image when ``settings.reduced_decode`` is off."""
    reductions: dict[Path, int] = {}
    for face, extent in zip(faces, extents, strict=True):
        wanted = 1
        if settings.reduced_decode and isinstance(extent, tuple):
            side = box_around(extent, settings.margin)[2]
            wanted = reduction_for(side, settings.crop_size) if math.isfinite(side) else 1
        reductions[face.image_path] = min(wanted, reductions.get(face.image_path, wanted))
    return reductions


def crop_face(decoded: Decoded, box: tuple[float, float, float], settings: BuildSettings,
              scratch: np.ndarray, out: np.ndarray) -> None:
    """One face's crop of a decoded image, written into ``out`` in RGB order: resampled straight
    into it from RGB pixels, from BGR ones into ``scratch`` (a crop-sized array) first."""
    import cv2

    if decoded.channels == "RGB":
        resample_box(decoded.pixels, *box, settings.crop_size, decoded.reduction, out=out)
        return
    resample_box(decoded.pixels, *box, settings.crop_size, decoded.reduction, out=scratch)
    cv2.cvtColor(scratch, cv2.COLOR_BGR2RGB, dst=out)


@dataclass
class KeptFaces:
    """Which faces of a chunk became rows, with their crop boxes, in row order."""

    index: list[int] = field(default_factory=list)    # into the chunk's faces
    boxes: list[tuple[float, float, float]] = field(default_factory=list)  # (x0, y0, side)


def chunk_rows(table: FaceTable, kept: KeptFaces, images: np.ndarray, context: WorkerContext
               ) -> dict[str, np.ndarray]:
    """The column batch of the kept faces (see :func:`~..shards.schema.stack_samples`): their
    landmarks moved into the crops, the maps back to the images and the normalising sizes, for
    all rows at once (the crop map is a pure scale + shift, :func:`~..crop.box_maps`)."""
    n = len(kept.index)
    size = context.settings.crop_size
    batch = empty_batch(n, size, len(context.landmark_names), with_images=False)
    batch["images"] = images
    scale, shift, inverse = box_maps(np.array(kept.boxes, dtype=np.float64).reshape(n, 3), size)
    for group, (targets, masks) in enumerate(table.groups):
        rows = [r for r, i in enumerate(kept.index) if table.where[i][0] == group]
        if not rows:
            continue
        members = [table.where[kept.index[r]][1] for r in rows]
        mask = masks[members]
        moved = targets[members] * scale[rows, None, None] + shift[rows, None, :]
        batch["landmarks"][rows] = np.where(mask[..., None], moved, 0.0)
        batch["mask"][rows] = mask
    extents = np.array([table.extents[i] for i in kept.index], dtype=np.float64).reshape(n, 4)
    batch["norm_size"][:] = scale * extent_norm_sizes(extents)
    batch["crop_to_image"][:] = inverse
    faces = [table.faces[i] for i in kept.index]
    batch["source"][:] = [context.source_codes[face.source] for face in faces]
    batch["scheme"][:] = [context.scheme_codes[face.scheme] for face in faces]
    batch["yaw"][:] = [float(face.yaw) if face.yaw is not None else math.nan for face in faces]
    batch["split"][:] = [face.split for face in faces]
    batch["sample_id"][:] = [face.sample_id for face in faces]
    return batch


def _chunk_images(slot: int | None, count: int, size: int) -> tuple[np.ndarray, bool]:
    """Where a chunk's ``count`` crops go: ring ``slot`` where it has room (True), else a new array."""
    if slot is not None and _RING is not None and count <= _RING.spec.rows:
        return _RING.slot(slot)[:count], True
    return np.empty((count, size, size, 3), dtype=np.uint8), False


def process_chunk(tasks: list[tuple[str, Any]], slot: int | None = None) -> ChunkResult:
    """Worker entry point: the results of a few items, in order, the rows stacked into columns.

    The points of every face of the chunk are checked and unified first, all at once; each image
    is then decoded once for all its faces, at the reduction they all allow, and each face cropped
    straight into the chunk's image array. Given a ring ``slot`` (and room in it), that array is
    the slot and the crops are left out of ``rows``.
    """
    context = _context()
    settings = context.settings
    records = [read_item(name, item) for name, item in tasks]
    faces = [record for item in records for record in item if isinstance(record, RawFace)]
    table = face_table(faces, context.landmark_names)
    reductions = image_reductions(faces, table.extents, settings)
    size = settings.crop_size
    images, ring = _chunk_images(slot, len(faces), size)
    scratch = np.empty((size, size, 3), dtype=np.uint8)
    kept_faces = KeptFaces()
    rejected: list[list[Rejected]] = []
    kept: list[int] = []
    index = 0
    for item in records:
        before = len(kept_faces.index)
        rejections: list[Rejected] = []
        decoded: dict[Path, Decoded | SourceError] = {}
        for face in item:
            if isinstance(face, Rejected):
                rejections.append(face)
                continue
            extent = table.extents[index]
            try:
                if isinstance(extent, Exception):
                    raise extent
                image = decoded.get(face.image_path)
                if image is None:
                    try:
                        image = decode_image(face.image_path, settings.max_pixels,
                                             reductions[face.image_path])
                    except SourceError as error:
                        image = error
                    decoded[face.image_path] = image
                if isinstance(image, SourceError):
                    raise image
                check_within_image(extent, image.size, face.image_path)
                if not table.has_canonical(index):
                    raise SourceError(NO_CANONICAL_POINTS,
                                      f"{face.image_path}: no visible point of scheme "
                                      f"{face.scheme} has a canonical name")
                box = box_around(extent, settings.margin)
                crop_face(image, box, settings, scratch, images[len(kept_faces.index)])
                kept_faces.index.append(index)
                kept_faces.boxes.append(box)
            except SourceError as error:
                rejections.append(Rejected(face.source, face.sample_id, error.reason, error.detail))
            except Exception as error:  # noqa: BLE001
                rejections.append(internal_error(face.source, face.sample_id, error))
            index += 1
        rejected.append(rejections)
        kept.append(len(kept_faces.index) - before)
    if not kept_faces.index:
        return ChunkResult(rejected, kept, None)
    rows = chunk_rows(table, kept_faces, images[:len(kept_faces.index)], context)
    if ring:
        del rows["images"]
        return ChunkResult(rejected, kept, rows, image_slot=slot)
    return ChunkResult(rejected, kept, rows)

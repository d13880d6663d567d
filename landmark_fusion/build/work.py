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
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .. import unify as unify_module
from ..correspondence import install_loaded, load_scheme
from ..crop import box_around, crop_box_image, extent_norm_size, reduction_for
from ..imageio import decode_image
from ..lifetime import end_with
from ..paths import use_correspondences
from ..roots import Root
from ..shards import stack_samples
from ..shards.schema import Sample
from ..sources import SOURCES, get_source
from ..sources.base import RawFace, Rejected, SourceError, check_points, check_within_image
from ..unify import unify
from .allocator import reuse_large_buffers
from .context import WorkerContext
from .crop_ring import CropRing
from .results import ChunkResult, internal_error, item_label
from .settings import BuildSettings

#: Reason of a face none of whose visible points has a canonical name.
NO_CANONICAL_POINTS = "no_canonical_points"

_CONTEXT: WorkerContext | None = None
_READERS: dict[str, Any] = {}
_RING: CropRing | None = None


def preload_modules(roots: list[Root]) -> list[str]:
    """Modules a process pool's server imports once, so that every worker starts with them loaded.

    Each worker would otherwise import OpenCV (about 0.15 s of CPU), ``unify`` and its readers
    itself at the start of every build. The correspondence files come validated with the context,
    so neither PyYAML nor the checks (and pydantic, 0.1 s) are needed. Importing OpenCV in the server
    is fork-safe: its own thread pool is created only by the first parallel operation, which the
    server never runs (each worker sets one thread before its first), and the one thread the
    import starts belongs to the bundled OpenBLAS, which shuts its threads down around ``fork``.
    """
    readers = {SOURCES[root.name].split(":")[0] for root in roots if root.name in SOURCES}
    return [__name__, "cv2", load_scheme.__module__, unify_module.__name__, *sorted(readers)]


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


def face_extent(face: RawFace) -> Extent:
    """The checked extent of a face's visible points (:func:`~..sources.base.check_points`; the
    image's size is checked once it is decoded)."""
    return check_points(np.asarray(face.points, dtype=np.float64),
                        np.asarray(face.visible, dtype=bool), scheme_size(face.scheme),
                        face.image_path)


def make_sample(face: RawFace, image: np.ndarray, context: WorkerContext, bgr: bool = False,
                reduction: int = 1, full_size: tuple[int, int] | None = None,
                extent: Extent | None = None) -> Sample:
    """Crop and unify one face of a decoded image into a shard row.

    ``bgr``: the image is in OpenCV's BGR order; only the crop is converted to RGB.
    ``reduction``: the image was decoded at ``1/reduction`` of its ``full_size`` (width, height),
    the frame the face's points are in. ``extent``: the face's :func:`face_extent`, where it was
    computed already (it is checked against the image's size here).
    """
    import cv2

    settings = context.settings
    if full_size is None:
        full_size = (image.shape[1], image.shape[0])
    points = np.asarray(face.points, dtype=np.float64)
    visible = np.asarray(face.visible, dtype=bool)
    if extent is None:
        extent = check_points(points, visible, scheme_size(face.scheme), face.image_path,
                              image_size=full_size)
    else:
        check_within_image(extent, full_size, face.image_path)
    crop = crop_box_image(image, *box_around(extent, settings.margin), settings.crop_size,
                          reduction=reduction)
    in_crop = points * crop.scale + crop.image_to_crop[:, 2]  # the crop map is a pure scale + shift
    targets, mask = unify(in_crop, visible, face.scheme, context.landmark_names)
    if not mask.any():
        raise SourceError(NO_CANONICAL_POINTS,
                          f"{face.image_path}: no visible point of scheme {face.scheme} has a "
                          f"canonical name")
    return Sample(
        image=cv2.cvtColor(crop.image, cv2.COLOR_BGR2RGB) if bgr else crop.image,
        landmarks=targets,
        mask=mask,
        source=context.source_codes[face.source],
        scheme=context.scheme_codes[face.scheme],
        split=face.split,
        sample_id=face.sample_id,
        crop_to_image=crop.crop_to_image.astype(np.float32),
        norm_size=crop.scale * extent_norm_size(extent),
        yaw=float(face.yaw) if face.yaw is not None else math.nan,
    )


def face_extents(records: list[RawFace | Rejected]) -> list[Extent | Exception | None]:
    """Per record, its face's :func:`face_extent`, or the error its points gave (None for a
    :class:`Rejected` record)."""
    extents: list[Extent | Exception | None] = []
    for record in records:
        if not isinstance(record, RawFace):
            extents.append(None)
            continue
        try:
            extents.append(face_extent(record))
        except Exception as error:  # noqa: BLE001 - named per face by process_item
            extents.append(error)
    return extents


def image_reductions(records: list[RawFace | Rejected], extents: list[Extent | Exception | None],
                     settings: BuildSettings) -> dict[Path, int]:
    """Per image, the decode reduction all its usable faces allow (the smallest of theirs); 1 for
    every image when ``settings.reduced_decode`` is off."""
    reductions: dict[Path, int] = {}
    for record, extent in zip(records, extents, strict=True):
        if isinstance(record, RawFace):
            wanted = 1
            if settings.reduced_decode and isinstance(extent, tuple):
                side = box_around(extent, settings.margin)[2]
                wanted = reduction_for(side, settings.crop_size) if math.isfinite(side) else 1
            reductions[record.image_path] = min(wanted, reductions.get(record.image_path, wanted))
    return reductions


def process_item(name: str, item: Any, context: WorkerContext) -> list[Sample | Rejected]:
    """Read one work item and turn each of its faces into a row or a rejection.

    The points of every face are checked first; each image is then decoded once for all its
    faces, at the reduction they all allow."""
    try:
        records = list(_reader(name).read(item))
    except SourceError as error:
        return [Rejected(name, item_label(item), error.reason, error.detail)]
    except Exception as error:  # noqa: BLE001 - a reader bug rejects the item, not the build
        return [internal_error(name, item_label(item), error)]
    settings = context.settings
    extents = face_extents(records)
    reductions = image_reductions(records, extents, settings)
    images: dict[Path, tuple[np.ndarray, int, tuple[int, int]] | SourceError] = {}
    out: list[Sample | Rejected] = []
    for record, extent in zip(records, extents, strict=True):
        if isinstance(record, Rejected):
            out.append(record)
            continue
        try:
            if isinstance(extent, Exception):
                raise extent
            decoded = images.get(record.image_path)
            if decoded is None:
                try:
                    decoded = decode_image(record.image_path, settings.max_pixels,
                                           reductions[record.image_path])
                except SourceError as error:
                    decoded = error
                images[record.image_path] = decoded
            if isinstance(decoded, SourceError):
                raise decoded
            image, reduction, full_size = decoded
            out.append(make_sample(record, image, context, bgr=True, reduction=reduction,
                                   full_size=full_size, extent=extent))
        except SourceError as error:
            out.append(Rejected(record.source, record.sample_id, error.reason, error.detail))
        except Exception as error:  # noqa: BLE001
            out.append(internal_error(record.source, record.sample_id, error))
    return out


def process_chunk(tasks: list[tuple[str, Any]], slot: int | None = None) -> ChunkResult:
    """Worker entry point: the results of a few items, in order, the rows stacked into columns.

    Given a ring ``slot`` (and room in it), the crops are written there and left out of ``rows``.
    """
    context = _context()
    rejected: list[list[Rejected]] = []
    kept: list[int] = []
    samples: list[Sample] = []
    for name, item in tasks:
        results = process_item(name, item, context)
        rows = [r for r in results if not isinstance(r, Rejected)]
        rejected.append([r for r in results if isinstance(r, Rejected)])
        kept.append(len(rows))
        samples.extend(rows)
    if not samples:
        return ChunkResult(rejected, kept, None)
    size, count = context.settings.crop_size, len(context.landmark_names)
    if slot is not None and _RING is not None and len(samples) <= _RING.spec.rows:
        batch = stack_samples(samples, size, count, images=_RING.slot(slot)[:len(samples)])
        del batch["images"]
        return ChunkResult(rejected, kept, batch, image_slot=slot)
    return ChunkResult(rejected, kept, stack_samples(samples, size, count))

"""``fuse build``: read every database, crop and unify each face, write one shard output.

Work is spread over processes: the main process walks the readers' ``items()`` (a stream), hands
chunks of items to the workers with a bounded number in flight, and writes the returned rows in
order, so memory does not depend on the number of samples. A worker turns each item into shard
rows or :class:`Rejected` records and sends a chunk's rows back as one column batch (a few
contiguous arrays pickle and unpickle far faster than one object per row, and the main process,
which shares the CPU with the workers, only counts and writes); any exception in a worker becomes a
rejection (``internal_error``), never a failed build. The output is written under a temporary name beside
the target and renamed only when complete.
"""
from __future__ import annotations

import math
import os
import shutil
import time
from collections import deque
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from .crop import (DEFAULT_MARGIN, DEFAULT_SIZE, box_around, crop_box_image, extent_norm_size,
                   landmark_extent)
from .imageio import read_image
from .report import BuildReport
from .roots import Root
from .shards import ShardInfo, concat_batches, create_writer, output_format, stack_samples
from .shards.schema import Sample
from .sources import SOURCES, get_source
from .sources.base import DEFAULT_MAX_PIXELS, RawFace, Rejected, SourceError, check_points

#: Reason of a rejection caused by an unexpected exception (a bug or an unforeseen file problem).
INTERNAL_ERROR = "internal_error"
#: Reason of a face none of whose visible points has a canonical name.
NO_CANONICAL_POINTS = "no_canonical_points"


@dataclass
class BuildSettings:
    """Options of one build (see ``fuse build --help``)."""

    crop_size: int = DEFAULT_SIZE
    margin: float = DEFAULT_MARGIN
    max_pixels: int = DEFAULT_MAX_PIXELS
    limit: int | None = None          # work items per database
    workers: int = 0                  # 0 = in this process
    strict: bool = False
    compression: str | None = None   # HDF5 only: None or "lzf"
    chunk_items: int = 8              # items per task sent to a worker
    batch_rows: int = 64              # rows per write
    progress: bool = True


class BuildFailed(Exception):
    """The build produced no output (``--strict`` rejection or nothing usable)."""

    def __init__(self, message: str, report: BuildReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class WorkerContext:
    """What every worker needs, sent once when the pool starts."""

    roots: dict[str, Root]
    settings: BuildSettings
    landmark_names: tuple[str, ...]
    source_codes: dict[str, int]
    scheme_codes: dict[str, int]


_CONTEXT: WorkerContext | None = None
_READERS: dict[str, Any] = {}


def _init_worker(context: WorkerContext) -> None:
    global _CONTEXT
    import cv2

    from .allocator import reuse_large_buffers

    cv2.setNumThreads(1)  # one decode per process; the pool provides the parallelism
    reuse_large_buffers()  # no page faults for every decoded frame (see allocator.py)
    _CONTEXT = context
    _READERS.clear()


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk of items.

    ``rejected[i]`` and ``kept[i]`` are the rejections and the number of rows of item ``i``;
    ``rows`` holds every kept row of the chunk in item order as one column batch (None if none).
    """

    rejected: list[list[Rejected]]
    kept: list[int]
    rows: dict[str, np.ndarray] | None


def failed_chunk(tasks: list[tuple[str, Any]], error: BaseException) -> ChunkResult:
    """Every item of a chunk rejected as ``internal_error`` (its worker died or its result broke)."""
    return ChunkResult([[_internal(name, item_label(item), error)] for name, item in tasks],
                       [0] * len(tasks), None)


def _reader(name: str):
    reader = _READERS.get(name)
    if reader is None:
        root = _CONTEXT.roots[name]
        reader = get_source(name)(root.path, **root.options)
        _READERS[name] = reader
    return reader


def item_label(item: Any) -> str:
    """A short id for an item whose reader failed before naming its sample."""
    text = item.as_posix() if isinstance(item, Path) else str(item)
    return text if len(text) <= 200 else text[:197] + "..."


def _internal(source: str, sample_id: str, error: BaseException) -> Rejected:
    return Rejected(source, sample_id, INTERNAL_ERROR, f"{type(error).__name__}: {error}")


@lru_cache(maxsize=None)
def scheme_size(scheme: str) -> int:
    """Number of native points of a scheme (cached per process: loading validates the YAML)."""
    from .vocabulary import load_scheme

    return load_scheme(scheme).num_points


def make_sample(face: RawFace, image: np.ndarray, context: WorkerContext, bgr: bool = False
                ) -> Sample:
    """Crop and unify one face of a decoded image into a shard row.

    ``bgr``: the image is in OpenCV's BGR order; only the crop is converted to RGB.
    """
    import cv2

    from .unify import unify

    settings = context.settings
    height, width = image.shape[:2]
    points = np.asarray(face.points, dtype=np.float64)
    visible = np.asarray(face.visible, dtype=bool)
    check_points(points, visible, scheme_size(face.scheme), face.image_path,
                 image_size=(width, height))
    extent = landmark_extent(points, visible)
    crop = crop_box_image(image, *box_around(extent, settings.margin), settings.crop_size)
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


def process_item(name: str, item: Any, context: WorkerContext) -> list[Sample | Rejected]:
    """Read one work item and turn each of its faces into a row or a rejection."""
    try:
        records = list(_reader(name).read(item))
    except SourceError as error:
        return [Rejected(name, item_label(item), error.reason, error.detail)]
    except Exception as error:  # noqa: BLE001 - a reader bug rejects the item, not the build
        return [_internal(name, item_label(item), error)]
    images: dict[Path, np.ndarray | SourceError] = {}
    out: list[Sample | Rejected] = []
    for record in records:
        if isinstance(record, Rejected):
            out.append(record)
            continue
        try:
            image = images.get(record.image_path)
            if image is None:
                try:
                    image = read_image(record.image_path, context.settings.max_pixels, rgb=False)
                except SourceError as error:
                    image = error
                images[record.image_path] = image
            if isinstance(image, SourceError):
                raise image
            out.append(make_sample(record, image, context, bgr=True))
        except SourceError as error:
            out.append(Rejected(record.source, record.sample_id, error.reason, error.detail))
        except Exception as error:  # noqa: BLE001
            out.append(_internal(record.source, record.sample_id, error))
    return out


def process_chunk(tasks: list[tuple[str, Any]]) -> ChunkResult:
    """Worker entry point: the results of a few items, in order, the rows stacked into columns."""
    context = _CONTEXT
    rejected: list[list[Rejected]] = []
    kept: list[int] = []
    samples: list[Sample] = []
    for name, item in tasks:
        results = process_item(name, item, context)
        rows = [r for r in results if not isinstance(r, Rejected)]
        rejected.append([r for r in results if isinstance(r, Rejected)])
        kept.append(len(rows))
        samples.extend(rows)
    settings = context.settings
    batch = (stack_samples(samples, settings.crop_size, len(context.landmark_names))
             if samples else None)
    return ChunkResult(rejected, kept, batch)


def iter_tasks(roots: list[Root], limit: int | None, report: BuildReport
               ) -> Iterator[tuple[str, Any]]:
    """Stream ``(database, item)`` over the selected databases (at most ``limit`` items each).

    A reader whose ``items()`` fails is reported as one rejection and the build goes on.
    """
    for root in roots:
        try:
            reader = get_source(root.name)(root.path, **root.options)
            for item in islice(reader.items(), limit):
                report.add_item(root.name)
                yield root.name, item
        except SourceError as error:
            report.add_rejected(Rejected(root.name, "<items>", error.reason, error.detail))
        except Exception as error:  # noqa: BLE001
            report.add_rejected(_internal(root.name, "<items>", error))


def _chunks(tasks: Iterable, size: int) -> Iterator[list]:
    iterator = iter(tasks)
    while chunk := list(islice(iterator, size)):
        yield chunk


def preload_modules(roots: list[Root]) -> list[str]:
    """Modules the forkserver imports once, so that every worker starts with them loaded.

    Each worker would otherwise import OpenCV (about 0.15 s of CPU), the vocabulary (with PyYAML),
    ``unify`` and its readers itself at the start of every build. Importing OpenCV in the server
    is fork-safe: its own thread pool is created only by the first parallel operation, which the
    server never runs (each worker sets one thread before its first), and the one thread the
    import starts belongs to the bundled OpenBLAS, which shuts its threads down around ``fork``.
    """
    readers = {SOURCES[root.name].split(":")[0] for root in roots if root.name in SOURCES}
    return [__name__, "cv2", "yaml", f"{__package__}.vocabulary", f"{__package__}.unify",
            *sorted(readers)]


def run_tasks(tasks: Iterator[tuple[str, Any]], context: WorkerContext
              ) -> Iterator[ChunkResult]:
    """Results of every chunk of tasks, in order, with at most ``2·workers + 2`` chunks in flight."""
    settings = context.settings
    chunks = _chunks(tasks, settings.chunk_items)
    if settings.workers <= 0:
        _init_worker(context)
        for chunk in chunks:
            yield process_chunk(chunk)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # forkserver: workers fork from a clean server process, never from this one, whose native
    # libraries (OpenCV, HDF5, torch thread pools) may hold locks that a plain fork would copy
    # in a locked state and deadlock on. The server pre-imports the workers' modules once (it
    # lives as long as this process: later builds reuse it and its first preload list).
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(preload_modules(list(context.roots.values())))
    else:
        ctx = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(settings.workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(context,))

    pool = new_pool()
    in_flight: deque = deque()  # (future, chunk, retried)
    limit = 2 * settings.workers + 2
    try:
        while True:
            while len(in_flight) < limit:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                in_flight.append((pool.submit(process_chunk, chunk), chunk, False))
            if not in_flight:
                return
            future, chunk, retried = in_flight.popleft()
            try:
                results = future.result()
            except BrokenProcessPool as error:
                # A worker died (e.g. a crash in a native library): reject this chunk if it had
                # its second chance, and give the other in-flight chunks a fresh pool.
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                pending = [(c, r) for _, c, r in in_flight]
                in_flight.clear()
                if retried:
                    results = failed_chunk(chunk, error)
                else:
                    pending.insert(0, (chunk, True))
                    results = None
                for c, r in pending:
                    in_flight.append((pool.submit(process_chunk, c), c, r or results is None))
                if results is None:
                    continue
            except Exception as error:  # noqa: BLE001 - e.g. a result that does not pickle
                results = failed_chunk(chunk, error)
            yield results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def scheme_names() -> list[str]:
    """Every scheme with a YAML in the correspondence data, sorted (fixes the ``scheme`` codes)."""
    from .vocabulary import list_schemes

    return sorted(list_schemes())


def report_paths(out: Path) -> tuple[Path, Path]:
    """``(<out>.report.json, <out>.rejected.jsonl)`` beside the output."""
    out = Path(out)
    return (out.parent / f"{out.name}.report.json", out.parent / f"{out.name}.rejected.jsonl")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _replace(temporary: Path, out: Path) -> None:
    """Move the finished output into place, replacing an older one."""
    if out.is_dir() and not temporary.is_dir():
        raise IsADirectoryError(f"{out} is a folder; cannot replace it with a file")
    if out.exists() and temporary.is_dir():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(temporary, out)
        _remove(old)
    else:
        os.replace(temporary, out)


def build_shards(roots: list[Root], out: str | os.PathLike, settings: BuildSettings | None = None,
                 fmt: str | None = None) -> BuildReport:
    """Build one shard output from the given databases; returns the report.

    Raises :class:`BuildFailed` (the report attached, no output written) on a ``strict``
    rejection or when no face could be used.
    """
    from tqdm import tqdm

    from .vocabulary import canonical_landmarks

    settings = settings or BuildSettings()
    out = Path(out)
    fmt = fmt or output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report_json, rejected_jsonl = report_paths(out)
    names = [root.name for root in roots]
    report = BuildReport(names, rejected_jsonl)
    report.output = str(out)
    report.settings = {**{k: v for k, v in asdict(settings).items() if k != "progress"},
                       "format": fmt, "sources": names,
                       "roots": {r.name: str(r.path) for r in roots}}
    landmark_names = tuple(canonical_landmarks())
    schemes = scheme_names()
    info = ShardInfo(list(landmark_names), list(SOURCES), schemes, settings.crop_size,
                     settings.margin)
    context = WorkerContext({r.name: r for r in roots}, settings, landmark_names,
                            {name: i for i, name in enumerate(SOURCES)},
                            {name: i for i, name in enumerate(schemes)})
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    _remove(temporary)
    writer = create_writer(temporary, info, fmt, settings.compression)
    started = time.perf_counter()
    pending: list[dict[str, np.ndarray]] = []  # column batches not yet written
    pending_rows = 0
    failure: str | None = None
    try:
        bar = tqdm(unit="item", desc="fuse build", disable=not settings.progress, smoothing=0.05)
        with bar:
            for chunk in run_tasks(iter_tasks(roots, settings.limit, report), context):
                codes = chunk.rows["source"].tolist() if chunk.rows is not None else []
                row = 0
                for rejected, kept in zip(chunk.rejected, chunk.kept):
                    for rejection in rejected:
                        report.add_rejected(rejection)
                    for code in codes[row:row + kept]:
                        report.add_kept(SOURCES_BY_CODE[code])
                    row += kept
                    if settings.strict and report.total_rejected:
                        failure = "strict"
                        break
                if failure is not None:
                    break
                bar.update(len(chunk.kept))
                if chunk.rows is not None:
                    pending.append(chunk.rows)
                    pending_rows += len(codes)
                if pending_rows >= settings.batch_rows:
                    writer.append(concat_batches(pending))
                    pending.clear()
                    pending_rows = 0
                bar.set_postfix(kept=report.total_kept, rejected=report.total_rejected,
                                refresh=False)
        if failure is None and pending:
            writer.append(concat_batches(pending))
        pending.clear()
        if failure is None and report.total_kept == 0:
            failure = "empty"
        if failure is None:
            writer.close()
            _replace(temporary, out)
            report.status = "ok"
        else:
            writer.abort()
            _remove(temporary)
            report.status = "failed_strict" if failure == "strict" else "failed_nothing_usable"
    except BaseException:
        writer.abort()
        _remove(temporary)
        report.status = "error"
        raise
    finally:
        report.seconds = time.perf_counter() - started
        report.close()
        report.write_json(report_json)
    if failure == "strict":
        first = report.first[0] if report.first else {}
        raise BuildFailed(f"--strict: {first.get('source')} {first.get('sample_id')} rejected "
                          f"({first.get('reason')}: {first.get('detail')})", report)
    if failure == "empty":
        raise BuildFailed("no usable face: nothing was written", report)
    return report


#: source code -> database name (codes are the positions in ``SOURCES``).
SOURCES_BY_CODE: dict[int, str] = dict(enumerate(SOURCES))

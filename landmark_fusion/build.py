"""``fuse build``: read every database, crop and unify each face, write one shard output.

The building process walks the readers' ``items()`` (a stream), has the workers turn chunks of
items into rows (:mod:`.build_pool`, :mod:`.build_worker`) and writes the rows in order as they
come back, so memory does not depend on the number of samples. Every rejected sample is counted
and named in the report; the output is written under a temporary name beside the target and
renamed only when complete.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from .build_pool import run_tasks
from .build_worker import WorkerContext, internal_error
from .crop import DEFAULT_MARGIN, DEFAULT_SIZE
from .report import BuildReport
from .roots import Root
from .shards import ShardInfo, create_writer, output_format
from .splits import DeclaredSplits
from .sources import SOURCES, get_source
from .sources.base import DEFAULT_MAX_PIXELS, Rejected, SourceError


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
    progress: bool = True


class BuildFailed(Exception):
    """The build produced no output (``--strict`` rejection or nothing usable)."""

    def __init__(self, message: str, report: BuildReport) -> None:
        super().__init__(message)
        self.report = report


def iter_tasks(roots: list[Root], limit: int | None, report: BuildReport
               ) -> Iterator[tuple[str, Any]]:
    """Stream ``(database, item)`` over the selected databases (at most ``limit`` items each).

    A reader whose ``items()`` fails is reported as one rejection and the build goes on; a
    :class:`Rejected` record that ``items()`` yields (a folder or list line it cannot use) is
    counted here, not sent to a worker.
    """
    for root in roots:
        try:
            reader = get_source(root.name)(root.path, **root.options)
            for item in islice(reader.items(), limit):
                if isinstance(item, Rejected):
                    report.add_rejected(item)
                    continue
                report.add_item(root.name)
                yield root.name, item
        except SourceError as error:
            report.add_rejected(Rejected(root.name, "<items>", error.reason, error.detail))
        except Exception as error:  # noqa: BLE001
            report.add_rejected(internal_error(root.name, "<items>", error))


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
    splits = DeclaredSplits.for_roots(roots)  # roots.yaml ``split:``, fixed before any row
    info.extra["splits"] = splits.attribute()
    context = WorkerContext({r.name: r for r in roots}, settings, landmark_names,
                            {name: i for i, name in enumerate(SOURCES)},
                            {name: i for i, name in enumerate(schemes)})
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    _remove(temporary)
    writer = create_writer(temporary, info, fmt, settings.compression)
    started = time.perf_counter()
    failure: str | None = None
    try:
        # on a terminal the bar redraws 10 times a second; in a log file every 30 s, one line each
        interactive = sys.stderr.isatty()
        bar = tqdm(unit="item", desc="fuse build", disable=not settings.progress, smoothing=0.05,
                   mininterval=0.1 if interactive else 30.0, ascii=None if interactive else True)
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
                    splits.apply(chunk.rows, SOURCES_BY_CODE)
                    writer.append(chunk.rows)  # now: the crops may live in a reused ring slot
                bar.set_postfix(kept=report.total_kept, rejected=report.total_rejected,
                                refresh=False)
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
        splits.record(report)
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

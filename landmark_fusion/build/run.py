"""One ``fuse build``: read every database, crop and unify each face, write one shard output.

The build streams the readers' work items (:mod:`.tasks`) in chunks to an engine (:mod:`.engine`:
this process with ``--workers 0``, else the local process pool of :mod:`.pool`), which runs the
per-item work of :mod:`.work` on them, and writes the rows in order as they come back, so memory
does not depend on the number of samples. Every rejected sample is counted and named in the
report (:mod:`.report`); the output, the report and the rejection list are written under temporary
names beside the target and moved into place together only when complete (:mod:`.output` says
what may be replaced). The correspondence folder is chosen once and used by every worker.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..lifetime import signals_deferred
from ..paths import correspondences_dir, using_correspondences
from ..progress import progress
from ..roots import Root
from ..shards import ShardInfo, create_writer, output_format
from ..sources import SOURCES
from ..splits import DeclaredSplits
from ..correspondence import SCHEMES_DIR, VOCABULARY_FILE, canonical_landmarks, list_schemes
from .context import WorkerContext
from .engine import Engine, InProcessEngine
from .output import (BuildFiles, OutputError, check_target, commit, discard, remove_stale,
                     temporary_path)
from .pool import ProcessPoolEngine
from .report import BuildReport
from .settings import BuildSettings
from .tasks import chunked, iter_tasks
from .work import init_worker, preload_modules, process_chunk

#: source code -> database name (codes are the positions in ``SOURCES``).
SOURCES_BY_CODE: dict[int, str] = dict(enumerate(SOURCES))


class BuildFailed(Exception):
    """The build produced no output (``--strict`` rejection or nothing usable)."""

    def __init__(self, message: str, report: BuildReport) -> None:
        super().__init__(message)
        self.report = report


def scheme_names() -> list[str]:
    """Every scheme with a YAML in the correspondence data, sorted (fixes the ``scheme`` codes)."""
    return sorted(list_schemes())


def report_paths(out: Path) -> tuple[Path, Path]:
    """``(<out>.report.json, <out>.rejected.jsonl)`` beside the output."""
    files = BuildFiles.of(out)
    return files.report, files.rejected


def correspondence_record(folder: Path) -> dict[str, Any]:
    """The correspondence folder a build used and the sha256 of each YAML it read."""
    used = [folder / VOCABULARY_FILE, *sorted((folder / SCHEMES_DIR).glob("*.yaml"))]
    return {"folder": str(folder),
            "sha256": {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in used if p.is_file()}}


def default_engine(settings: BuildSettings, roots: list[Root]) -> Engine:
    """This process for ``settings.workers == 0``, else a local pool of that many workers that
    start with the work's modules (and the readers of ``roots``) loaded."""
    if settings.workers <= 0:
        return InProcessEngine()
    return ProcessPoolEngine(settings.workers, preload_modules(roots))


def build_shards(roots: list[Root], out: str | os.PathLike, settings: BuildSettings | None = None,
                 fmt: str | None = None, engine: Engine | None = None) -> BuildReport:
    """Build one shard output from the given databases; returns the report.

    ``engine``: where the work runs (default: :func:`default_engine` of ``settings``).
    Raises :class:`~.output.OutputError` before reading anything when ``out`` may not be
    written (see :mod:`.output`), :class:`BuildFailed` (the report attached, no output
    written, an older output untouched) on a ``strict`` rejection or when no face could be used.
    """
    settings = settings or BuildSettings()
    out = Path(out)
    fmt = fmt or output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent)
    files = BuildFiles.of(out)
    had_output = check_target(files, fmt, settings.overwrite)
    folder = correspondences_dir(settings.corr_dir).resolve()
    with using_correspondences(folder):
        return _build(roots, files, settings, fmt, folder, had_output,
                      engine or default_engine(settings, roots))


def _build(roots: list[Root], files: BuildFiles, settings: BuildSettings, fmt: str, folder: Path,
           had_output: bool, engine: Engine) -> BuildReport:
    """:func:`build_shards` once the target is checked and the correspondence folder chosen."""
    out = files.output
    landmark_names = tuple(canonical_landmarks())  # validates every scheme before anything is read
    schemes = scheme_names()
    temporary = {name: temporary_path(path) for name, path in
                 (("output", out), ("report", files.report), ("rejected", files.rejected))}
    record = correspondence_record(folder)
    discard(temporary.values())  # left by an earlier build of this process (the same pid)
    names = [root.name for root in roots]
    report = BuildReport(names, temporary["rejected"], rejected_name=files.rejected)
    report.output = str(out)
    report.report_name = files.report
    report.settings = {**{k: v for k, v in asdict(settings).items()
                          if k not in ("progress", "overwrite", "corr_dir")},
                       "format": fmt, "sources": names,
                       "roots": {r.name: str(r.path) for r in roots}}
    report.correspondences = record
    info = ShardInfo(list(landmark_names), list(SOURCES), schemes, settings.crop_size,
                     settings.margin)
    splits = DeclaredSplits.for_roots(roots)  # roots.yaml ``split:``, fixed before any row
    info.extra["splits"] = splits.attribute()
    context = WorkerContext({r.name: r for r in roots}, settings, landmark_names,
                            {name: i for i, name in enumerate(SOURCES)},
                            {name: i for i, name in enumerate(schemes)}, corr_dir=str(folder))
    started = time.perf_counter()
    failure: str | None = None
    writer = None
    try:
        writer = create_writer(temporary["output"], info, fmt, settings.compression)
        # on a terminal the bar redraws 10 times a second; in a log file a line every 30 s
        with progress(unit="item", desc="fuse build", disable=not settings.progress,
                      smoothing=0.05, mininterval=0.1) as bar:
            chunks = chunked(iter_tasks(roots, settings.limit, report), settings.chunk_items)
            results = engine.run(chunks, process_chunk, init_worker, context)
            try:
                for chunk in results:
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
            finally:
                results.close()  # stops the workers now, also when interrupted
        if failure is None and report.total_kept == 0:
            failure = "empty"
        if failure is None:
            writer.close()
            report.status = "ok"
        else:
            writer.abort()
            report.status = "failed_strict" if failure == "strict" else "failed_nothing_usable"
    except BaseException as error:
        if writer is not None:
            writer.abort()
        report.status = "interrupted" if isinstance(error, KeyboardInterrupt) else "error"
        failure = "error"
        raise
    finally:
        report.seconds = time.perf_counter() - started
        splits.record(report)
        report.close()
        _finish(report, files, temporary, fmt, failure is None, had_output)
    if failure == "strict":
        first = report.first[0] if report.first else {}
        raise BuildFailed(f"--strict: {first.get('source')} {first.get('sample_id')} rejected "
                          f"({first.get('reason')}: {first.get('detail')})", report)
    if failure == "empty":
        raise BuildFailed("no usable face: nothing was written", report)
    return report


def _finish(report: BuildReport, files: BuildFiles, temporary: dict[str, Path], fmt: str,
            ok: bool, had_output: bool) -> None:
    """Move the new set into place, or (failed) its report only, where it hides nothing; a signal
    arriving meanwhile acts once this is done.

    After a failure an older output keeps its report: the failed build's report and rejections go
    to ``OUT.failed.report.json`` / ``OUT.failed.rejected.jsonl`` then, else to the usual names.
    """
    with signals_deferred():
        if ok:
            try:
                report.write_json(temporary["report"])
                commit([(temporary["output"], files.output, "output"),
                        (temporary["rejected"], files.rejected, "rejected"),
                        (temporary["report"], files.report, "report")], fmt,
                       remove=[(files.failed_report, "report"), (files.failed_rejected, "rejected")])
            except BaseException:
                discard(temporary.values())
                raise
            return
        discard([temporary["output"]])
        report_name, rejected_name = ((files.failed_report, files.failed_rejected) if had_output
                                      else (files.report, files.rejected))
        report.report_name, report.rejected_name = report_name, rejected_name
        try:
            report.write_json(temporary["report"])
            commit([(temporary["rejected"], rejected_name, "rejected"),
                    (temporary["report"], report_name, "report")], fmt)
        except (OSError, OutputError):  # e.g. the full disk that failed the build
            discard([temporary["rejected"], temporary["report"]])


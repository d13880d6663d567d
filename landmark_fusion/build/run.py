"""One ``fuse build``: read every database, crop and unify each face, write one shard output.

The build streams the readers' work items (:mod:`.tasks`) in chunks to an engine (:mod:`.engine`:
this process with ``--workers 0``, the local process pool of :mod:`.pool`, or a Ray cluster,
:mod:`.ray_engine`), which runs the per-item work of :mod:`.work` on them, and writes the rows in
order as they come back, so memory does not depend on the number of samples. Every rejected sample
is counted and named in the report (:mod:`.report`), in the order of the chunks whatever the
engine; the output, the report and the rejection list are written under temporary names beside the
target and moved into place together only when complete (:mod:`.output` says what may be
replaced). The correspondence folder is chosen once and used by every worker.

A Parquet build records a checkpoint each time a part is complete (:mod:`.resume`), so that
``--resume`` goes on where an interrupted build stopped, and can grow an existing set
(:mod:`.grow`: ``--add``, ``--replace``, ``--drop``) instead of writing a new one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..correspondence import SCHEMES_DIR, VOCABULARY_FILE, canonical_landmarks, list_schemes, loaded_folder
from ..lifetime import signals_deferred
from ..paths import correspondences_dir, using_correspondences
from ..progress import progress
from ..roots import Root
from ..shards import ShardInfo, create_writer, output_format
from ..shards.crops import encoding_attributes
from ..shards.manifest import write_manifest
from ..sources import SOURCES
from ..splits import DeclaredSplits
from .context import WorkerContext
from .engine import Engine, InProcessEngine
from .grow import Grow, GrowPlan, assemble, kept_rejections, merged_splits, plan_grow
from .output import (
    JOURNAL_NAME,
    REJECTED_NAME,
    BuildFiles,
    OutputError,
    check_target,
    commit,
    discard,
    remove_stale,
    temporary_path,
)
from .pool import ProcessPoolEngine
from .report import BuildReport
from .resume import Checkpoint, ResumeError, adopt_leftover, fingerprint, remove_journal, write_journal
from .settings import BuildSettings
from .tasks import ChunkStream, StreamChanged, apply_events
from .work import init_worker, preload_modules, process_chunk

#: source code -> database name (codes are the positions in ``SOURCES``).
SOURCES_BY_CODE: dict[int, str] = dict(enumerate(SOURCES))
#: Settings left out of the report (they do not describe the output).
UNREPORTED_SETTINGS = ("progress", "overwrite", "corr_dir", "ray_address")


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
    """The engine ``settings`` ask for: a Ray cluster (``engine="ray"``), this process
    (``workers == 0``), else a local pool of that many workers that start with the work's
    modules (and the readers of ``roots``) loaded."""
    if settings.engine == "ray":
        from .ray_engine import RayEngine

        return RayEngine(settings.ray_address, settings.workers or None)
    if settings.workers <= 0:
        return InProcessEngine()
    return ProcessPoolEngine(settings.workers, preload_modules(roots))


def build_shards(roots: list[Root], out: str | os.PathLike, settings: BuildSettings | None = None,
                 fmt: str | None = None, engine: Engine | None = None,
                 grow: Grow | None = None) -> BuildReport:
    """Build one shard output from the given databases; returns the report.

    ``engine``: where the work runs (default: :func:`default_engine` of ``settings``).
    ``grow``: change the Parquet set at ``out`` instead (``roots``: the databases it reads).
    ``settings.resume``: go on from an interrupted build of ``out`` where there is one.
    Raises :class:`~.output.OutputError` before reading anything when ``out`` may not be
    written (see :mod:`.output`; :class:`~.resume.ResumeError`, :class:`~.grow.GrowError`),
    :class:`BuildFailed` (the report attached, no output written, an older output untouched) on a
    ``strict`` rejection or when no face could be used.
    """
    settings = settings or BuildSettings()
    out = Path(out)
    fmt = fmt or output_format(out)
    if fmt != "parquet" and settings.resume:
        raise ResumeError(f"{out}: an HDF5 file is written in one pass and cannot be resumed; "
                          "build a Parquet set (--out FOLDER) to be able to resume (docs/shards.md)")
    if fmt == "parquet" and settings.part_rows % 16:
        raise ValueError(f"part_rows {settings.part_rows} is not a multiple of 16 (a row group)")
    if fmt != "parquet" and grow is not None:
        raise OutputError(f"{out}: --add, --replace and --drop grow Parquet sets (--out FOLDER); "
                          "an HDF5 file is one file written in one pass (docs/shards.md)")
    engine = engine or default_engine(settings, roots)
    start = getattr(engine, "start", None)  # a local pool's server imports beside what follows
    if start is not None and roots:  # (the target's checks included: they may import h5py)
        start(process_chunk, init_worker)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = BuildFiles.of(out)
    had_output = True if grow is not None else check_target(files, fmt, settings.overwrite)
    adopted = adopt_leftover(files) if settings.resume else None
    remove_stale(out.parent)  # (never this run's own names, so never the leftover just taken over)
    folder = correspondences_dir(settings.corr_dir).resolve()
    with using_correspondences(folder):
        return _build(roots, files, settings, fmt, folder, had_output, adopted, grow, engine)


@dataclass
class _Start:
    """A chunk's position when its result came back: what a checkpoint there restores."""

    index: int
    label: str
    rows_before: int
    report: dict[str, Any]
    split_counts: dict[str, dict[str, int]]


def _split_counts(splits: DeclaredSplits) -> dict[str, dict[str, int]]:
    return {name: dict(counts) for name, counts in splits.counts.items()}


def _restore_splits(splits: DeclaredSplits, checkpoint: Checkpoint, folder: Path,
                    info: ShardInfo) -> None:
    """The split counts of the checkpoint, and each file rule's matched entries, found again from
    the sample ids of the rows before the checkpoint's chunk."""
    splits.counts = {name: Counter(counts) for name, counts in checkpoint.split_counts.items()}
    if not any(rule.kind == "file" for plan in splits.plans.values() for rule in plan.spec.rules):
        return
    import pyarrow.parquet as pq

    left = checkpoint.rows_before
    for part in checkpoint.parts:
        if left <= 0:
            break
        table = pq.read_table(folder / part["file"], columns=["source", "sample_id"])
        table = table.slice(0, min(left, table.num_rows))
        left -= table.num_rows
        for code, sample_id in zip(table.column("source").to_pylist(),
                                   table.column("sample_id").to_pylist(), strict=False):
            plan = splits.plans.get(SOURCES_BY_CODE[code])
            if plan is not None:
                plan.rule_of(sample_id)


def _build(roots: list[Root], files: BuildFiles, settings: BuildSettings, fmt: str, folder: Path,
           had_output: bool, adopted: tuple[Path, Checkpoint] | None, grow: Grow | None,
           engine: Engine) -> BuildReport:
    """:func:`build_shards` once the target is checked and the correspondence folder chosen."""
    out = files.output
    parquet = fmt == "parquet"
    landmark_names = tuple(canonical_landmarks())  # validates every scheme before anything is read
    schemes = scheme_names()
    record = correspondence_record(folder)
    info = ShardInfo(list(landmark_names), list(SOURCES), schemes, settings.crop_size,
                     settings.margin)
    info.extra.update(encoding_attributes(settings.crop_encoding, settings.jpeg_quality))
    plan = plan_grow(files, grow, list(SOURCES), info.to_attrs()) if grow is not None else None
    read = [root for root in roots if grow is None or root.name in grow.reads]
    splits = DeclaredSplits.for_roots(read)  # roots.yaml ``split:``, fixed before any row
    info.extra["splits"] = splits.attribute()
    operation = {**grow.describe(), "base": plan.manifest["parts"]} if grow is not None and plan is not None else {}
    print_ = fingerprint(settings, read, fmt, record, landmark_names, info.extra["splits"], operation)
    temporary = {name: temporary_path(path) for name, path in
                 (("output", out), ("report", files.report), ("rejected", files.rejected))}
    checkpoint = None
    if adopted is not None:
        checkpoint = adopted[1]
        if checkpoint.fingerprint != print_:
            discard([temporary["output"]])
            raise ResumeError(f"the interrupted build of {out} had other inputs (settings, roots, "
                              "correspondence files, split declarations or the set it grew): its "
                              "work was removed; run the build without --resume")
        discard([temporary["report"], temporary["rejected"]])
    else:
        discard(temporary.values())  # left by an earlier build of this process (the same pid)
    names = [root.name for root in read]
    started = time.perf_counter()
    failure: str | None = None
    writer = None
    report: BuildReport | None = None
    stream_path = temporary["output"] / REJECTED_NAME if parquet else temporary["rejected"]
    try:
        if not parquet:
            writer = create_writer(temporary["output"], info, fmt, settings.compression)
        elif checkpoint is not None:
            from ..shards.parquet import ParquetWriter

            writer = ParquetWriter.resume(temporary["output"], info, checkpoint.parts,
                                          rows_per_shard=settings.part_rows)
        else:
            from ..shards.parquet import ParquetWriter

            writer = ParquetWriter(temporary["output"], info, rows_per_shard=settings.part_rows,
                                   first_part=plan.first_part if plan is not None else 0)
        report = BuildReport(names, stream_path, rejected_name=files.rejected,
                             resume_bytes=checkpoint.report["rejected_bytes"] if checkpoint else None)
        if checkpoint is not None:
            report.restore(checkpoint.report)
            _restore_splits(splits, checkpoint, temporary["output"], info)
            report.extra["resumed"] = {"rows": checkpoint.rows, "chunks_skipped": checkpoint.chunk}
    except BaseException:
        if report is not None:
            report.close()
        if writer is not None:
            writer.abort()
        discard(temporary.values())
        raise
    report.output = str(out)
    report.report_name = files.report
    report.settings = {**{k: v for k, v in asdict(settings).items() if k not in UNREPORTED_SETTINGS},
                       "format": fmt, "sources": names,
                       "roots": {r.name: str(r.path) for r in read}}
    report.correspondences = record
    context = WorkerContext({r.name: r for r in read}, settings, landmark_names,
                            {name: i for i, name in enumerate(SOURCES)},
                            {name: i for i, name in enumerate(schemes)}, corr_dir=str(folder),
                            correspondences=loaded_folder(folder))
    keep_for_resume = False
    try:
        if read:
            failure = _run(read, settings, engine, context, writer, report, splits, checkpoint,
                           temporary["output"] if parquet else None, print_)
        if failure is None and report.total_kept == 0 and read:
            failure = "empty"
        if failure is None:
            if read:
                writer.close()
            else:  # --drop alone: no part of its own
                writer.abort()
            report.status = "ok"
        else:
            writer.abort()
            report.status = "failed_strict" if failure == "strict" else "failed_nothing_usable"
    except StreamChanged as error:
        writer.abort()
        report.status = "error"
        failure = "error"
        raise ResumeError(f"the databases of {out} changed since the interrupted build ({error}): "
                          "its work was removed; run the build without --resume") from None
    except BaseException as error:
        writer.abort()
        interrupted = isinstance(error, KeyboardInterrupt)
        report.status = "interrupted" if interrupted else "error"
        failure = "error"
        # a stopped Parquet build keeps its complete parts for --resume (a hidden folder that
        # never passes for an output); anything else is removed
        keep_for_resume = (interrupted and parquet
                           and (temporary["output"] / JOURNAL_NAME).exists())
        raise
    finally:
        report.seconds = time.perf_counter() - started
        splits.record(report)
        report.close()
        _finish(report, files, temporary, fmt, failure is None, had_output, plan, info,
                read, settings, keep_for_resume, list(getattr(writer, "parts", [])))
    if failure == "strict":
        first = report.first[0] if report.first else {}
        raise BuildFailed(f"--strict: {first.get('source')} {first.get('sample_id')} rejected "
                          f"({first.get('reason')}: {first.get('detail')})", report)
    if failure == "empty":
        raise BuildFailed("no usable face: nothing was written", report)
    return report


def _run(roots: list[Root], settings: BuildSettings, engine: Engine, context: WorkerContext,
         writer, report: BuildReport, splits: DeclaredSplits, checkpoint: Checkpoint | None,
         journal: Path | None, print_: str) -> str | None:
    """Stream the work through the engine and write its rows; "strict" when a ``--strict``
    rejection stopped it. ``journal``: the folder to record checkpoints in (Parquet)."""
    stream = ChunkStream(roots, settings.limit, settings.chunk_items,
                         skip=checkpoint.chunk if checkpoint else 0,
                         expect=checkpoint.label if checkpoint else None)
    skip_rows = checkpoint.skip if checkpoint else 0
    rows_done = checkpoint.rows_before if checkpoint else 0  # rows of the chunks before this one
    starts: deque[_Start] = deque()
    closed = writer.closed_rows if journal is not None else 0
    # on a terminal the bar redraws 10 times a second; in a log file a line every 30 s
    with progress(unit="item", desc="fuse build", disable=not settings.progress,
                  smoothing=0.05, mininterval=0.1) as bar:
        results = engine.run(stream.chunks(), process_chunk, init_worker, context)
        try:
            owed = 0  # items of the current chunk whose results are still to come
            for chunk in results:
                if owed == 0:  # a new chunk (an engine may send one in pieces, see pool.py)
                    entry = stream.entry()
                    owed = entry.size
                    if journal is not None:
                        starts.append(_Start(entry.index, entry.label, rows_done,
                                             report.snapshot(), _split_counts(splits)))
                    apply_events(entry.events, report)
                owed -= len(chunk.kept)
                codes = chunk.rows["source"].tolist() if chunk.rows is not None else []
                row = 0
                for rejected, kept in zip(chunk.rejected, chunk.kept, strict=False):
                    for rejection in rejected:
                        report.add_rejected(rejection)
                    for code in codes[row:row + kept]:
                        report.add_kept(SOURCES_BY_CODE[code])
                    row += kept
                    if settings.strict and report.total_rejected:
                        return "strict"
                bar.update(len(chunk.kept))
                if chunk.rows is not None:
                    splits.apply(chunk.rows, SOURCES_BY_CODE)
                    rows = chunk.rows
                    if skip_rows:  # the first rows of a resumed chunk are in the parts already
                        taken = min(skip_rows, len(codes))
                        rows = {name: values[taken:] for name, values in rows.items()}
                        skip_rows -= taken
                    writer.append(rows)  # now: the crops may live in a reused ring slot
                    rows_done += len(codes)
                if skip_rows and owed == 0:
                    raise StreamChanged(f"chunk {entry.index} gave fewer rows than the "
                                        "interrupted build wrote of it")
                if journal is not None and writer.closed_rows > closed:
                    closed = writer.closed_rows
                    _checkpoint(journal, writer, report, starts, closed, print_)
                bar.set_postfix(kept=report.total_kept, rejected=report.total_rejected,
                                refresh=False)
        finally:
            results.close()  # stops the workers now, also when interrupted
    apply_events(stream.trailing, report)
    return None


def _checkpoint(folder: Path, writer, report: BuildReport, starts: deque[_Start], closed: int,
                print_: str) -> None:
    """Record that the parts hold the first ``closed`` rows (see :mod:`.resume`)."""
    while len(starts) > 1 and starts[1].rows_before <= closed:
        starts.popleft()
    start = starts[0]
    report.flush()  # the rejection list up to now is with the operating system before the journal
    write_journal(folder, Checkpoint(print_, [dict(part) for part in writer.parts], start.index,
                                     closed - start.rows_before, start.label, start.rows_before,
                                     start.report, start.split_counts))


def _database_records(report: BuildReport, read: list[Root], settings: BuildSettings
                      ) -> dict[str, dict[str, Any]]:
    """What the manifest keeps of each database this build read."""
    data = report.to_dict()
    built = {k: v for k, v in asdict(settings).items() if k not in UNREPORTED_SETTINGS
             and k not in ("resume", "engine", "workers", "strict")}
    return {root.name: {"report": data["sources"][root.name],
                        "kept_by_split": data["kept_by_split"].get(root.name, {}),
                        "splits": data["splits"].get(root.name),
                        "root": str(root.path), "options": root.options, "settings": built}
            for root in read}


def _finish(report: BuildReport, files: BuildFiles, temporary: dict[str, Path], fmt: str,
            ok: bool, had_output: bool, plan: GrowPlan | None, info: ShardInfo,
            read: list[Root], settings: BuildSettings, keep_for_resume: bool,
            parts: list[dict]) -> None:
    """Move the new set into place, or (failed) its report only, where it hides nothing; a signal
    arriving meanwhile acts once this is done.

    After a failure an older output keeps its report: the failed build's report and rejections go
    to ``OUT.failed.report.json`` / ``OUT.failed.rejected.jsonl`` then, else to the usual names.
    """
    parquet = fmt == "parquet"
    with signals_deferred():
        if ok:
            try:
                if parquet:
                    _complete_set(report, files, temporary, plan, info, read, settings, parts)
                report.write_json(temporary["report"])
                commit([(temporary["output"], files.output, "output"),
                        (temporary["rejected"], files.rejected, "rejected"),
                        (temporary["report"], files.report, "report")], fmt,
                       remove=[(files.failed_report, "report"), (files.failed_rejected, "rejected")])
            except BaseException:
                discard(temporary.values())
                raise
            return
        if parquet and (temporary["output"] / REJECTED_NAME).exists():
            shutil.copyfile(temporary["output"] / REJECTED_NAME, temporary["rejected"])
        if not keep_for_resume:
            discard([temporary["output"]])
        report_name, rejected_name = ((files.failed_report, files.failed_rejected) if had_output
                                      else (files.report, files.rejected))
        report.report_name, report.rejected_name = report_name, rejected_name
        if keep_for_resume:
            report.extra["resumable"] = str(temporary["output"])
        try:
            report.write_json(temporary["report"])
            commit([(temporary["rejected"], rejected_name, "rejected"),
                    (temporary["report"], report_name, "report")], fmt)
        except (OSError, OutputError):  # e.g. the full disk that failed the build
            discard([temporary["rejected"], temporary["report"]])


def _complete_set(report: BuildReport, files: BuildFiles, temporary: dict[str, Path],
                  plan: GrowPlan | None, info: ShardInfo, read: list[Root],
                  settings: BuildSettings, parts: list[dict]) -> None:
    """Finish a Parquet set in its temporary folder: the earlier parts a grown set keeps, the
    manifest, the rejection list beside it; ``report`` becomes the whole set's."""
    folder = temporary["output"]
    databases = _database_records(report, read, settings)
    attributes = info.to_attrs()
    if plan is None:
        os.replace(folder / REJECTED_NAME, temporary["rejected"])
    else:
        parts = assemble(plan, folder) + parts
        databases = {**plan.kept_databases(), **databases}
        attributes["splits"] = merged_splits(plan, info.extra["splits"])
        first: list[dict] = []
        with open(temporary["rejected"], "wb") as merged:
            for line in kept_rejections(plan, files):
                merged.write(line)
                if len(first) < report.first_limit:
                    first.append(json.loads(line))
            with open(folder / REJECTED_NAME, "rb") as new:
                shutil.copyfileobj(new, merged)
        (folder / REJECTED_NAME).unlink()
        whole = BuildReport.from_sections({name: record["report"] for name, record in
                                           databases.items()}, first + report.first)
        report.sources = whole.sources
        report.items, report.kept, report.rejected = whole.items, whole.kept, whole.rejected
        report.reasons, report.first = whole.reasons, whole.first
        report.splits = {name: record["splits"] for name, record in databases.items()
                         if record.get("splits") is not None}
        report.kept_by_split = {name: record["kept_by_split"] for name, record in databases.items()
                                if record.get("kept_by_split")}
        report.settings["sources"] = list(databases)
        report.settings["roots"] = {name: record["root"] for name, record in databases.items()}
        report.extra["operation"] = plan.operation.describe()
    write_manifest(folder, attributes, parts, databases)
    remove_journal(folder)


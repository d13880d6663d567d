"""Resuming an interrupted Parquet build: the journal of its checkpoints, and taking its leftovers over.

A Parquet build writes its parts into its temporary folder (``.OUT.fuse-build-HOST-PID.tmp``), and
a part is complete once it is closed. Each time one closes, the build records a checkpoint in
``build-journal.json`` in that folder (written whole, then renamed over the last one):

- the closed parts (file, rows, rows per source code);
- where their rows end in the stream of chunks: chunk ``chunk`` is the first one not wholly in
  them, of whose rows the first ``skip`` are;
- the report's counts before that chunk, with the length of the rejection list then (the list is
  written beside the journal and handed to the operating system first, so a SIGKILL loses none of
  it), and the faces per split;
- the first item of that chunk, and the build's inputs (:func:`fingerprint`: settings, roots,
  correspondence files, split declarations, what is grown).

``fuse build --resume`` takes over the folder of a build of the same output that no longer runs
(renaming it to its own temporary name), checks the inputs are the same, removes the part that was
being written, restores the counts, skips the chunks before ``chunk`` (their items are listed, not
read), and goes on; the first ``skip`` rows of that chunk are worked out again but not written.
The result is the output a clean build would have written: the same rows in the same parts, the
same report counts and rejection list. An HDF5 file is written in one pass and cannot be resumed
(docs/shards.md says why).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..lifetime import owner_gone, process_tag
from ..roots import Root
from .output import JOURNAL_NAME, BuildFiles, OutputError, leftovers_of, temporary_path
from .settings import BuildSettings

JOURNAL_KIND = "landmark-fusion build journal"
#: Settings that do not change the output (where and how fast the work runs).
RUN_ONLY_SETTINGS = ("workers", "progress", "overwrite", "corr_dir", "resume", "engine",
                     "ray_address")


class ResumeError(OutputError):
    """An interrupted build cannot be resumed; the message says why and what to do instead."""


def fingerprint(settings: BuildSettings, roots: list[Root], fmt: str, record: dict[str, Any],
                landmark_names: tuple[str, ...], splits: str, operation: dict[str, Any]) -> str:
    """The sha256 of everything that decides a build's output (not where its work runs)."""
    data = {"settings": {k: v for k, v in asdict(settings).items() if k not in RUN_ONLY_SETTINGS},
            "format": fmt,
            "roots": [[root.name, str(root.path), root.options] for root in roots],
            "correspondences": record["sha256"], "landmark_names": list(landmark_names),
            "splits": splits, "operation": operation}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Checkpoint:
    """What a resumed build needs to go on where the interrupted one stopped."""

    fingerprint: str
    parts: list[dict]          # closed parts, as ParquetWriter.parts lists them
    chunk: int                 # first chunk whose rows are not all in ``parts``
    skip: int                  # rows of that chunk that are
    label: str                 # its first item (the stream must be the same)
    rows_before: int           # rows before that chunk
    report: dict[str, Any]     # BuildReport.snapshot() before that chunk
    split_counts: dict[str, dict[str, int]]  # faces per database and split before that chunk

    @property
    def rows(self) -> int:
        return sum(int(part["rows"]) for part in self.parts)


def write_journal(folder: Path, checkpoint: Checkpoint) -> None:
    """Record ``checkpoint`` in ``folder`` (replacing the last one whole)."""
    path = folder / JOURNAL_NAME
    temporary = path.with_name(f".{JOURNAL_NAME}.tmp")
    temporary.write_text(json.dumps({"kind": JOURNAL_KIND, **asdict(checkpoint)},
                                    ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def read_journal(folder: Path) -> Checkpoint | None:
    """The last checkpoint recorded in ``folder``; None where there is none (or it is unreadable)."""
    try:
        data = json.loads((folder / JOURNAL_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.pop("kind", None) != JOURNAL_KIND:
        return None
    try:
        return Checkpoint(**data)
    except TypeError:
        return None


def remove_journal(folder: Path) -> None:
    (folder / JOURNAL_NAME).unlink(missing_ok=True)


def adopt_leftover(files: BuildFiles) -> tuple[Path, Checkpoint] | None:
    """Take over the temporary output of an interrupted build of ``files.output``: the one of a
    run no longer alive on this machine with the most rows in its journal, renamed to this run's
    temporary name. None when there is none with a journal. A live build of the same output, or
    a leftover of another machine, is refused (:class:`ResumeError`): its pid says nothing here."""
    candidates: list[tuple[int, Path, Checkpoint]] = []
    for path, host, pid in leftovers_of(files):
        if not path.is_dir() or path.is_symlink():
            continue
        checkpoint = read_journal(path)
        if checkpoint is None:
            continue
        if f"{host}-{pid}" == process_tag():
            continue
        if not owner_gone(host, pid):
            where = "on this machine" if host == process_tag().rsplit("-", 1)[0] else f"on {host}"
            raise ResumeError(f"{path} belongs to a build of {files.output} that may still be "
                              f"running ({where}, pid {pid}); wait for it, or remove that folder "
                              "if that build is gone")
        candidates.append((checkpoint.rows, path, checkpoint))
    if not candidates:
        return None
    _, path, checkpoint = max(candidates, key=lambda c: c[0])
    mine = temporary_path(files.output)
    os.rename(path, mine)
    return mine, checkpoint


__all__ = ["Checkpoint", "ResumeError", "adopt_leftover", "fingerprint", "read_journal",
           "remove_journal", "write_journal"]

"""Where ``fuse build`` writes, and what it may replace or remove there.

A build of ``OUT`` produces three things beside each other: the shards (``OUT``, an HDF5 file or a
folder of ``part-NNNNN.parquet``), ``OUT.report.json`` and ``OUT.rejected.jsonl``. The rules:

- Nothing is removed or replaced that the tool did not write. Before anything is read, every one of
  those names that exists must be recognisably a previous build's (:func:`foreign_reason`: an HDF5
  file with the shard attributes, a folder holding only shard parts, a report with the report's
  keys, a rejection list of rejections); anything else is refused with one message and nothing
  changes. An earlier output at ``OUT`` is replaced only with ``overwrite``; the report files of a
  build that left no output (it failed or was stopped) and an empty file or folder at ``OUT`` need
  no flag.
- The new set is written under temporary names (``.NAME.fuse-build-HOST-PID.tmp``) and moved into
  place together once complete (:func:`commit`, which a signal cannot cut short), so the old output,
  report and rejection list stay whole and consistent until then.
- A build that fails (``--strict``, nothing usable, an error, a signal) leaves an older output and its
  report as they were; its own report goes to ``OUT.failed.report.json`` / ``OUT.failed.rejected.jsonl``
  when an older output exists, else to the usual names.
- Temporaries of runs that are no longer alive (same host, pid gone) are removed at the next start
  (:func:`remove_stale`); only names of that form are touched, and of a folder only the shard parts
  and the build's own bookkeeping files (:data:`TEMPORARY_FILES`; the ``.NAME.tmp-PID`` outputs of
  earlier versions too, when they hold shard data). ``keep`` spares the leftover a resumed build
  takes over (``resume.py``).
- A Parquet output holds its parts and the set's ``manifest.json``; a temporary one also the resume
  journal and the rejection list being written.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..lifetime import HOST, TAG_PATTERN, owner_gone, process_tag, signals_deferred
from ..shards.manifest import MANIFEST_NAME, is_manifest

#: The resume journal and the rejection list inside a temporary Parquet output (``resume.py``).
JOURNAL_NAME = "build-journal.json"
REJECTED_NAME = "rejected.jsonl"
#: Files besides the parts that only a temporary output folder holds (with the half-written
#: ``.NAME.tmp`` of the journal and of the manifest).
TEMPORARY_FILES = (JOURNAL_NAME, REJECTED_NAME, f".{JOURNAL_NAME}.tmp", f".{MANIFEST_NAME}.tmp")

#: Attributes every HDF5 output of the build carries (``ShardInfo.to_attrs``).
HDF5_ATTRIBUTES = ("format_version", "landmark_names", "source_names", "scheme_names", "crop_size",
                   "margin")
#: Key of the shard metadata in every Parquet part's schema.
PARQUET_METADATA_KEY = b"landmark_fusion"
PART_NAME = re.compile(r"^part-\d{5,}\.parquet$")
REPORT_KEYS = ("status", "output", "settings", "totals", "sources")
REJECTION_KEYS = {"source", "sample_id", "reason", "detail"}
#: ``.NAME.fuse-build-HOST-PID.tmp`` (being written) / ``.old`` (a replaced output being removed).
TEMPORARY_NAME = re.compile(rf"^\.(?P<name>.+)\.fuse-build-{TAG_PATTERN}\.(?P<kind>tmp|old)$")
#: ``.NAME.tmp-PID``: the temporary output of versions before the names above (no host in it).
LEGACY_TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")
_READ_LIMIT = 64 * 1024 * 1024  # a report larger than this is not one of ours


class OutputError(Exception):
    """The target of a build cannot be used; the message says which path and why."""


@dataclass(frozen=True)
class BuildFiles:
    """The names a build of ``output`` writes."""

    output: Path
    report: Path
    rejected: Path
    failed_report: Path
    failed_rejected: Path

    @classmethod
    def of(cls, output: str | os.PathLike) -> BuildFiles:
        out = Path(output)
        return cls(out, *(out.with_name(f"{out.name}.{suffix}") for suffix in (
            "report.json", "rejected.jsonl", "failed.report.json", "failed.rejected.jsonl")))

    def names(self) -> tuple[Path, ...]:
        return (self.output, self.report, self.rejected, self.failed_report, self.failed_rejected)


def temporary_path(path: Path, kind: str = "tmp") -> Path:
    """This run's temporary name for ``path`` (``kind``: ``tmp`` or ``old``), in the same folder."""
    return path.with_name(f".{path.name}.fuse-build-{process_tag()}.{kind}")


# ----------------------------------------------------------------------------- recognising our files

def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _hdf5_reason(path: Path) -> str | None:
    import h5py

    if path.is_dir():
        return "a folder, where an HDF5 output is one file"
    try:
        if not h5py.is_hdf5(path):
            return "not an HDF5 file"
        with h5py.File(path, "r") as handle:
            missing = [key for key in HDF5_ATTRIBUTES if key not in handle.attrs]
    except OSError as error:
        return f"an HDF5 file that cannot be read ({error})"
    return f"an HDF5 file without the shard attributes ({', '.join(missing)})" if missing else None


def _parquet_part_is_ours(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):  # pyarrow raises ArrowInvalid (a ValueError) for a non-Parquet file
        return False
    return PARQUET_METADATA_KEY in metadata


def _parquet_reason(path: Path) -> str | None:
    if not path.is_dir():
        return "a file, where a Parquet output is a folder"
    for entry in sorted(path.iterdir()):
        if entry.name == MANIFEST_NAME and is_manifest(entry):
            continue
        if entry.is_symlink() or not entry.is_file() or not PART_NAME.match(entry.name):
            return f"it holds {entry.name!r}, which fuse build does not write"
        if not _parquet_part_is_ours(entry):
            return f"{entry.name} is not a shard part written by fuse build"
    return None


def _json_reason(path: Path, keys: Iterable[str]) -> str | None:
    if not path.is_file():
        return "not a file"
    if path.stat().st_size > _READ_LIMIT:
        return "larger than any build report"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return "not a build report (not JSON)"
    if not isinstance(data, dict) or any(key not in data for key in keys):
        return "not a build report (other keys)"
    return None


def _rejections_reason(path: Path) -> str | None:
    if not path.is_file():
        return "not a file"
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1024 * 1024)
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if not first.strip():
        return None if path.stat().st_size == len(first) else "not a rejection list"
    try:
        record = json.loads(first)
    except ValueError:
        return "not a rejection list (not JSON lines)"
    return None if isinstance(record, dict) and set(record) == REJECTION_KEYS else \
        "not a rejection list (other keys)"


def foreign_reason(path: Path, role: str, fmt: str = "hdf5") -> str | None:
    """Why ``path`` is not something an earlier build wrote in ``role`` (None when it is).

    ``role``: ``output`` (of format ``fmt``), ``report`` or ``rejected``.
    """
    if path.is_symlink():
        return "a symbolic link"
    if role == "output":
        return _hdf5_reason(path) if fmt == "hdf5" else _parquet_reason(path)
    if role == "report":
        return _json_reason(path, REPORT_KEYS)
    return _rejections_reason(path)


def _is_empty(path: Path) -> bool:
    if path.is_symlink():
        return False
    if path.is_dir():
        return not any(path.iterdir())
    return path.is_file() and path.stat().st_size == 0


def _roles(files: BuildFiles) -> list[tuple[Path, str]]:
    return [(files.output, "output"), (files.report, "report"), (files.rejected, "rejected"),
            (files.failed_report, "report"), (files.failed_rejected, "rejected")]


def check_target(files: BuildFiles, fmt: str, overwrite: bool) -> bool:
    """Refuse (:class:`OutputError`) a target the build may not write; True when an earlier
    output of the build is at ``files.output`` (it stays until the new one is complete)."""
    output = files.output
    if output.is_dir() and fmt == "hdf5":
        raise OutputError(f"{output} is a folder; an HDF5 output is one file: give a file name "
                          "(e.g. fused.h5), or a folder name for Parquet")
    existing = [(path, role) for path, role in _roles(files) if _exists(path)
                and not (role == "output" and _is_empty(path))]
    for path, role in existing:
        reason = foreign_reason(path, role, fmt)
        if reason is not None:
            raise OutputError(f"{path} exists and was not written by fuse build ({reason}); "
                              "nothing was changed: choose another --out or move it away")
    had_output = any(role == "output" for _, role in existing)
    if had_output and not overwrite:
        raise OutputError(f"{output} exists (written by an earlier fuse build); pass --overwrite to "
                          "replace it, or choose another --out")
    return had_output


# ----------------------------------------------------------------------------- removing our files

def _ours_in_folder(entry: Path, temporary: bool) -> bool:
    """Whether a file in an output folder is one the build writes there (and may remove)."""
    if entry.is_symlink() or not entry.is_file():
        return False
    if PART_NAME.match(entry.name):
        return True
    if entry.name == MANIFEST_NAME:
        return is_manifest(entry)
    return temporary and entry.name in TEMPORARY_FILES


def remove_output(path: Path, fmt: str | None = None, temporary: bool = False) -> bool:
    """Remove an output this tool wrote: the HDF5 file, or a folder's shard parts and manifest
    (a ``temporary`` one's journal and rejection list too) and then the folder. Anything else is
    left where it is; returns whether ``path`` is gone."""
    if path.is_symlink():
        return False
    if path.is_dir():
        for entry in list(path.iterdir()):
            if _ours_in_folder(entry, temporary):
                entry.unlink()
        try:
            path.rmdir()
        except OSError:  # something that is not a shard part is in it: it stays
            return False
        return True
    if path.is_file():
        path.unlink()
    return not _exists(path)


def remove_stale(folder: Path, keep: Iterable[Path] = ()) -> list[Path]:
    """Remove the temporaries of builds that are no longer running, in ``folder``.

    Only names of :data:`TEMPORARY_NAME` whose host is this machine and whose pid is gone are
    touched; a temporary folder loses only its shard parts and bookkeeping files (and then
    itself, if nothing is left). ``keep``: leftovers to leave alone (a resumed build's).
    """
    keep_names = {Path(path).name for path in keep}
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name in keep_names:
            continue
        match = TEMPORARY_NAME.match(entry.name)
        if match is None:
            match = LEGACY_TEMPORARY_NAME.match(entry.name)
            if match is None or not _legacy_output(entry):
                continue
            host = HOST
        else:
            host = match["host"]
        if not owner_gone(host, match["pid"]):
            continue
        try:
            if remove_output(entry, temporary=True):
                removed.append(entry)
        except OSError:
            continue
    return removed


def _legacy_output(path: Path) -> bool:
    """Whether an old-style temporary is a partial shard output: an HDF5 file (a killed writer
    leaves one that often cannot be opened any more, but its signature is there) or a folder of
    shard parts only."""
    import h5py

    if path.is_symlink():
        return False
    if path.is_dir():
        return all(PART_NAME.match(entry.name) for entry in path.iterdir())
    try:
        return path.is_file() and h5py.is_hdf5(path)
    except OSError:
        return False


def discard(paths: Iterable[Path]) -> None:
    """Remove this run's own temporaries (after a failure); errors are ignored."""
    for path in paths:
        try:
            remove_output(path, temporary=True)
        except OSError:
            pass


# ----------------------------------------------------------------------------- the final move

def commit(moves: list[tuple[Path, Path, str]], fmt: str,
           remove: Iterable[tuple[Path, str]] = ()) -> None:
    """Move each finished temporary onto its final name (``(temporary, final, role)``), then remove
    ``remove`` (``(path, role)``: earlier files of ours that the new set supersedes), with SIGINT /
    SIGTERM held back until all is done.

    Each final name that exists is checked again first (it may have changed during a long build).
    An existing output folder is renamed to this run's ``.old`` name (a rename cannot replace a
    folder that is not empty) and removed once the new one is in place. Moves happen in the given
    order: the output first and the report last, so a report never describes an absent output.
    """
    remove = [(path, role) for path, role in remove if _exists(path)]
    for final, role in [(final, role) for _, final, role in moves] + remove:
        if _exists(final) and not (role == "output" and _is_empty(final)):
            reason = foreign_reason(final, role, fmt)
            if reason is not None:
                raise OutputError(f"{final} changed during the build and was not written by it "
                                  f"({reason}); nothing was replaced")
    with signals_deferred():
        old: list[Path] = []
        for temporary, final, role in moves:
            if role == "output" and _exists(final):
                if final.is_file() and temporary.is_dir():  # an empty file where a folder goes
                    final.unlink()
                elif final.is_dir() and any(final.iterdir()):
                    old.append(temporary_path(final, "old"))
                    os.replace(final, old[-1])
            os.replace(temporary, final)
        for path in old + [path for path, _ in remove]:
            remove_output(path)


def leftovers_of(files: BuildFiles) -> list[tuple[Path, str, str]]:
    """``(path, host, pid)`` of every temporary output of ``files.output`` in its folder, of any
    run, living or not."""
    found: list[tuple[Path, str, str]] = []
    try:
        entries = list(files.output.parent.iterdir())
    except OSError:
        return found
    for entry in entries:
        match = TEMPORARY_NAME.match(entry.name)
        if match is not None and match["name"] == files.output.name and match["kind"] == "tmp":
            found.append((entry, match["host"], match["pid"]))
    return sorted(found)


__all__ = ["BuildFiles", "JOURNAL_NAME", "OutputError", "REJECTED_NAME", "TEMPORARY_NAME",
           "check_target", "commit", "discard", "foreign_reason", "leftovers_of", "remove_output",
           "remove_stale", "temporary_path"]

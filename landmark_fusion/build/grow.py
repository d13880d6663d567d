"""Growing a Parquet shard set: add a database, replace one, or drop one, without reading the others.

``fuse build --add wflw --out shards/`` reads only WFLW; ``--replace 300w`` reads 300W again and
puts its new rows in place of the old; ``--drop lfw74`` reads nothing. The set's ``manifest.json``
(:mod:`landmark_fusion.shards.manifest`) says which rows of which part belong to which database, so
the new set is put together in the build's temporary folder from:

1. the earlier parts that keep all their rows, as hard links (no copy; a copy where the file system
   has no links), renumbered in order;
2. an earlier part that mixes a removed database with others (a plain build's parts straddle
   database boundaries, at most two per database): its other rows, copied into a new part;
3. the parts the build just wrote (numbered after those).

The manifest, the report (per-database sections of the manifest, the new database's from this
build) and the rejection list (the earlier list without the removed databases' lines, then this
build's) are new files; the whole set is then moved into place like any build's output, so the
earlier set stays whole until then and an interrupted grow changes nothing. Source codes stay
positions in the fixed database registry, so rows of every build agree; a set whose attributes
disagree with this build's (landmark axis, schemes, crop settings) is refused before anything is read.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..shards.manifest import ManifestError, read_manifest
from ..shards.parquet import write_part
from .output import BuildFiles, OutputError, foreign_reason

#: What a grown set keeps from each database's build (the manifest's ``databases`` entries).
DATABASE_KEYS = ("report", "kept_by_split", "splits", "root", "options", "settings")


class GrowError(OutputError):
    """A set that cannot be grown as asked; the message names it and why."""


@dataclass(frozen=True)
class Grow:
    """What to do to an existing set: databases to add, replace (read again) and drop."""

    add: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    @property
    def reads(self) -> tuple[str, ...]:
        """Databases this build reads."""
        return self.add + self.replace

    @property
    def removes(self) -> tuple[str, ...]:
        """Databases whose earlier rows leave the set."""
        return self.replace + self.drop

    def describe(self) -> dict[str, list[str]]:
        return {key: list(value) for key, value in
                (("add", self.add), ("replace", self.replace), ("drop", self.drop)) if value}


@dataclass
class GrowPlan:
    """The earlier set and what of it the new one keeps."""

    operation: Grow
    base: Path
    manifest: dict[str, Any]
    removed_codes: frozenset[int]
    kept: list[tuple[dict, str]] = field(default_factory=list)  # (earlier part, "link" | "filter")

    @property
    def first_part(self) -> int:
        """Number of the first part this build writes (after the kept ones)."""
        return len(self.kept)

    def kept_databases(self) -> dict[str, dict[str, Any]]:
        return {name: record for name, record in self.manifest["databases"].items()
                if name not in self.operation.removes}


def plan_grow(files: BuildFiles, operation: Grow, source_names: list[str],
              attributes: dict[str, Any]) -> GrowPlan:
    """Check that the set at ``files.output`` can be grown as asked by a build whose attributes
    are ``attributes`` (:class:`GrowError` otherwise) and plan which earlier parts stay."""
    out = files.output
    if not out.is_dir():
        raise GrowError(f"{out}: no shard set there to grow (--add, --replace and --drop change "
                        "an existing Parquet set; build one first)")
    reason = foreign_reason(out, "output", "parquet")
    if reason is not None:
        raise GrowError(f"{out} was not written by fuse build ({reason}); nothing was changed")
    try:
        manifest = read_manifest(out)
    except ManifestError as error:
        raise GrowError(str(error)) from None
    if manifest is None:
        raise GrowError(f"{out} has no manifest.json (it was written by an earlier version): "
                        "build it again to grow it")
    for path, role in ((files.report, "report"), (files.rejected, "rejected")):
        if not path.exists():
            raise GrowError(f"{path} is missing: the set's {'report' if role == 'report' else 'rejection list'} "
                            "is part of what a grown set keeps; nothing was changed")
        reason = foreign_reason(path, role)
        if reason is not None:
            raise GrowError(f"{path} was not written by fuse build ({reason}); nothing was changed")
    present = list(manifest["databases"])
    for name in operation.add:
        if name in present:
            raise GrowError(f"{out} already holds {name}: use --replace {name} to read it again")
    for name in operation.removes:
        if name not in present:
            raise GrowError(f"{out} holds no {name} (it holds {', '.join(present) or 'nothing'})")
    overlap = set(operation.add) & set(operation.removes) | set(operation.replace) & set(operation.drop)
    if overlap:
        raise GrowError(f"{', '.join(sorted(overlap))}: named twice among --add, --replace, --drop")
    earlier = manifest["attributes"]
    names = [str(n) for n in earlier["source_names"]]
    if names != source_names[:len(names)]:
        raise GrowError(f"{out} numbers its databases {names}, this version {source_names}: the "
                        "source codes would disagree; build the set again")
    for key in ("landmark_names", "scheme_names", "crop_size", "margin", "crop_encoding",
                "jpeg_quality"):
        if earlier.get(key) != attributes.get(key):
            raise GrowError(f"{out} was built with other {key.replace('_', ' ')} "
                            f"({_short(earlier.get(key))}, this build: {_short(attributes.get(key))}); "
                            "grow it with the same settings and correspondence files, or build it again")
    removed = frozenset(source_names.index(name) for name in operation.removes)
    plan = GrowPlan(operation, out, manifest, removed)
    for part in manifest["parts"]:
        codes = {int(code) for code, rows in part["sources"].items() if int(rows)}
        if not codes & removed:
            plan.kept.append((part, "link"))
        elif codes - removed:
            plan.kept.append((part, "filter"))
    return plan


def grow_settings(out: Path, crop_size: int | None, margin: float | None
                  ) -> tuple[int | None, float | None]:
    """The crop settings of a build that grows the set at ``out``: the set's, unless given (then
    they must be the set's; :class:`GrowError` otherwise). Unknown (no readable manifest): as
    given, and :func:`plan_grow` says what is wrong."""
    try:
        manifest = read_manifest(out) if Path(out).is_dir() else None
    except ManifestError:
        manifest = None
    if manifest is None:
        return crop_size, margin
    attributes = manifest["attributes"]
    chosen = []
    for name, given in (("crop_size", crop_size), ("margin", margin)):
        value = attributes.get(name)
        if given is not None and value is not None and float(given) != float(value):
            option = "--" + name.replace("_", "-")
            raise GrowError(f"{out} was built with {option} {value}; a grown set keeps it "
                            f"(given: {given})")
        chosen.append(value if given is None else given)
    return int(chosen[0]), float(chosen[1])


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link of ``source``; a copy where links cannot be made."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def assemble(plan: GrowPlan, folder: Path) -> list[dict]:
    """Put the kept earlier parts into ``folder`` as ``part-00000…``; their manifest entries."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parts = []
    for number, (part, action) in enumerate(plan.kept):
        source, target = plan.base / part["file"], folder / f"part-{number:05d}.parquet"
        target.unlink(missing_ok=True)  # a resumed grow may have made it before
        if action == "link":
            _link(source, target)
            parts.append({**part, "file": target.name})
            continue
        table = pq.read_table(source)
        removed = pa.array(sorted(plan.removed_codes), type=table.schema.field("source").type)
        keep = pc.invert(pc.is_in(table.column("source"), value_set=removed))
        table = table.filter(keep)
        write_part(target, table)
        sources = {code: rows for code, rows in part["sources"].items()
                   if int(code) not in plan.removed_codes}
        parts.append({"file": target.name, "rows": table.num_rows, "sources": sources})
    return parts


def merged_splits(plan: GrowPlan, new: str) -> str:
    """The set's ``splits`` attribute: the earlier declarations of the kept databases and this
    build's (JSON, as :meth:`DeclaredSplits.attribute` writes it)."""
    kept = {name: value for name, value in json.loads(plan.manifest["attributes"].get("splits", "{}")).items()
            if name not in plan.operation.removes}
    return json.dumps({**kept, **json.loads(new)}, sort_keys=True)


def kept_rejections(plan: GrowPlan, files: BuildFiles) -> Iterator[bytes]:
    """The lines of the earlier rejection list whose database stays in the set."""
    removed = set(plan.operation.removes)
    with open(files.rejected, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                source = json.loads(line)["source"]
            except (ValueError, KeyError, TypeError):
                raise GrowError(f"{files.rejected}: a line is not a rejection ({line[:80]!r}); "
                                "nothing was changed") from None
            if source not in removed:
                yield line if line.endswith(b"\n") else line + b"\n"


__all__ = ["DATABASE_KEYS", "Grow", "GrowError", "GrowPlan", "assemble", "grow_settings",
           "kept_rejections", "merged_splits", "plan_grow"]

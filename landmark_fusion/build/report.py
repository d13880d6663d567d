"""The build report: per database read / kept / rejected, rejections by reason, rejected ids.

Rejected samples are streamed to a JSON-lines file (one ``{source, sample_id, reason, detail}`` per
line) as they happen, so the report's memory does not grow with the number of rejections; the JSON
report keeps the counts and only the first :data:`FIRST_REJECTED` rejections. During a build both
are written under temporary names (``rejected_path``) and moved into place with the output; the JSON
names the list by its final name (``rejected_name``).

A build that can be resumed takes a :meth:`BuildReport.snapshot` of the counts before each chunk
and keeps the one of its last checkpoint (``resume.py``); the resumed build restores it and cuts the
rejection list back to the length it had then (``resume_bytes``). A grown shard set's report is put
together from the per-database sections of its manifest (:meth:`BuildReport.from_sections`).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from ..sources.base import Rejected

FIRST_REJECTED = 100


class BuildReport:
    """Counts of one build, with the rejected list streamed to ``rejected_path``."""

    def __init__(self, sources: list[str], rejected_path: Path | None = None,
                 first_rejected: int = FIRST_REJECTED, rejected_name: Path | None = None,
                 resume_bytes: int | None = None) -> None:
        """``resume_bytes``: continue the list at ``rejected_path``, cut back to that many bytes
        (a resumed build), instead of starting a new one."""
        self.sources = list(sources)
        self.items: Counter[str] = Counter()      # work items handed to the readers
        self.kept: Counter[str] = Counter()       # faces written
        self.rejected: Counter[str] = Counter()   # rejections
        self.reasons: dict[str, Counter] = {name: Counter() for name in self.sources}
        self.first: list[dict[str, str]] = []
        self.first_limit = first_rejected
        self.rejected_path = Path(rejected_path) if rejected_path is not None else None
        self.rejected_name = Path(rejected_name) if rejected_name is not None else self.rejected_path
        self.report_name: Path | None = None  # where the JSON report goes (set by the build)
        self._stream: IO[bytes] | None = None
        self.rejected_bytes = 0     # length of the rejection list so far
        if self.rejected_path is not None:
            if resume_bytes is None:
                self._stream = self.rejected_path.open("wb")
            else:
                self._stream = self.rejected_path.open("r+b")
                self._stream.truncate(resume_bytes)
                self._stream.seek(resume_bytes)
                self.rejected_bytes = resume_bytes
        self.status = "running"
        self.settings: dict[str, Any] = {}
        self.correspondences: dict[str, Any] = {}   # folder and sha256 of every YAML the build used
        self.output: str | None = None
        self.seconds = 0.0
        self.splits: dict[str, Any] = {}               # declared splits (roots.yaml ``split:``)
        self.kept_by_split: dict[str, dict[str, int]] = {}
        self.extra: dict[str, Any] = {}   # e.g. ``resumed``, ``operation`` (added at the end)

    def record_splits(self, declarations: dict[str, Any], kept: dict[str, Counter]) -> None:
        """The split declarations of the build and the faces kept per database and split."""
        self.splits = declarations
        self.kept_by_split = {name: dict(sorted(counts.items())) for name, counts in kept.items()}

    def add_item(self, source: str) -> None:
        self.items[source] += 1

    def add_kept(self, source: str) -> None:
        self.kept[source] += 1

    def add_rejected(self, rejection: Rejected) -> None:
        record = asdict(rejection)
        self.rejected[rejection.source] += 1
        self.reasons.setdefault(rejection.source, Counter())[rejection.reason] += 1
        if len(self.first) < self.first_limit:
            self.first.append(record)
        if self._stream is not None:
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            self._stream.write(line)
            self.rejected_bytes += len(line)

    def flush(self) -> None:
        """Hand the rejection list written so far to the operating system (before a checkpoint:
        a process killed afterwards loses nothing of it)."""
        if self._stream is not None:
            self._stream.flush()

    # -- checkpoints (resume.py) and grown sets (grow.py) -------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The counts as they are now, JSON-ready (what a resumed build restores)."""
        return {"items": dict(self.items), "kept": dict(self.kept), "rejected": dict(self.rejected),
                "reasons": {name: dict(counts) for name, counts in self.reasons.items()},
                "first": list(self.first), "rejected_bytes": self.rejected_bytes}

    def restore(self, state: dict[str, Any]) -> None:
        """Take the counts of a :meth:`snapshot` (the rejection list is cut by ``resume_bytes``)."""
        self.items = Counter(state["items"])
        self.kept = Counter(state["kept"])
        self.rejected = Counter(state["rejected"])
        self.reasons = {name: Counter() for name in self.sources}
        self.reasons.update({name: Counter(counts) for name, counts in state["reasons"].items()})
        self.first = [dict(record) for record in state["first"]][:self.first_limit]

    def source_section(self, name: str) -> dict[str, Any]:
        """The report's counts of one database (``sources[name]`` of :meth:`to_dict`)."""
        return {"items": self.items[name], "read": self.kept[name] + self.rejected[name],
                "kept": self.kept[name], "rejected": self.rejected[name],
                "rejected_by_reason": dict(sorted(self.reasons.get(name, Counter()).items()))}

    @classmethod
    def from_sections(cls, sections: dict[str, dict[str, Any]], first: Iterable[dict[str, str]],
                      first_rejected: int = FIRST_REJECTED) -> BuildReport:
        """A report of the databases of ``sections`` (``{name: source_section}``, in order) whose
        first rejections are ``first`` (the head of the set's rejection list)."""
        report = cls(list(sections), first_rejected=first_rejected)
        for name, section in sections.items():
            report.items[name] = int(section["items"])
            report.kept[name] = int(section["kept"])
            report.rejected[name] = int(section["rejected"])
            report.reasons[name] = Counter({reason: int(count) for reason, count in
                                            section["rejected_by_reason"].items()})
        for record in first:
            if len(report.first) >= first_rejected:
                break
            report.first.append(dict(record))
        return report

    @property
    def total_kept(self) -> int:
        return sum(self.kept.values())

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def to_dict(self) -> dict[str, Any]:
        per_source = {name: self.source_section(name) for name in self.sources}
        data = {
            "status": self.status,
            "output": self.output,
            "seconds": round(self.seconds, 3),
            "settings": self.settings,
            "splits": self.splits,
            "kept_by_split": self.kept_by_split,
            "correspondences": self.correspondences,
            "totals": {"read": self.total_kept + self.total_rejected, "kept": self.total_kept,
                       "rejected": self.total_rejected},
            "sources": per_source,
            "rejected_file": str(self.rejected_name) if self.rejected_name else None,
            "first_rejected": self.first,
        }
        data.update(self.extra)
        return data

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")

    def table(self) -> str:
        """A plain-text table for people: one line per database, then rejections by reason."""
        header = f"{'database':<14}{'items':>9}{'read':>9}{'kept':>9}{'rejected':>10}"
        lines = [header, "-" * len(header)]
        for name in self.sources:
            lines.append(f"{name:<14}{self.items[name]:>9}{self.kept[name] + self.rejected[name]:>9}"
                         f"{self.kept[name]:>9}{self.rejected[name]:>10}")
        lines.append("-" * len(header))
        lines.append(f"{'total':<14}{sum(self.items.values()):>9}"
                     f"{self.total_kept + self.total_rejected:>9}{self.total_kept:>9}"
                     f"{self.total_rejected:>10}")
        reasons = [(name, reason, count) for name in self.sources
                   for reason, count in sorted(self.reasons.get(name, Counter()).items())]
        if reasons:
            lines.append("")
            lines.append("rejected by reason:")
            for name, reason, count in reasons:
                lines.append(f"  {name:<14}{reason:<24}{count:>8}")
        if self.kept_by_split:
            lines.append("")
            lines.append("kept by split:")
            for name in self.sources:
                for split, count in self.kept_by_split.get(name, {}).items():
                    lines.append(f"  {name:<14}{split:<24}{count:>8}")
        return "\n".join(lines)

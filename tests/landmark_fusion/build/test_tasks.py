"""The stream of work items: lazy, limited per database, a reader's failure counted, in chunks."""
from __future__ import annotations

from pathlib import Path

from landmark_fusion.build import tasks
from landmark_fusion.build.report import BuildReport
from landmark_fusion.build.tasks import chunked, iter_tasks
from landmark_fusion.roots import Root
from landmark_fusion.sources.base import SourceError


def test_chunks_keep_the_order_and_the_last_one_is_shorter():
    assert list(chunked(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []


def test_items_are_limited_per_database_and_counted(samples_dir):
    report = BuildReport(["300w", "aflw2000_3d"])
    roots = [Root("300w", samples_dir / "300W"), Root("aflw2000_3d", samples_dir / "AFLW2000-3D")]
    stream = iter_tasks(roots, 2, report)
    assert next(stream) == ("300w", "lfpw/trainset/image_0001.pts")
    assert dict(report.items) == {"300w": 1}  # nothing is read ahead
    rest = list(stream)
    assert [name for name, _ in rest] == ["300w", "aflw2000_3d", "aflw2000_3d"]
    assert dict(report.items) == {"300w": 2, "aflw2000_3d": 2} and report.total_rejected == 0


def test_a_root_the_reader_cannot_use_is_a_rejection_not_a_task(tmp_path):
    report = BuildReport(["300w"])
    assert list(iter_tasks([Root("300w", tmp_path / "missing")], None, report)) == []
    assert [(r["sample_id"], r["reason"]) for r in report.first] == [("<root>", "unreadable_folder")]


class _Failing:
    """A reader whose ``items()`` fails after one item (a bug, or a named problem)."""

    error: BaseException = RuntimeError("planted")

    def __init__(self, root: Path) -> None:
        self.root = root

    def items(self):
        yield "first"
        raise self.error


def test_a_failing_reader_is_one_rejection_and_the_next_database_is_read(monkeypatch, samples_dir):
    readers = {"300w": _Failing, "aflw2000_3d": tasks.get_source("aflw2000_3d")}
    monkeypatch.setattr(tasks, "get_source", readers.__getitem__)
    report = BuildReport(["300w", "aflw2000_3d"])
    roots = [Root("300w", Path("unused")), Root("aflw2000_3d", samples_dir / "AFLW2000-3D")]
    stream = list(iter_tasks(roots, 1, report))
    assert stream[0] == ("300w", "first") and stream[1][0] == "aflw2000_3d" and len(stream) == 2
    # limit 1: the failure after the first item is not reached
    assert report.total_rejected == 0
    report = BuildReport(["300w"])
    assert list(iter_tasks(roots[:1], None, report)) == [("300w", "first")]
    assert report.first == [{"source": "300w", "sample_id": "<items>", "reason": "internal_error",
                             "detail": "RuntimeError: planted"}]
    monkeypatch.setattr(_Failing, "error", SourceError("unreadable_folder", "named"))
    report = BuildReport(["300w"])
    list(iter_tasks(roots[:1], None, report))
    assert [(r["reason"], r["detail"]) for r in report.first] == [("unreadable_folder", "named")]

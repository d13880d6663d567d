"""The stream of work items of a build: ``(database, item)`` over the readers, in chunks.

The readers' ``items()`` are walked lazily, so memory does not depend on the number of samples. A
:class:`Rejected` record that ``items()`` yields (a folder or list line it cannot use), and a reader
whose ``items()`` fails, are counted in the report here and never sent to the work.

:class:`ChunkStream` is what a build hands its engine: the chunks, each with the stream's own
events (items counted, rejections of ``items()``) that came before it, which the build applies when
that chunk's results come back. The report and the rejection list then come out in one order
whatever the engine and however far it reads ahead, and a resumed build can skip the chunks its
output already holds (``skip``) without counting their events twice.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

from ..roots import Root
from ..sources import get_source
from ..sources.base import Rejected, SourceError
from .report import BuildReport
from .results import internal_error, item_label

#: One work item: the database's name and what its reader's ``items()`` yielded (picklable).
Task = tuple[str, Any]


class Tally(Protocol):
    """What the task stream counts into: a build report, or an :class:`EventLog` for later."""

    def add_item(self, source: str) -> None: ...

    def add_rejected(self, rejection: Rejected) -> None: ...


def iter_tasks(roots: list[Root], limit: int | None, report: Tally) -> Iterator[Task]:
    """Stream ``(database, item)`` over the selected databases (at most ``limit`` items each).

    A reader whose ``items()`` fails is reported as one rejection and the build goes on.
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


def chunked(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    """The tasks in lists of ``size`` (the last one shorter), as the work takes them."""
    iterator = iter(tasks)
    while chunk := list(islice(iterator, size)):
        yield chunk


class EventLog:
    """Takes the stream's ``add_item`` / ``add_rejected`` calls in place of the report."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def add_item(self, source: str) -> None:
        self.events.append(("item", source))

    def add_rejected(self, rejection: Rejected) -> None:
        self.events.append(("rejected", rejection))

    def take(self) -> list[tuple[str, Any]]:
        events, self.events = self.events, []
        return events


def apply_events(events: Iterable[tuple[str, Any]], report: BuildReport) -> None:
    """Count the stream's events in the report, in their order."""
    for kind, value in events:
        if kind == "item":
            report.add_item(value)
        else:
            report.add_rejected(value)


class StreamChanged(Exception):
    """A resumed build's stream of work items is not the one of the interrupted build."""


@dataclass
class ChunkEntry:
    """One chunk handed to the engine: its position, first item and the events before it."""

    index: int
    size: int
    label: str
    events: list[tuple[str, Any]] = field(default_factory=list)


class ChunkStream:
    """The chunks of a build, in order, with the events of each (see the module docstring).

    ``skip``: the number of chunks not handed out (their work is done); ``expect``: the label of
    the first item of chunk ``skip`` as the interrupted build saw it (:class:`StreamChanged` when
    it differs). Iterate :meth:`chunks` (the engine does), and take each chunk's entry with
    :meth:`entry` as its result comes back; :attr:`trailing` holds the events after the last one.
    """

    def __init__(self, roots: list[Root], limit: int | None, size: int, skip: int = 0,
                 expect: str | None = None) -> None:
        self.roots, self.limit, self.size = roots, limit, size
        self.skip, self.expect = skip, expect
        self.trailing: list[tuple[str, Any]] = []
        self._entries: deque[ChunkEntry] = deque()

    def chunks(self) -> Iterator[list[Task]]:
        log = EventLog()
        count = 0
        for index, chunk in enumerate(chunked(iter_tasks(self.roots, self.limit, log), self.size)):
            count = index + 1
            events = log.take()
            if index < self.skip:
                continue
            label = item_label(chunk[0][1])
            if index == self.skip and self.expect is not None and label != self.expect:
                raise StreamChanged(f"chunk {index} starts with {chunk[0][0]} {label}, where the "
                                    f"interrupted build had {self.expect}")
            self._entries.append(ChunkEntry(index, len(chunk), label, events))
            yield chunk
        if count <= self.skip and self.skip:
            raise StreamChanged(f"the work items end after {count} chunks, before chunk "
                                f"{self.skip} where the interrupted build stopped")
        self.trailing = log.take()

    def entry(self) -> ChunkEntry:
        """The entry of the oldest chunk whose result has not been taken yet."""
        return self._entries.popleft()

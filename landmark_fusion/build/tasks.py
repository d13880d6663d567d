"""The stream of work items of a build: ``(database, item)`` over the readers, in chunks.

The readers' ``items()`` are walked lazily, so memory does not depend on the number of samples. A
:class:`Rejected` record that ``items()`` yields (a folder or list line it cannot use), and a reader
whose ``items()`` fails, are counted in the report here and never sent to the work.
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, Iterator

from ..roots import Root
from ..sources import get_source
from ..sources.base import Rejected, SourceError
from .report import BuildReport
from .results import internal_error

#: One work item: the database's name and what its reader's ``items()`` yielded (picklable).
Task = tuple[str, Any]


def iter_tasks(roots: list[Root], limit: int | None, report: BuildReport) -> Iterator[Task]:
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

"""What the work on one chunk of items hands back, and the rejections the build makes itself.

A reader names what is wrong with a sample it cannot use; the build adds two reasons of its own:
an unexpected exception (``internal_error``: a bug or an unforeseen file problem, never a failed
build) and a worker process that died while reading the item (``worker_crashed``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..sources.base import Rejected

#: Reason of a rejection caused by an unexpected exception (a bug or an unforeseen file problem).
INTERNAL_ERROR = "internal_error"
#: Reason of an item whose worker process died while reading it, even when run on its own.
WORKER_CRASHED = "worker_crashed"


@dataclass
class ChunkResult:
    """What the work on one chunk of items sends back.

    ``rejected[i]`` and ``kept[i]`` are the rejections and the number of rows of item ``i``;
    ``rows`` holds every kept row of the chunk in item order as one column batch (None if none).
    ``image_slot``: the ring slot holding the crops when ``rows`` travelled without its images.
    """

    rejected: list[list[Rejected]]
    kept: list[int]
    rows: dict[str, np.ndarray] | None
    image_slot: int | None = None


def item_label(item: Any) -> str:
    """A short id for an item whose reader failed before naming its sample."""
    text = item.as_posix() if isinstance(item, Path) else str(item)
    return text if len(text) <= 200 else text[:197] + "..."


def internal_error(source: str, sample_id: str, error: BaseException) -> Rejected:
    """The rejection of a sample whose processing raised an unexpected exception."""
    return Rejected(source, sample_id, INTERNAL_ERROR, f"{type(error).__name__}: {error}")


def failed_chunk(tasks: list[tuple[str, Any]], error: BaseException) -> ChunkResult:
    """Every item of a chunk rejected as ``internal_error`` (e.g. its result did not pickle)."""
    return ChunkResult([[internal_error(name, item_label(item), error)] for name, item in tasks],
                       [0] * len(tasks), None)


def crashed_chunk(tasks: list[tuple[str, Any]]) -> ChunkResult:
    """Every item of a chunk rejected as ``worker_crashed``."""
    detail = ("the worker process died while reading this item, also when it ran on its own (a "
              "crash in a native library, or the out-of-memory killer)")
    return ChunkResult([[Rejected(name, item_label(item), WORKER_CRASHED, detail)]
                        for name, item in tasks], [0] * len(tasks), None)

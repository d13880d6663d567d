"""Every database the toolkit reads, in one fixed order: the shipped records, then the user's.

The order is that of the shards' source codes: ``source`` holds a database's position here and
the attribute ``source_names`` this list, so a database is appended, never inserted, and the
shipped order never changes.

A database outside the package is one module that declares ``DATABASE = DatabaseRecord(...)``
(its reader and demo writer may live in the same module), named in ``$LANDMARK_FUSION_DATABASES``
(module names, separated by commas or white space). Each process reads the variable once, when it
first asks for the records; the build's workers and the demo's rendering processes inherit it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from importlib import import_module

from . import (
    aflw2000_3d_record,
    aflw_record,
    facewarehouse_record,
    lfw74_record,
    ls3d_w_record,
    w300_lp_record,
    w300_record,
    wflw_record,
)
from .record import PAPER_GROUPS, DatabaseRecord, DatabaseRecordError

ENV_VAR = "LANDMARK_FUSION_DATABASES"

#: The databases of the package, in the order of their source codes (append only).
SHIPPED: tuple[DatabaseRecord, ...] = (
    aflw_record.DATABASE,
    w300_record.DATABASE,
    w300_lp_record.DATABASE,
    aflw2000_3d_record.DATABASE,
    ls3d_w_record.DATABASE,
    facewarehouse_record.DATABASE,
    lfw74_record.DATABASE,
    wflw_record.DATABASE,
)

_records: tuple[DatabaseRecord, ...] | None = None


def declared_modules(value: str | None = None) -> list[str]:
    """The module names of ``$LANDMARK_FUSION_DATABASES`` (or of ``value``)."""
    text = os.environ.get(ENV_VAR, "") if value is None else value
    return [name for name in re.split(r"[\s,]+", text) if name]


def module_record(module_name: str) -> DatabaseRecord:
    """The ``DATABASE`` record a user's module declares."""
    where = f"${ENV_VAR}: module {module_name!r}"
    try:
        module = import_module(module_name)
    except ImportError as error:
        raise DatabaseRecordError(f"{where} cannot be imported ({error})") from None
    record = getattr(module, "DATABASE", None)
    if not isinstance(record, DatabaseRecord):
        raise DatabaseRecordError(f"{where} declares no DATABASE = DatabaseRecord(...) "
                                  f"(found {type(record).__name__})")
    if record.group is not None:
        raise DatabaseRecordError(f"{where}: {record.name}: group {record.group!r} is for the "
                                  f"paper's databases ({', '.join(PAPER_GROUPS)}); leave it None")
    return record


def collect(modules: Iterable[str] = ()) -> tuple[DatabaseRecord, ...]:
    """The shipped records followed by those of ``modules``; a name given twice is an error."""
    records = list(SHIPPED) + [module_record(name) for name in modules]
    seen: set[str] = set()
    for record in records:
        if record.name in seen:
            raise DatabaseRecordError(f"database {record.name!r} is declared twice (${ENV_VAR}: "
                                      f"{', '.join(modules) or 'not set'})")
        seen.add(record.name)
    return tuple(records)


def records() -> tuple[DatabaseRecord, ...]:
    """Every database of this process, in source-code order (read once per process)."""
    global _records
    if _records is None:
        _records = collect(declared_modules())
    return _records


def names() -> tuple[str, ...]:
    """The database names, in source-code order."""
    return tuple(record.name for record in records())


def find(name: str) -> DatabaseRecord:
    """The record of database ``name``; KeyError naming the known databases."""
    for record in records():
        if record.name == name:
            return record
    raise KeyError(f"unknown database {name!r}; known: {', '.join(names())}")


def paper_databases() -> dict[str, tuple[str, ...]]:
    """The paper's fusion databases DB-A..D (§4.1) as source names, each adding the shipped
    databases of its group to the one before."""
    return {group: tuple(record.name for earlier in PAPER_GROUPS[: i + 1] for record in SHIPPED
                         if record.group == earlier)
            for i, group in enumerate(PAPER_GROUPS)}

"""Database readers, one module per database, each declared once by a record (:mod:`.registry`).

``SOURCES`` maps each database name, in source-code order, to its reader as ``"module:Class"``;
``get_source(name)`` imports that reader on demand.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from .base import RawFace, Rejected, Source, SourceError
from .record import DatabaseRecord, DatabaseRecordError, DemoSpec
from .registry import find, names, records


class _Readers(Mapping[str, str]):
    """database name -> ``"module:Class"`` of its reader, read from the registry when asked."""

    def __getitem__(self, name: str) -> str:
        for record in records():
            if record.name == name:
                return record.reader
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __len__(self) -> int:
        return len(records())

    def __repr__(self) -> str:
        return repr(dict(self))


#: database name (as in roots.yaml) -> "module:Class", in source-code order
SOURCES: Mapping[str, str] = _Readers()


def get_source(name: str) -> type[Source]:
    """The reader class of database ``name``; raises KeyError naming the known databases."""
    return find(name).load_reader()


__all__ = ["SOURCES", "get_source", "DatabaseRecord", "DatabaseRecordError", "DemoSpec", "RawFace",
           "Rejected", "Source", "SourceError"]

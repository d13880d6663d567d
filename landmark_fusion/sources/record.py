"""What the toolkit knows about one database, declared once: a :class:`DatabaseRecord`.

Every shipped database has its record in a small module beside its reader (``aflw_record.py``
beside ``aflw.py``); :mod:`.registry` collects them in their fixed order, and every place that
needs to know the databases -- the roots file's names, the readers, the shards' source codes, the
demo, the trainer's ``--db`` presets, the docs' tests -- reads them from there.

A record names its reader and its demo writer as ``"module:attribute"`` texts that are imported
only when used, so that knowing the databases costs no reader import (``import
landmark_fusion.sources`` stays cheap).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import import_module
from typing import Any

#: The paper's fusion databases (§4.1), each holding the ones before it: DB-A = 300W-LP train;
#: DB-B = DB-A + FaceWarehouse + LFW-74 train; DB-C = DB-B + WFLW train; DB-D = DB-C + LS3D-W
#: 300VW-3D.
PAPER_GROUPS = ("A", "B", "C", "D")

#: a database name: what roots.yaml, ``--sources`` and the shards' ``source_names`` use
NAME = re.compile(r"[a-z0-9][a-z0-9_]*\Z")
#: ``"package.module:attribute"``
REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")


class DatabaseRecordError(ValueError):
    """A record that cannot be used: a bad field, a name given twice, a module without a record."""


def load_reference(reference: str) -> Any:
    """The object a ``"module:attribute"`` text names (the module is imported now)."""
    module, _, attribute = reference.partition(":")
    try:
        return getattr(import_module(module), attribute)
    except AttributeError:
        raise DatabaseRecordError(f"{reference}: module {module} has no {attribute!r}") from None


@dataclass(frozen=True)
class DemoSpec:
    """How ``fuse demo`` imitates the database (landmark_fusion/demo/databases.py).

    ``writer`` names a :class:`landmark_fusion.demo.plan.DemoDatabase` (its jobs, the annotation
    of a rendered face, the files in the native layout), declared beside the database's writer in
    ``landmark_fusion/demo/writers/``. ``rank`` is the database's place in the demo: the jobs of
    all databases draw from one random stream in this order and roots.yaml lists them in it, so a
    seed gives the same demo; a new database takes the next number.
    """

    writer: str
    share: float   # of the requested face count (300W-LP flips come on top)
    noise: float   # annotation noise, in units of the face size
    rank: int

    def load(self) -> Any:
        """The demo database object ``writer`` names."""
        return load_reference(self.writer)


@dataclass(frozen=True)
class DatabaseRecord:
    """One database: its name, its reader and what its faces come with.

    ``schemes``: the landmark schemes (``correspondences/schemes/<scheme>.yaml``) its faces are
    read in; ``splits``: the splits its reader gives, before a roots.yaml ``split:`` declaration
    replaces them; ``group``: the first of the paper's fusion databases (:data:`PAPER_GROUPS`)
    that holds its training faces, None where the paper trains on none of them; ``yaw`` and
    ``protocol``: where its yaw comes from and the evaluation protocol the paper runs on it, as
    a short text ("" for none).
    """

    name: str
    reader: str
    schemes: tuple[str, ...]
    splits: tuple[str, ...]
    group: str | None = None
    yaw: str = ""
    protocol: str = ""
    demo: DemoSpec | None = None

    def __post_init__(self) -> None:
        where = f"database record {self.name!r}"
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise DatabaseRecordError(f"{where}: the name must be lower-case letters, digits and _")
        if not isinstance(self.reader, str) or not REFERENCE.match(self.reader):
            raise DatabaseRecordError(f"{where}: reader must be 'package.module:Class', "
                                      f"got {self.reader!r}")
        for field_name in ("schemes", "splits"):
            value = getattr(self, field_name)
            if (not isinstance(value, tuple) or not value
                    or not all(isinstance(v, str) and v for v in value)):
                raise DatabaseRecordError(f"{where}: {field_name} must be a non-empty tuple of "
                                          f"names, got {value!r}")
        if self.group is not None and self.group not in PAPER_GROUPS:
            raise DatabaseRecordError(f"{where}: group must be one of {', '.join(PAPER_GROUPS)} "
                                      f"or None, got {self.group!r}")
        if self.demo is not None and (not isinstance(self.demo, DemoSpec)
                                      or not REFERENCE.match(str(self.demo.writer))):
            raise DatabaseRecordError(f"{where}: demo writer must be 'package.module:NAME', "
                                      f"got {self.demo.writer!r}")

    @property
    def reader_module(self) -> str:
        """The module of the reader (imported by the build's worker pool before its workers)."""
        return self.reader.partition(":")[0]

    def load_reader(self) -> Any:
        """The reader class (its module is imported now)."""
        return load_reference(self.reader)

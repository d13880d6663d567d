"""Landmark → vertex tables of the face models (``correspondences/models/<table>.yaml``).

A table maps canonical landmark names (``landmarks.yaml``) to one mesh vertex of one model topology,
naming the source of every entry. Entries without a published vertex carry ``estimated: true`` and
the data they were estimated from (``fuse corr suggest``). File layout::

    model: sfm3448
    description: "..."
    model_names: [sfm_shape_3448]   # FaceModel.name values this table serves
    num_vertices: 3448              # vertex count of the topology (a model may have more)
    landmarks:
      chin: {vertex: 33, source: "eos share/ibug_to_sfm.txt, iBUG 9"}
      ear_r: {vertex: 1234, estimated: true, source: "...", data: "...", error: 3.1}

Each entry stays on one line, so :func:`write_entry` can replace or insert one entry and leave the
rest of the file (comments, order) untouched. The keys of the file and of each entry, and what each
may hold, are those of the typed model
:class:`~landmark_fusion.correspondence.file_schema.TableFile`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..paths import correspondences_dir

MODELS_DIR = "models"


class TableError(ValueError):
    """A model table that cannot be found or read; the message names the file and the problem."""


@dataclass(frozen=True)
class TableEntry:
    """One landmark's vertex, where it came from, and whether it was estimated from data."""

    name: str
    vertex: int
    source: str
    estimated: bool = False
    data: str | None = None          # estimated entries: the faces it came from
    error: float | None = None       # estimated entries: mean reprojection error, % of face size
    alternatives: tuple[tuple[int, str], ...] = ()  # other published vertices (vertex, source)

    def to_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vertex": int(self.vertex)}
        if self.estimated:
            out["estimated"] = True
        out["source"] = self.source
        if self.data is not None:
            out["data"] = self.data
        if self.error is not None:
            out["error"] = round(float(self.error), 3)
        if self.alternatives:
            out["alternatives"] = [{"vertex": int(v), "source": s} for v, s in self.alternatives]
        return out


@dataclass
class ModelTable(Mapping[str, TableEntry]):
    """A model's vertex table: read-only mapping name → :class:`TableEntry`."""

    model: str
    path: Path | None
    description: str = ""
    model_names: list[str] = field(default_factory=list)
    num_vertices: int | None = None
    entries: dict[str, TableEntry] = field(default_factory=dict)
    contours: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # name → file line

    def __getitem__(self, name: str) -> TableEntry:
        return self.entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def vertex_indices(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vertex of each name (−1 where the table has none) and the mask of names that have one."""
        idx = np.array([self.entries[n].vertex if n in self.entries else -1 for n in names],
                       dtype=np.int64)
        return idx, idx >= 0

    def missing(self, names: Sequence[str]) -> list[str]:
        """Names (in the given order) without a vertex in this table."""
        return [n for n in names if n not in self.entries]

    def serves(self, model_name: str) -> bool:
        return model_name == self.model or model_name in self.model_names


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def tables_dir(corr_dir: str | os.PathLike | None = None) -> Path:
    return correspondences_dir(corr_dir) / MODELS_DIR


def list_tables(corr_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the tables shipped (or in ``corr_dir``), sorted."""
    folder = tables_dir(corr_dir)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def read_table(path: str | os.PathLike) -> ModelTable:
    """Parse one table file; raises :class:`TableError` listing every problem of the file as
    ``FILE:LINE: key path: message`` (its YAML, its keys, each entry; see
    :class:`~landmark_fusion.correspondence.file_schema.TableFile`)."""
    from ..correspondence.file_schema import TableFile
    from ..correspondence.typed_reading import read_typed

    path = Path(path)
    located, problems = read_typed(path, TableFile)
    if problems or located is None:
        raise TableError("\n".join(map(str, problems)))
    file = located.model
    entries = {name: TableEntry(name, entry.vertex, entry.source.strip(), entry.estimated, entry.data,
                                entry.error, tuple((alt.vertex, alt.source) for alt in entry.alternatives))
               for name, entry in (file.landmarks or {}).items()}
    return ModelTable(model=file.model or path.stem, path=path, description=file.description,
                      model_names=list(file.model_names or []), num_vertices=file.num_vertices,
                      entries=entries, contours=dict(file.contours or {}),
                      lines={name: located.line("landmarks", name) for name in entries})


def table_path(table_name: str, corr_dir: str | os.PathLike | None = None) -> Path:
    return tables_dir(corr_dir) / f"{table_name}.yaml"


def load_model_table(model_name: str, corr_dir: str | os.PathLike | None = None) -> ModelTable:
    """The table named ``model_name`` (file stem), or the one listing it in ``model_names``."""
    direct = table_path(model_name, corr_dir)
    if direct.is_file():
        return read_table(direct)
    for name in list_tables(corr_dir):
        table = read_table(table_path(name, corr_dir))
        if table.serves(model_name):
            return table
    raise TableError(f"no vertex table for model {model_name!r} in {tables_dir(corr_dir)} "
                     f"(tables: {', '.join(list_tables(corr_dir)) or 'none'}); pass --table")


def table_for(model: Any, table: str | os.PathLike | None = None,
              corr_dir: str | os.PathLike | None = None) -> ModelTable:
    """The table of a :class:`FaceModel`: ``table`` (a file path or table name) if given, else by
    ``model.name``, else the only table whose ``num_vertices`` equals the model's vertex count.
    Checks that every vertex exists in the model."""
    n = int(np.asarray(model.mean).shape[0])
    if table is not None:
        candidate = Path(table)
        result = read_table(candidate) if candidate.suffix in (".yaml", ".yml") or candidate.is_file() \
            else load_model_table(str(table), corr_dir)
    else:
        try:
            result = load_model_table(model.name, corr_dir)
        except TableError:
            tables = [read_table(table_path(t, corr_dir)) for t in list_tables(corr_dir)]
            same = [t for t in tables if t.num_vertices == n]
            if len(same) != 1:
                raise TableError(f"no vertex table for model {model.name!r} ({n} vertices): none lists "
                                 f"it in model_names and {len(same)} tables have {n} vertices; "
                                 f"pass --table") from None
            result = same[0]
    too_big = [e.name for e in result.entries.values() if e.vertex >= n]
    if too_big:
        raise TableError(f"{result.path}: vertices of {', '.join(too_big[:5])} are not in model "
                         f"{model.name!r} ({n} vertices)")
    return result


# ----------------------------------------------------------------------------------------------
# Writing one entry in place
# ----------------------------------------------------------------------------------------------

def format_entry(entry: TableEntry) -> str:
    """One flow-style YAML line for an entry (without indentation)."""
    body = yaml.safe_dump(entry.to_yaml(), default_flow_style=True, sort_keys=False,
                          width=10 ** 6, allow_unicode=True).strip()
    return f"{entry.name}: {body}"


def write_entry(path: str | os.PathLike, entry: TableEntry, order: Sequence[str] | None = None) -> None:
    """Replace ``entry.name``'s line in the table file, or insert it after the nearest preceding
    name of ``order`` (vocabulary order) that the file has, else at the end of ``landmarks:``.
    Every other line (comments included) is kept as it is."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"^landmarks:\s*(#.*)?$", ln)), None)
    if start is None:
        lines += ["", "landmarks:"]
        start = len(lines) - 1
    end = start + 1
    positions: dict[str, int] = {}
    indent = "  "
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "\t", "#")):
        match = re.match(r"^(\s+)([A-Za-z0-9_]+):", lines[end])
        if match:
            indent = match.group(1)
            positions[match.group(2)] = end
        end += 1
    text = indent + format_entry(entry)
    if entry.name in positions:
        lines[positions[entry.name]] = text
    else:
        at = max(positions.values(), default=start) + 1
        if order is not None and entry.name in order:
            before = [n for n in order[:list(order).index(entry.name)] if n in positions]
            if before:
                at = positions[before[-1]] + 1
            elif positions:
                at = min(positions.values())
        lines.insert(at, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read_table(path)  # the result must still parse


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------

def table_problems(table: ModelTable, vocabulary_names: Sequence[str]) -> list[str]:
    """Names the vocabulary does not know and vertices beyond ``num_vertices``, each as
    ``FILE:LINE: name: what``."""
    known = set(vocabulary_names)
    problems = [f"{_where(table, n)}: {n}: not a canonical landmark name (landmarks.yaml)"
                for n in table.entries if n not in known]
    if table.num_vertices is not None:
        problems += [f"{_where(table, e.name)}: {e.name}: vertex {e.vertex} ≥ num_vertices {table.num_vertices}"
                     for e in table.entries.values() if e.vertex >= table.num_vertices]
    return problems


def _where(table: ModelTable, name: str) -> str:
    """``FILE:LINE`` of an entry (the file alone, or the table name, where the line is not known)."""
    where = table.path or table.model
    line = table.lines.get(name, 0)
    return f"{where}:{line}" if line else str(where)


def shared_vertices(table: ModelTable) -> dict[int, list[str]]:
    """Vertices that carry more than one landmark (allowed, but worth a look)."""
    by_vertex: dict[int, list[str]] = {}
    for e in table.entries.values():
        by_vertex.setdefault(e.vertex, []).append(e.name)
    return {v: names for v, names in by_vertex.items() if len(names) > 1}

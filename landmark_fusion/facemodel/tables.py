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
rest of the file (comments, order) untouched.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import yaml

from ..paths import correspondences_dir

MODELS_DIR = "models"
_TOP_KEYS = {"model", "description", "model_names", "num_vertices", "contours", "landmarks"}
_ENTRY_KEYS = {"vertex", "source", "estimated", "data", "error", "alternatives"}


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
    """Parse one table file; raises :class:`TableError` naming the file, the line and the entry at
    fault (``FILE:LINE: message``)."""
    from ..vocabulary import line_of, read_yaml_with_lines

    path = Path(path)
    data, problem = read_yaml_with_lines(path)
    if problem is not None:
        raise TableError(str(problem))

    def fail(line: int, message: str) -> TableError:
        return TableError(f"{path}:{line}: {message}" if line else f"{path}: {message}")

    if not isinstance(data, dict):
        raise fail(1, "expected a mapping at the top level (model, landmarks, ...)")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        key = sorted(unknown, key=str)[0]
        raise fail(line_of(data, key), f"unknown keys {sorted(map(str, unknown))}; allowed: "
                                       f"{sorted(_TOP_KEYS)}")
    raw = data.get("landmarks") or {}
    if not isinstance(raw, dict):
        raise fail(line_of(data, "landmarks"), "'landmarks' must be a mapping name -> entry")
    entries = {}
    for name, value in raw.items():
        try:
            entries[str(name)] = _parse_entry(path, str(name), value)
        except TableError as error:
            raise fail(line_of(raw, name), str(error)) from None
    n = data.get("num_vertices")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n <= 0):
        raise fail(line_of(data, "num_vertices"), f"num_vertices must be a positive integer, got {n!r}")
    names = data.get("model_names") or []
    if not isinstance(names, list):
        raise fail(line_of(data, "model_names"), "'model_names' must be a list of model names")
    contours = data.get("contours") or {}
    if not isinstance(contours, dict):
        raise fail(line_of(data, "contours"), "'contours' must be a mapping")
    return ModelTable(model=str(data.get("model") or path.stem), path=path,
                      description=str(data.get("description") or ""),
                      model_names=[str(s) for s in names],
                      num_vertices=n, entries=entries, contours=dict(contours))


def _parse_entry(path: Path, name: str, value: Any) -> TableEntry:
    """One entry; a :class:`TableError` without the file (the caller adds file and line)."""
    where = f"landmark {name}"
    if isinstance(value, int) and not isinstance(value, bool):
        raise TableError(f"{where}: give {{vertex: {value}, source: ...}} (every entry names its source)")
    if not isinstance(value, dict):
        raise TableError(f"{where}: expected {{vertex: N, source: \"...\"}}, got {value!r}")
    unknown = set(value) - _ENTRY_KEYS
    if unknown:
        raise TableError(f"{where}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(_ENTRY_KEYS)}")
    vertex = value.get("vertex")
    if not isinstance(vertex, int) or isinstance(vertex, bool) or vertex < 0:
        raise TableError(f"{where}: vertex must be a non-negative integer, got {vertex!r}")
    source = value.get("source")
    if not isinstance(source, str) or not source.strip():
        raise TableError(f"{where}: every entry needs a 'source'")
    estimated = bool(value.get("estimated", False))
    if estimated and not value.get("data"):
        raise TableError(f"{where}: an estimated entry must name the 'data' it came from")
    alternatives = []
    for alt in value.get("alternatives") or []:
        if not isinstance(alt, dict) or not isinstance(alt.get("vertex"), int):
            raise TableError(f"{where}: alternatives are {{vertex: N, source: \"...\"}}, got {alt!r}")
        alternatives.append((int(alt["vertex"]), str(alt.get("source", ""))))
    error = value.get("error")
    if error is not None and (isinstance(error, bool) or not isinstance(error, (int, float))):
        raise TableError(f"{where}: error must be a number (% of the face size), got {error!r}")
    return TableEntry(name, int(vertex), source.strip(), estimated,
                      None if value.get("data") is None else str(value["data"]),
                      None if error is None else float(error), tuple(alternatives))


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
    """Names the vocabulary does not know and vertices beyond ``num_vertices``."""
    where = table.path or table.model
    known = set(vocabulary_names)
    problems = [f"{where}: {n}: not a canonical landmark name (landmarks.yaml)"
                for n in table.entries if n not in known]
    if table.num_vertices is not None:
        problems += [f"{where}: {e.name}: vertex {e.vertex} ≥ num_vertices {table.num_vertices}"
                     for e in table.entries.values() if e.vertex >= table.num_vertices]
    return problems


def shared_vertices(table: ModelTable) -> dict[int, list[str]]:
    """Vertices that carry more than one landmark (allowed, but worth a look)."""
    by_vertex: dict[int, list[str]] = {}
    for e in table.entries.values():
        by_vertex.setdefault(e.vertex, []).append(e.name)
    return {v: names for v, names in by_vertex.items() if len(names) > 1}

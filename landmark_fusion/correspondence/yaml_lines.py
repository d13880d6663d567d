"""YAML read safely with the line of every mapping, key and list item, for ``FILE:LINE`` messages.

Mappings come back as :class:`LineDict` and lists as :class:`LineList` (plain ``dict`` and ``list``
subclasses, so any code that reads plain YAML data reads them too). :func:`line_at` finds the line
of a key path such as ``("points", 36, "drop", "rule")``; :func:`repeated_keys` lists the keys a
mapping gives twice, which a plain YAML load would silently collapse to the last one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeGuard

import yaml

from .problems import Problem

Key = object  # a mapping key (usually str) or a list index (int)


class LineDict(dict):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict
    duplicate_keys: list  # (key, line) of every key given again after its first

    def line_of(self, key: object) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A YAML list that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


# libyaml when present: 5x faster; which base it is is known only at run time
class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader whose mappings and lists carry line numbers (from the node start marks)."""


def _construct_line_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.duplicate_keys = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            mapping.duplicate_keys.append((key, key_node.start_mark.line + 1))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_line_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(item, deep=True) for item in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [item.start_mark.line + 1 for item in node.value]
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_line_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_line_sequence)


def read_yaml_with_lines(path: str | os.PathLike) -> tuple[object, Problem | None]:
    """Parse a YAML file safely, its mappings :class:`LineDict` and its lists :class:`LineList`.

    Returns ``(data, None)``, or ``(None, problem)`` for a file that cannot be read, is not UTF-8
    text or is not YAML; the problem names the file and, where there is one, the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, Problem(str(path), 0, f"cannot read: {error.strerror or error}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        return None, Problem(str(path), line, f"not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                                              f"offset {error.start}); save the file as UTF-8")
    try:
        return yaml.load(text, Loader=_LineLoader), None  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return None, Problem(str(path), line, f"YAML syntax error: {getattr(error, 'problem', None) or error}")


def line_of(value: object, key: Key | None = None) -> int:
    """The line of a mapping or list read by :func:`read_yaml_with_lines` (of ``key`` in it);
    0 when unknown."""
    if isinstance(value, (LineDict, LineList)):
        return value.line if key is None else _line_in(value, key)
    return 0


def _line_in(container: LineDict | LineList, key: Key) -> int:
    if isinstance(container, LineList):
        return container.line_of(key) if _is_index(key) else container.line
    return container.line_of(key)


def _is_index(key: Key) -> TypeGuard[int]:
    return isinstance(key, int) and not isinstance(key, bool)


def line_at(data: object, loc: Sequence[Key]) -> int:
    """The line of the key path ``loc`` in ``data``: of its last key or item, else of the deepest
    part of the path that exists (0 when not even the top was read with lines)."""
    line, node = line_of(data), data
    for key in loc:
        if isinstance(node, LineDict) and key in node:
            line, node = node.line_of(key), node[key]
        elif isinstance(node, LineList) and _is_index(key) and 0 <= key < len(node):
            line, node = node.line_of(key), node[key]
        else:
            break
    return line


def repeated_keys(data: object, loc: tuple[Key, ...] = ()) -> Iterator[tuple[tuple[Key, ...], object, int]]:
    """``(path of the mapping, key, line)`` of every key given twice in a mapping, anywhere in ``data``."""
    if isinstance(data, LineDict):
        for key, line in data.duplicate_keys:
            yield loc, key, line
        for key, value in data.items():
            yield from repeated_keys(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from repeated_keys(value, (*loc, index))


__all__ = ["LineDict", "LineList", "line_at", "line_of", "read_yaml_with_lines", "repeated_keys"]

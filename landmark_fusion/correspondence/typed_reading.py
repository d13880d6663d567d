"""Read a correspondence file into its typed model, every problem as ``FILE:LINE: key path: what``.

:func:`read_typed` parses the YAML with line numbers (:mod:`.yaml_lines`), reports keys given twice,
validates the data against a model of :mod:`.file_schema` and turns each of pydantic's errors into
one :class:`~.problems.Problem` at the line of the key it concerns, worded by :data:`MESSAGES`. The
result keeps the YAML beside the model (:class:`Located`), so that the checks across entries can
name lines too.
"""
from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .conventions import NAME_PATTERN
from .problems import Problem
from .yaml_lines import Key, line_at, read_yaml_with_lines, repeated_keys

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Located(Generic[M]):
    """A file's typed content and the YAML it was read from (for the line of any key path)."""

    path: str
    model: M
    data: dict

    def line(self, *loc: Key) -> int:
        """The line of the key path ``loc`` (of the deepest part of it that the file has)."""
        return line_at(self.data, loc)

    def problem(self, loc: Sequence[Key], message: str) -> Problem:
        """A problem at the line of ``loc``."""
        return Problem(self.path, self.line(*loc), message)


def read_typed(path: str | os.PathLike, model: type[M]) -> tuple[Located[M] | None, list[Problem]]:
    """Parse ``path`` and validate it against ``model``.

    Returns the located model (None when the file is unreadable, not YAML or does not fit the
    model) and every problem found, sorted by line. Keys given twice are problems but leave the
    model usable (the later value counts), so that the checks across entries still run.
    """
    where = str(path)
    data, problem = read_yaml_with_lines(Path(path))
    if problem is not None:
        return None, [problem]
    if data is None:
        return None, [Problem(where, 0, "the file is empty")]
    if not isinstance(data, dict):
        return None, [Problem(where, 1, f"expected a mapping at the top level ({_keys_of(model)})")]
    problems = [Problem(where, line, f"{_key_path(loc, data)}: key {key!r} given twice" if loc else
                        f"key {key!r} given twice") for loc, key, line in repeated_keys(data)]
    try:
        typed = model.model_validate(data)
    except ValidationError as error:
        problems += [_problem(where, data, model, detail) for detail in error.errors(include_url=False)]
        return None, sorted(problems, key=lambda p: p.line)
    return Located(where, typed, data), sorted(problems, key=lambda p: p.line)


# ----------------------------------------------------------------------------- pydantic's errors

def _got(value: Any) -> str:
    """A value as the YAML author wrote it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _bound(word: str, limit: Any) -> str:
    return {("greater than", 0): "must be positive", ("at least", 0): "must be non-negative"}.get(
        (word, limit), f"must be {word} {limit}")


def _pattern(pattern: object, got: Any) -> str:
    """What a value that fails one of the models' patterns is told."""
    if pattern == r"\S":
        return "must not be empty"
    if pattern == NAME_PATTERN.pattern:
        return f"names are lower-case words joined by '_', not {_got(got)}"
    return f"must match {pattern}, not {_got(got)}"


#: Project wording per pydantic error type: ``(ctx, input) -> what is wrong``.
MESSAGES: dict[str, Callable[[dict, Any], str]] = {
    "int_type": lambda ctx, got: f"must be an integer, not {_got(got)}",
    "float_type": lambda ctx, got: f"must be a number, not {_got(got)}",
    "bool_type": lambda ctx, got: f"must be true or false, not {_got(got)}",
    "string_type": lambda ctx, got: f"must be text, not {_got(got)}",
    "list_type": lambda ctx, got: f"must be a list, not {_got(got)}",
    "dict_type": lambda ctx, got: f"must be a mapping, not {_got(got)}",
    "model_type": lambda ctx, got: f"must be a mapping, not {_got(got)}",
    "greater_than": lambda ctx, got: f"{_bound('greater than', ctx.get('gt'))}, not {_got(got)}",
    "greater_than_equal": lambda ctx, got: f"{_bound('at least', ctx.get('ge'))}, not {_got(got)}",
    "too_short": lambda ctx, got: "must not be empty",
    "string_pattern_mismatch": lambda ctx, got: _pattern(ctx.get("pattern"), got),
}


def _problem(where: str, data: dict, model: type[BaseModel], detail: ErrorDetails) -> Problem:
    """One pydantic error as ``FILE:LINE: key path: what is wrong``."""
    loc, kind, ctx, got = tuple(detail["loc"]), detail["type"], detail.get("ctx") or {}, detail["input"]
    line_loc = loc
    if kind == "extra_forbidden":
        loc, key = loc[:-1], loc[-1]
        allowed = ", ".join(sorted(_fields(_model_at(model, loc))))
        what = f"unknown key {key!r} (allowed: {allowed})"
    elif kind == "missing":
        loc, key = loc[:-1], loc[-1]
        line_loc = loc
        what = f"missing key {key!r}" + _meaning(_model_at(model, loc), key)
    elif loc and loc[-1] == "[key]":  # a mapping key of the wrong type or form
        loc, line_loc, key = loc[:-2], loc[:-1], loc[-2]
        what = f"key {key!r}: {_wording(kind, ctx, got, detail)}"
    else:
        if "key" in ctx:  # an entry's own check, about one of its keys
            line_loc = (*loc, ctx["key"])
        what = _wording(kind, ctx, got, detail)
    line = line_at(data, line_loc)
    return Problem(where, line, f"{_key_path(loc, data)}: {what}" if loc else what)


def _wording(kind: str, ctx: dict, got: Any, detail: ErrorDetails) -> str:
    message = MESSAGES.get(kind)
    if message is not None:
        return message(ctx, got)
    text = str(detail["msg"]).removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


def _key_path(loc: Sequence[Key], data: object) -> str:
    """``("points", 36, "drop")`` → ``points[36] (eye_r_outer).drop``: a list item that is a mapping
    with a ``name`` is named after it."""
    text, node = "", data
    for key in loc:
        if isinstance(key, int) and not isinstance(key, bool):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else str(key)
        node = _child(node, key)
        name = node.get("name") if isinstance(node, dict) and isinstance(key, int) else None
        if isinstance(name, str):
            text += f" ({name})"
    return text


def _child(node: object, key: Key) -> object:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None


# ----------------------------------------------------------------------------- the model at a key path

def _fields(model: type[BaseModel] | None) -> list[str]:
    return list(model.model_fields) if model is not None else []


def _meaning(model: type[BaseModel] | None, key: Key) -> str:
    """``": <what the key holds>"`` from the model's description of the field ("" without one)."""
    field = model.model_fields.get(key) if model is not None and isinstance(key, str) else None
    return f": {field.description}" if field is not None and field.description else ""


def _keys_of(model: type[BaseModel]) -> str:
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    return f"required: {', '.join(required)}" if required else f"keys: {', '.join(model.model_fields)}"


def _model_at(model: type[BaseModel], loc: Sequence[Key]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` (None when it is not a model)."""
    current: Any = model
    for key in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                return None
            current = _inner(field.annotation)
        elif typing.get_origin(current) in (list, dict):
            current = _inner(typing.get_args(current)[-1])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and without ``None`` of an optional."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [_inner(arg) for arg in typing.get_args(annotation)]
        options = [arg for arg in options if arg is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


__all__ = ["Located", "MESSAGES", "read_typed"]

"""The JSON schemas of the correspondence files, written into a folder for editors.

One file per kind, ``<kind>.schema.json`` (:data:`~.file_schema.FILE_KINDS`: ``landmarks``,
``scheme``, ``model-table``), generated from the typed models, so they always say what the
toolkit that wrote them accepts. Each carries :data:`MARK` in its ``$comment``: a later run
replaces the tool's own files, and anything else at their paths is refused before a file is
written. Each file appears whole (written under a temporary name, then renamed).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

#: The folder of a correspondence copy that holds the schemas (``fuse corr init`` writes it).
SCHEMAS_DIR = "schemas"
MARK = ("Written by landmark-fusion (fuse corr schema) from its models of the correspondence "
        "files; regenerate it instead of editing it.")


class SchemaFileError(Exception):
    """A schema cannot be written where asked; the message names the path and why."""


def schema_file_name(kind: str) -> str:
    """``scheme`` → ``scheme.schema.json``."""
    return f"{kind}.schema.json"


def schema_texts() -> dict[str, str]:
    """File name → JSON text of every schema."""
    from .file_schema import FILE_KINDS, json_schema

    texts = {}
    for kind, model in FILE_KINDS.items():
        schema = json_schema(model)
        marked = {"$schema": schema.pop("$schema"), "$comment": MARK, **schema}
        texts[schema_file_name(kind)] = json.dumps(marked, indent=2, ensure_ascii=False) + "\n"
    return texts


def _is_ours(path: Path) -> bool:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(content, dict) and content.get("$comment") == MARK


def write_schemas(folder: str | os.PathLike) -> list[Path]:
    """Write every schema into ``folder`` (made if missing); the paths written.

    Raises :class:`SchemaFileError`, with nothing written, when ``folder`` is not a folder or a
    schema's path holds anything but a schema this tool wrote.
    """
    from ..lifetime import process_tag

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SchemaFileError(f"{folder} exists and is not a folder; nothing was written")
    texts = {folder / name: text for name, text in schema_texts().items()}
    for path in texts:
        if path.is_symlink() or (path.exists() and not (path.is_file() and _is_ours(path))):
            raise SchemaFileError(f"{path} exists and is not a schema written by landmark-fusion; "
                                  "nothing was written: choose another folder or move it away")
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        partial = path.with_name(f".{path.name}.landmark-fusion-{process_tag()}.tmp")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return list(texts)


__all__ = ["MARK", "SCHEMAS_DIR", "SchemaFileError", "schema_file_name", "schema_texts", "write_schemas"]

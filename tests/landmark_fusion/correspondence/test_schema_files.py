"""JSON schema files for editors: written whole, replaced when the tool wrote them, never over a user's file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from landmark_fusion.correspondence.file_schema import FILE_KINDS, json_schema
from landmark_fusion.correspondence.schema_files import MARK, SchemaFileError, write_schemas

NAMES = ["landmarks.schema.json", "model-table.schema.json", "scheme.schema.json"]


def test_writes_one_marked_schema_per_file_kind(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "new" / "schemas")
    assert sorted(p.name for p in written) == NAMES
    assert sorted(p.name for p in (tmp_path / "new" / "schemas").iterdir()) == NAMES  # no temporary left
    for kind, model in FILE_KINDS.items():
        content = json.loads((tmp_path / "new" / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8"))
        assert content.pop("$comment") == MARK and content == json_schema(model)


def test_replaces_its_own_files(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    old = tmp_path / "scheme.schema.json"
    old.write_text(json.dumps({"$comment": MARK, "title": "an older version"}))
    write_schemas(tmp_path)
    assert json.loads(old.read_text())["title"].startswith("landmark-fusion landmark scheme")


@pytest.mark.parametrize("content", ['{"title": "mine"}', "not json", None])
def test_refuses_a_file_it_did_not_write_and_writes_nothing(tmp_path: Path, content: str | None) -> None:
    target = tmp_path / "scheme.schema.json"
    if content is None:
        target.mkdir()
    else:
        target.write_text(content)
    with pytest.raises(SchemaFileError, match="scheme.schema.json exists and is not a schema written by"):
        write_schemas(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scheme.schema.json"]
    if content is not None:
        assert target.read_text() == content


def test_refuses_a_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(SchemaFileError, match="is not a folder"):
        write_schemas(tmp_path / "out")

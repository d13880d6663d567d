"""The typed models accept every installed file; their JSON schemas agree with them on real files."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from landmark_fusion.correspondence.file_schema import FILE_KINDS, SchemeFile, TableFile, VocabularyFile, json_schema
from landmark_fusion.correspondence.typed_reading import read_typed
from landmark_fusion.paths import installed_correspondences

INSTALLED = installed_correspondences()
FILES = [("landmarks", INSTALLED / "landmarks.yaml")] + \
    [("scheme", p) for p in sorted((INSTALLED / "schemes").glob("*.yaml"))] + \
    [("model-table", p) for p in sorted((INSTALLED / "models").glob("*.yaml"))]


def _validator(kind: str) -> jsonschema.Draft7Validator:
    schema = json_schema(FILE_KINDS[kind])
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_every_installed_file_kind_is_covered() -> None:
    assert {kind for kind, _ in FILES} == set(FILE_KINDS) and len(FILES) == 1 + 5 + 6
    assert FILE_KINDS == {"landmarks": VocabularyFile, "scheme": SchemeFile, "model-table": TableFile}


@pytest.mark.parametrize("kind, path", FILES, ids=[p.name for _, p in FILES])
def test_installed_files_fit_the_model_and_the_json_schema(kind: str, path: Path) -> None:
    located, problems = read_typed(path, FILE_KINDS[kind])
    assert problems == [] and located is not None
    errors = list(_validator(kind).iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert errors == [], [e.message for e in errors]


def test_json_schemas_are_draft_07_with_descriptions() -> None:
    for model in FILE_KINDS.values():
        schema = json_schema(model)
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#" and "$defs" not in schema
        assert schema["additionalProperties"] is False and schema["description"]
        refs = [ref for ref in _refs(schema)]
        assert all(ref.startswith("#/definitions/") and ref.split("/")[-1] in schema["definitions"] for ref in refs)
    point = json_schema(SchemeFile)["definitions"]["SchemePoint"]["properties"]
    assert "mirror partner" in point["mirror_index"]["description"]


def _refs(node: object):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _ibug68() -> dict:
    return yaml.safe_load((INSTALLED / "schemes" / "ibug68.yaml").read_text(encoding="utf-8"))


def _sfm() -> dict:
    return yaml.safe_load((INSTALLED / "models" / "sfm3448.yaml").read_text(encoding="utf-8"))


def _point(data: dict, index: int, **changes) -> dict:
    data = copy.deepcopy(data)
    data["points"][index].update(changes)
    data["points"][index] = {k: v for k, v in data["points"][index].items() if v is not None}
    return data


@pytest.mark.parametrize("kind, data", [
    ("scheme", _point(_ibug68(), 36, nmae="eye_r_outer")),                                  # unknown key
    ("scheme", _point(_ibug68(), 36, drop={"rule": 3, "reason": "x"}, mirror_index=45)),   # name and drop
    ("scheme", _point(_ibug68(), 36, mirror_index=45)),                                    # kept, with mirror
    ("scheme", _point(_ibug68(), 0, mirror_index=None)),                                   # dropped, no mirror
    ("scheme", _point(_ibug68(), 0, drop={"rule": 1, "reason": "x"})),                     # a keeping rule
    ("scheme", _point(_ibug68(), 36, name="Eye_R_Outer")),                                 # not a name
    ("scheme", {**_ibug68(), "num_points": "68"}),                                         # not an integer
    ("landmarks", {"landmarks": []}),                                                      # empty
    ("model-table", {**_sfm(), "landmarks": {"chin": {"vertex": 3, "source": "s", "estimated": True}}}),
    ("model-table", {**_sfm(), "landmarks": {"chin": 33}}),
])
def test_what_the_model_refuses_the_json_schema_refuses(tmp_path: Path, kind: str, data: dict) -> None:
    path = tmp_path / "planted.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    located, problems = read_typed(path, FILE_KINDS[kind])
    assert located is None and problems
    assert list(_validator(kind).iter_errors(data))

"""Typed models of the three kinds of correspondence files, and their JSON schemas.

- :class:`VocabularyFile`: ``landmarks.yaml``, the canonical landmarks;
- :class:`SchemeFile`: ``schemes/<scheme>.yaml``, one native landmark scheme;
- :class:`TableFile`: ``models/<table>.yaml``, canonical name → vertex of one model topology.

A model checks what one file can say on its own, entry by entry: its keys (an unknown key is
refused), the type of every value (``strict``: no ``"3"`` for 3, no ``true`` for 1), the required
keys, the form of names, the rule of a drop, and what one entry must hold together (a point has a
name or a drop, a dropped point its ``mirror_index``, an estimated vertex its ``data``). What needs
several entries or another file (duplicates, index ranges, mirror partners, counts, names the
vocabulary lacks) is checked by :mod:`.vocabulary_checks`, :mod:`.scheme_checks` and
:func:`landmark_fusion.facemodel.tables.table_problems`.

:func:`json_schema` turns a model into the JSON schema an editor validates and completes the YAML
with (``fuse corr schema``); the descriptions below are what the editor shows.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from .conventions import DROP_RULES, NAME_PATTERN, RULES

# ----------------------------------------------------------------------------- value types

#: A canonical (or scheme) name: lower-case words joined by ``_``.
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN.pattern)]
#: Text that is not empty or blank.
Text = Annotated[str, StringConstraints(pattern=r"\S")]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(gt=0)]


def _drop_rule(rule: int) -> int:
    if rule not in RULES:
        raise PydanticCustomError("unknown_rule", "unknown rule {rule} (rules: {rules})",
                                  {"rule": rule, "rules": ", ".join(map(str, RULES))})
    if rule not in DROP_RULES:
        raise PydanticCustomError("keeping_rule", "rule {rule} keeps points; it cannot drop one",
                                  {"rule": rule})
    return rule


DropRule = Annotated[int, AfterValidator(_drop_rule), WithJsonSchema({
    "type": "integer", "enum": list(DROP_RULES),
    "description": "; ".join(f"{rule}: {RULES[rule]}" for rule in DROP_RULES) + " (the paper's §3.4)"})]


class _FileModel(BaseModel):
    """Common settings: unknown keys refused, no type coercion, read-only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ----------------------------------------------------------------------------- landmarks.yaml

class LandmarkEntry(_FileModel):
    """One canonical landmark."""

    name: Name = Field(description="<part>_<side>_<position>, midline points <part>_<position>; "
                                   "side r is the subject's right (image-left on a frontal photo)")
    region: Text = Field(description="one of the regions of the file (jaw, ear, brow, eye, nose, mouth); "
                                     "a landmark and its mirror share it")
    mirror: Text = Field(description="the landmark at the same place on the other side (r and l "
                                     "swapped); a midline landmark is its own mirror")
    description: Text = Field(description="one line: the anatomical point")


class VocabularyFile(_FileModel):
    """The canonical landmark vocabulary of landmark-fusion (landmarks.yaml): every landmark any
    scheme keeps, in the order of the shards' landmark axis."""

    model_config = ConfigDict(title="landmark-fusion vocabulary (landmarks.yaml)")

    version: Positive = Field(1, description="format version of the file")
    regions: dict[str, Text] | None = Field(
        None, description="region name → what the region holds")
    landmarks: list[LandmarkEntry] = Field(min_length=1, description="the canonical landmarks, in "
                                                                     "the order of the landmark axis")


# ----------------------------------------------------------------------------- schemes/<scheme>.yaml

class Drop(_FileModel):
    """Why a point is dropped."""

    rule: DropRule
    reason: Text = Field(description="one line: why the rule applies to this point")


class SchemePoint(_FileModel):
    """One native index: kept under a canonical name, or dropped by a rule."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["name"], "not": {"anyOf": [{"required": ["drop"]}, {"required": ["mirror_index"]}]}},
        {"required": ["drop", "mirror_index"], "not": {"required": ["name"]}},
    ]})

    index: Count = Field(description="the native index (0-based); points are listed by index")
    name: Name | None = Field(None, description="kept: the canonical name "
                                                                "(landmarks.yaml) of the point")
    drop: Drop | None = Field(None, description="dropped: the rule and the reason")
    mirror_index: Count | None = Field(
        None, description="dropped points only: the index of the point's mirror partner in this "
                          "scheme (kept points mirror through the vocabulary)")
    describes: str | None = Field(None, description="what the point is (dropped points)")
    native: str | None = Field(None, description="the database's own name for the point")

    @model_validator(mode="after")
    def _name_or_drop(self) -> SchemePoint:
        if (self.name is None) == (self.drop is None):
            raise PydanticCustomError("name_or_drop", "give exactly one of 'name' or 'drop'")
        if self.name is not None and self.mirror_index is not None:
            raise PydanticCustomError("kept_point_mirror_index", "a kept point mirrors through the "
                                      "vocabulary; remove its 'mirror_index'", {"key": "mirror_index"})
        if self.drop is not None and self.mirror_index is None:
            raise PydanticCustomError("dropped_point_mirror", "a dropped point needs 'mirror_index' "
                                      "(the index of its mirror partner)", {"key": "drop"})
        return self


class SchemeFile(_FileModel):
    """One native landmark scheme of landmark-fusion (schemes/<scheme>.yaml): every index mapped to
    a canonical name or dropped by one of the paper's rules (§3.4)."""

    model_config = ConfigDict(title="landmark-fusion landmark scheme (schemes/<scheme>.yaml)")

    name: Name = Field(description="the scheme name, equal to the file name")
    description: str = Field("", description="one line: the scheme")
    databases: list[str] = Field([], description="the readers that produce this scheme")
    num_points: Positive = Field(description="number of native points")
    expected_kept: Count = Field(description="number of kept points; validated against the points")
    paper_kept: Count | None = Field(
        None, description="the paper's count, where it gives one; if it differs, 'notes' must say why")
    fixed: bool = Field(False, description="true for a 3-D consistent scheme: rule 1, nothing may "
                                           "be dropped")
    notes: str | None = Field(None, description="why the points are kept or dropped "
                                                               "as they are")
    points: list[SchemePoint] = Field(description="one entry per index, in index order")


# ----------------------------------------------------------------------------- models/<table>.yaml

class Alternative(_FileModel):
    """Another published vertex for the same point."""

    vertex: Count
    source: str = ""


class TableEntryFile(_FileModel):
    """One landmark's vertex and where it comes from."""

    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"estimated": {"const": True}}, "required": ["estimated"]},
        "then": {"required": ["data"]}})

    vertex: Count = Field(description="0-based vertex index in the model topology")
    source: Text = Field(description="where the vertex comes from (a published file, or the command "
                                     "that estimated it)")
    estimated: bool = Field(False, description="true when no published vertex exists and it was "
                                               "estimated from data (fuse corr suggest)")
    data: Text | None = Field(None, description="estimated entries: the faces it was "
                                                                "estimated from")
    error: float | None = Field(
        None, description="estimated entries: mean reprojection error, % of the face size")
    alternatives: list[Alternative] = Field([], description="other published vertices for the point")

    @model_validator(mode="before")
    @classmethod
    def _not_a_bare_vertex(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            raise PydanticCustomError("bare_vertex", "give {vertex: {value}, source: ...} (every entry "
                                      "names its source)", {"value": value})
        return value

    @model_validator(mode="after")
    def _estimated_has_data(self) -> TableEntryFile:
        if self.estimated and self.data is None:
            raise PydanticCustomError("estimated_without_data", "an estimated entry must name the "
                                      "'data' it came from", {"key": "estimated"})
        return self


class TableFile(_FileModel):
    """A vertex table of landmark-fusion (models/<table>.yaml): canonical landmark name → one vertex
    of one model topology, each with its source. One entry per line, so tools can rewrite one."""

    model_config = ConfigDict(title="landmark-fusion vertex table (models/<table>.yaml)")

    model: str | None = Field(None, description="the table name (default: the file name)")
    description: str = Field("", description="one line: the model and topology")
    model_names: list[str] | None = Field(
        None, description="FaceModel.name values this table serves")
    num_vertices: Positive | None = Field(
        None, description="vertex count of the topology (a model may have more)")
    contours: dict[str, Any] | None = Field(
        None, description="2-D silhouette candidates (source, right, left vertex lists)")
    landmarks: dict[Name, TableEntryFile] | None = Field(
        None, description="canonical name (landmarks.yaml) → its vertex")


# ----------------------------------------------------------------------------- JSON schemas

#: The file kinds, by the name of their JSON schema file (``<kind>.schema.json``).
FILE_KINDS: dict[str, type[_FileModel]] = {
    "landmarks": VocabularyFile, "scheme": SchemeFile, "model-table": TableFile}


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema (draft-07, which the common YAML editors read) of a file model."""
    schema = model.model_json_schema(ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs", None)
    result = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    if definitions:
        result["definitions"] = definitions
    return result


__all__ = ["Alternative", "Drop", "FILE_KINDS", "LandmarkEntry", "SchemeFile", "SchemePoint",
           "TableEntryFile", "TableFile", "VocabularyFile", "json_schema"]

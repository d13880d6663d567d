"""landmarks.yaml: every planted error is caught with its file and line; the loader refuses the file."""
from __future__ import annotations

from pathlib import Path

import pytest

from landmark_fusion.correspondence import CorrespondenceError, load_vocabulary, validate
from landmark_fusion.correspondence.vocabulary_checks import check_vocabulary

VOCAB = "landmarks.yaml"


@pytest.mark.parametrize("old, new, message", [
    # across entries (vocabulary_checks)
    ("mirror: brow_l_outer,", "mirror: brow_l_inner,", "asymmetric mirror: brow_r_outer → brow_l_inner"),
    ("{name: eye_l_outer, region: eye,", "{name: eye_l_outer, region: brow,", "mirror across regions"),
    ("{name: eye_l_outer, region: eye,", "{name: eye_l_outer, region: cheek,", "unknown region 'cheek'"),
    ("{name: jaw_l_top,", "{name: jaw_r_top,", "duplicate landmark name 'jaw_r_top'"),
    ("mirror: nose_tip,", "mirror: nose_subnasale,", "a midline name is its own mirror"),
    ("mirror: brow_l_outer,", "mirror: brow_l_outr,", "mirror 'brow_l_outr' is not a landmark"),
    ("{name: chin,", "{name: chin_bottom,", "fixed name 'chin' is missing"),
    # one entry on its own (file_schema.VocabularyFile) and the YAML
    ("region: nose, mirror: nose_tip,", "region: nose, region: nose, mirror: nose_tip,", "key 'region' given twice"),
    ("{name: chin,", "{name: chin, colour: red,", "landmarks[16] (chin): unknown key 'colour'"),
    ("{name: chin,", "{name: Chin,", "names are lower-case words joined by '_', not 'Chin'"),
    ('description: "Lowest point of the chin', 'description: " ", x: "', "landmarks[16] (chin).description: must not be empty"),
    (", description: \"Lowest point of the chin", ", x: \"", "landmarks[16] (chin): missing key 'description'"),
    ("version: 1", "version: one", "version: must be an integer, not 'one'"),
    ("landmarks:\n", "landmarks:\n  - {name: [\n", "YAML syntax error"),
])
def test_planted_error_is_caught_with_its_line(corr_copy: Path, plant, old: str, new: str, message: str) -> None:
    line = plant(corr_copy, VOCAB, old, new)
    problems = validate(corr_copy)
    hits = [p for p in problems if message in str(p)]
    assert hits, "\n".join(map(str, problems))
    assert all(Path(p.path) == corr_copy / VOCAB for p in hits)
    if "is missing" not in message and "syntax" not in message:
        assert line in {p.line for p in hits}, (line, [str(p) for p in hits])
    assert str(hits[0]).startswith(f"{corr_copy / VOCAB}:")


def test_loader_refuses_invalid_vocabulary(corr_copy: Path, plant) -> None:
    line = plant(corr_copy, VOCAB, "mirror: eye_l_inner,", "mirror: eye_l_outer,")
    with pytest.raises(CorrespondenceError, match=rf"landmarks\.yaml:{line}: asymmetric mirror"):
        load_vocabulary(corr_copy)


def test_a_vocabulary_with_problems_is_still_returned_for_the_scheme_checks(corr_copy: Path, plant) -> None:
    plant(corr_copy, VOCAB, "{name: eye_l_outer, region: eye,", "{name: eye_l_outer, region: cheek,")
    vocabulary, problems = check_vocabulary(corr_copy / VOCAB)
    assert len(problems) == 3 and vocabulary is not None and len(vocabulary) == 106  # region, across regions (2)


def test_empty_and_non_mapping_files(corr_copy: Path) -> None:
    path = corr_copy / VOCAB
    path.write_text("# nothing but a comment\n")
    assert [str(p) for p in check_vocabulary(path)[1]] == [f"{path}: the file is empty"]
    path.write_text("- a\n- b\n")
    assert [str(p) for p in check_vocabulary(path)[1]] == [
        f"{path}:1: expected a mapping at the top level (required: landmarks)"]

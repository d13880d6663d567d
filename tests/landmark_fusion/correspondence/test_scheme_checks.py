"""Scheme files: every planted error is caught with its file and line; the loader refuses the file."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from landmark_fusion.correspondence import CorrespondenceError, load_scheme, load_vocabulary, validate
from landmark_fusion.correspondence.scheme_checks import check_scheme

SCHEME = "schemes/ibug68.yaml"


@pytest.mark.parametrize("relative, old, new, message", [
    # across points, files and the vocabulary (scheme_checks)
    (SCHEME, "name: eye_r_outer}", "name: eye_r_outter}", "unknown landmark name 'eye_r_outter'"),
    (SCHEME, "name: eye_r_inner}", "name: eye_r_outer}", "duplicate name eye_r_outer"),
    (SCHEME, "{index: 67,", "{index: 68,", "index 68 out of range 0..67"),
    (SCHEME, "{index: 40,", "{index: 39,", "index 39 given twice"),
    (SCHEME, "{index: 41,", "{index: 39,", "index 39 given twice"),
    (SCHEME, "mirror_index: 16,", "mirror_index: 15,", "asymmetric mirror: 0 → 15"),
    (SCHEME, "mirror_index: 16,", "mirror_index: 8,", "mirror_index 8 is a kept point"),
    (SCHEME, "mirror_index: 16,", "mirror_index: 99,", "needs 'mirror_index'"),
    (SCHEME, "expected_kept: 52", "expected_kept: 53", "52 points kept, but expected_kept says 53"),
    (SCHEME, "expected_kept: 52", "expected_kept: 69", "expected_kept: must be in 0..68"),
    (SCHEME, "{index: 45, name: eye_l_outer}", "{index: 45, name: nose_r_nostril}", "index 45 must be the fixed name"),
    (SCHEME, "name: ibug68\n", "name: ibug86\n", "differs from the file name"),
    ("schemes/ibug68_fixed.yaml", "{index: 3, name: jaw_r_3of8}", "{index: 3, drop: {rule: 2, reason: x}, mirror_index: 13}",
     "rule 1 keeps every point of a fixed scheme"),
    ("schemes/wflw98.yaml", "name: brow_l_lower_1of5}", "name: brow_l_lower_1of3}", "its mirror brow_r_lower_1of3 is not in the scheme"),
    # one point on its own (file_schema.SchemeFile)
    (SCHEME, "rule: 2,", "rule: 7,", "points[0].drop.rule: unknown rule 7"),
    (SCHEME, "rule: 2,", "rule: 1,", "rule 1 keeps points"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, name: eye_r_outer, mirror_index: 45}", "remove its 'mirror_index'"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, name: eye_r_outer, drop: {rule: 3, reason: x}}", "exactly one of"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36}", "exactly one of"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, nmae: eye_r_outer}", "unknown key 'nmae'"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, name: Eye_R_Outer}", "names are lower-case words"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: '36', name: eye_r_outer}", "points[36] (eye_r_outer).index: must be an integer, not '36'"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "eye_r_outer", "points[36]: must be a mapping"),
    (SCHEME, ", mirror_index: 16,", ",", "points[0]: a dropped point needs 'mirror_index'"),
    (SCHEME, 'reason: "2-D', 'reason: " ", x: "', "points[0].drop.reason: must not be empty"),
    (SCHEME, "num_points: 68", "num_points: 0", "num_points: must be positive, not 0"),
    (SCHEME, "num_points: 68", "num_points: true", "num_points: must be an integer, not true"),
    (SCHEME, "databases: [300w, 300w_lp]", "databases: 300w", "databases: must be a list"),
    (SCHEME, "paper_kept: 52", "fixed: 'no'\npaper_kept: 52", "fixed: must be true or false, not 'no'"),
    (SCHEME, "expected_kept: 52", "num_points: 68\nexpected_kept: 52", "key 'num_points' given twice"),
])
def test_planted_error_is_caught_with_its_line(corr_copy: Path, plant, relative: str, old: str, new: str,
                                               message: str) -> None:
    line = plant(corr_copy, relative, old, new)
    problems = validate(corr_copy)
    hits = [p for p in problems if message in str(p)]
    assert hits, "\n".join(map(str, problems))
    assert all(Path(p.path) == corr_copy / relative for p in hits)
    assert line in {p.line for p in hits}, (line, [str(p) for p in hits])
    assert str(hits[0]).startswith(f"{corr_copy / relative}:")
    with pytest.raises(CorrespondenceError, match="invalid correspondence data"):
        load_scheme(Path(relative).stem, corr_copy)


def test_missing_index_is_reported_at_points(corr_copy: Path, plant) -> None:
    plant(corr_copy, SCHEME, "  - {index: 40, name: eye_r_lower_lid_2of3}\n", "")
    problems = validate(corr_copy)
    assert any(p.message == "indices missing: 40" for p in problems)
    with pytest.raises(CorrespondenceError, match=r"ibug68\.yaml:\d+: indices missing: 40"):
        load_scheme("ibug68", corr_copy)


def test_a_count_other_than_the_papers_needs_notes(corr_copy: Path) -> None:
    path = corr_copy / SCHEME
    text = re.sub(r"\nnotes: >-\n(  .*\n)+", "\n", path.read_text()).replace("paper_kept: 52", "paper_kept: 50")
    path.write_text(text)
    line = text.splitlines().index("expected_kept: 52") + 1
    assert [str(p) for p in validate(corr_copy)] == [
        f"{path}:{line}: expected_kept 52 differs from the paper's 50: explain why in 'notes'"]


def test_points_out_of_order(corr_copy: Path, plant) -> None:
    text = (corr_copy / SCHEME).read_text()
    line36 = next(i for i, row in enumerate(text.splitlines()) if "{index: 36," in row)
    rows = text.splitlines()
    rows[line36], rows[line36 + 1] = rows[line36 + 1], rows[line36]
    (corr_copy / SCHEME).write_text("\n".join(rows) + "\n")
    problems = [str(p) for p in validate(corr_copy)]
    assert f"{corr_copy / SCHEME}:{line36 + 2}: index 36 out of order (after 37): list points by index" in problems


def test_a_structural_error_stops_the_checks_across_points(corr_copy: Path, plant) -> None:
    """A point that does not fit the model leaves the file unusable: no cascade of consequences."""
    plant(corr_copy, SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, nmae: eye_r_outer}")
    problems = validate(corr_copy)
    assert [p.message.split(":")[0] for p in problems] == ["points[36]"]


def test_every_structural_error_of_a_file_at_once(corr_copy: Path, plant) -> None:
    first = plant(corr_copy, SCHEME, "rule: 2,", "rule: 7,")
    second = plant(corr_copy, SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, nmae: eye_r_outer}")
    scheme, problems = check_scheme(corr_copy / SCHEME, load_vocabulary(corr_copy))
    assert scheme is None and [p.line for p in problems] == [first, second]


def test_check_scheme_builds_the_scheme_of_a_valid_file(corr_copy: Path) -> None:
    scheme, problems = check_scheme(corr_copy / SCHEME, load_vocabulary(corr_copy))
    assert problems == [] and scheme.name == "ibug68" and scheme.path == str(corr_copy / SCHEME)
    assert scheme.drops[0] == (2, ("2-D face contour: it follows the visible silhouette, so its place on "
                                  "the 3-D face slides along the cheek with yaw"))
    assert scheme.drop_mirrors[0] == 16 and scheme.describes[0].startswith("2-D face contour")

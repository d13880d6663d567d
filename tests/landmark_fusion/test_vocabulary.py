"""Vocabulary and schemes: counts, shared names, flips, sides on real frontal faces, planted errors."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from landmark_fusion import vocabulary as vocab
from landmark_fusion.paths import correspondences_dir

SCHEMES = ["aflw21", "fw74", "ibug68", "ibug68_fixed", "wflw98"]

# The mirror permutation of iBUG 68 as it is commonly written out (jaw reversed, brows reversed,
# nose bridge fixed, lower nose reversed, eyes and lips swapped) -- typed in, not derived.
IBUG68_FLIP = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
               26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
               27, 28, 29, 30, 35, 34, 33, 32, 31,
               45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
               54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
               64, 63, 62, 61, 60, 67, 66, 65]


# ----------------------------------------------------------------------------- installed data

def test_installed_data_is_valid() -> None:
    assert vocab.validate() == []


def test_list_schemes() -> None:
    assert vocab.list_schemes() == SCHEMES


@pytest.mark.parametrize("name, points, kept, by_rule", [
    ("ibug68", 68, 52, {2: 16}),
    ("ibug68_fixed", 68, 68, {}),
    ("aflw21", 21, 18, {3: 3}),
    ("fw74", 74, 59, {2: 14, 3: 1}),
    ("wflw98", 98, 64, {2: 32, 3: 2}),
])
def test_scheme_counts(name: str, points: int, kept: int, by_rule: dict) -> None:
    scheme = vocab.load_scheme(name)
    assert scheme.num_points == points == len(scheme.index_to_name)
    assert len(scheme.kept_indices) == len(scheme.kept_names) == kept == scheme.expected_kept
    assert scheme.drop_counts() == by_rule
    assert sorted(set(scheme.kept_indices) | set(scheme.drops)) == list(range(points))


def test_paper_counts_or_documented_departure() -> None:
    """The paper's 52 / 59 / 68 are met; WFLW keeps 64 of the paper's 66 and says why."""
    assert [vocab.load_scheme(n).paper_kept for n in ("ibug68", "fw74", "ibug68_fixed", "wflw98")] == [52, 59, 68, 66]
    wflw = vocab.load_scheme("wflw98")
    assert wflw.drops[96][0] == wflw.drops[97][0] == 3
    assert "pupil" in wflw.notes and "66" in wflw.notes


@pytest.mark.parametrize("name", ["ibug68", "ibug68_fixed"])
def test_fixed_names_at_their_ibug_indices(name: str) -> None:
    names = vocab.load_scheme(name).index_to_name
    assert {names[i]: i for i in (36, 39, 42, 45, 30, 48, 54, 8)} == vocab.FIXED_NAMES


def test_same_point_same_name_across_schemes() -> None:
    load = vocab.load_scheme
    assert (load("wflw98").index_to_name[60] == load("ibug68").index_to_name[36]
            == load("aflw21").index_to_name[6] == load("fw74").index_to_name[27] == "eye_r_outer")
    # WFLW's mouth 76-95 is iBUG's 48-67; its brow upper edge and nose are iBUG's too.
    wflw, ibug = load("wflw98").index_to_name, load("ibug68").index_to_name
    assert wflw[76:96] == ibug[48:68]
    assert wflw[33:38] + wflw[42:47] + wflw[51:60] == ibug[17:36]
    aflw = load("aflw21").index_to_name
    assert (aflw[13], aflw[14], aflw[15], aflw[20]) == ("nose_r_alar_base", "nose_tip", "nose_l_alar_base", "chin")
    assert (aflw[12], aflw[16]) == ("ear_r", "ear_l")
    assert vocab.load_vocabulary().landmarks["ear_r"].region == "ear"


def test_different_points_different_names() -> None:
    load = vocab.load_scheme
    ibug, wflw = load("ibug68").index_to_name, load("wflw98").index_to_name
    assert not set(ibug[37:39]) & set(wflw[61:64])  # eyelid at thirds vs quarters
    assert not set(wflw[38:42]) & set(ibug)  # lower brow edge
    fixed_jaw = load("ibug68_fixed").index_to_name[:17]
    assert set(fixed_jaw) & set(load("ibug68").kept_names) == {"chin"}
    assert all(name.startswith("jaw_") for name in fixed_jaw if name != "chin")


def test_every_dropped_point_describes_itself() -> None:
    for name in SCHEMES:
        scheme = vocab.load_scheme(name)
        for index, (rule, reason) in scheme.drops.items():
            assert rule in (2, 3) and reason and scheme.describes[index]


def test_vocabulary_structure() -> None:
    vocabulary = vocab.load_vocabulary()
    assert len(vocabulary) == len(set(vocabulary.names)) == 106
    assert set(vocabulary.regions) == {"jaw", "ear", "brow", "eye", "nose", "mouth"}
    for name in vocabulary.names:
        landmark = vocabulary.landmarks[name]
        partner = vocabulary.landmarks[landmark.mirror]
        assert partner.mirror == name and partner.region == landmark.region
        assert landmark.description.endswith(".") and "\n" not in landmark.description
        if landmark.side is None:
            assert landmark.mirror == name
        else:
            assert {landmark.side, partner.side} == {"r", "l"}


# ----------------------------------------------------------------------------- flips

def test_ibug68_flip_is_the_well_known_one() -> None:
    assert vocab.load_scheme("ibug68").flip_permutation().tolist() == IBUG68_FLIP
    assert vocab.load_scheme("ibug68_fixed").flip_permutation().tolist() == IBUG68_FLIP


def test_wflw98_flip_pairs() -> None:
    flip = vocab.load_scheme("wflw98").flip_permutation()
    for a, b in [(0, 32), (16, 16), (33, 46), (38, 50), (41, 47), (60, 72), (64, 68), (61, 71), (65, 75),
                 (54, 54), (55, 59), (76, 82), (88, 92), (96, 97)]:
        assert flip[a] == b and flip[b] == a


@pytest.mark.parametrize("name", SCHEMES)
def test_flip_twice_is_identity(name: str) -> None:
    flip = vocab.load_scheme(name).flip_permutation()
    assert sorted(flip.tolist()) == list(range(len(flip)))
    assert (flip[flip] == np.arange(len(flip))).all()


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SCHEMES), st.integers(0, 2**31 - 1))
def test_flipping_points_twice_restores_them(name: str, seed: int) -> None:
    scheme = vocab.load_scheme(name)
    points = np.random.default_rng(seed).uniform(0, 100, (scheme.num_points, 2))
    flip = scheme.flip_permutation()

    def mirror(p: np.ndarray) -> np.ndarray:
        return np.stack([100 - p[:, 0], p[:, 1]], axis=1)[flip]

    np.testing.assert_allclose(mirror(mirror(points)), points)


def test_mirror_permutation_of_canonical_landmarks() -> None:
    vocabulary = vocab.load_vocabulary()
    names = vocab.canonical_landmarks()
    permutation = vocabulary.mirror_permutation(names)
    assert (permutation[permutation] == np.arange(len(names))).all()
    assert names[permutation[names.index("eye_r_outer")]] == "eye_l_outer"
    assert names[permutation[names.index("chin")]] == "chin"
    with pytest.raises(ValueError, match="mirror"):
        vocabulary.mirror_permutation(["eye_r_outer"])


def test_canonical_landmarks_union_in_vocabulary_order() -> None:
    vocabulary = vocab.load_vocabulary()
    aflw = vocab.canonical_landmarks(["aflw21"])
    assert set(aflw) == set(vocab.load_scheme("aflw21").kept_names) and len(aflw) == 18
    assert aflw == [n for n in vocabulary.names if n in set(aflw)]
    both = vocab.canonical_landmarks(["ibug68", "wflw98"])
    assert set(both) == set(vocab.load_scheme("ibug68").kept_names) | set(vocab.load_scheme("wflw98").kept_names)
    assert vocab.canonical_landmarks() == list(vocabulary.names)


def test_loads_are_cached_and_see_edits(tmp_path: Path) -> None:
    assert vocab.load_scheme("ibug68") is vocab.load_scheme("ibug68")
    copy = _copy_data(tmp_path)
    assert vocab.load_scheme("aflw21", copy).name == "aflw21"
    path = copy / "schemes" / "aflw21.yaml"
    path.write_text(path.read_text().replace("name: ear_r,", "name: jaw_r_2of8,")
                    .replace("name: ear_l,", "name: jaw_l_2of8,"))
    assert vocab.load_scheme("aflw21", copy).index_to_name[12] == "jaw_r_2of8"


def test_unknown_scheme() -> None:
    with pytest.raises(KeyError, match="unknown scheme"):
        vocab.load_scheme("ibug69")


# ----------------------------------------------------------------------------- sides on real faces

def _fraction(name: str) -> tuple[str, float] | None:
    """``eye_r_upper_lid_1of3`` → (``eye_r_upper_lid``, 1/3); ``..._mid`` → 0.5; else None."""
    match = re.fullmatch(r"(.+)_(?:(\d)of(\d)|(mid))", name)
    if match is None:
        return None
    value = 0.5 if match.group(4) else int(match.group(2)) / int(match.group(3))
    return match.group(1), value


def _edge_ends(stem: str) -> list[tuple[float, str]]:
    """The named ends (fraction 0 = lateral, 1 = midline side) of the edge ``stem`` runs along."""
    part, side, *edge = stem.split("_")
    if stem.startswith("brow") and "lower" in edge:
        return []  # the lower brow edge may end slightly beyond the brow's ends (WFLW makeup line 0)
    if part in ("eye", "brow"):
        return [(0.0, f"{part}_{side}_outer"), (1.0, f"{part}_{side}_inner")]
    if part == "jaw":
        return [(0.0, f"jaw_{side}_top"), (1.0, "chin")]
    if part == "mouth":
        corner = f"mouth_{side}_inner_corner" if "inner" in edge else f"mouth_{side}_corner"
        return [(0.0, corner), (1.0, "mouth_" + "_".join(edge) + "_mid")]
    return []


def _check_sides(scheme: vocab.Scheme, points: np.ndarray, visible: np.ndarray | None = None) -> int:
    """Assert subject's-right points lie image-left of their mirrors, and fractions run outer → inner.

    Returns the number of comparisons made (so a test can require that some happened).
    """
    visible = np.ones(len(points), bool) if visible is None else visible
    names = scheme.index_to_name
    where = {name: i for i, name in enumerate(names) if name is not None and visible[i]}
    flip = scheme.flip_permutation()
    checks = 0
    for i in range(scheme.num_points):
        j = int(flip[i])
        if not (visible[i] and visible[j]) or i == j:
            continue
        right = vocab.side_of(names[i]) == "r" if names[i] else i < j  # contour: lower index is image-left
        if right:
            assert points[i, 0] < points[j, 0], f"{scheme.name} {i} ({names[i]}) is not image-left of {j}"
            checks += 1
    # Along an edge, x moves from the lateral end (fraction 0) towards the midline; down the jaw, y grows.
    groups: dict[str, dict[float, float]] = {}
    for name, i in where.items():
        fraction = _fraction(name)
        if fraction is None or vocab.side_of(name) is None:
            continue
        stem, value = fraction
        axis = 1 if stem.startswith("jaw") else 0
        groups.setdefault(stem, {})[value] = points[i, axis]
        for at, end in _edge_ends(stem):
            if end in where:
                groups[stem][at] = points[where[end], axis]
    for stem, values in groups.items():
        xs = [values[k] for k in sorted(values)]
        direction = 1 if vocab.side_of(stem) == "r" or stem.startswith("jaw") else -1
        assert all(direction * (b - a) > 0 for a, b in zip(xs, xs[1:])), f"{scheme.name}: {stem} out of order {values}"
        checks += 1
    # Upper lid above lower lid, upper brow edge above lower, upper outer lip above lower outer lip.
    for name, i in where.items():
        if ("_upper_" in name and not name.startswith("mouth_")) or "_upper_outer" in name:
            lower = name.replace("_upper_", "_lower_")
            if lower in where:
                assert points[i, 1] < points[where[lower], 1], f"{scheme.name}: {name} not above {lower}"
                checks += 1
    return checks


def _read_pts(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    assert lines[1].split() == ["n_points:", "68"]
    return np.array([[float(v) for v in line.split()] for line in lines[3:71]]) - 1.0


@pytest.mark.parametrize("image", ["image_0001", "image_0002", "image_0003"])
def test_sides_on_300w(samples_dir: Path, image: str) -> None:
    points = _read_pts(samples_dir / "300W" / "lfpw" / "trainset" / f"{image}.pts")
    assert points.shape == (68, 2)
    assert _check_sides(vocab.load_scheme("ibug68"), points) > 40


def test_sides_on_facewarehouse(samples_dir: Path) -> None:
    text = (samples_dir / "FaceWarehouse" / "Tester_1" / "TrainingPose" / "pose_0.land").read_text().split()
    assert text[0] == "74"
    uv = np.array(text[1:], float).reshape(74, 2)
    points = np.stack([uv[:, 0] * 640, (1 - uv[:, 1]) * 480], axis=1)
    assert _check_sides(vocab.load_scheme("fw74"), points) > 40


@pytest.mark.parametrize("line_number", [0, 10])
def test_sides_on_wflw(samples_dir: Path, line_number: int) -> None:
    path = samples_dir / "WFLW" / "WFLW_annotations" / "list_98pt_test" / "list_98pt_test_makeup.txt"
    fields = path.read_text().splitlines()[line_number].split()
    assert len(fields) == 197
    points = np.array(fields[:196], float).reshape(98, 2)
    assert _check_sides(vocab.load_scheme("wflw98"), points) > 50


def test_sides_on_aflw2000_3d(samples_dir: Path) -> None:
    """image00050 is frontal (fitted yaw 0.9 degrees): fixed 68 points and AFLW's 21."""
    mat = scipy.io.loadmat(samples_dir / "AFLW2000-3D" / "AFLW2000" / "image00050.mat")
    assert _check_sides(vocab.load_scheme("ibug68_fixed"), mat["pt3d_68"][:2].T) > 40
    jaw = vocab.load_scheme("ibug68_fixed").index_to_name
    x = mat["pt3d_68"][0]
    assert x[jaw.index("jaw_r_top")] < x[jaw.index("jaw_r_4of8")] < x[jaw.index("chin")]
    pt2d = mat["pt2d"].T
    assert _check_sides(vocab.load_scheme("aflw21"), pt2d, visible=pt2d[:, 0] != -1) >= 5


# ----------------------------------------------------------------------------- planted errors

def _copy_data(tmp_path: Path) -> Path:
    copy = tmp_path / "corr"
    source = correspondences_dir()
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__", "models"))
    return copy


def _plant(copy: Path, relative: str, old: str, new: str) -> int:
    """Replace the first ``old`` with ``new`` in ``relative``; the 1-based line of the change."""
    path = copy / relative
    text = path.read_text()
    assert old in text, old
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):])
    return text[:at].count("\n") + 1


SCHEME = "schemes/ibug68.yaml"
VOCAB = "landmarks.yaml"


@pytest.mark.parametrize("relative, old, new, message", [
    (SCHEME, "name: eye_r_outer}", "name: eye_r_outter}", "unknown landmark name 'eye_r_outter'"),
    (SCHEME, "name: eye_r_inner}", "name: eye_r_outer}", "duplicate name eye_r_outer"),
    (SCHEME, "rule: 2,", "rule: 7,", "unknown rule 7"),
    (SCHEME, "rule: 2,", "rule: 1,", "rule 1 keeps points"),
    (SCHEME, "{index: 67,", "{index: 68,", "index 68 out of range 0..67"),
    (SCHEME, "{index: 40,", "{index: 39,", "index 39 given twice"),
    (SCHEME, "mirror_index: 16,", "mirror_index: 15,", "asymmetric mirror: 0 → 15"),
    (SCHEME, "mirror_index: 16,", "mirror_index: 8,", "mirror_index 8 is a kept point"),
    (SCHEME, "mirror_index: 16,", "mirror_index: 99,", "needs 'mirror_index'"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, name: eye_r_outer, mirror_index: 45}", "remove its 'mirror_index'"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, name: eye_r_outer, drop: {rule: 3, reason: x}}", "exactly one of"),
    (SCHEME, "{index: 36, name: eye_r_outer}", "{index: 36, nmae: eye_r_outer}", "unknown key 'nmae'"),
    (SCHEME, "expected_kept: 52", "expected_kept: 53", "52 points kept, but expected_kept says 53"),
    (SCHEME, "{index: 45, name: eye_l_outer}", "{index: 45, name: nose_r_nostril}", "index 45 must be the fixed name"),
    (SCHEME, "name: ibug68\n", "name: ibug86\n", "differs from the file name"),
    ("schemes/ibug68_fixed.yaml", "{index: 3, name: jaw_r_3of8}", "{index: 3, drop: {rule: 2, reason: x}, mirror_index: 13}",
     "rule 1 keeps every point of a fixed scheme"),
    ("schemes/wflw98.yaml", "name: brow_l_lower_1of5}", "name: brow_l_lower_1of3}", "its mirror brow_r_lower_1of3 is not in the scheme"),
    (VOCAB, "mirror: brow_l_outer,", "mirror: brow_l_inner,", "asymmetric mirror: brow_r_outer → brow_l_inner"),
    (VOCAB, "{name: eye_l_outer, region: eye,", "{name: eye_l_outer, region: brow,", "mirror across regions"),
    (VOCAB, "{name: eye_l_outer, region: eye,", "{name: eye_l_outer, region: cheek,", "unknown region 'cheek'"),
    (VOCAB, "{name: jaw_l_top,", "{name: jaw_r_top,", "duplicate landmark name 'jaw_r_top'"),
    (VOCAB, "mirror: nose_tip,", "mirror: nose_subnasale,", "a midline name is its own mirror"),
    (VOCAB, "{name: chin,", "{name: chin_bottom,", "fixed name 'chin' is missing"),
    (VOCAB, "region: nose, mirror: nose_tip,", "region: nose, region: nose, mirror: nose_tip,", "key 'region' given twice"),
    (VOCAB, "landmarks:\n", "landmarks:\n  - {name: [\n", "YAML syntax error"),
])
def test_validation_catches_planted_error(tmp_path: Path, relative: str, old: str, new: str, message: str) -> None:
    copy = _copy_data(tmp_path)
    line = _plant(copy, relative, old, new)
    problems = vocab.validate(copy)
    hits = [p for p in problems if message in p.message]
    assert hits, "\n".join(map(str, problems))
    assert all(Path(p.path) == copy / relative for p in hits)
    if "missing" not in message and "differs" not in message and "syntax" not in message:
        assert line in {p.line for p in hits}, (line, [str(p) for p in hits])
    assert str(hits[0]).startswith(f"{copy / relative}:")


def test_missing_index_is_reported_at_points(tmp_path: Path) -> None:
    copy = _copy_data(tmp_path)
    _plant(copy, SCHEME, "  - {index: 40, name: eye_r_lower_lid_2of3}\n", "")
    problems = vocab.validate(copy)
    assert any(p.message == "indices missing: 40" for p in problems)
    with pytest.raises(vocab.CorrespondenceError, match=r"ibug68\.yaml:\d+: indices missing: 40"):
        vocab.load_scheme("ibug68", copy)


def test_loader_refuses_invalid_vocabulary(tmp_path: Path) -> None:
    copy = _copy_data(tmp_path)
    line = _plant(copy, VOCAB, "mirror: eye_l_inner,", "mirror: eye_l_outer,")
    with pytest.raises(vocab.CorrespondenceError, match=rf"landmarks\.yaml:{line}: asymmetric mirror"):
        vocab.load_vocabulary(copy)


def test_side_check_catches_a_wrongly_sided_name(samples_dir: Path, tmp_path: Path) -> None:
    """Swapping the names of iBUG 37 and 44 (upper lids of the two eyes) must fail on a real face."""
    copy = _copy_data(tmp_path)
    _plant(copy, SCHEME, "name: eye_r_upper_lid_1of3}", "name: SWAP}")
    _plant(copy, SCHEME, "name: eye_l_upper_lid_1of3}", "name: eye_r_upper_lid_1of3}")
    _plant(copy, SCHEME, "name: SWAP}", "name: eye_l_upper_lid_1of3}")
    swapped = vocab.load_scheme("ibug68", copy)
    assert swapped.index_to_name[37] == "eye_l_upper_lid_1of3"
    points = _read_pts(samples_dir / "300W" / "lfpw" / "trainset" / "image_0001.pts")
    with pytest.raises(AssertionError):
        _check_sides(swapped, points)

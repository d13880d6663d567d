"""The installed schemes: counts, shared names, drops that say why, and sides checked on real faces."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from landmark_fusion.correspondence import FIXED_NAMES, Scheme, list_schemes, load_scheme, load_vocabulary, side_of
from landmark_fusion.paths import correspondences_dir

SCHEMES = ["aflw21", "fw74", "ibug68", "ibug68_fixed", "wflw98"]


def test_list_schemes() -> None:
    assert list_schemes() == SCHEMES


@pytest.mark.parametrize("name, points, kept, by_rule", [
    ("ibug68", 68, 52, {2: 16}),
    ("ibug68_fixed", 68, 68, {}),
    ("aflw21", 21, 18, {3: 3}),
    ("fw74", 74, 59, {2: 14, 3: 1}),
    ("wflw98", 98, 64, {2: 32, 3: 2}),
])
def test_scheme_counts(name: str, points: int, kept: int, by_rule: dict) -> None:
    scheme = load_scheme(name)
    assert scheme.num_points == points == len(scheme.index_to_name)
    assert len(scheme.kept_indices) == len(scheme.kept_names) == kept == scheme.expected_kept
    assert scheme.drop_counts() == by_rule
    assert sorted(set(scheme.kept_indices) | set(scheme.drops)) == list(range(points))


def test_paper_counts_or_documented_departure() -> None:
    """The paper's 52 / 59 / 68 are met; WFLW keeps 64 of the paper's 66 and says why."""
    assert [load_scheme(n).paper_kept for n in ("ibug68", "fw74", "ibug68_fixed", "wflw98")] == [52, 59, 68, 66]
    wflw = load_scheme("wflw98")
    assert wflw.drops[96][0] == wflw.drops[97][0] == 3
    assert "pupil" in wflw.notes and "66" in wflw.notes


@pytest.mark.parametrize("name", ["ibug68", "ibug68_fixed"])
def test_fixed_names_at_their_ibug_indices(name: str) -> None:
    names = load_scheme(name).index_to_name
    assert {names[i]: i for i in (36, 39, 42, 45, 30, 48, 54, 8)} == FIXED_NAMES


def test_same_point_same_name_across_schemes() -> None:
    load = load_scheme
    assert (load("wflw98").index_to_name[60] == load("ibug68").index_to_name[36]
            == load("aflw21").index_to_name[6] == load("fw74").index_to_name[27] == "eye_r_outer")
    # WFLW's mouth 76-95 is iBUG's 48-67; its brow upper edge and nose are iBUG's too.
    wflw, ibug = load("wflw98").index_to_name, load("ibug68").index_to_name
    assert wflw[76:96] == ibug[48:68]
    assert wflw[33:38] + wflw[42:47] + wflw[51:60] == ibug[17:36]
    aflw = load("aflw21").index_to_name
    assert (aflw[13], aflw[14], aflw[15], aflw[20]) == ("nose_r_alar_base", "nose_tip", "nose_l_alar_base", "chin")
    assert (aflw[12], aflw[16]) == ("ear_r", "ear_l")
    assert load_vocabulary().landmarks["ear_r"].region == "ear"


def test_different_points_different_names() -> None:
    load = load_scheme
    ibug, wflw = load("ibug68").index_to_name, load("wflw98").index_to_name
    assert not set(ibug[37:39]) & set(wflw[61:64])  # eyelid at thirds vs quarters
    assert not set(wflw[38:42]) & set(ibug)  # lower brow edge
    fixed_jaw = load("ibug68_fixed").index_to_name[:17]
    assert set(fixed_jaw) & set(load("ibug68").kept_names) == {"chin"}
    assert all(name.startswith("jaw_") for name in fixed_jaw if name != "chin")


def test_every_dropped_point_describes_itself() -> None:
    for name in SCHEMES:
        scheme = load_scheme(name)
        for index, (rule, reason) in scheme.drops.items():
            assert rule in (2, 3) and reason and scheme.describes[index]


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


def _check_sides(scheme: Scheme, points: np.ndarray, visible: np.ndarray | None = None) -> int:
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
        right = side_of(names[i]) == "r" if names[i] else i < j  # contour: lower index is image-left
        if right:
            assert points[i, 0] < points[j, 0], f"{scheme.name} {i} ({names[i]}) is not image-left of {j}"
            checks += 1
    # Along an edge, x moves from the lateral end (fraction 0) towards the midline; down the jaw, y grows.
    groups: dict[str, dict[float, float]] = {}
    for name, i in where.items():
        fraction = _fraction(name)
        if fraction is None or side_of(name) is None:
            continue
        stem, value = fraction
        axis = 1 if stem.startswith("jaw") else 0
        groups.setdefault(stem, {})[value] = points[i, axis]
        for at, end in _edge_ends(stem):
            if end in where:
                groups[stem][at] = points[where[end], axis]
    for stem, values in groups.items():
        xs = [values[k] for k in sorted(values)]
        direction = 1 if side_of(stem) == "r" or stem.startswith("jaw") else -1
        in_order = all(direction * (b - a) > 0 for a, b in zip(xs[:-1], xs[1:], strict=True))
        assert in_order, f"{scheme.name}: {stem} out of order {values}"
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
    assert _check_sides(load_scheme("ibug68"), points) > 40


def test_sides_on_facewarehouse(samples_dir: Path) -> None:
    text = (samples_dir / "FaceWarehouse" / "Tester_1" / "TrainingPose" / "pose_0.land").read_text().split()
    assert text[0] == "74"
    uv = np.array(text[1:], float).reshape(74, 2)
    points = np.stack([uv[:, 0] * 640, (1 - uv[:, 1]) * 480], axis=1)
    assert _check_sides(load_scheme("fw74"), points) > 40


@pytest.mark.parametrize("line_number", [0, 10])
def test_sides_on_wflw(samples_dir: Path, line_number: int) -> None:
    path = samples_dir / "WFLW" / "WFLW_annotations" / "list_98pt_test" / "list_98pt_test_makeup.txt"
    fields = path.read_text().splitlines()[line_number].split()
    assert len(fields) == 197
    points = np.array(fields[:196], float).reshape(98, 2)
    assert _check_sides(load_scheme("wflw98"), points) > 50


def test_sides_on_aflw2000_3d(samples_dir: Path) -> None:
    """image00050 is frontal (fitted yaw 0.9 degrees): fixed 68 points and AFLW's 21."""
    mat = scipy.io.loadmat(samples_dir / "AFLW2000-3D" / "AFLW2000" / "image00050.mat")
    assert _check_sides(load_scheme("ibug68_fixed"), mat["pt3d_68"][:2].T) > 40
    jaw = load_scheme("ibug68_fixed").index_to_name
    x = mat["pt3d_68"][0]
    assert x[jaw.index("jaw_r_top")] < x[jaw.index("jaw_r_4of8")] < x[jaw.index("chin")]
    pt2d = mat["pt2d"].T
    assert _check_sides(load_scheme("aflw21"), pt2d, visible=pt2d[:, 0] != -1) >= 5


def test_side_check_catches_a_wrongly_sided_name(samples_dir: Path, tmp_path: Path) -> None:
    """Swapping the names of iBUG 37 and 44 (upper lids of the two eyes) must fail on a real face."""
    copy = tmp_path / "corr"
    shutil.copytree(correspondences_dir(), copy, ignore=shutil.ignore_patterns("*.py", "__pycache__", "models"))
    path = copy / "schemes" / "ibug68.yaml"
    text = path.read_text()
    swap = {"name: eye_r_upper_lid_1of3}": "name: eye_l_upper_lid_1of3}",
            "name: eye_l_upper_lid_1of3}": "name: eye_r_upper_lid_1of3}"}
    path.write_text(re.sub("|".join(map(re.escape, swap)), lambda m: swap[m.group(0)], text))
    swapped = load_scheme("ibug68", copy)
    assert swapped.index_to_name[37] == "eye_l_upper_lid_1of3"
    points = _read_pts(samples_dir / "300W" / "lfpw" / "trainset" / "image_0001.pts")
    with pytest.raises(AssertionError):
        _check_sides(swapped, points)

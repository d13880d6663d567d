"""Model vertex tables: shipped entries equal the published sources, reading, writing, lookup."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.io

from landmark_fusion.correspondence import load_scheme, load_vocabulary
from landmark_fusion.facemodel.tables import (
    TableEntry,
    TableError,
    list_tables,
    load_model_table,
    read_table,
    table_for,
    table_problems,
    write_entry,
)
from landmark_fusion.paths import correspondences_dir

SHIPPED = ["bfm2009_53490", "bfm_3ddfa_53215", "bfm_3ddfa_v2_38365", "ict_facekit", "sfm3448"]


def _eos_mapping(path: Path) -> dict[int, int]:
    """iBUG number -> vertex from an eos TOML mapping file (own reading, for comparison)."""
    text = path.read_text().split("[landmark_mappings]")[1].split("[")[0]
    return {int(a): int(b) for a, b in re.findall(r"^\s*(\d+)\s*=\s*(\d+)", text, flags=re.M)}


def test_shipped_tables_parse_and_use_known_names() -> None:
    assert set(SHIPPED) <= set(list_tables())
    names = load_vocabulary().names
    for name in SHIPPED:
        table = load_model_table(name)
        assert table.model == name and len(table) >= 68
        assert table_problems(table, names) == []
        assert all(e.source for e in table.values())
        assert all(e.data for e in table.values() if e.estimated)


def test_sfm_table_equals_eos_file(models_dir: Path) -> None:
    table = load_model_table("sfm3448")
    eos = _eos_mapping(models_dir / "sfm-eos" / "ibug_to_sfm.txt")
    ibug = load_scheme("ibug68").index_to_name
    assert len(eos) == 50
    for number, vertex in eos.items():
        entry = table[ibug[number - 1]]
        if entry.name == "nose_bridge_top":  # re-estimated on real faces; eos's vertex is the alternative
            assert entry.estimated and (vertex, f"eos share/ibug_to_sfm.txt, iBUG {number}") in entry.alternatives
            continue
        assert entry.vertex == vertex and not entry.estimated
        assert entry.source == f"eos share/ibug_to_sfm.txt, iBUG {number}"
    assert table["nose_tip"].vertex == 114 and table["chin"].vertex == 33
    # WFLW-98 entries of the unmerged eos PR #358 fill names the 68-point file lacks
    assert table["mouth_r_inner_corner"].vertex == 408
    assert table["brow_r_upper_3of4"].alternatives == (
        (241, "eos PR #358 share/ibug_to_sfm_98.txt (unmerged), WFLW 37"),)


def test_ict_table_equals_official_68_jaw_as_alternatives(models_dir: Path) -> None:
    """The official 68 outside the jaw; on the fixed jaw the official vertex (the frontal face boundary)
    and the README substitute are alternatives of the vertex estimated on real faces."""
    npz = np.load(models_dir / "ict-facekit" / "ict_facekit_face.npz")
    table = load_model_table("ict_facekit")
    fixed = load_scheme("ibug68_fixed").index_to_name
    for name, official in zip(fixed, npz["landmarks_68"].tolist(), strict=True):
        entry = table[name]
        if name.startswith("jaw_"):
            assert entry.estimated and entry.alternatives[0][0] == official
        else:
            assert entry.vertex == official and not entry.estimated
    assert table["jaw_r_top"].alternatives[1][0] == int(npz["jaw_right_substitute_0to7"][0])
    assert table["jaw_l_top"].alternatives[1][0] == int(npz["jaw_left_substitute_9to16"][7])


def test_estimated_ict_jaw_is_mirror_symmetric(models_dir: Path) -> None:
    """Left and right jaw vertices were estimated independently; on the (symmetric) mean face they are
    mirror images of each other within 1.5 mm."""
    from landmark_fusion.facemodel import load_model

    model = load_model(models_dir / "ict-facekit" / "ict_facekit_face.npz")
    table = load_model_table("ict_facekit")
    mean = np.asarray(model.mean, np.float64) * model.mm_per_unit
    for name in [n for n in table if n.startswith("jaw_r_")]:
        right, left = mean[table[name].vertex], mean[table[name.replace("jaw_r_", "jaw_l_")].vertex]
        assert np.linalg.norm(right * [-1, 1, 1] - left) < 1.5, name


def test_bfm_tables_equal_3ddfa_keypoints(models_dir: Path) -> None:
    kpt = np.load(models_dir / "bfm-3ddfa" / "3DDFA" / "keypoints_sim.npy")[0::3] // 3
    info = scipy.io.loadmat(models_dir / "bfm-3ddfa" / "face3d" / "BFM_info.mat")["model_info"][0, 0]
    trim = info["trimIndex"].ravel().astype(np.int64) - 1
    subset = np.load(models_dir / "bfm-3ddfa" / "3DDFA_V2" / "indices.npy")
    fixed = load_scheme("ibug68_fixed").index_to_name
    assert [load_model_table("bfm_3ddfa_53215")[n].vertex for n in fixed] == kpt.tolist()
    assert [load_model_table("bfm2009_53490")[n].vertex for n in fixed] == trim[kpt].tolist()
    assert [load_model_table("bfm_3ddfa_v2_38365")[n].vertex for n in fixed] == np.searchsorted(subset, kpt).tolist()
    assert load_model_table("bfm_3ddfa_53215")["nose_tip"].vertex == 8192  # 3DDFA keypoint of iBUG 31


def test_sfm_and_ict_cover_every_kept_landmark() -> None:
    for name in ("sfm3448", "ict_facekit"):
        table = load_model_table(name)
        for scheme in ("ibug68", "ibug68_fixed", "aflw21", "wflw98", "fw74"):
            assert table.missing(load_scheme(scheme).kept_names) == [], (name, scheme)
    assert load_model_table("sfm3448")["jaw_r_top"].estimated
    assert "AFLW2000-3D" in load_model_table("sfm3448")["jaw_r_top"].data


def test_vertex_indices_and_missing() -> None:
    table = load_model_table("bfm_3ddfa_53215")
    idx, mask = table.vertex_indices(["nose_tip", "ear_r", "chin"])
    assert idx.tolist()[0] == 8192 and idx[1] == -1 and mask.tolist() == [True, False, True]
    assert table.missing(["ear_r", "chin", "ear_l"]) == ["ear_r", "ear_l"]


def test_lookup_by_model_name_and_vertex_count(tmp_path: Path) -> None:
    assert load_model_table("sfm_shape_3448").model == "sfm3448"
    model = SimpleNamespace(name="unnamed", mean=np.zeros((3448, 3)))
    assert table_for(model).model == "sfm3448"
    model = SimpleNamespace(name="ict_facekit_face", mean=np.zeros((9409, 3)))
    assert table_for(model).model == "ict_facekit"
    with pytest.raises(TableError, match="not in model"):
        table_for(SimpleNamespace(name="sfm_shape_3448", mean=np.zeros((845, 3))))
    with pytest.raises(TableError, match="pass --table"):
        table_for(SimpleNamespace(name="nobody", mean=np.zeros((17, 3))))
    copy = tmp_path / "mine.yaml"
    shutil.copy(correspondences_dir() / "models" / "sfm3448.yaml", copy)
    assert table_for(SimpleNamespace(name="x", mean=np.zeros((3448, 3))), table=str(copy)).path == copy


def test_write_entry_replaces_and_inserts_keeping_comments(tmp_path: Path) -> None:
    path = tmp_path / "sfm3448.yaml"
    shutil.copy(correspondences_dir() / "models" / "sfm3448.yaml", path)
    before = path.read_text().splitlines()
    order = load_vocabulary().names
    write_entry(path, TableEntry("nose_tip", 115, "test", estimated=True, data="x: 3 faces", error=1.25), order)
    after = path.read_text().splitlines()
    assert len(after) == len(before)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].strip().startswith("nose_tip: {vertex: 115, estimated: true")
    table = read_table(path)
    assert table["nose_tip"] == TableEntry("nose_tip", 115, "test", True, "x: 3 faces", 1.25)
    # a new name goes after its predecessor in vocabulary order
    text = path.read_text().replace("  ear_r:", "  #ear_r:")
    path.write_text(text)
    write_entry(path, TableEntry("ear_r", 7, "test", estimated=True, data="y: 2 faces"), order)
    lines = path.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("  ear_r:"))
    assert lines[at - 1].strip().startswith(("chin:", "jaw_", "#ear_r"))
    assert read_table(path)["ear_r"].vertex == 7
    assert lines[0].startswith("# Surrey Face Model")


@pytest.mark.parametrize("body, message", [
    ("  chin: 33\n", "names its source"),
    ("  chin: {vertex: 33}\n", "missing key 'source'"),
    ("  chin: {vertex: -1, source: s}\n", "non-negative"),
    ("  chin: {vertex: 3, source: s, estimated: true}\n", "'data'"),
    ("  chin: {vertex: 3, source: s, colour: red}\n", "unknown key 'colour'"),
])
def test_bad_entries_are_named(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("model: t\nlandmarks:\n" + body)
    with pytest.raises(TableError, match=message):
        read_table(path)


def test_unknown_names_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("model: t\nnum_vertices: 10\nlandmarks:\n  chin: {vertex: 3, source: s}\n"
                    "  chinn: {vertex: 4, source: s}\n  nose_tip: {vertex: 12, source: s}\n")
    problems = table_problems(read_table(path), load_vocabulary().names)
    assert len(problems) == 2 and "chinn" in problems[0] and "nose_tip" in problems[1]


def test_every_problem_of_a_table_at_once_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("model: t\nnum_vertices: 0\nlandmarks:\n  chin: {vertex: -1, source: s}\n"
                    "  nose_tip: {vertex: 2}\n  chin: {vertex: 3, source: s}\n")
    with pytest.raises(TableError) as info:
        read_table(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: num_vertices: must be positive, not 0",
        (f"{path}:5: landmarks.nose_tip: missing key 'source': where the vertex comes from (a published "
        "file, or the command that estimated it)"),
        f"{path}:6: landmarks: key 'chin' given twice"]


def test_unknown_names_are_named_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("model: t\nlandmarks:\n  chin: {vertex: 3, source: s}\n  chinn: {vertex: 4, source: s}\n")
    assert table_problems(read_table(path), load_vocabulary().names) == [
        f"{path}:4: chinn: not a canonical landmark name (landmarks.yaml)"]


def _aflw2000_residuals(samples_dir: Path, model, table, override: dict[str, int],
                        faces: int = 60) -> dict[str, float]:
    """Mean check residual (% of the face size) per landmark on the first AFLW2000-3D faces."""
    from landmark_fusion.facemodel.fit import AnnotatedFaces, landmark_residuals

    pts = np.load(samples_dir / "AFLW2000-3D" / "test.configs" / "AFLW2000-3D.pts68.npy")
    pts = pts[:faces, :2].transpose(0, 2, 1) - 1.0  # 1-based MATLAB pixels -> 0-based
    names = load_scheme("ibug68_fixed").index_to_name
    data = AnnotatedFaces(names, pts.astype(np.float32), np.ones(pts.shape[:2], bool),
                          np.zeros(len(pts), np.int64), ["aflw2000_3d"])
    idx, _ = table.vertex_indices(names)
    for name, vertex in override.items():
        idx[names.index(name)] = vertex
    report, _ = landmark_residuals(model, idx, data)
    return {r["name"]: r["mean"] for r in report.rows()}


def test_real_faces_fit_the_estimated_entries_better_than_the_published_ones(samples_dir: Path,
                                                                             models_dir: Path) -> None:
    """The entries re-estimated on real faces (docs/benchmarks.md "correspondences on real faces"):
    SFM nose_bridge_top and the ICT fixed jaw, against the published vertices they replaced."""
    from landmark_fusion.facemodel import load_model

    sfm = load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin")
    table = load_model_table("sfm3448")
    shipped = _aflw2000_residuals(samples_dir, sfm, table, {})
    eos = _aflw2000_residuals(samples_dir, sfm, table, {"nose_bridge_top": 2842})
    assert shipped["nose_bridge_top"] < 0.5 * eos["nose_bridge_top"]

    ict = load_model(models_dir / "ict-facekit" / "ict_facekit_face.npz", num_id=40)
    table = load_model_table("ict_facekit")
    jaw = [n for n in table if n.startswith("jaw_")]
    shipped = _aflw2000_residuals(samples_dir, ict, table, {})
    official = _aflw2000_residuals(samples_dir, ict, table, {n: table[n].alternatives[0][0] for n in jaw})
    assert np.mean([shipped[n] for n in jaw]) < 0.6 * np.mean([official[n] for n in jaw])
    assert shipped["jaw_r_top"] < 0.5 * official["jaw_r_top"] and shipped["jaw_l_top"] < 0.5 * official["jaw_l_top"]

"""`fuse corr validate|check|suggest|show` with --model, on the real models and samples."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.facemodel.tables import read_table
from landmark_fusion.paths import correspondences_dir


@pytest.fixture(scope="module")
def sfm_path(models_dir: Path) -> str:
    return str(models_dir / "sfm-eos" / "sfm_shape_3448.bin")


@pytest.fixture
def roots(tmp_path: Path, samples_dir: Path) -> str:
    path = tmp_path / "roots.yaml"
    path.write_text(f"300w: {samples_dir / '300W'}\naflw2000_3d: {samples_dir / 'AFLW2000-3D'}\n")
    return str(path)


def _run(*args: str):
    result = CliRunner().invoke(fuse, list(args), catch_exceptions=False)
    return result


def test_validate_reports_per_scheme(sfm_path: str) -> None:
    result = _run("corr", "validate", "--model", sfm_path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"] == "sfm_shape_3448" and report["table"].endswith("sfm3448.yaml")
    # nose_bridge_top re-estimated on real faces (docs/benchmarks.md "correspondences on real faces")
    assert report["schemes"]["ibug68"] == {"kept": 52, "missing": [], "estimated": ["nose_bridge_top"]}
    assert len(report["schemes"]["ibug68_fixed"]["estimated"]) == 17  # and the SFM fixed jaw
    assert report["problems"] == []
    text = _run("corr", "validate", "--model", sfm_path, "--scheme", "aflw21").output
    assert "aflw21" in text and "ibug68" not in text


def test_validate_reports_missing_names(tmp_path: Path, sfm_path: str) -> None:
    table = tmp_path / "t.yaml"
    text = (correspondences_dir() / "models" / "sfm3448.yaml").read_text()
    table.write_text(text.replace("  chin:", "  #chin:"))
    result = _run("corr", "validate", "--model", sfm_path, "--table", str(table), "--scheme", "ibug68")
    assert result.exit_code == 0 and "51" not in result.output.split("kept")[0]
    assert "missing: chin" in result.output
    table.write_text(text.replace("  chin:", "  chinx:"))
    result = _run("corr", "validate", "--model", sfm_path, "--table", str(table))
    assert result.exit_code == 1 and "chinx" in result.output


def test_plain_validate_and_show_still_work() -> None:
    assert _run("corr", "validate").exit_code == 0
    result = _run("corr", "show", "ibug68")
    assert result.exit_code == 0 and "nose_tip" in result.output
    bad = CliRunner().invoke(fuse, ["corr", "show", "ibug68", "--png", "x.png"])
    assert bad.exit_code == 2 and "need --model" in bad.output


def test_show_draws_a_png(tmp_path: Path, sfm_path: str) -> None:
    out = tmp_path / "fw74.png"
    result = _run("corr", "show", "fw74", "--model", sfm_path, "--png", str(out))
    assert result.exit_code == 0, result.output
    assert "59 of 59 landmarks drawn" in result.output
    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[0] > 500 and image.shape[1] > 1000


def test_check_on_300w_samples(tmp_path: Path, roots: str, sfm_path: str) -> None:
    plot = tmp_path / "check.png"
    result = _run("corr", "check", "--model", sfm_path, "--roots", roots, "--sources", "300w", "--json",
                  "--plot", str(plot))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["faces"] == 3 and report["data"] == "300w: 3 faces"
    assert 0 < report["nme"] <= 4.0
    assert set(report["landmarks"]) == set(__import__("landmark_fusion.correspondence", fromlist=["x"])
                                           .load_scheme("ibug68").kept_names)
    assert all(v["count"] == 3 for v in report["landmarks"].values())
    assert plot.stat().st_size > 10_000
    text = _run("corr", "check", "--model", sfm_path, "--roots", roots, "--sources", "300w").output
    assert "mean NME" in text and "nose_tip" in text


def test_check_needs_one_data_source(sfm_path: str) -> None:
    result = CliRunner().invoke(fuse, ["corr", "check", "--model", sfm_path])
    assert result.exit_code == 2 and "--sources" in result.output


def test_suggest_writes_an_estimated_entry(tmp_path: Path, roots: str, sfm_path: str) -> None:
    table = tmp_path / "sfm3448.yaml"
    shutil.copy(correspondences_dir() / "models" / "sfm3448.yaml", table)
    dry = _run("corr", "suggest", "--model", sfm_path, "--table", str(table), "--landmark", "nose_tip",
               "--roots", roots, "--sources", "aflw2000_3d")  # a dry run unless --write is given
    assert dry.exit_code == 0, dry.output
    assert "nose_tip: vertex" in dry.output and "nothing written" in dry.output
    assert read_table(table)["nose_tip"].vertex == 114
    result = _run("corr", "suggest", "--model", sfm_path, "--table", str(table), "--landmark", "nose_tip",
                  "--roots", roots, "--sources", "aflw2000_3d", "--write")
    assert result.exit_code == 0, result.output
    entry = read_table(table)["nose_tip"]
    assert entry.estimated and entry.data == "aflw2000_3d: 5 faces"
    assert "fuse corr suggest" in entry.source and entry.error is not None
    unknown = CliRunner().invoke(fuse, ["corr", "suggest", "--model", sfm_path, "--table", str(table),
                                        "--landmark", "ear_r", "--roots", roots, "--sources", "300w"])
    assert unknown.exit_code == 1 and "not annotated" in unknown.output


def test_suggest_never_writes_the_installed_tables(tmp_path: Path, roots: str, sfm_path: str) -> None:
    from landmark_fusion.paths import installed_correspondences

    shipped = installed_correspondences() / "models" / "sfm3448.yaml"
    before = shipped.read_bytes()
    args = ["corr", "suggest", "--model", sfm_path, "--landmark", "nose_tip", "--roots", roots,
            "--sources", "aflw2000_3d", "--write"]
    for extra in ([], ["--table", str(shipped)], ["--table", "sfm3448"]):
        refused = CliRunner().invoke(fuse, args + extra)
        assert refused.exit_code == 1 and "fuse corr init" in refused.output, refused.output
        assert "installed with the package" in refused.output
    assert shipped.read_bytes() == before
    # the way it is meant: an editable copy, named with --corr-dir
    mine = tmp_path / "my-corr"
    assert _run("corr", "init", str(mine)).exit_code == 0
    result = _run(*args, "--corr-dir", str(mine))
    assert result.exit_code == 0, result.output
    assert f"written to {mine / 'models' / 'sfm3448.yaml'}" in result.output
    assert read_table(mine / "models" / "sfm3448.yaml")["nose_tip"].estimated
    assert shipped.read_bytes() == before

"""Growing a Parquet set: --add reads only the new database, --replace and --drop change one; the
result equals a clean build of the same databases (rows, source codes, report counts, rejection
list) and is what `fuse stats` and the trainer's reader see."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.shards import FIELDS, open_shards

#: The real samples beside the synthetic 300W folder: small databases of other layouts.
SAMPLES = {"aflw2000_3d": "AFLW2000-3D", "facewarehouse": "FaceWarehouse", "300w_lp": "300W-LP"}
#: Report keys that differ between any two runs.
RUN_KEYS = ("seconds", "output", "rejected_file", "settings", "operation", "correspondences")


@pytest.fixture
def roots(tmp_path, demo_300w, samples_dir):
    """``roots(name, ...)``: a roots file of only those databases, in that order."""
    folders = {"300w": demo_300w, **{name: samples_dir / folder for name, folder in SAMPLES.items()}}

    def make(*names: str) -> Path:
        path = tmp_path / f"roots-{'-'.join(names)}.yaml"
        path.write_text("".join(f"{name}: {folders[name]}\n" for name in names))
        return path
    return make


def build(roots: Path, out: Path, *extra: str):
    result = CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--out", str(out),
                                       "--workers", "0", "--part-rows", "32", "--no-progress",
                                       *extra])
    return result


def rows(path: Path) -> dict[str, np.ndarray]:
    shards = open_shards(path)
    return shards.get_batch(range(len(shards)), FIELDS)


def assert_same_set(grown: Path, clean: Path) -> None:
    """Every row and field, the attributes, the report counts and the rejection list."""
    a, b = rows(grown), rows(clean)
    for name in FIELDS:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert open_shards(grown).info == open_shards(clean).info
    report = [{k: v for k, v in json.loads(Path(f"{p}.report.json").read_text()).items()
               if k not in RUN_KEYS} for p in (grown, clean)]
    assert report[0] == report[1]
    assert Path(f"{grown}.rejected.jsonl").read_bytes() == Path(f"{clean}.rejected.jsonl").read_bytes()


def test_add_reads_only_the_new_databases_and_equals_a_clean_build(tmp_path, roots):
    out = tmp_path / "shards"
    assert build(roots("300w"), out).exit_code == 0
    before = {p.name: p.stat().st_ino for p in out.glob("part-*.parquet")}
    # the roots file of the grow names only what it adds: the 300W folder is not even listed
    result = build(roots("aflw2000_3d", "300w_lp"), out, "--add", "aflw2000_3d,300w_lp")
    assert result.exit_code == 0, result.output
    assert {p.name: p.stat().st_ino for p in out.glob("part-*.parquet") if p.name in before} == before
    clean = tmp_path / "clean"
    assert build(roots("300w", "aflw2000_3d", "300w_lp"), clean).exit_code == 0
    assert_same_set(out, clean)
    report = json.loads((tmp_path / "shards.report.json").read_text())
    assert report["operation"] == {"add": ["aflw2000_3d", "300w_lp"]}
    assert list(report["sources"]) == ["300w", "aflw2000_3d", "300w_lp"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(part["rows"] for part in manifest["parts"]) == len(open_shards(out)) == 308

    stats = CliRunner().invoke(fuse, ["stats", str(out)])
    assert stats.exit_code == 0 and "aflw2000_3d" in stats.output and "300w_lp" in stats.output
    from trainer.data import open_shard_set, select_indices

    shards = open_shard_set(str(out))
    assert len(select_indices(shards, None, ["aflw2000_3d"])) == 5
    assert shards.source_names[shards.get(len(shards) - 1)["source"]] == "300w_lp"


def test_drop_and_replace_change_one_database(tmp_path, roots):
    out = tmp_path / "shards"
    # 300W's last part also holds AFLW2000-3D's rows: dropping it copies the other rows of that part
    assert build(roots("300w", "aflw2000_3d", "facewarehouse"), out).exit_code == 0
    dropped = build(roots("300w"), out, "--drop", "aflw2000_3d")
    assert dropped.exit_code == 0, dropped.output
    clean = tmp_path / "clean"
    assert build(roots("300w", "facewarehouse"), clean).exit_code == 0
    assert_same_set(out, clean)

    replaced = build(roots("300w"), out, "--replace", "300w", "--limit", "40")
    assert replaced.exit_code == 0, replaced.output
    again = tmp_path / "again"
    assert build(roots("facewarehouse", "300w"), again, "--limit", "40").exit_code == 0
    assert_same_set(out, again)
    assert open_shards(out).meta()["source"].value_counts().to_dict() == {
        "300w": 40, "facewarehouse": 2, "aflw": 0, "300w_lp": 0, "aflw2000_3d": 0, "ls3d_w": 0,
        "lfw74": 0, "wflw": 0}


def test_refused_without_changing_anything(tmp_path, roots):
    out = tmp_path / "shards"
    assert build(roots("300w"), out, "--limit", "20").exit_code == 0
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    cases = [
        (["--add", "300w"], "already holds 300w"),
        (["--drop", "wflw"], "holds no wflw"),
        (["--add", "aflw2000_3d", "--crop-size", "64"], "--crop-size 160"),
        (["--add", "aflw2000_3d", "--overwrite"], "one or the other"),
    ]
    for extra, message in cases:
        result = build(roots("300w", "aflw2000_3d"), out, *extra)
        assert result.exit_code != 0 and message in result.output, (extra, result.output)
        assert "Traceback" not in result.output
    hdf5 = tmp_path / "x.h5"
    assert build(roots("300w"), hdf5, "--limit", "5").exit_code == 0
    result = build(roots("aflw2000_3d"), hdf5, "--add", "aflw2000_3d")
    assert result.exit_code == 1 and "grow Parquet sets" in result.output
    (out / "manifest.json").unlink()  # as a set of an earlier version
    result = build(roots("aflw2000_3d"), out, "--add", "aflw2000_3d")
    assert result.exit_code == 1 and "no manifest.json" in result.output
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == {
        name: data for name, data in files.items() if name != "manifest.json"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_set_without_manifest_still_reads_and_a_foreign_manifest_is_refused(tmp_path, roots):
    out = tmp_path / "shards"
    assert build(roots("300w"), out, "--limit", "20").exit_code == 0
    count = len(open_shards(out))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["parts"][0]["rows"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="manifest.json"):
        len(open_shards(out))
    (out / "manifest.json").write_text('{"mine": true}')
    result = build(roots("300w"), out, "--limit", "20", "--overwrite")
    assert result.exit_code == 1 and "manifest.json" in result.output
    (out / "manifest.json").unlink()
    assert len(open_shards(out)) == count

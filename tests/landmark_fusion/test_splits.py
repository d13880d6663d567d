"""Declared splits (roots.yaml ``split:``): parsing, resolution on the real AFLW / AFLW2000-3D
samples, the build rewriting the split column and recording what was declared."""
from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import h5py
import pytest
import yaml
from click.testing import CliRunner

from landmark_fusion.build import report_paths
from landmark_fusion.commands import fuse
from landmark_fusion.roots import RootsError, load_roots, select_sources
from landmark_fusion.shards import open_shards
from landmark_fusion.splits import DeclaredSplits, hashed_fraction, keys_of, stem_of

AFLW2000_NAMES = {"image00050", "image00081", "image00251", "image00430", "image00475"}


def _roots(tmp_path: Path, samples_dir: Path, aflw_split: str, extra: str = "") -> Path:
    text = (f"aflw:\n  path: {samples_dir / 'AFLW'}\n  split:\n{aflw_split}"
            f"aflw2000_3d:\n  path: {samples_dir / 'AFLW2000-3D'}\n  split: test\n{extra}")
    path = tmp_path / "roots.yaml"
    path.write_text(text, encoding="utf-8")
    return path


THE_AFLW_SPLIT = """    default: train
    rules:
      - {split: aflw2000_3d, same_image_as: aflw2000_3d}
      - {split: test, hold_out: 2000, seed: 7}
"""


def test_keys_and_stems():
    assert keys_of("test.data/AFLW_GT_crop/image00002.jpg#1") == (
        "test.data/AFLW_GT_crop/image00002.jpg#1", "test.data/AFLW_GT_crop/image00002.jpg",
        "image00002.jpg", "image00002")
    assert stem_of("AFLW2000/image00002.jpg") == "image00002"
    assert 0.0 <= hashed_fraction(0, "a.jpg") < 1.0 and hashed_fraction(0, "a.jpg") != hashed_fraction(1, "a.jpg")


def test_the_aflw_declaration_resolves_on_the_real_lists(tmp_path, samples_dir):
    roots = load_roots(_roots(tmp_path, samples_dir, THE_AFLW_SPLIT))
    aflw, aflw2000 = select_sources(roots, "aflw,aflw2000_3d")
    names = (samples_dir / "AFLW/test.data/AFLW_GT_crop.list").read_text().split()
    ids = [f"test.data/AFLW_GT_crop/{name}" for name in names]
    splits = [aflw.plan.split_of(sample_id, "test") for sample_id in ids]
    overlap = {Path(i).stem for i, s in zip(ids, splits, strict=True) if s == "aflw2000_3d"}
    assert overlap == AFLW2000_NAMES  # the photos AFLW2000-3D holds, by image stem
    assert splits.count("test") == 2000 and splits.count("train") == 21080 - 2000 - 5
    assert aflw2000.plan.split_of("AFLW2000/image00050.jpg", "train") == "test"
    # reproducible: the same files and seed give the same hold-out, another seed another one
    again = select_sources(load_roots(_roots(tmp_path, samples_dir, THE_AFLW_SPLIT)), "aflw")[0]
    assert [again.plan.split_of(i, "test") for i in ids] == splits
    other = select_sources(load_roots(_roots(tmp_path, samples_dir, THE_AFLW_SPLIT.replace(
        "seed: 7", "seed: 8"))), "aflw")[0]
    assert [other.plan.split_of(i, "test") for i in ids] != splits
    rules = aflw.plan.describe()["rules"]
    assert rules[0]["images_there"] == 5 and rules[1]["candidates"] == 21075
    chosen = sorted(i for i, s in zip(ids, splits, strict=True) if s == "test")
    assert rules[1]["chosen_sha256"] == hashlib.sha256("\n".join(chosen).encode()).hexdigest()
    # the plan stays in the building process; the entry itself still pickles
    assert pickle.loads(pickle.dumps(aflw)).plan is None


def test_file_rules_match_the_most_specific_key(tmp_path, samples_dir):
    listing = tmp_path / "aflw_splits.tsv"
    listing.write_text("# key split\nimage00002\tval\ntest.data/AFLW_GT_crop/image00002.jpg test\n"
                       "image00004.jpg val\n\nnot_there.jpg test\n", encoding="utf-8")
    path = _roots(tmp_path, samples_dir, "    rules:\n      - {file: aflw_splits.tsv}\n")
    (aflw,) = select_sources(load_roots(path), "aflw")
    plan = aflw.plan
    assert plan.split_of("test.data/AFLW_GT_crop/image00002.jpg", "x") == "test"   # id beats stem
    assert plan.split_of("elsewhere/image00002.png", "x") == "val"                 # stem
    assert plan.split_of("test.data/AFLW_GT_crop/image00004.jpg", "x") == "val"    # file name
    assert plan.split_of("test.data/AFLW_GT_crop/image00005.jpg", "x") == "x"      # the reader's
    (rule,) = plan.describe()["rules"]
    assert rule["sha256"] == hashlib.sha256(listing.read_bytes()).hexdigest() and rule["entries"] == 4
    assert rule["file"] == str(listing.resolve()) and rule["entries_matched"] == 3


@pytest.mark.parametrize("declaration, message", [
    ("    rules:\n      - {split: test}\n", "exactly one of"),
    ("    rules:\n      - {split: test, hold_out: 10, fraction: 0.1}\n", "exactly one of"),
    ("    rules:\n      - {hold_out: 10}\n", "needs a 'split'"),
    ("    rules:\n      - {split: te st, hold_out: 10}\n", "split name"),
    ("    rules:\n      - {split: test, hold_out: 0}\n", "at least 1"),
    ("    rules:\n      - {split: test, fraction: 1.5}\n", "between 0 and 1"),
    ("    rules:\n      - {split: test, hold_out: 5, seed: x}\n", "'seed' is an integer"),
    ("    rules:\n      - {split: test, same_image_as: aflw}\n", "another database"),
    ("    rules:\n      - {split: test, same_image_as: lfw74}\n", "another database"),
    ("    rules:\n      - {split: test, file: nowhere.txt}\n", "does not exist"),
    ("    rules: {split: test}\n", "must be a list"),
    ("    colour: blue\n", "expected a split name or a mapping"),
    ("    rules: []\n", "neither a default nor a rule"),
])
def test_bad_declarations_name_the_file_and_entry(tmp_path, samples_dir, declaration, message):
    path = _roots(tmp_path, samples_dir, declaration)
    with pytest.raises(RootsError, match=message) as info:
        load_roots(path)
    assert str(path) in str(info.value) and "aflw: split" in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("a\tval\na\ttest\n", "line 2: a is given split test here and val on line 1"),
    ("a val extra\n", "expected 'key split'"),
    ("a\n", "expected 'key split'"),
    ("# nothing\n", "lists no entry"),
])
def test_bad_split_files(tmp_path, samples_dir, text, message):
    (tmp_path / "s.txt").write_text(text, encoding="utf-8")
    with pytest.raises(RootsError, match=message):
        load_roots(_roots(tmp_path, samples_dir, "    rules:\n      - {file: s.txt}\n"))
    (tmp_path / "s.txt").write_bytes(b"a\tval\n\xff\tval\n")
    with pytest.raises(RootsError, match="line 2: not UTF-8"):
        load_roots(_roots(tmp_path, samples_dir, "    rules:\n      - {file: s.txt}\n"))


def test_a_hold_out_larger_than_what_is_left_is_an_error(tmp_path, samples_dir):
    path = _roots(tmp_path, samples_dir, "    rules:\n      - {split: test, hold_out: 30000}\n")
    with pytest.raises(RootsError, match="only 21080 images are left"):
        select_sources(load_roots(path), "aflw")


def test_the_build_writes_the_declared_splits_and_records_them(tmp_path, samples_dir):
    listing = tmp_path / "extra.txt"
    listing.write_text("image00004\n", encoding="utf-8")
    declaration = THE_AFLW_SPLIT + "      - {split: val, file: extra.txt}\n"
    roots = _roots(tmp_path, samples_dir, declaration)
    out = tmp_path / "fused.h5"
    result = CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--sources", "all",
                                       "--out", str(out), "--workers", "0", "--no-progress"])
    assert result.exit_code == 0, result.output
    (aflw,) = select_sources(load_roots(roots), "aflw")
    meta = open_shards(out).meta()
    for source, sample_id, split in zip(meta["source"], meta["sample_id"], meta["split"], strict=True):
        if source == "aflw":
            assert split == aflw.plan.split_of(sample_id, "test"), sample_id
        else:
            assert split == "test"
    aflw_rows = meta[meta["source"] == "aflw"]
    assert dict(zip(aflw_rows["sample_id"], aflw_rows["split"], strict=True))[
        "test.data/AFLW_GT_crop/image00050.jpg"] == "aflw2000_3d"
    report = json.loads(report_paths(out)[0].read_text())
    expected = aflw_rows.groupby("split").size().to_dict()
    assert report["kept_by_split"]["aflw"] == {k: int(v) for k, v in sorted(expected.items())}
    assert report["kept_by_split"]["aflw2000_3d"] == {"test": 5}
    declared = report["splits"]["aflw"]
    assert declared["declared_in"] == str(roots) and declared["default"] == "train"
    assert declared["rules"][2]["sha256"] == hashlib.sha256(listing.read_bytes()).hexdigest()
    assert declared["rules"][2]["entries_matched"] == (1 if "image00004" not in AFLW2000_NAMES else 0)
    assert report["splits"]["aflw2000_3d"] == {"declared_in": str(roots), "default": "test", "rules": []}
    with h5py.File(out) as handle:
        attribute = json.loads(handle.attrs["splits"])
    assert attribute["aflw"]["rules"][1] == declared["rules"][1]
    assert "entries_matched" not in attribute["aflw"]["rules"][2]
    assert "kept by split" in result.output


def test_a_build_without_declarations_records_none(tmp_path, samples_dir):
    roots = tmp_path / "roots.yaml"
    roots.write_text(f"aflw2000_3d: {samples_dir / 'AFLW2000-3D'}\n", encoding="utf-8")
    out = tmp_path / "fused.h5"
    result = CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--out", str(out),
                                       "--workers", "0", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(report_paths(out)[0].read_text())
    assert report["splits"] == {} and report["kept_by_split"] == {"aflw2000_3d": {"test": 5}}
    with h5py.File(out) as handle:
        assert json.loads(handle.attrs["splits"]) == {}


def test_declared_splits_for_roots_resolves_an_unresolved_entry(tmp_path, samples_dir):
    roots = load_roots(_roots(tmp_path, samples_dir, THE_AFLW_SPLIT))
    splits = DeclaredSplits.for_roots(roots.values())  # as an API caller of build_shards would
    assert set(splits.plans) == {"aflw", "aflw2000_3d"}
    assert splits.plans["aflw"].split_of("test.data/AFLW_GT_crop/image00050.jpg", "x") == "aflw2000_3d"


def test_the_example_in_the_docs_declares_the_aflw_protocol(samples_dir, tmp_path):
    """docs/databases.md's example split, run against the real sample lists."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "databases.md").read_text(encoding="utf-8")
    block = doc.split("<!-- splits-example -->\n```yaml\n", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(block)
    data["aflw"]["path"] = str(samples_dir / "AFLW")
    data["aflw2000_3d"]["path"] = str(samples_dir / "AFLW2000-3D")
    path = tmp_path / "roots.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    aflw, aflw2000 = select_sources(load_roots(path), "aflw,aflw2000_3d")
    names = (samples_dir / "AFLW/test.data/AFLW_GT_crop.list").read_text().split()
    splits = [aflw.plan.split_of(f"test.data/AFLW_GT_crop/{n}", "test") for n in names]
    assert splits.count("test") >= 2000 and "train" in splits
    train = {n for n, s in zip(names, splits, strict=True) if s == "train"}
    test = {n for n, s in zip(names, splits, strict=True) if s == "test"}
    assert not train & test and not {Path(n).stem for n in train} & AFLW2000_NAMES
    assert aflw2000.plan.split_of("AFLW2000/image00050.jpg", "x") == "test"

"""What `fuse build` may replace: only its own earlier output, only with --overwrite; never a user's
file or folder. Failed builds leave an earlier set whole; leftovers of dead runs are removed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from landmark_fusion.build import BuildFailed, BuildSettings, build_shards
from landmark_fusion.build.output import BuildFiles, OutputError, commit, remove_stale, temporary_path
from landmark_fusion.commands import fuse
from landmark_fusion.lifetime import HOST, process_tag
from landmark_fusion.roots import Root
from landmark_fusion.shards import open_shards


def _build(roots: Path, out: Path, *extra: str):
    return CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--out", str(out),
                                     "--workers", "0", "--limit", "20", "--no-progress", *extra])


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_a_folder_of_the_users_is_never_touched(tmp_path, demo_roots, extra):
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "sub" / "important.txt").write_text("precious")
    (other / "part-00000.parquet").write_text("mine, though the name looks like a shard part")
    before = _tree(other)
    result = _build(demo_roots, other, *extra)
    assert result.exit_code == 1
    assert "was not written by fuse build" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _tree(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "roots.yaml"]


@pytest.mark.parametrize("name", ["fused.h5", "fused.h5.report.json", "fused.h5.rejected.jsonl"])
def test_a_file_of_the_users_is_never_replaced(tmp_path, demo_roots, name):
    (tmp_path / name).write_text("the user's own")
    for extra in ([], ["--overwrite"]):
        result = _build(demo_roots, tmp_path / "fused.h5", *extra)
        assert result.exit_code == 1 and "was not written by fuse build" in result.output
    assert (tmp_path / name).read_text() == "the user's own"
    assert not (tmp_path / "fused.h5").exists() or name == "fused.h5"


def test_links_and_wrong_kinds_are_refused(tmp_path, demo_roots):
    target = tmp_path / "elsewhere.h5"
    target.write_bytes(b"x")
    (tmp_path / "link.h5").symlink_to(target)
    result = _build(demo_roots, tmp_path / "link.h5", "--overwrite")
    assert result.exit_code == 1 and "symbolic link" in result.output
    (tmp_path / "folder.h5").mkdir()
    result = _build(demo_roots, tmp_path / "folder.h5")
    assert result.exit_code == 1 and "an HDF5 output is one file" in result.output
    assert target.read_bytes() == b"x" and (tmp_path / "link.h5").is_symlink()


@pytest.mark.parametrize("out", ["fused.h5", "shards"])
def test_an_earlier_output_is_replaced_only_with_overwrite(tmp_path, demo_roots, out):
    out = tmp_path / out
    if out.suffix != ".h5":
        out.mkdir()  # an empty folder is a fine target
    assert _build(demo_roots, out).exit_code == 0
    first = _tree(tmp_path)
    again = _build(demo_roots, out)
    assert again.exit_code == 1 and "pass --overwrite" in again.output
    assert _tree(tmp_path) == first
    replaced = _build(demo_roots, out, "--overwrite", "--limit", "10")
    assert replaced.exit_code == 0, replaced.output
    assert len(open_shards(out)) == 10
    report = json.loads((tmp_path / f"{out.name}.report.json").read_text())
    assert report["status"] == "ok" and report["totals"]["kept"] == 10
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    if out.is_dir():  # a Parquet output of ours with a file of the user's in it: refused
        (out / "notes.txt").write_text("mine")
        assert _build(demo_roots, out, "--overwrite").exit_code == 1
        assert (out / "notes.txt").read_text() == "mine"


def test_a_failed_rebuild_keeps_the_earlier_set_and_reports_beside_it(tmp_path, demo_300w):
    out = tmp_path / "fused.h5"
    roots = [Root("300w", demo_300w)]
    build_shards(roots, out, BuildSettings(workers=0, progress=False, limit=12))
    files = BuildFiles.of(out)
    before = {p: p.read_bytes() for p in (files.output, files.report, files.rejected)}
    with pytest.raises(BuildFailed):
        build_shards(roots, out, BuildSettings(workers=0, progress=False, strict=True,
                                               overwrite=True))
    assert {p: p.read_bytes() for p in before} == before
    failed = json.loads(files.failed_report.read_text())
    assert failed["status"] == "failed_strict"
    assert failed["rejected_file"] == str(files.failed_rejected)
    assert json.loads(files.failed_rejected.read_text().splitlines()[0])["reason"] == "missing_image"
    # the next good build replaces the set and removes the failed report
    build_shards(roots, out, BuildSettings(workers=0, progress=False, limit=5, overwrite=True))
    assert not files.failed_report.exists() and not files.failed_rejected.exists()
    assert json.loads(files.report.read_text())["totals"]["kept"] == 5


def test_a_report_without_an_output_is_replaced_without_asking(tmp_path, demo_300w):
    """A failed or stopped build left a report but no output: there is nothing to protect."""
    out = tmp_path / "fused.h5"
    roots = [Root("300w", demo_300w)]
    with pytest.raises(BuildFailed):
        build_shards(roots, out, BuildSettings(workers=0, progress=False, strict=True))
    assert json.loads(BuildFiles.of(out).report.read_text())["status"] == "failed_strict"
    build_shards(roots, out, BuildSettings(workers=0, progress=False, limit=3))
    assert json.loads(BuildFiles.of(out).report.read_text())["status"] == "ok"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_runs_only_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stale_file = tmp_path / f".fused.h5.fuse-build-{HOST}-{dead}.tmp"
    stale_file.write_bytes(b"partial")
    stale_folder = tmp_path / f".shards.fuse-build-{HOST}-{dead}.tmp"
    stale_folder.mkdir()
    (stale_folder / "part-00000.parquet").write_bytes(b"partial")
    odd_folder = tmp_path / f".odd.fuse-build-{HOST}-{dead}.old"
    odd_folder.mkdir()
    (odd_folder / "part-00000.parquet").write_bytes(b"partial")
    (odd_folder / "keep.txt").write_text("not a shard part: stays")
    kept = [tmp_path / f".live.h5.fuse-build-{HOST}-{alive}.tmp",       # a running build
            tmp_path / f".other.h5.fuse-build-otherhost-{dead}.tmp",   # another machine's
            tmp_path / f".mine.h5.tmp-{dead}",                         # old-style, not HDF5
            tmp_path / f"fused.h5.fuse-build-{HOST}-{dead}.tmp"]       # not hidden: not ours
    for path in kept:
        path.write_bytes(b"x")
    removed = remove_stale(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_folder])
    assert all(path.exists() for path in kept)
    assert sorted(p.name for p in odd_folder.iterdir()) == ["keep.txt"]


def test_commit_finishes_before_a_signal_acts(tmp_path, monkeypatch):
    files = [tmp_path / "x.h5", tmp_path / "x.h5.rejected.jsonl", tmp_path / "x.h5.report.json"]
    moves = []
    for final, role in zip(files, ("output", "rejected", "report"), strict=True):
        temporary = temporary_path(final)
        temporary.write_text("new")
        moves.append((temporary, final, role))
    assert process_tag() in moves[0][0].name
    original = os.replace

    def replace_after_ctrl_c(source, target):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the moves
        original(source, target)

    monkeypatch.setattr(os, "replace", replace_after_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        commit(moves, "hdf5")
    assert all(final.read_text() == "new" for final in files)  # all three moved, then the stop
    assert not any(temporary.exists() for temporary, _, _ in moves)


def test_commit_refuses_a_target_that_changed(tmp_path):
    out = tmp_path / "x.report.json"
    out.write_text("now the user's")
    temporary = temporary_path(out)
    temporary.write_text("{}")
    with pytest.raises(OutputError, match="changed during the build"):
        commit([(temporary, out, "report")], "hdf5")
    assert out.read_text() == "now the user's"

"""Real `fuse build` processes killed with a real SIGKILL at several points, then `--resume`: the
output is the one a clean build writes (every part byte for byte, the manifest, the rejection list,
the report's counts), and only the unfinished work is done again."""
from __future__ import annotations

import hashlib
import json
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from landmark_fusion.commands import fuse

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

PART_ROWS = "48"  # 300 faces: 7 parts, a checkpoint every 48 rows
#: Report keys that differ between any two runs (time, the run's own names and settings).
RUN_KEYS = ("seconds", "output", "rejected_file", "settings", "resumed")


def _build_args(roots: Path, out: str, *extra: str) -> list[str]:
    return ["build", "--roots", str(roots), "--out", out, "--workers", "2", "--part-rows",
            PART_ROWS, "--no-progress", *extra]


def _files(folder: Path, out: str) -> dict[str, str]:
    """sha256 of every file of the set and its rejection list."""
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((folder / out).iterdir())}
    found["rejected"] = hashlib.sha256((folder / f"{out}.rejected.jsonl").read_bytes()).hexdigest()
    return found


def _counts(folder: Path, out: str) -> dict:
    report = json.loads((folder / f"{out}.report.json").read_text())
    return {key: value for key, value in report.items() if key not in RUN_KEYS}


def _journal(folder: Path) -> dict | None:
    for path in folder.glob(".killed.fuse-build-*.tmp/build-journal.json"):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # being replaced right now
            return None
    return None


@pytest.fixture(scope="module")
def clean(tmp_path_factory, demo_300w):
    """One clean build of the demo folder, to compare every resumed build with."""
    folder = tmp_path_factory.mktemp("clean")
    roots = folder / "roots.yaml"
    roots.write_text(f"300w: {demo_300w}\n")
    result = CliRunner().invoke(fuse, _build_args(roots, str(folder / "clean")))
    assert result.exit_code == 0, result.output
    return folder


#: Where the build is killed: before its first part is complete (nothing to resume: it starts
#: again), after the first checkpoint, halfway, and with all but the last part done.
POINTS = {"no part yet": 0, "first part": 1, "halfway": 3, "near the end": 6}


@pytest.mark.parametrize("point", POINTS)
def test_a_build_killed_anywhere_resumes_to_the_clean_output(tmp_path, demo_roots, processes,
                                                            clean, point):
    parts = POINTS[point]
    build = processes.start(*_build_args(demo_roots, "killed"), cwd=tmp_path)
    if parts:
        processes.wait_for(lambda: (_journal(tmp_path) or {}).get("parts", []).__len__() >= parts,
                           step=0.002)
    else:
        processes.wait_for(lambda: list(tmp_path.glob(".killed.fuse-build-*.tmp/part-*")), step=0.002)
    assert build.poll() is None, "the build ended before it could be killed"
    processes.stop(build, signal.SIGKILL)
    processes.wait_for(lambda: not processes.session(build.pid), timeout=15)
    journal = _journal(tmp_path)
    assert not (tmp_path / "killed").exists()  # nothing passes for a complete output
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["roots.yaml"]

    again = processes.start(*_build_args(demo_roots, "killed", "--resume"), cwd=tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    if parts:
        done = sum(part["rows"] for part in journal["parts"])
        assert done >= parts * int(PART_ROWS) and f"resumed: {done} faces" in out
        resumed = json.loads((tmp_path / "killed.report.json").read_text())["resumed"]
        assert resumed == {"rows": done, "chunks_skipped": journal["chunk"]}
    else:
        assert journal is None and "resumed" not in out
    assert _files(tmp_path, "killed") == _files(clean, "clean")
    assert _counts(tmp_path, "killed") == _counts(clean, "clean")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    processes.wait_for(lambda: not processes.session(again.pid), timeout=15)


def test_a_build_stopped_by_sigterm_keeps_its_parts_for_resume(tmp_path, demo_roots, processes,
                                                              clean):
    build = processes.start(*_build_args(demo_roots, "killed"), cwd=tmp_path)
    processes.wait_for(lambda: len((_journal(tmp_path) or {}).get("parts", [])) >= 2, step=0.002)
    status, err = processes.stop(build, signal.SIGTERM)
    assert status == 143 and "--resume" in err and "Traceback" not in err
    kept = list(tmp_path.glob(".killed.fuse-build-*.tmp"))
    assert len(kept) == 1 and not (tmp_path / "killed").exists()
    report = json.loads((tmp_path / "killed.report.json").read_text())
    assert report["status"] == "interrupted" and report["resumable"].endswith(kept[0].name)
    result = CliRunner().invoke(fuse, _build_args(demo_roots, str(tmp_path / "killed"), "--resume"))
    assert result.exit_code == 0, result.output
    assert _files(tmp_path, "killed") == _files(clean, "clean")
    assert _counts(tmp_path, "killed") == _counts(clean, "clean")


def test_other_inputs_are_refused_and_a_plain_build_starts_over(tmp_path, demo_roots, processes):
    build = processes.start(*_build_args(demo_roots, "killed"), cwd=tmp_path)
    processes.wait_for(lambda: len((_journal(tmp_path) or {}).get("parts", [])) >= 1, step=0.002)
    processes.stop(build, signal.SIGKILL)
    processes.wait_for(lambda: not processes.session(build.pid), timeout=15)
    out = str(tmp_path / "killed")
    other = CliRunner().invoke(fuse, _build_args(demo_roots, out, "--resume", "--crop-size", "64"))
    assert other.exit_code == 1 and "other inputs" in other.output
    assert "Traceback" not in other.output
    assert not list(tmp_path.glob(".killed.*"))  # the unusable work is gone, not hidden
    hdf5 = CliRunner().invoke(fuse, _build_args(demo_roots, str(tmp_path / "x.h5"), "--resume"))
    assert hdf5.exit_code == 1 and "cannot be resumed" in hdf5.output


def test_without_a_leftover_resume_builds_from_the_start(tmp_path, demo_roots):
    result = CliRunner().invoke(fuse, _build_args(demo_roots, str(tmp_path / "fresh"), "--resume",
                                                  "--limit", "20"))
    assert result.exit_code == 0, result.output
    assert "resumed" not in result.output and (tmp_path / "fresh" / "manifest.json").is_file()

"""Real `fuse build` processes stopped by real signals at several points: nothing stays behind.

SIGTERM and SIGINT clean up at once (exit status 128 + the signal); after SIGKILL no process of the
build lives on, and the next build removes the dead run's temporary output and ring. A rebuild
that is stopped leaves the earlier output, report and rejection list exactly as they were.
"""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def gone(processes, build) -> None:
    """Every process of the build's session ends within seconds (exiting ones take a moment)."""
    processes.wait_for(lambda: not processes.session(build.pid), timeout=15)


def writing(folder: Path) -> list[Path]:
    """The temporary output, once more than 1 MB of it is written."""
    return [p for p in folder.glob(".fused.h5.fuse-build-*.tmp") if p.stat().st_size > 1 << 20]


def forkserver_processes(processes, build) -> int:
    return sum("multiprocessing.forkserver" in p for p in processes.session(build.pid))


#: Where a build is stopped: its crop ring just made (the pool starting), its forkserver and both
#: workers running, and while it writes.
POINTS = ("ring made", "workers running", "writing")


def start(processes, tmp_path: Path, roots: Path, *extra: str):
    return processes.start("build", "--roots", str(roots), "--out", "fused.h5", "--workers", "2",
                           "--no-progress", *extra, cwd=tmp_path)


def wait_at(point: str, processes, build, folder: Path) -> None:
    if point == "ring made":
        processes.wait_for(lambda: processes.rings_of(build.pid))
    elif point == "workers running":
        processes.wait_for(lambda: forkserver_processes(processes, build) >= 3)
    else:
        processes.wait_for(lambda: writing(folder))
    assert build.poll() is None, "the build ended before it could be stopped"


@pytest.mark.parametrize(("name", "point"), [("SIGTERM", point) for point in POINTS]
                         + [("SIGINT", "writing")])
def test_a_signal_stops_the_build_and_cleans_up(tmp_path, demo_roots, processes, name, point):
    build = start(processes, tmp_path, demo_roots)
    wait_at(point, processes, build, tmp_path)
    status, err = processes.stop(build, signal.Signals[name])
    assert status == 128 + signal.Signals[name], err
    assert f"stopped by {name}" in err and "Traceback" not in err
    gone(processes, build)  # forkserver, workers, resource tracker
    assert processes.rings_of(build.pid) == []
    assert temporaries(tmp_path) == []
    assert not (tmp_path / "fused.h5").exists()
    report = json.loads((tmp_path / "fused.h5.report.json").read_text())
    assert report["status"] == "interrupted"


@pytest.mark.parametrize("point", POINTS)
def test_after_sigkill_nothing_lives_on_and_the_next_build_cleans_up(tmp_path, demo_roots,
                                                                     processes, point):
    build = start(processes, tmp_path, demo_roots)
    wait_at(point, processes, build, tmp_path)
    processes.stop(build, signal.SIGKILL)
    gone(processes, build)
    left = temporaries(tmp_path)
    assert left and all(".fuse-build-" in name for name in left)
    assert processes.rings_of(build.pid)
    # the next build removes what the dead one left (its pid is gone) and succeeds
    again = start(processes, tmp_path, demo_roots)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    assert temporaries(tmp_path) == [] and processes.rings_of(build.pid) == []
    gone(processes, again)


@pytest.mark.parametrize("name", ["SIGKILL", "SIGTERM"])
def test_a_stopped_rebuild_keeps_the_earlier_set_whole(tmp_path, demo_roots, processes, name):
    first = start(processes, tmp_path, demo_roots)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    files = {n: (tmp_path / n).read_bytes() for n in
             ("fused.h5", "fused.h5.report.json", "fused.h5.rejected.jsonl")}
    assert len(files["fused.h5.rejected.jsonl"].splitlines()) == processes.rejected
    rebuild = start(processes, tmp_path, demo_roots, "--overwrite")
    wait_at("writing", processes, rebuild, tmp_path)
    processes.stop(rebuild, signal.Signals[name])
    gone(processes, rebuild)
    assert {n: (tmp_path / n).read_bytes() for n in files} == files
    report = json.loads(files["fused.h5.report.json"])
    assert report["status"] == "ok" and report["totals"]["rejected"] == processes.rejected
    if name == "SIGTERM":  # cleaned at once; its report went beside, not over the earlier one
        assert temporaries(tmp_path) == []
        failed = json.loads((tmp_path / "fused.h5.failed.report.json").read_text())
        assert failed["status"] == "interrupted"

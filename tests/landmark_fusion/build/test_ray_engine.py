"""`--engine ray` on a small local Ray (2 CPUs) started by the build: the same Parquet set as the
local engine (every part byte for byte), the same report counts and rejection list; a Ray build
stopped by SIGTERM stops its tasks and Ray, leaves nothing that looks complete, and resumes."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from landmark_fusion.build import BuildSettings, build_shards
from landmark_fusion.roots import Root

try:
    import ray  # noqa: F401
except ImportError:  # the `test` extra installs it; CI must not skip these
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("ray is not installed (pip install 'landmark-fusion[ray]')", allow_module_level=True)

RUN_KEYS = ("seconds", "output", "rejected_file", "settings", "resumed")


def _digests(out: Path) -> dict[str, str]:
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}
    found["rejected"] = hashlib.sha256(Path(f"{out}.rejected.jsonl").read_bytes()).hexdigest()
    return found


def _counts(out: Path) -> dict:
    report = json.loads(Path(f"{out}.report.json").read_text())
    return {key: value for key, value in report.items() if key not in RUN_KEYS}


@pytest.fixture(scope="module")
def local_set(tmp_path_factory, demo_300w) -> Path:
    out = tmp_path_factory.mktemp("local") / "shards"
    build_shards([Root("300w", demo_300w)], out,
                 BuildSettings(workers=2, progress=False, part_rows=48))
    return out


def test_ray_writes_the_same_set_as_the_local_engine(tmp_path, demo_300w, local_set, processes):
    out = tmp_path / "shards"
    report = build_shards([Root("300w", demo_300w)], out,
                          BuildSettings(workers=2, progress=False, part_rows=48, engine="ray"))
    assert report.settings["engine"] == "ray"
    assert report.total_kept == processes.faces and report.total_rejected == processes.rejected
    assert _digests(out) == _digests(local_set)
    assert _counts(out) == _counts(local_set)
    import ray

    assert not ray.is_initialized()  # the Ray this build started ended with it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_ray_and_the_build_resumes(tmp_path, demo_roots, local_set, processes):
    args = ["build", "--roots", str(demo_roots), "--out", "shards", "--workers", "2",
            "--part-rows", "48", "--no-progress"]
    build = processes.start(*args, "--engine", "ray", cwd=tmp_path)

    def parts_done() -> int:
        for journal in tmp_path.glob(".shards.fuse-build-*.tmp/build-journal.json"):
            try:
                return len(json.loads(journal.read_text())["parts"])
            except (OSError, ValueError):
                return 0
        return 0

    processes.wait_for(lambda: parts_done() >= 1, timeout=120, step=0.005)
    status, err = processes.stop(build, signal.SIGTERM)
    assert status == 143, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    processes.wait_for(lambda: not processes.session(build.pid), timeout=30)  # raylet, workers
    assert not (tmp_path / "shards").exists()
    assert json.loads((tmp_path / "shards.report.json").read_text())["status"] == "interrupted"
    again = processes.start(*args, "--resume", cwd=tmp_path)  # any engine may go on
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    assert "resumed:" in out
    assert _digests(tmp_path / "shards") == _digests(local_set)
    assert _counts(tmp_path / "shards") == _counts(local_set)

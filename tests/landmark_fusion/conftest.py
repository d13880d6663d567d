"""Fixtures of the fusion-stage tests that run real `fuse build` processes.

``demo_300w`` is a synthetic 300W folder written by the benchmark's writer (``bench/fuse_build.py``:
JPEG faces + ``.pts``) plus a few annotation files without an image, so every build of it rejects
some samples; big enough (300 faces) that a build lasts a few seconds and can be interrupted while
its workers run and while it writes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Faces of the ``demo_300w`` fixture kept by every build, and its planted rejections (``.pts``
#: files without an image).
DEMO_FACES = 300
DEMO_REJECTED = 4


@pytest.fixture(scope="session")
def demo_300w(tmp_path_factory) -> Path:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from fuse_build import write_dataset
    finally:
        sys.path.remove(str(REPO / "bench"))
    root = tmp_path_factory.mktemp("demo300w") / "300W"
    pts = write_dataset(root, DEMO_FACES, 600, 450)
    for number in range(DEMO_REJECTED):
        (pts[0].parent / f"orphan_{number}.pts").write_text(pts[0].read_text())
    return root


@pytest.fixture
def demo_roots(tmp_path, demo_300w) -> Path:
    path = tmp_path / "roots.yaml"
    path.write_text(f"300w: {demo_300w}\n")
    return path


def fuse_process(*args: str, cwd: Path, **options) -> subprocess.Popen:
    """`fuse ARGS` as a real process in its own session (its session id = its pid), so that every
    process it starts — forkserver, workers, resource tracker — can be found afterwards."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}  # SIGABRT: stacks
    env.pop("LANDMARK_FUSION_CORRESPONDENCES", None)
    return subprocess.Popen([sys.executable, "-c", "from cli import fuse; fuse()", *args], cwd=cwd,
                            env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


def session_processes(session: int) -> list[str]:
    """``pid: command`` of every living process of a session (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(f"{entry.name}: {command[:120]}")
    return found


def wait_for(condition: Callable[[], object], timeout: float = 60.0, step: float = 0.01) -> object:
    """Poll ``condition`` until it is true; fails the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout} s waiting for {condition}")


def rings_of(pid: int) -> list[Path]:
    """The crop rings the build process ``pid`` made (``landmark-fusion-HOST-PID-….ring``)."""
    import tempfile

    from landmark_fusion.lifetime import process_tag

    folders = [Path("/dev/shm"), Path(tempfile.gettempdir())]
    return [p for folder in folders if folder.is_dir()
            for p in folder.glob(f"landmark-fusion-{process_tag(pid)}-*.ring")]


def stop(process: subprocess.Popen, signum: int) -> tuple[int, str]:
    """Send ``signum`` to the process (not its group) and wait; (exit status, stderr)."""
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # hung: its threads' stacks say where
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=30)
        pytest.fail(f"still running 120 s after {signal.Signals(signum).name}:\n{err}")
    return process.returncode, err


SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT, "SIGKILL": signal.SIGKILL}


@pytest.fixture(scope="session")
def processes() -> SimpleNamespace:
    """The helpers above and the facts of ``demo_300w``, for the tests that run real builds."""
    return SimpleNamespace(start=fuse_process, session=session_processes, wait_for=wait_for,
                           rings_of=rings_of, stop=stop, faces=DEMO_FACES, rejected=DEMO_REJECTED,
                           repo=REPO)

"""Progress bars: a live tqdm bar on a real terminal (a pty), a few plain lines in a file; a real
`fuse build` with stderr in a file writes one line per bar."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

from landmark_fusion.progress import LogProgress, is_terminal, progress


def test_log_lines_are_throttled_and_plain(tmp_path):
    with open(tmp_path / "log", "w") as log:
        bar = progress(total=50, desc="work", unit="item", file=log, interval=0.2)
        assert isinstance(bar, LogProgress)
        for _ in range(50):
            time.sleep(0.01)
            bar.update()
            bar.set_postfix(kept=3)
        bar.close()
        bar.close()  # twice: one final line
    text = (tmp_path / "log").read_text()
    lines = text.splitlines()
    assert 2 <= len(lines) <= 5, text  # ~0.5 s of work at one line per 0.2 s, plus the final one
    assert "\r" not in text and text.isascii()
    assert lines[-1].startswith("work: 100% 50/50") and "kept=3" in lines[-1]


def test_log_bar_over_an_iterable_and_disabled():
    stream = io.StringIO()
    assert list(progress(range(4), desc="it", file=stream, interval=60)) == [0, 1, 2, 3]
    assert stream.getvalue().count("\n") == 1 and "4/4" in stream.getvalue()
    quiet = io.StringIO()
    with progress(total=3, file=quiet, disable=True) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_a_terminal_gets_a_live_tqdm_bar():
    from tqdm import tqdm

    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        assert is_terminal(terminal)
        bar = progress(total=2, desc="live", file=terminal, mininterval=0)
        assert isinstance(bar, tqdm)
        bar.update(2)
        bar.close()
    os.close(leader)
    assert not is_terminal(io.StringIO())


def test_a_build_logging_to_a_file_writes_one_line(tmp_path, demo_roots, processes):
    env = {**os.environ, "PYTHONPATH": str(processes.repo)}
    with open(tmp_path / "stderr.log", "w") as log:
        done = subprocess.run([sys.executable, "-c", "from cli import fuse; fuse()", "build",
                               "--roots", str(demo_roots), "--out", str(tmp_path / "x.h5"),
                               "--workers", "2"], stdout=subprocess.PIPE, stderr=log, text=True,
                              env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout
    text = (tmp_path / "stderr.log").read_text()
    assert len(text.splitlines()) == 1 and "\r" not in text, text
    assert text.startswith(f"fuse build: {processes.faces + processes.rejected}item [")

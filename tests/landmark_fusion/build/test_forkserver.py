"""The workers' server: what it preloads, and that it can be started before NumPy is loaded."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from landmark_fusion.build import work
from landmark_fusion.build.forkserver import WORK_MODULES
from landmark_fusion.roots import Root
from landmark_fusion.sources import SOURCES

REPO = Path(__file__).resolve().parents[3]


def test_the_work_modules_are_the_work_and_opencv() -> None:
    assert WORK_MODULES[0] == work.__name__
    for name in WORK_MODULES:
        importlib.import_module(name)


def test_preload_is_the_work_modules_and_the_readers_of_the_roots() -> None:
    roots = [Root("aflw", Path(".")), Root("300w", Path(".")), Root("aflw", Path("other"))]
    preload = work.preload_modules(roots)
    assert preload[:len(WORK_MODULES)] == list(WORK_MODULES)
    assert preload[len(WORK_MODULES):] == sorted({SOURCES["aflw"].split(":")[0],
                                                 SOURCES["300w"].split(":")[0]})


def test_the_module_loads_without_numpy() -> None:
    """``fuse build`` imports it, and starts the server, before it loads NumPy itself."""
    code = "import sys, landmark_fusion.build.forkserver; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

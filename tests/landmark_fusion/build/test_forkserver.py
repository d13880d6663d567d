"""The workers' server: what it preloads, and that it can be started before NumPy is loaded."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

from landmark_fusion.build import work
from landmark_fusion.build.forkserver import WORK_MODULES, main_imports
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


def test_main_imports_are_the_loaded_top_level_imports_of_the_main_script(tmp_path, monkeypatch
                                                                           ) -> None:
    """A worker runs the main script again: the modules it imports are preloaded for it."""
    script = tmp_path / "entry.py"
    script.write_text("import re, sys\nfrom json import dumps\nfrom . import nothing\n"
                      "import not_a_loaded_module_anywhere\n"
                      "def main():\n    import csv\n", encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    import json  # noqa: F401 - loaded, as the script's own run would have it

    assert main_imports() == ["re", "sys", "json"]


def test_main_imports_of_a_main_without_a_readable_file(tmp_path, monkeypatch) -> None:
    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert main_imports() == []  # an interactive session: no file
    main.__file__ = str(tmp_path / "gone.py")
    assert main_imports() == []
    (tmp_path / "broken.py").write_text("import (\n", encoding="utf-8")
    main.__file__ = str(tmp_path / "broken.py")
    assert main_imports() == []

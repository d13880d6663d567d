"""The two entry points: `fuse --version` and `train --version` print the installed version."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli import fuse, train
from landmark_fusion.commands import package_version

REPO = Path(__file__).resolve().parents[1]


def test_version_of_both_commands():
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("landmark-fusion")
    except PackageNotFoundError:
        from landmark_fusion import __version__ as expected
    assert package_version() == expected
    for command, name in ((fuse, "fuse"), (train, "train")):
        result = CliRunner().invoke(command, ["--version"])
        assert result.exit_code == 0 and result.output == f"{name} (landmark-fusion) {expected}\n"


def test_version_in_a_real_process():
    done = subprocess.run([sys.executable, "-c", "from cli import train; train()", "--version"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("train (landmark-fusion) ")

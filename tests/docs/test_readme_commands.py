"""README's "Fresh machine" commands are what .ci/run runs: .ci/run reads them from README.md, and both
are the ones a user is told to type."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("readme_commands", REPO / ".ci" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ci_reads_the_two_fresh_machine_commands_from_the_readme():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = _module().fresh_machine_commands(text)
    assert commands["demo"] == "pip install torch==2.13.0 && pip install -e . && fuse demo --out demo-out"
    assert commands["test"] == "pip install torch==2.13.0 && pip install -e '.[test]' && python -m pytest -q"
    printed = subprocess.run([sys.executable, str(REPO / ".ci" / "readme_commands.py"), "demo"], check=True,
                             capture_output=True, text=True).stdout.strip()
    assert printed == commands["demo"]
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'readme_commands.py demo' in run and 'readme_commands.py test' in run
    assert 'eval "$demo_command"' in run and 'eval "$test_command"' in run and "-m venv" in run


def test_a_readme_without_the_commands_is_refused():
    with pytest.raises(ValueError, match="Fresh machine"):
        _module().fresh_machine_commands("# nothing here\n")
    with pytest.raises(ValueError, match="one-line bash blocks"):
        _module().fresh_machine_commands("## Fresh machine\n```bash\nfuse demo\n```\n")

"""`fuse corr list | show | validate | docs`."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.commands.corr import DOCS_BEGIN, DOCS_END, scheme_listing_markdown
from landmark_fusion.paths import correspondences_dir

REPO = Path(__file__).resolve().parents[3]


def _run(*args: str):
    return CliRunner().invoke(fuse, ["corr", *args])


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "corr"
    shutil.copytree(correspondences_dir(), copy, ignore=shutil.ignore_patterns("*.py", "__pycache__", "models"))
    return copy


def test_list() -> None:
    result = _run("list")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line[:1].isalpha()}
    # scheme, databases..., points, kept, expected, paper, rule 2, rule 3 (numbers at the end)
    assert rows["ibug68"][-6:] == ["68", "52", "52", "52", "16", "0"]
    assert rows["wflw98"][-6:] == ["98", "64", "64", "66", "32", "2"]
    assert rows["fw74"][-6:] == ["74", "59", "59", "59", "14", "1"]
    assert rows["aflw21"][-5:] == ["21", "18", "18", "0", "3"]
    assert "vocabulary: 106 landmarks" in result.output


def test_show() -> None:
    result = _run("show", "ibug68")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.search(r"^36\s+eye_r_outer\s+eye\s+45\s*$", result.output, re.M)
    assert re.search(r"^8\s+chin\s+jaw\s+8\s*$", result.output, re.M)
    row0 = next(line for line in lines if line.startswith("0 "))
    assert " 16 " in row0 and " 2 " in row0 and "slides along the cheek" in row0
    assert "52 of 68 kept" in result.output


def test_show_markdown_and_native_names() -> None:
    result = _run("show", "aflw21", "--markdown")
    assert result.exit_code == 0, result.output
    assert "| 12 | ear_r | ear | 16 | LeftEar |  |  |" in result.output
    assert "| 18 |  |  | 18 | MouthCenter: centre of the mouth opening | 3 |" in result.output


def test_show_unknown_scheme() -> None:
    result = _run("show", "ibug69")
    assert result.exit_code != 0
    assert "unknown scheme 'ibug69'" in result.stderr


def test_validate_installed() -> None:
    result = _run("validate")
    assert result.exit_code == 0, result.stderr
    assert result.output.startswith("OK: 106 landmarks, 5 schemes")


def test_validate_edited_copy_reports_file_and_line(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    path = copy / "schemes" / "fw74.yaml"
    lines = path.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if "{index: 44, name: nose_r_nostril}" in line)
    lines[number] = lines[number].replace("nose_r_nostril", "nose_r_nostrill")
    path.write_text("".join(lines))
    result = _run("validate", "--corr-dir", str(copy))
    assert result.exit_code == 1
    assert f"{path}:{number + 1}: index 44: unknown landmark name 'nose_r_nostrill'" in result.stderr
    assert "58 points kept, but expected_kept says 59" in result.stderr
    # the other commands refuse the broken copy with a clean message, not a traceback
    shown = _run("show", "fw74", "--corr-dir", str(copy))
    assert shown.exit_code == 1 and "nose_r_nostrill" in shown.stderr and shown.exception.__class__ is SystemExit


def test_docs_listing_is_up_to_date() -> None:
    text = (REPO / "docs" / "correspondences.md").read_text(encoding="utf-8")
    section = text[text.index(DOCS_BEGIN) + len(DOCS_BEGIN):text.index(DOCS_END)]
    assert section.strip() == scheme_listing_markdown().strip(), "run: fuse corr docs --write docs/correspondences.md"
    assert "| 97 |  |  | 96 | pupil of the image-right (subject's left) eye | 3 |" in section


def test_docs_write(tmp_path: Path) -> None:
    target = tmp_path / "doc.md"
    target.write_text(f"intro\n{DOCS_BEGIN}\nold\n{DOCS_END}\nend\n")
    result = _run("docs", "--write", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{DOCS_END}\nend\n") and "old" not in text
    assert "### wflw98" in text
    assert _run("docs", "--write", str(target)).output.strip().endswith("is up to date")

"""`fuse corr list | show | validate | docs`."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
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


# ----------------------------------------------------------------------------- editable copies

def test_init_copies_the_installed_data_and_refuses_a_used_folder(tmp_path) -> None:
    from landmark_fusion.paths import installed_correspondences

    result = _run("init", str(tmp_path / "mine"))
    assert result.exit_code == 0, result.output
    installed = installed_correspondences()
    copied = sorted(p.relative_to(tmp_path / "mine").as_posix() for p in (tmp_path / "mine").rglob("*.yaml"))
    assert copied == sorted(p.relative_to(installed).as_posix() for p in installed.rglob("*.yaml"))
    assert _run("validate", "--corr-dir", str(tmp_path / "mine")).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "mine" / "schemas").iterdir()) == [
        "landmarks.schema.json", "model-table.schema.json", "scheme.schema.json"]
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    refused = _run("init", str(tmp_path / "used"))
    assert refused.exit_code == 1 and "not an empty folder" in refused.output
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_schema_writes_the_json_schemas_and_keeps_a_users_file(tmp_path) -> None:
    import json

    result = _run("schema", "--out", str(tmp_path / "schemas"))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert written == ["landmarks.schema.json", "model-table.schema.json", "scheme.schema.json"]
    assert result.output.count("wrote ") == 3
    scheme = json.loads((tmp_path / "schemas" / "scheme.schema.json").read_text(encoding="utf-8"))
    assert scheme["required"] == ["name", "num_points", "expected_kept", "points"]
    assert _run("schema", "--out", str(tmp_path / "schemas")).exit_code == 0  # its own files: replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "scheme.schema.json").write_text("{}")
    refused = _run("schema", "--out", str(tmp_path / "mine"))
    assert refused.exit_code == 1 and "is not a schema written by landmark-fusion" in refused.output
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["scheme.schema.json"]
    assert (tmp_path / "mine" / "scheme.schema.json").read_text() == "{}"


def _drop_subnasale(folder: Path) -> None:
    """ibug68 without nose_subnasale (index 33), still a valid scheme."""
    path = folder / "schemes" / "ibug68.yaml"
    text = path.read_text()
    text = text.replace("  - {index: 33, name: nose_subnasale}",
                        '  - {index: 33, drop: {rule: 3, reason: "left out in this copy"}, '
                        'mirror_index: 33, describes: "subnasale"}')
    path.write_text(text.replace("expected_kept: 52", "expected_kept: 51"))


def _subnasale_marked(out: Path) -> bool:
    from landmark_fusion.shards import open_shards

    shards = open_shards(out)
    column = list(shards.landmark_names).index("nose_subnasale")
    return bool(shards.get_batch(list(range(len(shards))))["mask"][:, column].any())


def test_build_uses_one_folder_everywhere_and_reports_it(tmp_path, demo_roots, monkeypatch) -> None:
    import hashlib
    import json

    from landmark_fusion.paths import ENV_VAR

    mine = tmp_path / "mine"
    assert _run("init", str(mine)).exit_code == 0
    _drop_subnasale(mine)
    assert _run("validate", "--corr-dir", str(mine)).exit_code == 0

    def build(out: str, *extra: str):
        result = CliRunner().invoke(fuse, ["build", "--roots", str(demo_roots), "--out", str(tmp_path / out),
                                           "--workers", "2", "--limit", "16", "--no-progress", *extra])
        assert result.exit_code == 0, result.output
        return json.loads((tmp_path / f"{out}.report.json").read_text())

    report = build("chosen.h5", "--corr-dir", str(mine))  # the workers see the copy, not the default
    assert not _subnasale_marked(tmp_path / "chosen.h5")
    assert report["correspondences"]["folder"] == str(mine.resolve())
    hashes = report["correspondences"]["sha256"]
    schemes = [f"schemes/{p.name}" for p in sorted((mine / "schemes").glob("*.yaml"))]
    assert sorted(hashes) == ["landmarks.yaml", *schemes]
    assert hashes["schemes/ibug68.yaml"] == hashlib.sha256((mine / "schemes/ibug68.yaml").read_bytes()).hexdigest()
    # the environment variable, changed between two builds of one process, reaches the workers too
    monkeypatch.setenv(ENV_VAR, str(mine))
    build("from_env.h5")
    assert not _subnasale_marked(tmp_path / "from_env.h5")
    monkeypatch.delenv(ENV_VAR)
    report = build("installed.h5")
    assert _subnasale_marked(tmp_path / "installed.h5")
    assert report["correspondences"]["folder"] == str(correspondences_dir().resolve())


def _broken(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A copy with one broken file, and the FILE:LINE the message must name."""
    copy = tmp_path / f"broken-{name}"
    assert _run("init", str(copy)).exit_code == 0
    if name == "scheme":
        path = copy / "schemes" / "ibug68.yaml"
        lines = path.read_text().splitlines()
        number = next(i for i, line in enumerate(lines) if "index: 8," in line) + 1
        lines[number - 1] = lines[number - 1].replace("name: chin", "name: chinn")
        path.write_text("\n".join(lines) + "\n")
    elif name == "yaml":
        path = copy / "landmarks.yaml"
        lines = path.read_text().splitlines()
        number = 20
        lines[number - 1] = "\t- {name: broken}"  # a tab cannot start a token
        path.write_text("\n".join(lines) + "\n")
    else:  # not UTF-8
        path = copy / "schemes" / "ibug68.yaml"
        data = path.read_bytes().splitlines(keepends=True)
        number = 5
        data[number - 1] = b"# caf\xe9 in Latin-1\n"
        path.write_bytes(b"".join(data))
    return copy, f"{path}:{number}"


COMMANDS = [["corr", "list"], ["corr", "show", "ibug68"], ["corr", "validate"], ["corr", "docs"],
            ["build", "--out", "{tmp}/x.h5", "--workers", "0"],
            ["demo", "--out", "{tmp}/demo", "--faces", "8"]]


@pytest.mark.parametrize("kind", ["scheme", "yaml", "encoding"])
def test_a_broken_copy_is_one_message_for_every_command(tmp_path, demo_roots, monkeypatch, kind) -> None:
    from landmark_fusion.paths import ENV_VAR

    copy, where = _broken(tmp_path, kind)
    monkeypatch.setenv("LANDMARK_FUSION_ROOTS", str(demo_roots))
    for how in ("env", "option"):
        for command in COMMANDS:
            args = [a.replace("{tmp}", str(tmp_path)) for a in command]
            if how == "env":
                monkeypatch.setenv(ENV_VAR, str(copy))
            else:
                monkeypatch.delenv(ENV_VAR, raising=False)
                if command[0] == "demo":
                    continue  # the demo reads the default folder only
                args += ["--corr-dir", str(copy)]
            result = CliRunner().invoke(fuse, args)
            assert result.exit_code == 1, (args, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
            assert where in result.output, (args, result.output)
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "demo").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"model: x\nlandmarks:\n\t- 1\n", ":3: YAML syntax error"),
    (b"- a\n- b\n", ":1: expected a mapping at the top level"),
    (b"model: x\nlandmarks:\n  chin: {vertex: -3, source: s}\n", ":3: landmarks.chin.vertex: must be"),
    (b"model: x\nlandmarks:\n  chin: 33\n", ":3: landmarks.chin: give {vertex: 33"),
    (b"model: x\nlandmarks:\n  nochin: {vertex: 3, source: s}\n", ":3: nochin: not a canonical landmark"),
    (b"model: x\n\xff\n", ":2: not UTF-8 text"),
])
def test_validate_a_table_file_alone(tmp_path, content, message) -> None:
    table = tmp_path / "bad.yaml"
    table.write_bytes(content)
    result = _run("validate", "--table", str(table))
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert str(table) in result.output
    shipped = _run("validate", "--table", str(correspondences_dir() / "models" / "sfm3448.yaml"))
    assert shipped.exit_code == 0 and shipped.output.startswith("OK:")
    missing = _run("validate", "--table", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "no such table file" in missing.output

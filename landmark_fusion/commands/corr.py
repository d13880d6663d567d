"""`fuse corr`: inspect and check the landmark vocabulary and schemes.

Sub-commands: ``list`` (schemes and counts), ``show SCHEME`` (index → name or drop), ``validate``
(every problem with file and line; non-zero exit on errors), ``docs`` (the generated scheme listing
of docs/correspondences.md), ``init DIR`` (an editable copy of the installed data), ``schema``
(the JSON schemas of the files, for editors). Each reading command takes ``--corr-dir`` so an
edited copy can be checked before use. No command modifies the installed data.
Commands that need a face model belong here too; they take the model with their own option.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from landmark_fusion.paths import ENV_VAR, correspondences_dir

if TYPE_CHECKING:
    from landmark_fusion.correspondence import Scheme
# The correspondence package (and NumPy with it) is imported inside the commands: `fuse` starts
# without it, and `fuse build` starts its workers' server before loading it (commands/build.py).

DOCS_BEGIN = "<!-- BEGIN GENERATED SCHEME LISTING (fuse corr docs) -->"
DOCS_END = "<!-- END GENERATED SCHEME LISTING -->"

T = TypeVar("T")


def corr_dir_option(command: Callable) -> Callable:
    """``--corr-dir DIR``: the correspondence folder to read (default: the installed data)."""
    return click.option(
        "--corr-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
        help="Correspondence folder (landmarks.yaml, schemes/); default: $LANDMARK_FUSION_CORRESPONDENCES "
             "or the installed data.")(command)


def _load_or_exit(loader: Callable[..., T], *args: object) -> T:
    """Call a vocabulary loader; invalid data or an unknown scheme become a clean CLI error."""
    from landmark_fusion.correspondence import CorrespondenceError

    try:
        return loader(*args)
    except CorrespondenceError as error:
        raise click.ClickException(f"{error}\nRun `fuse corr validate` for the full list.") from None
    except KeyError as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None


# ----------------------------------------------------------------------------- table rendering

def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table with left-aligned columns (the last column is not padded)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for number, row in enumerate(cells):
        padded = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """GitHub-flavoured Markdown table (pipes in cells escaped)."""
    def cell(value: object) -> str:
        return ("" if value is None else str(value)).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def scheme_summary_rows(corr_dir: Path | None) -> list[list[object]]:
    """One row per scheme: name, databases, points, kept, expected, paper, dropped by rule 2 / 3."""
    from landmark_fusion.correspondence import list_schemes, load_scheme

    rows = []
    for name in list_schemes(corr_dir):
        scheme = _load_or_exit(load_scheme, name, corr_dir)
        counts = scheme.drop_counts()
        rows.append([name, ", ".join(scheme.databases), scheme.num_points, len(scheme.kept_indices),
                     scheme.expected_kept, "" if scheme.paper_kept is None else scheme.paper_kept,
                     counts.get(2, 0), counts.get(3, 0)])
    return rows


SUMMARY_HEADERS = ["scheme", "databases", "points", "kept", "expected", "paper", "dropped rule 2",
                   "dropped rule 3"]
POINT_HEADERS = ["index", "name", "region", "mirror", "native point", "drop rule", "drop reason"]


def scheme_point_rows(scheme: Scheme) -> list[list[object]]:
    """One row per native index: name, region, mirror index, native point, and the drop if dropped."""
    flip = scheme.flip_permutation()
    rows = []
    for index, name in enumerate(scheme.index_to_name):
        if name is not None:
            region = scheme.vocabulary.landmarks[name].region
            rows.append([index, name, region, int(flip[index]), scheme.native.get(index, ""), "", ""])
        else:
            rule, reason = scheme.drops[index]
            rows.append([index, "", "", int(flip[index]), scheme.describes.get(index, ""), rule, reason])
    return rows


def scheme_listing_markdown(corr_dir: Path | None = None) -> str:
    """The generated part of docs/correspondences.md: a summary and every scheme's index table."""
    from landmark_fusion.correspondence import canonical_landmarks, list_schemes, load_scheme, load_vocabulary

    vocabulary = _load_or_exit(load_vocabulary, corr_dir)
    parts = [
        "### Summary",
        "",
        format_markdown_table(SUMMARY_HEADERS, scheme_summary_rows(corr_dir)),
        "",
        (f"Vocabulary: {len(vocabulary)} canonical landmarks; kept by at least one scheme: "
        f"{len(canonical_landmarks(None, corr_dir))}."),
    ]
    for name in list_schemes(corr_dir):
        scheme = load_scheme(name, corr_dir)
        parts += ["", f"### {name}", "", (f"{scheme.description}. Databases: {', '.join(scheme.databases)}. "
                  f"{len(scheme.kept_indices)} of {scheme.num_points} kept."), "",
                  format_markdown_table(POINT_HEADERS, scheme_point_rows(scheme))]
    return "\n".join(parts) + "\n"


def replace_generated_section(text: str, generated: str) -> str:
    """``text`` with everything between the listing markers replaced by ``generated``."""
    start, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if start < 0 or end < start:
        raise click.ClickException(f"markers {DOCS_BEGIN!r} … {DOCS_END!r} not found")
    return text[: start + len(DOCS_BEGIN)] + "\n\n" + generated + "\n" + text[end:]


# ----------------------------------------------------------------------------- commands

@click.group("corr")
def corr() -> None:
    """Landmark vocabulary and schemes: list, show, validate, docs, init, schema."""


@corr.command("list")
@corr_dir_option
def list_command(corr_dir: Path | None) -> None:
    """Schemes with point counts, kept counts and drops by rule; the vocabulary size."""
    from landmark_fusion.correspondence import canonical_landmarks, load_vocabulary

    vocabulary = _load_or_exit(load_vocabulary, corr_dir)
    click.echo(format_table(SUMMARY_HEADERS, scheme_summary_rows(corr_dir)))
    canonical = _load_or_exit(canonical_landmarks, None, corr_dir)
    click.echo(f"\nvocabulary: {len(vocabulary)} landmarks ({vocabulary.path}); "
               f"kept by at least one scheme: {len(canonical)}")


@corr.command("show")
@click.argument("scheme_name", metavar="SCHEME")
@click.option("--markdown", is_flag=True, help="Print a Markdown table instead of plain text.")
@corr_dir_option
def show_command(scheme_name: str, markdown: bool, corr_dir: Path | None) -> None:
    """Every native index of SCHEME: its canonical name, or the drop rule and reason."""
    from landmark_fusion.correspondence import load_scheme

    scheme = _load_or_exit(load_scheme, scheme_name, corr_dir)
    rows = scheme_point_rows(scheme)
    render = format_markdown_table if markdown else format_table
    click.echo(f"{scheme.name}: {scheme.description}")
    click.echo(f"databases: {', '.join(scheme.databases)}; {len(scheme.kept_indices)} of "
               f"{scheme.num_points} kept; file: {scheme.path}\n")
    click.echo(render(POINT_HEADERS, rows))
    if scheme.notes:
        click.echo("\nnotes: " + scheme.notes)


@corr.command("validate")
@corr_dir_option
def validate_command(corr_dir: Path | None) -> None:
    """Check the vocabulary and every scheme; print each problem as FILE:LINE: message.

    Exits with status 1 when there is any problem.
    """
    from landmark_fusion.correspondence import list_schemes, load_vocabulary, validate

    folder = correspondences_dir(corr_dir)
    problems = validate(folder)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {folder}", err=True)
        sys.exit(1)
    vocabulary = load_vocabulary(folder)
    schemes = list_schemes(folder)
    click.echo(f"OK: {len(vocabulary)} landmarks, {len(schemes)} schemes ({', '.join(schemes)}) in {folder}")


@corr.command("init")
@click.argument("folder", type=click.Path(path_type=Path))
def init_command(folder: Path) -> None:
    """Copy the installed correspondence data into FOLDER (new or empty) to edit it.

    Use the copy with --corr-dir FOLDER (fuse build, fuse corr ...) or
    LANDMARK_FUSION_CORRESPONDENCES=FOLDER; `fuse corr suggest --write` writes only there.
    FOLDER/schemas/ gets the JSON schemas of the files (see `fuse corr schema`).
    """
    import os
    import shutil

    from landmark_fusion.correspondence import SCHEMES_DIR, VOCABULARY_FILE
    from landmark_fusion.correspondence.schema_files import SCHEMAS_DIR, write_schemas
    from landmark_fusion.facemodel.tables import MODELS_DIR
    from landmark_fusion.lifetime import process_tag
    from landmark_fusion.paths import installed_correspondences

    if folder.is_symlink() or (folder.exists() and (not folder.is_dir() or any(folder.iterdir()))):
        raise click.ClickException(f"{folder} exists and is not an empty folder; nothing was "
                                   "copied: give a new folder")
    source = installed_correspondences()
    files = [source / VOCABULARY_FILE, *sorted((source / SCHEMES_DIR).glob("*.yaml")),
             *sorted((source / MODELS_DIR).glob("*.yaml"))]
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f".{folder.name}.fuse-corr-init-{process_tag()}.tmp")
    partial.mkdir()
    try:
        for path in files:
            target = partial / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        write_schemas(partial / SCHEMAS_DIR)
        os.replace(partial, folder)  # the copy appears whole or not at all
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # only the copy this command was making
        raise
    schemes = sum(p.parent.name == SCHEMES_DIR for p in files)
    tables = sum(p.parent.name == MODELS_DIR for p in files)
    click.echo(f"created {folder}: {VOCABULARY_FILE}, {schemes} schemes, {tables} model "
               f"tables (from {source}), JSON schemas in {SCHEMAS_DIR}/\nuse it with --corr-dir "
               f"{folder} or {ENV_VAR}={folder}")


@corr.command("schema")
@click.option("--out", "folder", required=True, type=click.Path(path_type=Path),
              help="Folder to write the schemas into (made if missing).")
def schema_command(folder: Path) -> None:
    """Write the JSON schemas of the three file kinds, for an editor to check and complete them.

    landmarks.schema.json (landmarks.yaml), scheme.schema.json (schemes/*.yaml) and
    model-table.schema.json (models/*.yaml), generated from the same typed models that
    `fuse corr validate` checks each entry with. Earlier schemas written by this command are
    replaced; any other file at their paths is refused and nothing is written.
    """
    from landmark_fusion.correspondence.schema_files import SchemaFileError, write_schemas

    try:
        written = write_schemas(folder)
    except SchemaFileError as error:
        raise click.ClickException(str(error)) from None
    for path in written:
        click.echo(f"wrote {path}")


@corr.command("docs")
@click.option("--write", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Update the generated section of this Markdown file (between the listing markers) "
                   "instead of printing it.")
@corr_dir_option
def docs_command(target: Path | None, corr_dir: Path | None) -> None:
    """The generated scheme listing of docs/correspondences.md (index → name or drop reason)."""
    generated = scheme_listing_markdown(corr_dir)
    if target is None:
        click.echo(generated, nl=False)
        return
    text = target.read_text(encoding="utf-8")
    updated = replace_generated_section(text, generated)
    if updated != text:  # the rest of the file is the user's: it is replaced whole or not at all
        import os

        from landmark_fusion.lifetime import process_tag

        partial = target.with_name(f".{target.name}.fuse-corr-docs-{process_tag()}.tmp")
        try:
            partial.write_text(updated, encoding="utf-8")
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        click.echo(f"updated {target}")
    else:
        click.echo(f"{target} is up to date")


__all__ = ["corr", "corr_dir_option", "format_table", "scheme_listing_markdown"]

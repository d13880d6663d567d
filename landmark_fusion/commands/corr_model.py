"""`fuse corr validate | check | suggest | show`: the model vertex tables, checked and extended by
fitting the model to annotated faces (registered on the `corr` group)."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from .corr import corr

_MODEL_HELP = ("model file: the project's npz or anything `fuse model convert` reads "
               "(e.g. ICT-FaceKit's converted ict_facekit_face.npz)")
_TABLE_HELP = "vertex table (a YAML file or a table name); default: found by the model's name"
_CORR_DIR_HELP = ("correspondence folder (landmarks.yaml, schemes/, models/); default: "
                  "$LANDMARK_FUSION_CORRESPONDENCES or the installed data")


def _load(model_path: str, table: str | None, corr_dir: str | None):
    from ..facemodel import load_model
    from ..facemodel.tables import table_for

    model = load_model(model_path)
    return model, table_for(model, table, corr_dir)


def _faces(roots: str | None, sources: str | None, shards: str | None, limit: int,
           corr_dir: str | None):
    """Annotated faces from the database readers (``--roots`` + ``--sources``) or a shard file."""
    if bool(shards) == bool(sources):
        raise click.UsageError("give either --sources (with --roots) or --shards")
    if shards:
        return faces_from_shards(shards, limit)
    assert sources  # one of the two, checked above
    from ..roots import load_roots, select_sources

    chosen = select_sources(load_roots(roots), sources)
    return faces_from_sources([(r.name, r.path, r.options) for r in chosen], limit, corr_dir)


def faces_from_sources(roots: Iterable[tuple[str, Path, dict]], limit: int = 0,
                       corr_dir: str | None = None):
    """Read the landmarks (not the images) of each database through its reader, up to ``limit``
    faces per database (0 = all), onto the canonical-name axis of the schemes met."""
    import numpy as np

    from ..correspondence import canonical_landmarks, load_scheme
    from ..facemodel.fit import AnnotatedFaces
    from ..sources import RawFace, get_source

    per_face: list[tuple[int, str, np.ndarray, np.ndarray]] = []
    names_src: list[str] = []
    schemes: dict[str, Any] = {}
    for k, (name, root, options) in enumerate(roots):
        names_src.append(name)
        reader = get_source(name)(root, **options)
        count = 0
        for item in reader.items():
            for face in reader.read(item):
                if not isinstance(face, RawFace):
                    continue
                if face.scheme not in schemes:
                    schemes[face.scheme] = load_scheme(face.scheme, corr_dir)
                per_face.append((k, face.scheme, np.asarray(face.points, np.float32),
                                 np.asarray(face.visible, bool)))
                count += 1
            if limit and count >= limit:
                break
    names = canonical_landmarks(list(schemes), corr_dir) if schemes else []
    col = {n: i for i, n in enumerate(names)}
    pts = np.zeros((len(per_face), len(names), 2), np.float32)
    mask = np.zeros((len(per_face), len(names)), bool)
    src = np.zeros(len(per_face), np.int64)
    for f, (k, scheme, p, vis) in enumerate(per_face):
        sch = schemes[scheme]
        for i in sch.kept_indices:
            j = col[sch.index_to_name[i]]
            pts[f, j] = p[i]
            mask[f, j] = bool(vis[i]) and bool(np.isfinite(p[i]).all())
        src[f] = k
    return AnnotatedFaces(list(names), pts, mask, src, names_src)


def faces_from_shards(path: str, limit: int = 0):
    """Landmarks, masks and sources of a shard file (images are not read)."""
    import numpy as np

    from ..facemodel.fit import AnnotatedFaces
    from ..shards import open_shards

    pts, mask, src = [], [], []
    try:
        shard = open_shards(path)
        for _, cols in shard.iter_columns(("landmarks", "mask", "source")):
            pts.append(cols["landmarks"])
            mask.append(cols["mask"])
            src.append(cols["source"])
            if limit and sum(len(p) for p in pts) >= limit:
                break
    except (OSError, ValueError, KeyError) as error:
        raise click.ClickException(f"{path}: cannot read shards ({error})") from None
    if not pts:
        raise click.ClickException(f"{path}: the shards hold no faces")
    points = np.concatenate(pts)[: limit or None].astype(np.float32)
    return AnnotatedFaces(list(shard.landmark_names), points, np.concatenate(mask)[: limit or None],
                          np.concatenate(src)[: limit or None].astype(np.int64), list(shard.source_names))


_DATA_OPTIONS = [
    click.option("--roots", type=click.Path(dir_okay=False), default=None,
                 help="roots.yaml naming each database's folder"),
    click.option("--sources", default=None, help="databases to read: a comma list or 'all'"),
    click.option("--shards", type=click.Path(exists=True), default=None,
                 help="read the landmarks of a shard file instead"),
    click.option("--limit", type=int, default=20000, show_default=True,
                 help="at most this many faces per database (0 = all)"),
]


def _data_options(func):
    for option in reversed(_DATA_OPTIONS):
        func = option(func)
    return func


# ----------------------------------------------------------------------------------------------
# validate
# ----------------------------------------------------------------------------------------------

def model_report(model_path: str, table: str | None, corr_dir: str | None,
                 schemes: list[str] | None) -> dict[str, Any]:
    """What the table of a model has, what it lacks per scheme, and what is wrong with it."""
    from ..correspondence import list_schemes, load_scheme, load_vocabulary
    from ..facemodel.tables import shared_vertices, table_problems

    model, tab = _load(model_path, table, corr_dir)
    vocab = load_vocabulary(corr_dir)
    problems = table_problems(tab, vocab.names)
    per_scheme = {}
    for name in schemes or list_schemes(corr_dir):
        kept = load_scheme(name, corr_dir).kept_names
        per_scheme[name] = {"kept": len(kept), "missing": tab.missing(kept),
                            "estimated": [n for n in kept if n in tab and tab[n].estimated]}
    return {"model": model.name, "table": str(tab.path), "vertices": model.num_vertices,
            "entries": len(tab), "estimated": sum(e.estimated for e in tab.values()),
            "problems": problems, "shared_vertices": {str(v): n for v, n in shared_vertices(tab).items()},
            "schemes": per_scheme}


def validate_model(model_path: str, table: str | None, schemes: tuple[str, ...], corr_dir: Any,
                   as_json: bool) -> None:
    """With ``--model``: which landmarks kept by each scheme have no vertex in the model's table;
    exit status 1 when the table has problems (unknown names, vertices outside the model)."""
    corr_dir = None if corr_dir is None else str(corr_dir)
    report = model_report(model_path, table, corr_dir, list(schemes) or None)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"model {report['model']} ({report['vertices']} vertices), table {report['table']}: "
                   f"{report['entries']} entries, {report['estimated']} estimated")
        for name, s in report["schemes"].items():
            status = "complete" if not s["missing"] else f"{len(s['missing'])} missing"
            click.echo(f"  {name:14s} {s['kept']:3d} kept, {status}, {len(s['estimated'])} estimated")
            for n in s["missing"]:
                click.echo(f"      missing: {n}")
        for v, names in report["shared_vertices"].items():
            click.echo(f"  note: vertex {v} carries {', '.join(names)}")
        for p in report["problems"]:
            click.echo(f"  problem: {p}")
    if report["problems"]:
        sys.exit(1)


def validate_table(table: str, corr_dir: Any) -> None:
    """``--table`` without ``--model``: parse the table (a file or a table name of the folder) and
    check its names against the vocabulary and its vertices against its ``num_vertices``; exit
    status 1 on problems."""
    from ..correspondence import load_vocabulary
    from ..facemodel.tables import read_table, table_path, table_problems

    corr_dir = None if corr_dir is None else str(corr_dir)
    candidate = Path(table)
    path = candidate if candidate.suffix in (".yaml", ".yml") or candidate.exists() \
        else table_path(table, corr_dir)
    if not path.is_file():
        raise click.ClickException(f"{path}: no such table file")
    tab = read_table(path)
    problems = table_problems(tab, load_vocabulary(corr_dir).names)
    for problem in problems:
        click.echo(f"  problem: {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    click.echo(f"OK: {path}: {len(tab)} entries ({sum(e.estimated for e in tab.values())} "
               f"estimated) for model {tab.model}")


# ----------------------------------------------------------------------------------------------
# check
# ----------------------------------------------------------------------------------------------

@corr.command("check")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True), help=_MODEL_HELP)
@click.option("--table", default=None, help=_TABLE_HELP)
@_data_options
@click.option("--corr-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help=_CORR_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="write a bar chart PNG")
def check(model_path: str, table: str | None, roots: str | None, sources: str | None,
          shards: str | None, limit: int, corr_dir: str | None, as_json: bool, plot: str | None) -> None:
    """Fit the model to every face and report each landmark's residual (mean, median, in % of the
    face size), worst first; flagged entries stand out from the rest (a wrong vertex?)."""
    from ..facemodel.fit import landmark_residuals
    from ..figures import check_figure_path

    if plot:
        check_figure_path(plot)
    model, tab = _load(model_path, table, corr_dir)
    faces = _faces(roots, sources, shards, limit, corr_dir)
    if len(faces) == 0:
        raise click.ClickException("no faces read")
    idx, has = tab.vertex_indices(faces.names)
    if not has.any():
        raise click.ClickException(f"none of the faces' landmarks has a vertex in {tab.path}")
    report, _ = landmark_residuals(model, idx, faces)
    without = [n for n, h in zip(faces.names, has, strict=True) if not h and faces.mask[:, faces.names.index(n)].any()]
    if as_json:
        click.echo(json.dumps({"model": model.name, "table": str(tab.path), "faces": report.faces,
                               "data": faces.describe(), "nme": report.nme,
                               "landmarks": {r["name"]: {k: r[k] for k in ("mean", "median", "count", "flagged")}
                                             for r in report.rows()},
                               "without_vertex": without}, indent=2))
    else:
        click.echo(f"{model.name}: {report.faces} faces ({faces.describe()}), mean NME {report.nme:.2f} %")
        click.echo(f"{'landmark':28s} {'mean %':>7s} {'median %':>9s} {'faces':>6s}")
        for r in report.rows():
            flag = "  <-- stands out" if r["flagged"] else ""
            click.echo(f"{r['name']:28s} {r['mean']:7.2f} {r['median']:9.2f} {r['count']:6d}{flag}")
        if without:
            click.echo(f"annotated but without a vertex (not fitted): {', '.join(without)}")
    if plot:
        _plot_residuals(report, plot, f"{model.name}: residual per landmark")


def _plot_residuals(report, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..figures import save_figure

    rows = report.rows()
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(rows) + 2), 5))
    colors = ["tab:red" if r["flagged"] else "tab:blue" for r in rows]
    ax.bar(range(len(rows)), [r["mean"] for r in rows], color=colors, label="mean")
    ax.plot(range(len(rows)), [r["median"] for r in rows], "k.", label="median")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["name"] for r in rows], rotation=90, fontsize=7)
    ax.set_ylabel("residual, % of face size")
    ax.set_title(f"{title} (NME {report.nme:.2f} %, red = stands out)")
    ax.legend()
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------------------------
# suggest
# ----------------------------------------------------------------------------------------------

@corr.command("suggest")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True), help=_MODEL_HELP)
@click.option("--table", default=None, help=_TABLE_HELP)
@click.option("--landmark", "landmarks", multiple=True, required=True,
              help="canonical name to estimate (repeat for several; they are fitted without each other)")
@_data_options
@click.option("--corr-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help=_CORR_DIR_HELP)
@click.option("--min-faces", type=int, default=3, show_default=True)
@click.option("--write/--dry-run", default=False, show_default=True,
              help="write the vertex into the table (marked estimated): the table of --corr-dir, or "
                   "--table FILE; the installed tables are never modified (make an editable copy "
                   "with `fuse corr init DIR`)")
def suggest(model_path: str, table: str | None, landmarks: tuple[str, ...], roots: str | None,
            sources: str | None, shards: str | None, limit: int, corr_dir: str | None, min_faces: int,
            write: bool) -> None:
    """Estimate landmark vertices from annotated faces: fit on the other landmarks, back-project the
    annotated point onto the fitted mesh and keep the vertex with the least reprojection error over
    all faces. Prints the candidates; with --write, also writes the vertex into the table marked
    estimated (with the data it came from) — only into a table of your own correspondence folder."""
    from ..correspondence import load_vocabulary
    from ..facemodel.fit import suggest_vertices
    from ..facemodel.tables import TableEntry, write_entry
    from ..paths import is_installed_copy

    model, tab = _load(model_path, table, corr_dir)
    if write and (tab.path is None or is_installed_copy(tab.path)):
        raise click.ClickException(
            f"--write would modify {tab.path}, a table installed with the package; those are never "
            "changed by a command. Make an editable copy with `fuse corr init DIR` and pass "
            "--corr-dir DIR (or --table DIR/models/<table>.yaml)")
    faces = _faces(roots, sources, shards, limit, corr_dir)
    unknown = [n for n in landmarks if n not in faces.names]
    if unknown:
        raise click.ClickException(f"not annotated in the data read: {', '.join(unknown)}")
    idx, _ = tab.vertex_indices(faces.names)
    try:
        found = suggest_vertices(model, idx, faces, list(landmarks), min_faces=min_faces)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    order = load_vocabulary(corr_dir).names
    for s in found:
        old = tab.get(s.name)
        was = f" (was {old.vertex})" if old is not None else ""
        click.echo(f"{s.name}: vertex {s.vertex}{was}, mean reprojection error {s.error:.2f} % over {s.faces} faces")
        click.echo("    runners-up: " + ", ".join(f"{v} ({e:.2f} %, {n} votes)" for v, e, n in s.candidates[1:5]))
        if write:
            entry = TableEntry(s.name, s.vertex, estimated=True, error=s.error, data=s.data,
                               source=f"fuse corr suggest ({model.name}): least mean reprojection "
                                      f"error, fitted on the other landmarks")
            write_entry(tab.path, entry, order)
    if write:
        click.echo(f"written to {tab.path}")
    else:
        click.echo(f"nothing written (pass --write to put these into {tab.path})")


# ----------------------------------------------------------------------------------------------
# show
# ----------------------------------------------------------------------------------------------

def show_on_model(scheme_name: str, model_path: str, table: str | None, png: str | None,
                  corr_dir: Any) -> None:
    """With ``--model``: draw the mean face front and profile with the vertex of every landmark the
    scheme keeps, labelled, into ``--png``."""
    if not png:
        raise click.UsageError("--model needs --png OUT.png")
    from ..figures import check_figure_path

    check_figure_path(png)
    scheme = scheme_name
    corr_dir = None if corr_dir is None else str(corr_dir)
    from ..correspondence import load_scheme
    from ..facemodel.render_landmarks import render_landmarks

    model, tab = _load(model_path, table, corr_dir)
    names = load_scheme(scheme, corr_dir).kept_names
    missing = render_landmarks(model, tab, names, png, title=f"{scheme} on {model.name}")
    click.echo(f"wrote {png}: {len(names) - len(missing)} of {len(names)} landmarks drawn")
    if missing:
        click.echo(f"without a vertex: {', '.join(missing)}")


# ----------------------------------------------------------------------------------------------
# `show` and `validate` exist for the schemes (commands/corr.py); --model adds the model tables
# ----------------------------------------------------------------------------------------------

def _extend(name: str, options: list[click.Option], handler, note: str,
            without_model: tuple[str, Callable[..., Any]] | None = None) -> None:
    """Add ``options`` to the existing ``corr`` sub-command ``name``; when ``--model`` is given,
    ``handler`` runs instead of the original callback. ``without_model``: (option, handler) for an
    option that has a meaning of its own without ``--model``."""
    command = corr.commands[name]
    original = command.callback
    if original is None:
        raise TypeError(f"corr {name} has no callback to extend")
    own = [o.name for o in options]
    command.params.extend(options)
    command.help = (command.help or "") + "\n\n" + note

    def callback(**kwargs: Any) -> Any:
        extra = {k: kwargs.pop(k) for k in own}
        if extra.get("model_path") is None:
            used = [k for k, v in extra.items() if v not in (None, False, ())]
            if without_model is not None and without_model[0] in used:
                return without_model[1](**kwargs, **extra)
            if used:
                raise click.UsageError(f"{', '.join('--' + u.replace('_', '-') for u in used)} need --model")
            return original(**kwargs)
        return handler(**kwargs, **extra)

    command.callback = callback


def _model_option() -> click.Option:
    return click.Option(["--model", "model_path"], type=click.Path(exists=True), default=None, help=_MODEL_HELP)


def _table_option() -> click.Option:
    return click.Option(["--table"], default=None, help=_TABLE_HELP)


_extend("show", [_model_option(), _table_option(),
                 click.Option(["--png"], type=click.Path(dir_okay=False), default=None,
                              help="with --model: the picture to write")],
        lambda scheme_name, markdown, corr_dir, **kw: show_on_model(scheme_name, corr_dir=corr_dir, **kw),
        "With --model M --png OUT.png: the model's mean face, front and profile, with the vertex of "
        "every landmark SCHEME keeps drawn and numbered (legend beside).")
_extend("validate", [_model_option(), _table_option(),
                     click.Option(["--scheme", "schemes"], multiple=True,
                                  help="with --model: only these schemes (default: all)"),
                     click.Option(["--json", "as_json"], is_flag=True, help="with --model: JSON output")],
        lambda corr_dir, **kw: validate_model(corr_dir=corr_dir, **kw),
        "With --model M: which landmarks kept by each scheme have no vertex in the model's table "
        "(and the table's own problems). With --table T alone: the table file itself (its YAML, "
        "its entries, names the vocabulary does not know).",
        without_model=("table", lambda corr_dir, table, **kw: validate_table(table, corr_dir)))

"""`fuse model`: convert face models to the project's npz format and describe them."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("model")
def model() -> None:
    """Face models: convert to the project's npz format, show what a model holds."""


def _options(expression, trim_index, exp_std, blendshapes, region, name) -> dict:
    opts = {"expression": expression, "trim_index": trim_index, "exp_std": exp_std,
            "blendshapes": blendshapes, "region": region, "name": name}
    return {k: v for k, v in opts.items() if v is not None}


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse an --out that exists unless it is a FaceModel npz and --overwrite was given."""
    from landmark_fusion.facemodel.model import is_facemodel_npz
    from landmark_fusion.safeload import ArrayFileError, open_npz

    if not (out.exists() or out.is_symlink()):
        return
    try:
        with open_npz(out) as existing:
            ours = not out.is_symlink() and out.is_file() and is_facemodel_npz(existing)
    except (ArrayFileError, OSError, ValueError):
        ours = False
    if not ours:
        raise click.ClickException(f"{out} exists and is not a model file written by fuse model "
                                   "convert; nothing was changed: choose another --out")
    if not overwrite:
        raise click.ClickException(f"{out} exists; pass --overwrite to replace it")


def save_model(m, out: Path) -> None:
    """Write ``m`` to a temporary name beside ``out`` and rename it into place when complete."""
    import os

    from landmark_fusion.lifetime import process_tag

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.fuse-model-{process_tag()}.tmp")
    try:
        m.save(partial)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@model.command("convert")
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output .npz (the project's FaceModel format).")
@click.option("--n-id", type=int, default=None,
              help="Identity components (default: 100 where the model has them, else all).")
@click.option("--n-exp", type=int, default=None,
              help="Expression components (default: 29 PCA where available, else all).")
@click.option("--expression", type=click.Path(exists=True, path_type=Path), default=None,
              help="BFM2009 only: 3DDFA Model_Expression.mat or Guo et al. Exp_Pca.bin.")
@click.option("--trim-index", type=click.Path(exists=True, path_type=Path), default=None,
              help="BFM2009 only: BFM_exp_idx.mat or BFM_info.mat (53,490 → 53,215 vertices).")
@click.option("--exp-std", type=click.Path(exists=True, path_type=Path), default=None,
              help="Exp_Pca.bin only: std_exp.txt (default: beside the .bin).")
@click.option("--blendshapes", type=click.Path(exists=True, path_type=Path), default=None,
              help="eos only: expression blendshapes .bin (default: expression_blendshapes_<N>.bin beside it).")
@click.option("--region", type=click.Choice(["face", "narrow", "full"]), default=None,
              help="ICT folder only: which part of the head (default face).")
@click.option("--units", type=click.Choice(["um", "mm", "cm", "dm", "m"]), default=None,
              help="Store lengths in these units (default: the source's).")
@click.option("--name", default=None, help="Model name stored in the file.")
@click.option("--allow-pickle", is_flag=True, help="Allow pickle inputs (they can run code when read).")
@click.option("--overwrite", is_flag=True,
              help="Replace --out if it is a model file written by fuse model convert.")
def convert(src, out, n_id, n_exp, expression, trim_index, exp_std, blendshapes, region, units,
            name, allow_pickle, overwrite) -> None:
    """Convert SRC (eos .bin, BFM .mat/.h5, ICT folder or npz, 3DDFA folder) to --out model.npz.

    An existing --out is replaced only with --overwrite, and only when it is a model file of this
    format; the new file appears only once it is complete.
    """
    from landmark_fusion.facemodel import FaceModelError, load_model
    from landmark_fusion.safeload import ArrayFileError

    check_out(out, overwrite)
    try:
        m = load_model(src, allow_pickle=allow_pickle, num_id=n_id, num_exp=n_exp, units=units,
                       **_options(expression, trim_index, exp_std, blendshapes, region, name))
    except (FaceModelError, ArrayFileError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    save_model(m, out)
    s = m.summary()
    click.echo(f"{out}: {s['vertices']} vertices, {s['triangles']} triangles, "
               f"{s['identity_components']} identity + {s['expression_components']} "
               f"{s['expression_kind']} expression components, units {s['units']}")


@model.command("info")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--allow-pickle", is_flag=True, help="Allow pickle inputs (they can run code when read).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(path, allow_pickle, as_json) -> None:
    """Vertices, components, units and bounding box of PATH (any file `convert` reads)."""
    from landmark_fusion.facemodel import FaceModelError, load_model
    from landmark_fusion.safeload import ArrayFileError

    try:
        m = load_model(path, allow_pickle=allow_pickle)
    except (FaceModelError, ArrayFileError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    s = m.summary()
    s["format"] = m.metadata.get("format_detected")
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    lo, hi, size = s["bbox_min"], s["bbox_max"], s["bbox_size_mm"]
    click.echo(f"model       {s['name']} ({s['format']})")
    click.echo(f"vertices    {s['vertices']}")
    click.echo(f"triangles   {s['triangles']}")
    click.echo(f"identity    {s['identity_components']} components")
    click.echo(f"expression  {s['expression_components']} components ({s['expression_kind']})")
    click.echo(f"units       {s['units']} ({s['mm_per_unit']:g} mm per unit)")
    click.echo("bbox        " + " ".join(f"{a:.4g}..{b:.4g}" for a, b in zip(lo, hi, strict=True))
               + "  (" + " × ".join(f"{x:.1f}" for x in size) + " mm)")
    if s["landmarks_hint"]:
        click.echo("landmarks   " + ", ".join(f"{k} ({v})" for k, v in s["landmarks_hint"].items()))

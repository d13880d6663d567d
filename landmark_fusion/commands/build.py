"""`fuse build`: databases named in a roots file → one HDF5 file or a Parquet shard set."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..crop import DEFAULT_MARGIN, DEFAULT_SIZE


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@click.command("build")
@click.option("--sources", "sources_spec", default="all", show_default=True,
              help="'all' (every database in the roots file) or a comma list, e.g. 300w,aflw.")
@click.option("--roots", "roots_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="roots.yaml mapping database names to folders "
                   "[default: $LANDMARK_FUSION_ROOTS or ./roots.yaml].")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="X.h5 / X.hdf5 for one HDF5 file; a folder or X.parquet for a Parquet shard set.")
@click.option("--format", "fmt", type=click.Choice(["auto", "hdf5", "parquet"]), default="auto",
              show_default=True, help="Output format; auto decides from --out.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes (0 = none) [default: the CPUs this process may use].")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many work items per database (quick runs).")
@click.option("--crop-size", type=click.IntRange(min=8), default=DEFAULT_SIZE, show_default=True,
              help="Side of the square crops in pixels.")
@click.option("--margin", type=click.FloatRange(min=0.0), default=DEFAULT_MARGIN, show_default=True,
              help="Margin on each side of the landmark box, as a fraction of its longer side.")
@click.option("--compression", type=click.Choice(["none", "lzf"]), default="none",
              show_default=True, help="HDF5 dataset compression.")
@click.option("--strict", is_flag=True, help="Fail (no output) on the first rejected sample.")
@click.option("--overwrite", is_flag=True,
              help="Replace the output (and report) of an earlier fuse build at --out. Anything "
                   "else found there is never replaced.")
@click.option("--corr-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Correspondence folder (landmarks.yaml, schemes/) [default: "
                                 "$LANDMARK_FUSION_CORRESPONDENCES or the installed data].")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar.")
def build(sources_spec: str, roots_path: Path | None, out: Path, fmt: str, workers: int | None,
          limit: int | None, crop_size: int, margin: float, compression: str, strict: bool,
          overwrite: bool, corr_dir: Path | None, progress: bool) -> None:
    """Crop, unify and write every face of the selected databases.

    Writes a report beside the output (OUT.report.json, and every rejected sample in
    OUT.rejected.jsonl) and prints a table. An existing OUT is replaced only with --overwrite and
    only when an earlier fuse build wrote it. Exits non-zero when nothing usable is left, or with
    --strict when any sample was rejected.
    """
    from ..build import BuildFailed, BuildSettings, build_shards
    from ..roots import RootsError, load_roots, select_sources

    try:
        roots = select_sources(load_roots(roots_path), sources_spec)
    except RootsError as error:
        raise click.UsageError(str(error)) from None
    settings = BuildSettings(crop_size=crop_size, margin=margin, limit=limit,
                             workers=available_cpus() if workers is None else workers,
                             strict=strict, compression=None if compression == "none" else "lzf",
                             progress=progress, overwrite=overwrite,
                             corr_dir=None if corr_dir is None else str(corr_dir))
    try:
        report = build_shards(roots, out, settings, None if fmt == "auto" else fmt)
    except BuildFailed as failure:
        click.echo(failure.report.table())
        click.echo(_report_line(failure.report))
        raise click.ClickException(str(failure)) from None
    except OSError as error:  # the target folder cannot be made or written (permissions, disk full)
        raise click.ClickException(f"cannot write {out}: {_why(out, error)}") from None
    click.echo(report.table())
    click.echo(f"wrote {report.total_kept} faces to {out} in {report.seconds:.1f} s")
    click.echo(_report_line(report))


def _why(out: Path, error: OSError) -> str:
    """What stops writing ``out``: a file where a folder of its path should be, or the error."""
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    return f"{error.strerror or error} ({error.filename})" if error.filename else str(error)


def _report_line(report) -> str:
    """Where the report and the rejection list of ``report`` were written."""
    return f"report: {report.report_name}; rejected samples: {report.rejected_name}"

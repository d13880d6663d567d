"""`fuse build`: databases named in a roots file → one HDF5 file or a Parquet shard set.

Also resumes an interrupted Parquet build (``--resume``), grows an existing set (``--add``,
``--replace``, ``--drop``) and runs the work on a Ray cluster (``--engine ray``).
"""
from __future__ import annotations

import atexit
import gc
import os
from pathlib import Path

import click

from ..crop_defaults import DEFAULT_MARGIN, DEFAULT_SIZE

#: Rows of a Parquet row group (``shards.parquet.ROW_GROUP_ROWS``, not imported: pyarrow-free
#: ``--help``): parts end at row-group boundaries, so a resumed build writes the same bytes.
ROW_GROUP_ROWS = 16


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip())) if value else ()


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
@click.option("--crop-size", type=click.IntRange(min=8), default=None,
              help=f"Side of the square crops in pixels [default: {DEFAULT_SIZE}; when growing a "
                   "set: the set's].")
@click.option("--margin", type=click.FloatRange(min=0.0), default=None,
              help=f"Margin on each side of the landmark box, as a fraction of its longer side "
                   f"[default: {DEFAULT_MARGIN}; when growing a set: the set's].")
@click.option("--compression", type=click.Choice(["none", "lzf"]), default="none",
              show_default=True, help="HDF5 dataset compression.")
@click.option("--strict", is_flag=True, help="Fail (no output) on the first rejected sample.")
@click.option("--overwrite", is_flag=True,
              help="Replace the output (and report) of an earlier fuse build at --out. Anything "
                   "else found there is never replaced.")
@click.option("--part-rows", type=click.IntRange(min=16), default=2000, show_default=True,
              help="Parquet: rows per part file, a multiple of 16; a resumed build redoes at most "
                   "one part's work.")
@click.option("--resume", is_flag=True,
              help="Go on from an interrupted Parquet build of --out (same inputs): only the "
                   "unfinished work is done again. Without one, build from the start.")
@click.option("--add", "add", default=None, metavar="DBS",
              help="Add these databases (comma list) to the Parquet set at --out, reading only them.")
@click.option("--replace", "replace", default=None, metavar="DBS",
              help="Read these databases of the set at --out again and put their new rows in place "
                   "of the old.")
@click.option("--drop", "drop", default=None, metavar="DBS",
              help="Remove these databases from the set at --out (nothing is read).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the per-face work runs: this machine's processes, or a Ray cluster.")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="Ray cluster to run on (e.g. ray://head:10001, head:6379 or auto) [default: "
                   "start a local Ray of --workers CPUs].")
@click.option("--crop-encoding", type=click.Choice(["raw", "jpeg"]), default="raw",
              show_default=True,
              help="How the shards store the crops: raw pixels (lossless) or JPEG (a few kB instead "
                   "of 77 kB at 160 px; the shard readers decode them).")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG quality of the crops (with --crop-encoding jpeg).")
@click.option("--reduced-decode/--no-reduced-decode", default=True, show_default=True,
              help="Decode a JPEG at 1/2, 1/4 or 1/8 of its size where every face crop of it still "
                   "has at least --crop-size pixels there (much faster on large photos; crops "
                   "differ from full decoding by about one grey level).")
@click.option("--corr-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Correspondence folder (landmarks.yaml, schemes/) [default: "
                                 "$LANDMARK_FUSION_CORRESPONDENCES or the installed data].")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar.")
def build(sources_spec: str, roots_path: Path | None, out: Path, fmt: str, workers: int | None,
          limit: int | None, crop_size: int | None, margin: float | None, compression: str,
          strict: bool, overwrite: bool, part_rows: int, resume: bool, add: str | None, replace: str | None,
          drop: str | None, engine: str, ray_address: str | None, crop_encoding: str,
          jpeg_quality: int, reduced_decode: bool, corr_dir: Path | None, progress: bool) -> None:
    """Crop, unify and write every face of the selected databases.

    Writes a report beside the output (OUT.report.json, and every rejected sample in
    OUT.rejected.jsonl) and prints a table. An existing OUT is replaced only with --overwrite and
    only when an earlier fuse build wrote it. Exits non-zero when nothing usable is left, or with
    --strict when any sample was rejected.

    A Parquet set (--out FOLDER) can be resumed after an interruption (--resume) and grown
    (--add, --replace, --drop: the other databases are not read again).
    """
    from ..build.forkserver import start_server

    # The interpreter's exit collects every object it tracks (NumPy's, h5py's, the build's) before
    # it frees them: frozen, they are left to the operating system (about 0.04 s of a small build;
    # the build has closed and renamed its files by then).
    atexit.register(gc.freeze)
    if part_rows % ROW_GROUP_ROWS:
        raise click.UsageError(f"--part-rows must be a multiple of {ROW_GROUP_ROWS} (the rows of "
                               "a row group)")
    added, replaced, dropped = _names(add), _names(replace), _names(drop)
    growing = bool(added or replaced or dropped)
    if growing and overwrite:
        raise click.UsageError("--overwrite replaces a whole set; --add, --replace and --drop "
                               "change one in place: give one or the other")
    if ray_address is not None and engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray")
    # NumPy's OpenBLAS starts a thread per CPU that spins for a while after the import (about
    # 0.07 s of CPU per NumPy import, here and in the workers' server, taken from the other
    # processes' start); a build has no matrix product large enough to use it. A user's own
    # setting stays. Set before NumPy is first imported (the command line itself does not).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if engine == "local" and workers != 0 and (added or replaced or not dropped):
        start_server()  # before this process's own imports: see build/forkserver.py
    from ..build import BuildFailed, BuildSettings, build_shards
    from ..build.grow import Grow, grow_settings
    from ..roots import RootsError, load_roots, select_sources

    grow = Grow(added, replaced, dropped)
    try:
        if growing:
            roots = select_sources(load_roots(roots_path), ",".join(grow.reads)) if grow.reads else []
        else:
            roots = select_sources(load_roots(roots_path), sources_spec)
    except RootsError as error:
        raise click.UsageError(str(error)) from None
    if growing:
        crop_size, margin = grow_settings(out, crop_size, margin)
    if workers is None:
        workers = 0 if engine == "ray" and ray_address is not None else available_cpus()
    settings = BuildSettings(crop_size=DEFAULT_SIZE if crop_size is None else crop_size,
                             margin=DEFAULT_MARGIN if margin is None else margin, limit=limit,
                             workers=workers,
                             strict=strict, compression=None if compression == "none" else "lzf",
                             progress=progress, overwrite=overwrite,
                             corr_dir=None if corr_dir is None else str(corr_dir), resume=resume,
                             engine=engine, ray_address=ray_address, part_rows=part_rows,
                             reduced_decode=reduced_decode, crop_encoding=crop_encoding,
                             jpeg_quality=jpeg_quality)
    try:
        report = build_shards(roots, out, settings, None if fmt == "auto" else fmt,
                              grow=grow if growing else None)
    except BuildFailed as failure:
        click.echo(failure.report.table())
        click.echo(_report_line(failure.report))
        raise click.ClickException(str(failure)) from None
    except RuntimeError as error:  # --engine ray: Ray missing or the cluster out of reach
        from ..build.ray_engine import RayUnavailable

        if isinstance(error, RayUnavailable):
            raise click.ClickException(str(error)) from None
        raise
    except OSError as error:  # the target folder cannot be made or written (permissions, disk full)
        raise click.ClickException(f"cannot write {out}: {_why(out, error)}") from None
    except KeyboardInterrupt:
        _resume_hint(out)
        raise
    click.echo(report.table())
    resumed = report.extra.get("resumed")
    if resumed:
        click.echo(f"resumed: {resumed['rows']} faces were already written")
    click.echo(f"wrote {report.total_kept} faces to {out} in {report.seconds:.1f} s")
    click.echo(_report_line(report))


def _resume_hint(out: Path) -> None:
    """After Ctrl-C or SIGTERM: say so where the stopped build kept its finished parts."""
    from ..build.output import BuildFiles, leftovers_of
    from ..lifetime import process_tag

    for path, host, pid in leftovers_of(BuildFiles.of(out)):
        if f"{host}-{pid}" == process_tag() and path.is_dir():
            click.echo(f"the finished parts are kept in {path}: run the same command with "
                       "--resume to go on", err=True)


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

"""`fuse stats`: landmark coverage of a shard file or shard set."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("stats")
@click.argument("shards", type=click.Path(exists=True, path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one row per landmark) instead.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save a landmark × database heatmap PNG here.")
def stats(shards: Path, as_csv: bool, plot: Path | None) -> None:
    """How many faces of each database carry each landmark (count and %), and faces per split."""
    from ..figures import check_figure_path
    from ..shards import open_shards
    from ..stats import coverage, format_csv, format_table, plot_heatmap

    if plot is not None:
        check_figure_path(plot)

    try:
        shard_set = open_shards(shards)
        cov = coverage(shard_set)
    except (OSError, ValueError, KeyError) as error:
        raise click.ClickException(f"{shards}: cannot read shards ({error})") from None
    click.echo(format_csv(cov) if as_csv else format_table(cov), nl=not as_csv)
    if plot is not None:
        try:
            plot_heatmap(cov, plot)
        except OSError as error:
            raise click.ClickException(f"cannot write the heatmap {plot}: {error.strerror or error}") from None
        if not as_csv:
            click.echo(f"heatmap: {plot}")

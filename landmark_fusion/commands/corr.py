"""`fuse corr`."""
import click


@click.group("corr")
def corr() -> None:
    """(being written)"""

"""`fuse stats`."""
import click


@click.group("stats")
def stats() -> None:
    """(being written)"""

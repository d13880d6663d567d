"""`fuse model`."""
import click


@click.group("model")
def model() -> None:
    """(being written)"""

"""`fuse build`."""
import click


@click.group("build")
def build() -> None:
    """(being written)"""

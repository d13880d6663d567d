"""`fuse demo`."""
import click


@click.group("demo")
def demo() -> None:
    """(being written)"""

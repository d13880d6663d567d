"""`train`."""
import click


@click.group("train")
def train() -> None:
    """(being written)"""

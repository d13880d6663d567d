"""The ``fuse`` command group. Each sub-command lives in its own module of this package."""
import click

from .build import build
from .corr import corr
from .demo import demo
from .model import model
from .stats import stats


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def fuse() -> None:
    """Fuse face landmark databases into training shards (fusion stage of landmark-fusion)."""


for _command in (build, stats, corr, model, demo):
    fuse.add_command(_command)
from . import corr_model  # noqa: E402,F401  registers the model-table sub-commands on `corr`

"""The ``fuse`` command group. Each sub-command lives in its own module of this package.

What every sub-command shares lives in :class:`FuseGroup`: SIGTERM and SIGHUP stop a command the
way Ctrl-C does (its clean-up runs, the exit status is 128 + the signal's number), and a broken
user file — correspondence YAML, vertex table, face model, array file, roots file — or a file that
cannot be read or written ends the command with one message (file, line where known, what is
wrong) instead of a traceback.
"""
from __future__ import annotations

import click

from .build import build
from .corr import corr
from .demo import demo
from .model import model
from .stats import stats


def package_version() -> str:
    """The installed distribution's version (the package's own when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("landmark-fusion")
    except PackageNotFoundError:
        from landmark_fusion import __version__

        return __version__


def version_option(prog: str):
    """``--version``: print ``PROG (landmark-fusion) VERSION`` from the package metadata and exit."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            click.echo(f"{prog} (landmark-fusion) {package_version()}")
            ctx.exit()

    return click.option("--version", is_flag=True, expose_value=False, is_eager=True,
                        callback=show, help="Show the version and exit.")


def user_file_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message names a user's file and what is wrong with it."""
    from landmark_fusion.build import OutputError
    from landmark_fusion.correspondence import CorrespondenceError
    from landmark_fusion.facemodel.model import FaceModelError
    from landmark_fusion.facemodel.tables import TableError
    from landmark_fusion.figures import FigureExistsError
    from landmark_fusion.safeload import ArrayFileError

    return (CorrespondenceError, TableError, FaceModelError, ArrayFileError, OutputError,
            FigureExistsError)


def describe_os_error(error: OSError) -> str:
    """``FILE: reason`` of a failed file operation (the text alone when no file is named)."""
    if error.filename is None:
        return str(error)
    target = f" -> {error.filename2}" if error.filename2 else ""
    return f"{error.filename}{target}: {error.strerror or error}"


class FuseGroup(click.Group):
    """``fuse``: signals handled like Ctrl-C, user file errors as one message."""

    def invoke(self, ctx: click.Context):
        from landmark_fusion.lifetime import exit_status, signal_name, terminate_like_interrupt

        try:
            with terminate_like_interrupt():
                return super().invoke(ctx)
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM / SIGHUP (lifetime.Terminated)
            click.echo(f"\nfuse {ctx.invoked_subcommand or ''}: stopped by {signal_name(stop)}",
                       err=True)
            ctx.exit(exit_status(stop))
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own (--help, usage errors, exit codes) pass as they are
        except Exception as error:
            from landmark_fusion.roots import RootsError
            from landmark_fusion.sources.record import DatabaseRecordError

            if isinstance(error, DatabaseRecordError):  # $LANDMARK_FUSION_DATABASES: a bad module
                raise click.ClickException(str(error)) from None
            # the user-file error types come from most of the fusion stage: imported only when
            # something failed, so that starting a command (or its --help) does not load them all
            if isinstance(error, user_file_errors()):
                raise click.ClickException(str(error)) from None
            if isinstance(error, RootsError):  # the roots file or --sources: a usage error (2)
                raise click.UsageError(str(error), ctx) from None
            if isinstance(error, OSError):  # a file that cannot be read or written: missing, full
                raise click.ClickException(describe_os_error(error)) from None
            raise


@click.group(cls=FuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@version_option("fuse")
def fuse() -> None:
    """Fuse face landmark databases into training shards (fusion stage of landmark-fusion)."""


for _command in (build, stats, corr, model, demo):
    fuse.add_command(_command)
from . import corr_model  # noqa: E402,F401  registers the model-table sub-commands on `corr`

"""The one kind of error the trainer raises for a user's input it cannot use (a file, an option value).

The message names the file or option and says what is wrong; ``option`` names the command-line option
the value came from (the ``train`` commands turn such an error into a usage error, exit code 2),
otherwise the commands print the message and exit with code 1. Either way: no traceback.
"""
from __future__ import annotations


class InputError(ValueError):
    """A user's file or option value that cannot be used; ``option`` is the option it came from."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option

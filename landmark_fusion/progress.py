"""Progress bars that suit where they are written: a live bar on a terminal, a few lines in a log.

A tqdm bar redraws itself several times a second with carriage returns; in a file or a pipe every
redraw stays (``fuse demo 2>log`` once wrote 45 KB of them). :func:`progress` gives a normal tqdm bar
when the stream is a terminal and a :class:`LogProgress` otherwise: one plain ASCII line every
``interval`` seconds (30 by default) and a final one when the work ends, with the same counts, rate
and postfix. Every progress bar of ``fuse`` and ``train`` comes from here.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

#: Seconds between two lines of a bar written to a file or a pipe.
LOG_INTERVAL = 30.0


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is an open terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class LogProgress:
    """The part of tqdm's interface the project uses, printing a line at most every ``interval``
    seconds and one when closed (nothing when ``disable``)."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None,
                 desc: str | None = None, unit: str = "it", initial: int = 0,
                 file: IO[str] | None = None, interval: float = LOG_INTERVAL,
                 disable: bool = False) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.iterable = iterable
        self.total = total
        self.desc = desc or ""
        self.unit = unit
        self.n = self.initial = initial
        self.file = file
        self.interval = interval
        self.disable = disable
        self.postfix = ""
        self.lines = 0
        self._start = self._last = time.monotonic()
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        if not self.disable and time.monotonic() - self._last >= self.interval:
            self._print()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **values: Any) -> None:
        items = dict(ordered_dict or {}, **values)
        self.postfix = ", ".join(f"{key}={value}" for key, value in items.items())

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = text

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        """Nothing to redraw: lines are printed on their own schedule."""

    def line(self) -> str:
        """The current state as one line, e.g. ``fuse build: 1200item [00:30, 40.0item/s, kept=…]``."""
        from tqdm import tqdm

        elapsed = time.monotonic() - self._start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else None
        # total None (an unknown length) is documented by tqdm; its stubs ask for a float
        return tqdm.format_meter(self.n, self.total, elapsed, prefix=self.desc, unit=self.unit,  # type: ignore[arg-type]
                                 ascii=True, ncols=0, postfix=self.postfix or None, rate=rate)

    def _print(self) -> None:
        self._last = time.monotonic()
        stream = self.file if self.file is not None else sys.stderr
        try:
            stream.write(self.line() + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed log or a broken pipe must not stop the work
            return
        self.lines += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.disable:
            self._print()

    def __iter__(self) -> Iterator:
        try:
            for value in self.iterable or ():
                yield value
                self.update()
        finally:
            self.close()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str | None = None,
             unit: str = "it", initial: int = 0, disable: bool = False, file: IO[str] | None = None,
             interval: float = LOG_INTERVAL, **terminal_options: Any):
    """A progress bar on ``file`` (default stderr): tqdm on a terminal, else :class:`LogProgress`.

    ``terminal_options`` (e.g. ``smoothing``, ``mininterval``) go to tqdm only.
    """
    stream = sys.stderr if file is None else file
    if disable or not is_terminal(stream):
        return LogProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, file=file,
                           interval=interval, disable=disable)
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, file=stream,
                **terminal_options)


__all__ = ["LOG_INTERVAL", "LogProgress", "is_terminal", "progress"]

"""How the tool's processes end: SIGTERM like Ctrl-C, short steps a signal cannot cut, workers that
end with the process they work for, and whether the owner of a temporary file is still running.

``timeout``, systemd and ``docker stop`` send SIGTERM, whose default action ends a process on the
spot: no ``finally`` runs, so a build would leave its temporary output, its shared-memory ring and
its workers behind. :func:`terminate_like_interrupt` turns SIGTERM (and SIGHUP, a closed terminal)
into :class:`Terminated`, a ``KeyboardInterrupt``, so every clean-up that Ctrl-C runs also runs
then. SIGKILL cannot be caught: the workers watch the building process themselves
(:func:`end_with`) and temporary files carry their owner's host and pid in their names
(:func:`process_tag`), so the next run can tell a dead run's leftovers from a live run's files.
"""
from __future__ import annotations

import ctypes
import os
import re
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

#: Signals handled like Ctrl-C by the commands.
TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

#: ``prctl`` option of Linux: the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; handled wherever a Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(error: BaseException) -> str:
    """``SIGTERM``, ``SIGHUP`` or (a plain ``KeyboardInterrupt``) ``SIGINT``."""
    return signal.Signals(error.signum).name if isinstance(error, Terminated) else "SIGINT"


def exit_status(error: KeyboardInterrupt) -> int:
    """The conventional exit status after a signal: 128 + its number (130 for Ctrl-C, 143 SIGTERM)."""
    return 128 + (error.signum if isinstance(error, Terminated) else signal.SIGINT)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


#: Seconds between two checks that a :class:`Terminated` really is on its way out (see below).
RECHECK_SECONDS = 0.25


def stopping() -> bool:
    """Whether the code running now is the clean-up after a :class:`Terminated` (an ``except`` or
    ``finally`` block, or an ``__exit__``, that the exception passes through)."""
    error = sys.exc_info()[1]
    while error is not None:
        if isinstance(error, Terminated):
            return True
        error = error.__context__
    return False


@contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated`. Signals that were ignored
    (``nohup``) stay ignored.

    A repeat of the signal during the clean-up that follows does not cut it short. Python drops an
    exception raised where it cannot propagate (a hook run after ``fork``, a ``__del__``), so until
    the block is left the exception is raised again every :data:`RECHECK_SECONDS` (SIGALRM) while
    no clean-up of it is running.
    """
    if not _in_main_thread():
        yield
        return
    previous: dict[int, signal._HANDLER] = {}
    received: list[int] = []

    def raise_terminated(signum: int, frame: object) -> None:
        if stopping():
            return
        if not received:
            received.append(signum)
            signal.setitimer(signal.ITIMER_REAL, RECHECK_SECONDS, RECHECK_SECONDS)
        raise Terminated(signum)

    def recheck(signum: int, frame: object) -> None:
        if received and not stopping():
            raise Terminated(received[0])

    for number in TERMINATING:
        if signal.getsignal(number) is signal.SIG_IGN:
            continue
        previous[number] = signal.signal(number, raise_terminated)
    alarm = signal.signal(signal.SIGALRM, recheck) if hasattr(signal, "setitimer") else None
    try:
        yield
    finally:
        if alarm is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, alarm)
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Run the block to its end before SIGINT / SIGTERM / SIGHUP (and the SIGALRM re-check of
    :func:`terminate_like_interrupt`) take effect: a few renames that must happen together, a
    ``fork`` (whose hooks would drop the exception). A signal that arrived meanwhile is acted on
    right after."""
    if not _in_main_thread():
        yield
        return
    received: list[int] = []
    numbers = (signal.SIGINT, *TERMINATING, *([signal.SIGALRM] if hasattr(signal, "SIGALRM") else []))
    previous = {number: signal.signal(number, lambda signum, frame: received.append(signum))
                for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(received):
            handler = previous[number]
            if callable(handler):
                handler(number, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), number)


def deferred_iteration(iterable: Iterable[T], close: Callable[[Iterator[T]], None] | None = None
                       ) -> Generator[T, None, None]:
    """The items of ``iterable``, each fetched with signals deferred (:func:`signals_deferred`), and
    ``close(iterator)`` run the same way once the items end or the caller stops early.

    For iterators fed by worker processes through ``multiprocessing`` queues (a PyTorch DataLoader,
    ``ProcessPoolExecutor.map``): a :class:`Terminated` raised by the signal handler right after such
    a queue's lock is taken, but before its ``with`` block is entered, leaves the lock taken for
    good, and the shutdown that follows waits on it for ever. Deferred, the signal takes effect
    between two items, where no queue lock is held. Close the generator (``contextlib.closing``)
    to stop early, so that ``close`` runs then and not whenever it is collected.
    """
    with signals_deferred():  # the workers may be started (forked) here
        iterator = iter(iterable)
    try:
        while True:
            with signals_deferred():
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item
    finally:
        if close is not None:
            with signals_deferred():
                close(iterator)


# ----------------------------------------------------------------------------- workers

def _set_parent_death_signal() -> None:
    """Linux: SIGKILL this process when its parent ends (the forkserver, for a build worker)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): poll
        while pid_alive(pid):
            time.sleep(1.0)
        os._exit(1)
    select.select([handle], [], [])  # readable once the process has ended
    os._exit(1)


def end_with(pid: int) -> None:
    """End this process as soon as process ``pid`` ends, however it ends (SIGKILL included).

    A build worker blocks on its task queue, whose writing end it holds itself, so it would never
    notice on its own; it also holds the forkserver's lifeline, so the forkserver would stay too.
    A daemon thread waits on a pidfd of ``pid`` (polls once a second without one) and ends the
    process; the parent-death signal covers the worker's own parent, the forkserver.
    """
    parent = os.getppid()
    _set_parent_death_signal()
    if os.getppid() != parent:  # the parent ended before the signal was set
        os._exit(1)
    threading.Thread(target=_watch, args=(pid,), name=f"end-with-{pid}", daemon=True).start()


# ----------------------------------------------------------------------------- temporary files

def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "localhost"


#: This machine's name as it appears in temporary file names (characters other than letters,
#: digits, '_' and '.' replaced by '_', so the name splits unambiguously at its last '-').
HOST = _host()
#: ``HOST-PID`` at the end of a temporary file name.
TAG_PATTERN = r"(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)"


def process_tag(pid: int | None = None) -> str:
    """``HOST-PID`` of this process (or ``pid``): marks a temporary file as this run's."""
    return f"{HOST}-{os.getpid() if pid is None else pid}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (a zombie counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:
        return False
    return True


def owner_gone(host: str, pid: int | str) -> bool:
    """True when the run tagged ``host-pid`` ran on this machine and is no longer running.

    A tag from another machine (a shared file system) is never called gone: its pid says nothing
    here. Neither is this process's own tag.
    """
    pid = int(pid)
    return host == HOST and pid != os.getpid() and not pid_alive(pid)


__all__ = ["HOST", "RECHECK_SECONDS", "TAG_PATTERN", "TERMINATING", "Terminated", "deferred_iteration",
           "end_with", "exit_status", "owner_gone", "pid_alive", "process_tag", "signal_name",
           "signals_deferred", "stopping", "terminate_like_interrupt"]

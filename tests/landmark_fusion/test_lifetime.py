"""Process lifetime with real signals and real processes: SIGTERM as Ctrl-C, deferred signals, a
process that ends with another one, the liveness of a temporary file's owner."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from landmark_fusion.lifetime import (
    HOST,
    Terminated,
    deferred_iteration,
    exit_status,
    owner_gone,
    pid_alive,
    process_tag,
    signal_name,
    signals_deferred,
    terminate_like_interrupt,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sigterm_raises_terminated_like_ctrl_c():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as caught:
        with terminate_like_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert isinstance(caught.value, Terminated)
    assert exit_status(caught.value) == 143 and signal_name(caught.value) == "SIGTERM"
    assert exit_status(KeyboardInterrupt()) == 130 and signal_name(KeyboardInterrupt()) == "SIGINT"
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped one
def test_a_dropped_terminated_is_raised_again_and_a_repeat_spares_the_clean_up():
    class Victim:
        def __del__(self):  # Python drops an exception raised here ("Exception ignored in ...")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)

    steps = []
    started = time.monotonic()
    with pytest.raises(Terminated):
        with terminate_like_interrupt():
            try:
                Victim()  # freed at once: the signal lands in __del__
                steps.append("went on")
                time.sleep(5)  # the re-check raises it here
            except Terminated:
                os.kill(os.getpid(), signal.SIGTERM)  # again, during the clean-up
                time.sleep(0.6)
                steps.append("cleaned up")
                raise
    assert steps == ["went on", "cleaned up"]
    assert time.monotonic() - started < 3
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with terminate_like_interrupt():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_signal_during_an_item_of_a_deferred_iteration_acts_between_items_and_close_runs_whole():
    """SIGTERM sent while an item is being fetched, and again while the iterator is being closed:
    the fetch and the close each finish (a queue lock taken there is released), the Terminated is
    raised between two items, and the items after it are never fetched."""
    done: list[str] = []

    class Fed:
        def __init__(self) -> None:
            self.n = 0

        def __iter__(self):
            return self

        def __next__(self) -> int:
            self.n += 1
            if self.n == 2:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.3)  # not cut: deferred
            done.append(f"fetched {self.n}")
            return self.n

    def close(iterator) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # a repeat during the clean-up does not cut it
        time.sleep(0.3)
        done.append("closed")

    seen = []
    with pytest.raises(Terminated):
        with terminate_like_interrupt():
            for item in deferred_iteration(Fed(), close):
                seen.append(item)
    assert seen == [1] and done == ["fetched 1", "fetched 2", "closed"]
    assert list(deferred_iteration(iter([4, 5]), lambda it: done.append("closed again"))) == [4, 5]
    assert done[-1] == "closed again"


def test_deferred_signals_act_after_the_block():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("the block ran to its end")
    assert steps == ["the block ran to its end"]
    with signals_deferred():  # nothing arrives: nothing happens
        steps.append("quiet")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


WAITER = """
import sys, time
from landmark_fusion.lifetime import end_with
end_with(int(sys.argv[1]))
print("watching", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process semantics")
def test_a_process_ends_when_the_one_it_works_for_is_killed():
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    env = {**os.environ, "PYTHONPATH": REPO}
    worker = subprocess.Popen([sys.executable, "-c", WAITER, str(owner.pid)], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "watching"
        time.sleep(0.2)
        assert worker.poll() is None  # alive while its owner is
        owner.kill()
        owner.wait()
        assert worker.wait(timeout=5) == 1
    finally:
        for process in (owner, worker):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_owner_gone_only_for_dead_processes_of_this_machine():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid) and pid_alive(os.getpid())
    assert owner_gone(HOST, child.pid)
    assert not owner_gone(HOST, os.getpid()) and not owner_gone(HOST, os.getppid())
    assert not owner_gone("another-machine", child.pid)
    assert process_tag() == f"{HOST}-{os.getpid()}"

"""The read-backs' thread pool (pipeline.parallel.SideBySide): pieces really run at the same time,
each in its caller's context (the Prefect run and the asset id a log line belongs to), their
results in order, and no piece outlives the call that asked for it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextvars import ContextVar
from pathlib import Path

import pytest

from pipeline.parallel import SideBySide

asset: ContextVar[str | None] = ContextVar("asset", default=None)


def test_pieces_run_at_the_same_time_and_return_in_order():
    meeting = threading.Barrier(2, timeout=10)  # broken, not hung, if the pieces ran one after the other

    def piece(number: int) -> int:
        meeting.wait()
        return number * 10

    with SideBySide(workers=2) as workers:
        assert workers.map(piece, [1, 2]) == [10, 20]


def test_each_piece_sees_the_context_of_the_thread_that_asked():
    seen: dict[str, str | None] = {}

    def night_thread(name: str) -> None:
        asset.set(name)
        with SideBySide(workers=2) as workers:
            seen[name] = workers.map(lambda _: asset.get(), [0])[0]

    threads = [threading.Thread(target=night_thread, args=(name,)) for name in ("news-1", "news-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"news-1": "news-1", "news-2": "news-2"}


def test_a_failure_is_raised_after_the_other_pieces_have_ended():
    ended = []

    def piece(number: int) -> int:
        if number == 0:
            raise ValueError("file 0 is unreadable")
        time.sleep(1.5)  # long enough for map to drop piece 3 before a worker is free for it
        ended.append(number)
        return number

    with SideBySide(workers=2) as workers:
        with pytest.raises(ValueError, match="file 0 is unreadable"):
            workers.map(piece, [0, 1, 2, 3])
        count = len(ended)  # what had started ended before map raised; what had not was dropped
        time.sleep(2)
        assert len(ended) == count, "a piece went on after the call that asked for it had raised"
    assert 1 <= count < 3


FORK_BESIDE_BLAS = """
import subprocess, sys, threading, time
import numpy as np
from pipeline.parallel import SideBySide
from pipeline.processes import die_with_parent
SideBySide(workers=1)  # what the read-backs do before their threads start
vector = np.random.default_rng(0).random(2_000_000)
stop = time.monotonic() + 3
def products():
    while time.monotonic() < stop:
        np.dot(vector, vector)
thread = threading.Thread(target=products)
thread.start()
while time.monotonic() < stop:
    subprocess.run(["true"], preexec_fn=die_with_parent())
thread.join()
print("ended")
"""


def test_numpy_in_one_thread_while_another_forks_processes_ends():
    # Without blas_in_calling_thread this hangs within a second or two (OpenBLAS stops its own
    # threads at each fork while a product waits for them): checked by removing the call.
    done = subprocess.run([sys.executable, "-c", FORK_BESIDE_BLAS], capture_output=True, text=True, timeout=90,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0 and done.stdout.strip() == "ended", done.stderr

"""Child processes that end with their parent (ffmpeg, and the CLI's embedded Prefect API), and
the CPU time one has used."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError) as error:
        log.warning("prctl unavailable (%s): a child process whose parent is killed (kill -9, the OOM killer) "
                    "will run on until it ends", error)
        return None


def die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the child when its parent dies.

    A child in its own session outlives a parent that is SIGKILLed (an operator's `kill -9`, the
    OOM killer, a worker torn down): without this, ffmpeg would go on writing into a work dir
    nobody owns. The hook runs between fork and exec, so it only calls a function resolved here
    beforehand and takes no lock."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, kill)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def cpu_ticks(pid: int) -> int | None:
    """The CPU time process `pid` has used so far (all its threads, user and system), in clock
    ticks; None where the system does not tell (no /proc) or the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    except (OSError, IndexError, ValueError):
        return None

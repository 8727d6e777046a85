"""Finding ffmpeg processes the test suite started, by reading /proc (Linux).

A process counts as ours when it carries the suite's marker in its environment (every process
the tests start inherits it, and keeps it after its parent dies and it is re-parented) or when
it descends from the test process. `pipeline.media.ffmpeg.running_processes()` only knows what this
process started; these helpers also see what a `versioner` subprocess left behind.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "VERSIONER_TEST_SESSION"
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    parent: int
    name: str
    state: str
    environment: bytes
    arguments: tuple[str, ...] = ()

    @property
    def is_ffmpeg(self) -> bool:
        return "ffmpeg" in self.name

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")  # a zombie has exited; only its parent's wait is due


def _read(pid: int) -> ProcessInfo | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        environment = (PROC / str(pid) / "environ").read_bytes()
        exe = os.readlink(PROC / str(pid) / "exe")
        arguments = (PROC / str(pid) / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:  # gone meanwhile, or a kernel thread
        return None
    name_end = stat.rfind(")")
    fields = stat[name_end + 2:].split()
    return ProcessInfo(pid, int(fields[1]), Path(exe).name, fields[0], environment, tuple(arguments))


def all_processes() -> list[ProcessInfo]:
    found = (_read(int(entry.name)) for entry in PROC.iterdir() if entry.name.isdigit())
    return [info for info in found if info is not None]


def descends_from(info: ProcessInfo, ancestor: int, table: dict[int, ProcessInfo]) -> bool:
    seen, parent = set(), info.parent
    while parent > 1 and parent not in seen:
        if parent == ancestor:
            return True
        seen.add(parent)
        parent = table[parent].parent if parent in table else 0
    return False


def our_ffmpeg_processes(marker: str | None = None, ancestor: int | None = None, *,
                         with_workers: bool = False) -> list[ProcessInfo]:
    """Live ffmpeg processes carrying `marker` (this process's, by default) or below `ancestor`.
    `with_workers`: also those carrying the marker of a pytest-xdist worker of this session
    (`<marker>-<worker id>`, see tests/conftest.py), for the check at the session's end."""
    marker = marker or os.environ.get(MARKER, "")
    ancestor = ancestor or os.getpid()
    table = {info.pid: info for info in all_processes()}
    tag = f"{MARKER}={marker}".encode()

    def marked(info: ProcessInfo) -> bool:
        entries = info.environment.split(b"\0")
        return tag in entries or with_workers and any(entry.startswith(tag + b"-") for entry in entries)

    return [info for info in table.values() if info.is_ffmpeg and info.alive
            and ((marker and marked(info)) or descends_from(info, ancestor, table))]


def render_processes(ancestor: int) -> list[ProcessInfo]:
    """The ffmpeg renders (the runs that encode a picture) below `ancestor`."""
    return [info for info in descendants(ancestor) if info.is_ffmpeg and "-c:v" in info.arguments]


def descendants(root: int) -> list[ProcessInfo]:
    table = {info.pid: info for info in all_processes()}
    return [info for info in table.values() if info.alive and descends_from(info, root, table)]


def wait_until(condition, timeout_s: float, step_s: float = 0.05):
    """Poll `condition` until it returns something true; return that, or None on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step_s)
    return None


def kill_leftovers(processes: list[ProcessInfo]) -> None:
    """So one failing test does not leave a render running into the next ones."""
    for info in processes:
        try:
            os.kill(info.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

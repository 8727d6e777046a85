"""The one module that runs processes.

Every other module builds argument lists (pure functions, tested without ffmpeg) and hands them
here. Each call: no shell, `-hide_banner -nostdin` and an explicit `-y`/`-n` added by the caller's
builder, stderr always captured and read, return code checked, and the whole process group killed
on error or cancel (KeyboardInterrupt, a Prefect cancellation...). On Linux the kernel also kills
each child when its parent dies, so not even a SIGKILLed run leaves one.

Every run is watched the same way (`TimeLimit`): this module adds `-progress` on a pipe of its own
to the command, and kills a run that has neither moved its progress nor used the CPU for `stall_s`
(it is stuck: frozen, deadlocked, waiting on a dead share), or that has run `ceiling_s` in all
(pipeline/media/work.py grows that ceiling from the work). A run that is only slow, on a busy
machine, is left to finish: one still starting its encoders, or decoding towards its first output,
uses the CPU it is given, however little.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy

from pipeline.errors import FFmpegError, FFmpegStalled, FFmpegTimeout, ToolError
from pipeline.processes import cpu_ticks, die_with_parent

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 30
REQUIRED_ENCODERS = ("libx264", "aac")
# Every filter the pipeline's graphs use (tests/test_cli_commands.py checks a render's against it).
REQUIRED_FILTERS = (
    # picture: deinterlace and field order, conform, burn-in, shots, contact sheet
    "bwdif", "idet", "setfield", "fieldorder", "scale", "pad", "setsar", "format", "drawbox", "overlay",
    "split", "ass", "select", "scdet", "metadata", "trim", "setpts", "xstack", "tile", "null",
    # sound: layouts, profile tracks, loudness, sync
    "aformat", "aresample", "channelmap", "channelsplit", "pan", "amerge", "asplit", "anull", "volume",
    "alimiter", "ebur128", "highpass", "lowpass",
)

# Processes started by this module and still running; the test suite checks it ends empty, and a
# cancelled flow kills what is left.
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


STALL_S = 300.0
"""Seconds without progress after which a run is stuck: the default of `limits.stall_s`."""
PROGRESS_PERIOD_S = 0.1
"""How often ffmpeg reports progress: a short run still reports (and can be cancelled from its
progress callback) before it ends, and a stall is seen within this of `stall_s`."""


@dataclass(frozen=True)
class TimeLimit:
    """When a run is killed: once its progress has not moved and it has used no CPU for
    `stall_s`, or once it has run `ceiling_s` in all however it progresses (see
    pipeline/media/work.py)."""

    stall_s: float
    ceiling_s: float


DEFAULT_LIMIT = TimeLimit(STALL_S, 600.0)
"""For a call made without a config (a probe's sample of frames, a test): the default stall, and a
fixed ceiling far above what such a short run takes."""


@dataclass(frozen=True)
class Progress:
    """How far one ffmpeg run is, parsed from its `-progress` reports."""

    done_s: float
    total_s: float

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_s / self.total_s) if self.total_s > 0 else 0.0


@dataclass(frozen=True)
class RunResult:
    command: list[str]
    stderr: str
    stdout: str
    seconds: float


def ffmpeg_binary() -> str:
    """`$FFMPEG_BINARY` when set, else the binary shipped in the imageio-ffmpeg wheel."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        if not Path(configured).is_file():
            raise ToolError(f"FFMPEG_BINARY is set to {configured!r}, which is not a file; "
                            "unset it to use the ffmpeg shipped with imageio-ffmpeg")
        return configured
    import imageio_ffmpeg  # a dependency; imported late so FFMPEG_BINARY alone needs nothing else

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class FFmpegCapabilities:
    binary: str
    version: str
    encoders: frozenset[str]
    filters: frozenset[str]


def _list_names(binary: str, what: str, pattern: str) -> frozenset[str]:
    output = subprocess.run([binary, "-hide_banner", "-nostdin", what], capture_output=True,
                            text=True, timeout=60, check=False).stdout
    return frozenset(re.findall(pattern, output, flags=re.MULTILINE))


@functools.cache
def capabilities() -> FFmpegCapabilities:
    """Probe the ffmpeg binary once per process and check what the pipeline needs is there."""
    binary = ffmpeg_binary()
    try:
        first_line = subprocess.run([binary, "-hide_banner", "-nostdin", "-version"],
                                    capture_output=True, text=True, timeout=60,
                                    check=True).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError) as error:
        raise ToolError(f"cannot run ffmpeg at {binary}: {error}") from None
    found = FFmpegCapabilities(
        binary=binary,
        version=first_line.split()[2] if len(first_line.split()) > 2 else first_line,
        encoders=_list_names(binary, "-encoders", r"^ [VAS][F.][S.][X.][B.][D.] (\S+)"),
        filters=_list_names(binary, "-filters", r"^ [T.][S.]? ?[C.]? ?(\S+)\s+\S+->\S+"),
    )
    missing = [f"encoder {name}" for name in REQUIRED_ENCODERS if name not in found.encoders]
    missing += [f"filter {name}" for name in REQUIRED_FILTERS if name not in found.filters]
    if missing:
        raise ToolError(f"ffmpeg {found.version} at {binary} lacks {', '.join(missing)}; "
                        "use the imageio-ffmpeg wheel's build (unset FFMPEG_BINARY) or a build "
                        "with libx264 and libass")
    log.debug("ffmpeg %s at %s", found.version, binary)
    return found


def quote(command: list[str]) -> str:
    """The command as a line a technician can paste into a shell."""
    return shlex.join(command)


def clock(seconds: float) -> str:
    """00:01:12.40: where a run is, as ffmpeg prints it."""
    centiseconds = round(max(0.0, seconds) * 100)
    minutes, rest = divmod(centiseconds, 6000)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:{rest / 100:05.2f}"


def _counter(value: str) -> int:
    return int(value) if value.lstrip("-").isdigit() else -1  # "N/A" before the first output


class _Watch:
    """A run's progress, read from its `-progress` pipe: where it is, and when it last moved.

    Progress is any advance of out_time_us, frame or total_size: one of them moves while ffmpeg
    writes, even where another stands still (outputs written side by side, where out_time can
    stand still while frames go on; a null muxer, whose size is N/A). A run that used the CPU
    since it was last looked at (`worked`) has moved too: it is working towards its next output
    (nine encoders starting on a busy machine write nothing for seconds). A frozen, deadlocked or
    blocked run uses none."""

    def __init__(self, stream, total_s: float):
        self.stream = stream
        self.total_s = total_s
        self.started = self.moved = time.monotonic()
        self.done_s = 0.0
        self.killed: tuple[type[FFmpegTimeout], str] | None = None  # set by the watchdog, raised by the run
        self._counters: tuple[int, ...] = (-1, -1, -1)
        self._cpu_ticks = 0
        self._block: dict[str, str] = {}

    def updates(self) -> Iterator[Progress]:
        """Each progress report until the run ends (its end of the pipe closes)."""
        for line in self.stream:
            key, _, value = line.strip().partition("=")
            if key != "progress":
                self._block[key] = value
                continue
            counters = tuple(_counter(self._block.get(name, "")) for name in ("out_time_us", "frame", "total_size"))
            if any(new > old for new, old in zip(counters, self._counters)):
                self.moved = time.monotonic()
                self._counters = tuple(max(new, old) for new, old in zip(counters, self._counters))
            self.done_s = self.total_s if value == "end" else max(0, self._counters[0]) / 1e6
            self._block = {}
            yield Progress(self.done_s, self.total_s)

    def worked(self, ticks: int | None) -> None:
        """Hear the CPU time the run has used so far (None: unknown, only its progress counts)."""
        if ticks is not None and ticks > self._cpu_ticks:
            self._cpu_ticks = ticks
            self.moved = time.monotonic()

    def where(self) -> str:
        return clock(self.done_s) + (f" of {clock(self.total_s)}" if self.total_s > 0 else "")

    def overdue(self, limit: TimeLimit, what: str) -> tuple[type[FFmpegTimeout], str] | None:
        """The error to raise and why, when the run must be killed now."""
        now = time.monotonic()
        if now - self.moved >= limit.stall_s:
            return FFmpegStalled, f"{what} made no progress for {_seconds(limit.stall_s)} at {self.where()} and was killed"
        if now - self.started >= limit.ceiling_s:
            return FFmpegTimeout, (f"{what} ran past its ceiling of {_seconds(limit.ceiling_s)} at {self.where()} "
                                   "and was killed")
        return None


def watched(command: list[str], progress_fd: int) -> list[str]:
    """`command` reporting its progress on `progress_fd`, and no status line on stderr."""
    return [command[0], "-progress", f"pipe:{progress_fd}", "-stats_period", f"{PROGRESS_PERIOD_S:g}",
            "-nostats", *command[1:]]


# What ffmpeg writes when an input cannot be read or decoded (with `-xerror`, see input_args) and
# when the disk is full. Matched on the stderr tail only, to classify an error, never to parse data.
_DAMAGED_INPUT = re.compile(r"partial file|Invalid data found when processing input|"
                            r"Error submitting packet to decoder|Decoding error|error while decoding",
                            re.IGNORECASE)
_NO_SPACE = "No space left on device"
_LOG_PREFIX = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")  # "[h264 @ 0x55d0...] ": noise for a reader


def damaged_input(error: FFmpegError) -> str | None:
    """The stderr line showing that an input could not be read or decoded, else None.

    Only meaningful for a command whose inputs are untrusted masters opened with `input_args(...,
    demuxer=...)`: there `-xerror` turns the first decoding error into an exit."""
    if isinstance(error, FFmpegTimeout) or not error.returncode or error.returncode < 0:
        return None
    if _NO_SPACE in error.stderr_tail:
        return None
    lines = [_LOG_PREFIX.sub("", line).strip() for line in error.stderr_tail.splitlines()]
    damaged = [line for line in lines if _DAMAGED_INPUT.search(line)]
    # "partial file" (the file ends before its index says) tells more than the generic lines after it.
    return next((line for line in damaged if "partial file" in line), damaged[0] if damaged else None)


def ran_out_of_space(error: FFmpegError) -> bool:
    return _NO_SPACE in error.stderr_tail


def _signal_group(process: subprocess.Popen) -> None:
    """SIGKILL the run's process group (a SIGSTOPped process goes too)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(process: subprocess.Popen) -> None:
    _signal_group(process)
    process.wait()


def running_processes() -> list[int]:
    """PIDs of processes this module started that are still alive."""
    with _running_lock:
        return [proc.pid for proc in _running if proc.poll() is None]


def run(command: list[str], *, limit: TimeLimit, total_s: float = 0.0,
        on_progress: Callable[[Progress], None] | None = None,
        cwd: str | Path | None = None, what: str = "ffmpeg") -> RunResult:
    """Run an argument list built elsewhere, watched (see `TimeLimit`); raise FFmpegError with the
    stderr tail on failure. `on_progress` hears each progress report, in this thread."""
    started = time.monotonic()
    stdout_lines: list[str] = []
    with _supervised(command, limit, total_s, what, text=True, cwd=cwd) as (process, stderr_lines, watch):
        drain = threading.Thread(target=lambda: stdout_lines.extend(process.stdout), daemon=True)
        drain.start()
        for progress in watch.updates():
            if on_progress is not None:
                on_progress(progress)
        process.wait()
        drain.join(timeout=10)
    tail = "".join(stderr_lines).rstrip()
    _raise_on_failure(command, process.returncode, tail, watch, what)
    return RunResult(command, "".join(stderr_lines.full), "".join(stdout_lines), time.monotonic() - started)


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.2g} s"


class _StderrLines(deque):
    """The last lines of a process's stderr; with `keep_all`, every line in `full` too."""

    def __init__(self, keep_all: bool):
        super().__init__(maxlen=STDERR_TAIL_LINES)
        self.full: list | None = [] if keep_all else None

    def extend(self, lines) -> None:
        for line in lines:
            self.append(line)
            if self.full is not None:
                self.full.append(line)


@contextmanager
def _supervised(command: list[str], limit: TimeLimit, total_s: float, what: str, *, text: bool,
                cwd: str | Path | None = None):
    """Start `command` in its own process group (killable as a whole, and killed with us), its
    progress on a pipe of its own (its stdout stays the caller's: PCM, printed metadata), read its
    stderr in a thread, and kill the group when the watch says so, on any error and on cancel.
    Yields (process, stderr lines, watch: the progress, and why the watchdog killed the run)."""
    log.info("running: %s", quote(command))
    progress_read, progress_write = os.pipe()
    try:
        process = subprocess.Popen(watched(command, progress_write), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                                   errors="replace" if text else None, cwd=cwd, start_new_session=True,
                                   pass_fds=(progress_write,), preexec_fn=die_with_parent())
    except BaseException:
        os.close(progress_read)
        raise
    finally:
        os.close(progress_write)  # the child holds the only writer: its end is the pipe's end
    with _running_lock:
        _running.add(process)
    stderr_lines = _StderrLines(keep_all=text)
    reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)
    reader.start()
    watch = _Watch(open(progress_read, encoding="ascii", errors="replace"), total_s)
    finished = threading.Event()

    def watchdog() -> None:
        step = min(1.0, limit.stall_s / 10, limit.ceiling_s / 10)
        while not finished.wait(step):
            watch.worked(cpu_ticks(process.pid))
            if (verdict := watch.overdue(limit, what)) is not None:
                watch.killed = verdict
                _signal_group(process)
                return

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        yield process, stderr_lines, watch
    except BaseException:
        _kill_group(process)  # cancel, an error in a callback, a reader that stopped: no ffmpeg left
        raise
    finally:
        finished.set()
        reader.join(timeout=10)
        watch.stream.close()
        with _running_lock:
            _running.discard(process)


def _raise_on_failure(command: list[str], returncode: int | None, tail: str, watch: _Watch, what: str) -> None:
    if watch.killed is not None:
        error_type, reason = watch.killed
        raise error_type(command, returncode, tail, reason)
    if returncode != 0:
        reason = f"{what} exited with code {returncode}"
        if returncode is not None and returncode < 0:
            reason = f"{what} was killed by signal {-returncode}"
        raise FFmpegError(command, returncode, tail, reason)


def base_args(overwrite: bool = True) -> list[str]:
    """What every ffmpeg call starts with."""
    return [capabilities().binary, "-hide_banner", "-nostdin", "-y" if overwrite else "-n"]


def input_args(path: str | Path, *, seek_s: float | None = None,
               duration_s: float | None = None, demuxer: str | None = None) -> list[str]:
    """An untrusted input: only local files and pipes may be opened, whatever the file says.

    `demuxer` is what `probe` found a master to be (e.g. "mov,mp4,m4a,3gp,3g2,mj2"): ffmpeg is
    then made to use that demuxer and no other, so it never probes the file again (a master
    swapped for a playlist after the check is still refused), and `-xerror` stops the run at the
    first decoding error instead of concealing a damaged master (see `damaged_input`)."""
    args = ["-protocol_whitelist", "file,pipe"]
    if demuxer:
        args += ["-xerror", "-f", demuxer.split(",")[0], "-format_whitelist", demuxer]
    if seek_s:
        args += ["-ss", f"{seek_s:.6f}"]
    if duration_s:
        args += ["-t", f"{duration_s:.6f}"]
    # "file:" keeps a name such as "-x.mov" or "a:b.mov" from reading as an option or protocol.
    return args + ["-i", f"file:{Path(path).absolute()}"]


def _follow(watch: _Watch) -> None:
    """Keep a watch up to date when no one listens to its progress."""
    try:
        deque(watch.updates(), maxlen=0)
    except (OSError, ValueError):  # the run ended and its pipe was closed under the reader
        pass


def stream_pcm(command: list[str], *, channels: int, chunk_frames: int, limit: TimeLimit,
               total_s: float = 0.0, what: str = "ffmpeg") -> Iterator[numpy.ndarray]:
    """Run a command that writes raw float32 PCM to stdout and yield it in chunks of frames.

    Memory stays flat however long the input: only one chunk is held at a time."""
    import numpy as np

    chunk_bytes = chunk_frames * channels * 4
    with _supervised(command, limit, total_s, what, text=False) as (process, stderr_lines, watch):
        threading.Thread(target=_follow, args=(watch,), daemon=True).start()
        while True:
            data = process.stdout.read(chunk_bytes)
            if not data:
                break
            usable = len(data) - len(data) % (channels * 4)
            yield np.frombuffer(data[:usable], dtype="<f4").reshape(-1, channels)
        process.wait()
    tail = b"".join(stderr_lines).decode("utf-8", "replace").rstrip()
    _raise_on_failure(command, process.returncode, tail, watch, what)

"""The project's errors: one base, and a split between what the submitter must fix and what
may pass on a retry.

Every error pickles across processes (Prefect may run a task in another process), so each
subclass keeps its constructor arguments in ``self.args``-compatible form via ``__reduce__``.
"""

from __future__ import annotations

from pathlib import Path


class VersionerError(Exception):
    """Base of every error this project raises on purpose."""

    def __reduce__(self):
        return (self.__class__, self._init_args())

    def _init_args(self) -> tuple:
        return self.args


class InputError(VersionerError):
    """The submission is bad: quarantine it, never retry. Names the file, the problem, the fix."""

    def __init__(self, path: str | Path | None, problem: str, fix: str = "", line: int | None = None):
        self.path = str(path) if path is not None else None
        self.problem = problem
        self.fix = fix
        self.line = line
        where = self.path or "package"
        if line is not None:
            where = f"{where}, line {line}"
        message = f"{where}: {problem}"
        if fix:
            message += f"\n  fix: {fix}"
        super().__init__(message)

    def _init_args(self) -> tuple:
        return (self.path, self.problem, self.fix, self.line)


class PackageError(InputError):
    """The package folder itself is wrong: no master, two masters, a stray symlink..."""


class MetadataError(InputError):
    """metadata.yaml / metadata.json cannot be read or has a wrong field."""


class SubtitleError(InputError):
    """An SRT file cannot be read at all."""


class MediaError(InputError):
    """The master cannot be used: not a container we accept, no video, corrupt..."""


class LayoutError(InputError):
    """The master's audio channels cannot be mapped to roles without guessing."""


class AmbiguousLayoutError(LayoutError):
    """Several layouts fit the master's titles and channel count: `candidates` names them, so
    the signals can be read to choose (pipeline/audio/evidence.py)."""

    def __init__(self, path: str | Path | None, problem: str, fix: str = "", line: int | None = None,
                 candidates: tuple[str, ...] = ()):
        super().__init__(path, problem, fix, line)
        self.candidates = tuple(candidates)

    def _init_args(self) -> tuple:
        return (self.path, self.problem, self.fix, self.line, self.candidates)


class ConfigError(VersionerError):
    """A configuration file is wrong. Names the file, the key and the allowed values."""

    def __init__(self, path: str | Path, key: str, problem: str, allowed: str = ""):
        self.path = str(path)
        self.key = key
        self.problem = problem
        self.allowed = allowed
        message = f"{self.path}: [{key}] {problem}"
        if allowed:
            message += f" (allowed: {allowed})"
        super().__init__(message)

    def _init_args(self) -> tuple:
        return (self.path, self.key, self.problem, self.allowed)


class ToolError(VersionerError):
    """ffmpeg is missing or lacks a feature the pipeline needs. Not the submitter's fault."""


class DeliverableError(VersionerError):
    """One deliverable cannot be made from this master (e.g. no M&E in a mix-only master).

    The other deliverables still render; the render exits 1 and names this reason."""

    def __init__(self, deliverable: str, reason: str):
        self.deliverable = deliverable
        self.reason = reason
        super().__init__(f"{deliverable}: {reason}")

    def _init_args(self) -> tuple:
        return (self.deliverable, self.reason)


class TransientError(VersionerError):
    """May pass on retry: a killed process, a full disk, a timeout."""


class FFmpegError(TransientError):
    """ffmpeg failed. Carries the command and the last lines of its stderr, never all of it."""

    def __init__(self, command: list[str], returncode: int | None, stderr_tail: str, reason: str = ""):
        self.command = list(command)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.reason = reason or f"ffmpeg exited with code {returncode}"
        super().__init__(f"{self.reason}\n--- last lines of ffmpeg's stderr ---\n{stderr_tail}")

    def _init_args(self) -> tuple:
        return (self.command, self.returncode, self.stderr_tail, self.reason)


class FFmpegTimeout(FFmpegError):
    """ffmpeg ran past its time limit (the ceiling grown from its work); its process group was killed."""


class FFmpegStalled(FFmpegTimeout):
    """ffmpeg made no progress for `limits.stall_s`; its process group was killed."""


class DiskFullError(TransientError):
    """Not enough free space to render or publish."""

    def __init__(self, path: str | Path, free_bytes: int, needed_bytes: int | None = None):
        self.path = str(path)
        self.free_bytes = free_bytes
        self.needed_bytes = needed_bytes
        message = f"disk full at {self.path}: {free_bytes / 1e6:.1f} MB free"
        if needed_bytes is not None:
            message += f", about {needed_bytes / 1e6:.1f} MB needed"
        super().__init__(message)

    def _init_args(self) -> tuple:
        return (self.path, self.free_bytes, self.needed_bytes)

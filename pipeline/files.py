"""File helpers every layer may use: free space, a full disk named, SHA-256 of a file, and
whole-or-nothing writes (temp file, then rename). The bottom layer with pipeline.errors and
pipeline.findings (docs/design.md section 12)."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.errors import DiskFullError

log = logging.getLogger(__name__)


def free_bytes(path: Path) -> int:
    """Free space on the file system holding `path` (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def disk_full(path: Path, needed_bytes: int | None = None) -> DiskFullError:
    """The error for a full disk at `path`, with the free space measured now."""
    return DiskFullError(path, free_bytes(path), needed_bytes)


def ensure_free_space(folder: Path, needed_bytes: int) -> None:
    """Refuse to start a render that would fill the disk: failing at once is cheaper than
    failing an hour in, and leaves room for whatever else shares the disk."""
    free = free_bytes(folder)
    if free < needed_bytes:
        raise DiskFullError(folder, free, needed_bytes)
    log.debug("free space at %s: %.1f MB, about %.1f MB needed", folder, free / 1e6, needed_bytes / 1e6)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """The file's SHA-256. A file is read once however often it is asked for (the sidecar, then
    SHA256SUMS): a delivery's files are written once, so the same size and modification time
    mean the same bytes; a broadcast or ProRes file is hundreds of MB."""
    stat = Path(path).stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns, chunk)


@functools.lru_cache(maxsize=512)
def _sha256(path: str, size: int, mtime_ns: int, chunk: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_atomically(path: str | Path, text: str) -> None:
    """Write UTF-8 text beside the target, then rename: a reader sees the old file or the new
    one, whole, never a half-written one. A full disk is a DiskFullError with its free space."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; deliverables are for others to read
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise disk_full(path.parent) from error
        raise


def write_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")

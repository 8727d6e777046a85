"""What ffmpeg or the system says about a master or the disk, as the project's own errors:
a damaged master is bad input (quarantine, never retry); a full disk may pass on a later run."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import FFmpegError, MediaError
from pipeline.files import disk_full
from pipeline.media import ffmpeg


@contextmanager
def named_faults(folder: Path, master: Path | None = None) -> Iterator[None]:
    """What ffmpeg or the system says about the master or the disk, as the project's own errors:
    a damaged master is bad input (quarantine, never retry); a full disk may pass on a later run."""
    try:
        yield
    except FFmpegError as error:
        damage = ffmpeg.damaged_input(error) if master is not None else None
        if damage:
            raise MediaError(master, f"is damaged: ffmpeg cannot decode it ({damage})",
                             "export the master again from the edit suite and submit it again") from None
        if ffmpeg.ran_out_of_space(error):
            raise disk_full(folder) from error
        raise
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise disk_full(folder) from error
        raise


def disk_full_as_error(step: Callable) -> Callable:
    """A step that writes files: a full disk becomes DiskFullError with its free-space figure."""
    @functools.wraps(step)
    def guarded(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise disk_full(Path(error.filename or ".")) from error
    return guarded

"""Interlace measured from the picture itself, with ffmpeg's `idet` filter.

A stream's field flags say how it was coded, not always what it shows: many ProRes and MXF
masters carry no field order, and a file flagged progressive can hold combed frames (fields
from two instants woven together). `idet` compares each frame's fields with its neighbours' and
counts frames that look top-field-first, bottom-field-first or progressive. The builder and the
parser are pure; `measure_fields` runs them on a sample of frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import DEFAULT_LIMIT, TimeLimit

FieldOrder = Literal["progressive", "tff", "bff", "unknown"]
FieldOrderSource = Literal["stream", "measured", "unknown"]


SAMPLE_FRAMES = 100
"""Frames idet looks at: 4 s at 25 fps, enough for a clear majority on moving pictures."""

_MULTI = re.compile(r"Multi frame detection:\s*TFF:\s*(\d+)\s*BFF:\s*(\d+)\s*Progressive:\s*(\d+)"
                    r"\s*Undetermined:\s*(\d+)")


@dataclass(frozen=True)
class FieldCount:
    """idet's multi-frame verdicts over the sample (its single-frame ones are noisier)."""

    tff: int
    bff: int
    progressive: int
    undetermined: int

    @property
    def decided(self) -> int:
        return self.tff + self.bff + self.progressive

    @property
    def interlaced_share(self) -> float:
        """The share of decided frames that look interlaced (0 when nothing was decided: a
        still picture has no motion to show combing)."""
        return (self.tff + self.bff) / self.decided if self.decided else 0.0

    def field_order(self, threshold: float = 0.5) -> FieldOrder:
        """"tff", "bff" or "progressive" by majority; "unknown" when no frame was decided."""
        if not self.decided:
            return "unknown"
        if self.interlaced_share < threshold:
            return "progressive"
        return "tff" if self.tff >= self.bff else "bff"


def idet_command(path: str | Path, *, start_s: float = 0.0, frames: int = SAMPLE_FRAMES,
                 demuxer: str | None = None) -> list[str]:
    """idet over `frames` frames from `start_s`, the verdicts on stderr, nothing written.

    `setfield=prog` first: idet reads the content, whatever the stream's flags claim, and the
    decoder's own flags must not steer it. `-noautorotate`: fields are rows of the stored
    picture, and turning a rotated picture upright would make them columns."""
    source = ffmpeg.input_args(path, seek_s=start_s or None, demuxer=demuxer)
    return (ffmpeg.base_args() + source[:-2] + ["-noautorotate"] + source[-2:]
            + ["-map", "0:v:0", "-vf", "setfield=prog,idet", "-frames:v", str(frames),
               "-an", "-sn", "-dn", "-f", "null", "-"])


def parse_idet(stderr: str) -> FieldCount:
    """The last multi-frame summary idet printed (zeros when it printed none)."""
    found = _MULTI.findall(stderr)
    if not found:
        return FieldCount(0, 0, 0, 0)
    return FieldCount(*(int(value) for value in found[-1]))


def measure_fields(path: str | Path, *, start_s: float = 0.0, frames: int = SAMPLE_FRAMES,
                   demuxer: str | None = None, limit: TimeLimit = DEFAULT_LIMIT) -> FieldCount:
    """Run idet on a sample of the picture."""
    result = ffmpeg.run(idet_command(path, start_s=start_s, frames=frames, demuxer=demuxer),
                        limit=limit, what="field detection")
    return parse_idet(result.stderr)

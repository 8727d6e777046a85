"""How long an ffmpeg run may take in all: a ceiling grown from the work it does (pictures x
pixels x frames, per codec), not from the programme's duration alone.

A run is first of all watched for progress (pipeline/media/ffmpeg.py kills one that makes none,
and uses no CPU, for `limits.stall_s`): a busy machine makes progress slowly and is left alone.
The ceiling is only the backstop for a run that keeps progressing, or working, without ever
ending, so it is generous: the
measured cost times `limits.ceiling_factor`, plus `limits.ceiling_floor_s` for start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pipeline.media.ffmpeg import TimeLimit


class Limits(Protocol):
    """The keys of `[limits]` a time limit is made of (pipeline.config.LimitsConfig, a layer above)."""

    @property
    def stall_s(self) -> float: ...
    @property
    def ceiling_floor_s(self) -> float: ...
    @property
    def ceiling_factor(self) -> float: ...

SECONDS_PER_MEGAPIXEL_FRAME = {
    "decode": 0.005,
    "libx264": 0.055,
    "mpeg2video": 0.013,
    "prores_ks": 0.085,
}
"""Wall seconds per megapixel-frame of each work, one ffmpeg alone on a 2-core x86-64 machine with
ffmpeg's own threading (benchmarks/bench_work_cost.py: a 1920x1080 25p ProRes HQ testsrc2 master;
libx264 at preset medium, crf 18; mpeg2video at 50 Mbit/s 4:2:2; prores_ks HQ). An encode's
figure excludes the decode feeding it. "decode" also stands for reading a file whose picture is
not decoded (an audio-only pass over a master reads every picture packet)."""


@dataclass(frozen=True)
class Picture:
    """One picture a run decodes or encodes: `work` is "decode" or an encoder's name."""

    work: str
    width: int
    height: int

    @property
    def seconds_per_frame(self) -> float:
        per_megapixel = SECONDS_PER_MEGAPIXEL_FRAME.get(self.work, max(SECONDS_PER_MEGAPIXEL_FRAME.values()))
        return per_megapixel * self.width * self.height / 1e6


def measured_seconds(frames: float, pictures: Iterable[Picture]) -> float:
    """What the work took on the machine the figures were measured on."""
    return frames * sum(picture.seconds_per_frame for picture in pictures)


def time_limit(limits: Limits, frames: float, pictures: Iterable[Picture]) -> TimeLimit:
    """The limits of one run over `frames` frames of each of `pictures`."""
    ceiling = limits.ceiling_floor_s + limits.ceiling_factor * measured_seconds(frames, pictures)
    return TimeLimit(stall_s=limits.stall_s, ceiling_s=ceiling)

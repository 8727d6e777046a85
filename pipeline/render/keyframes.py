"""Where the QC report cuts each file's frames (pipeline/delivery/report.py), decided before the
render so the render makes those frames keyframes: a cut then decodes one frame, not everything
since the keyframe before."""

from __future__ import annotations

THUMBNAILS = 8
"""Frames on each file's contact sheet."""


def thumbnail_times(duration_s: float, cue_midpoints: list[float], count: int = THUMBNAILS) -> list[float]:
    """Where to cut frames: inside cues first (so a subtitled version shows its subtitles), the
    rest spread evenly over the programme."""
    chosen: list[float] = []
    if cue_midpoints:
        step = max(1, len(cue_midpoints) / count)
        chosen = [cue_midpoints[int(i * step)] for i in range(min(count, len(cue_midpoints)))]
    spread = [(i + 0.5) * duration_s / count for i in range(count - len(chosen))]
    return sorted(time for time in chosen + spread if 0 <= time < duration_s)

"""SMPTE start timecodes, counted in frames: read, shifted by the programme start, written.

A master from an edit suite starts at a label such as 10:00:00:00 (or 01:00:00;00 at 29.97 fps,
drop-frame: frame labels 00 and 01 are skipped every minute but each tenth, so the label keeps
to the clock). The deliverables carry the label of their own first frame: the master's start
timecode plus the programme start (line-up cut off), in the same counting.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$")


def _nominal(fps: Fraction | float) -> int:
    """Frames a timecode second counts: 30 for 29.97, 25 for 25."""
    return round(float(fps))


def _dropped_per_minute(fps: Fraction | float, drop_frame: bool) -> int:
    return (_nominal(fps) // 15) if drop_frame else 0  # 2 at 29.97, 4 at 59.94


def timecode_frames(timecode: str, fps: Fraction | float) -> int | None:
    """Frames since 00:00:00:00 of the label `timecode`; None when it is not a valid label."""
    found = _TIMECODE.match(timecode.strip())
    if not found:
        return None
    hours, minutes, seconds, separator, frames = found.groups()
    hours, minutes, seconds, frames = int(hours), int(minutes), int(seconds), int(frames)
    base = _nominal(fps)
    if minutes > 59 or seconds > 59 or frames >= base:
        return None
    drop = _dropped_per_minute(fps, separator in ";,")
    total_minutes = hours * 60 + minutes
    if drop and seconds == 0 and frames < drop and minutes % 10:
        return None  # a label drop-frame counting skips
    return ((total_minutes * 60 + seconds) * base + frames
            - drop * (total_minutes - total_minutes // 10))


def format_timecode(frames: int, fps: Fraction | float, drop_frame: bool = False) -> str:
    """The label of frame number `frames` (wrapping at 24 hours)."""
    base = _nominal(fps)
    drop = _dropped_per_minute(fps, drop_frame)
    if drop:
        per_ten_minutes = base * 600 - drop * 9
        per_minute = base * 60 - drop
        tens, rest = divmod(frames, per_ten_minutes)
        frames += drop * 9 * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    frames %= base * 86_400
    seconds, frame = divmod(frames, base)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}{';' if drop else ':'}{frame:02d}"


def shifted_timecode(timecode: str, seconds: float, fps: Fraction | float) -> str | None:
    """The label `seconds` after `timecode` (the programme start in a master's time), kept in
    the same counting (drop-frame stays drop-frame). None when `timecode` is not valid."""
    start = timecode_frames(timecode, fps)
    if start is None:
        return None
    drop_frame = bool(re.search(r"[;,]", timecode)) and bool(_dropped_per_minute(fps, True))
    return format_timecode(start + round(seconds * float(fps)), fps, drop_frame)


def timecode_args(timecode: str | None, programme_start_s: float, fps: Fraction | float) -> list[str]:
    """Output options writing the first frame's timecode (MP4/MOV: a `tmcd` track)."""
    label = shifted_timecode(timecode, programme_start_s, fps) if timecode else None
    return ["-timecode", label] if label else []

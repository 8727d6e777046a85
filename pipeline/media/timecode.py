"""SMPTE timecode labels (HH:MM:SS:FF; ';' before the frames for drop-frame): the one parser,
used for the master's start timecode, `programme_start`/`programme_end` in the metadata and
subtitle files timed to the programme's clock; and the frame counting that shifts a master's
start timecode by the programme start for every deliverable.

A master from an edit suite starts at a label such as 10:00:00:00 (or 01:00:00;00 at 29.97 fps,
drop-frame: frame labels 00 and 01 are skipped every minute but each tenth, so the label keeps
to the clock). The deliverables carry the label of their own first frame: the master's start
timecode plus the programme start (line-up cut off), in the same counting. A non-drop label
counts `round(fps)` frames per labelled second, so at 29.97 fps 00:01:00:00 is frame 1800,
which plays at 60.06 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_LABEL = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})", re.ASCII)


@dataclass(frozen=True)
class Timecode:
    hours: int
    minutes: int
    seconds: int
    frames: int
    separator: str
    """The character before the frames: ':' (non-drop-frame), ';' (drop-frame), or '.' / ','
    as some tools write it."""

    @classmethod
    def parse(cls, text: str) -> Timecode | None:
        """The label's parts, or None when `text` is not shaped like a timecode. Ranges are the
        caller's to judge (minutes and seconds over 59, frames past the frame rate)."""
        match = _LABEL.fullmatch(text.strip())
        if match is None:
            return None
        hours, minutes, seconds, separator, frames = match.groups()
        return cls(int(hours), int(minutes), int(seconds), int(frames), separator)

    @property
    def drop_frame(self) -> bool:
        return self.separator == ";"

    @property
    def in_range(self) -> bool:
        """Minutes and seconds at most 59."""
        return self.minutes <= 59 and self.seconds <= 59

    @property
    def whole_seconds(self) -> int:
        """The labelled hours, minutes and seconds, as seconds."""
        return (self.hours * 60 + self.minutes) * 60 + self.seconds

    def frame_number(self, fps: float) -> int:
        """The frame the label names, counting round(fps) frames per labelled second."""
        return self.whole_seconds * round(fps) + self.frames

    def label_ms(self, fps: float) -> int:
        """The time the label reads, in ms (what a subtitle editor showing it writes)."""
        return self.whole_seconds * 1000 + round(self.frames * 1000 / round(fps))


def _nominal(fps: Fraction | float) -> int:
    """Frames a timecode second counts: 30 for 29.97, 25 for 25."""
    return round(float(fps))


def _dropped_per_minute(fps: Fraction | float, drop_frame: bool) -> int:
    """Labels drop-frame counting skips each minute: 2 at 29.97, 4 at 59.94; none at other rates,
    where drop-frame does not exist (a ';' there is read as non-drop)."""
    if not drop_frame or _nominal(fps) not in (30, 60):
        return 0
    return _nominal(fps) // 15


def timecode_frames(timecode: str, fps: Fraction | float) -> int | None:
    """Frames since 00:00:00:00 of the label `timecode`; None when it is not a valid label."""
    label = Timecode.parse(timecode)
    base = _nominal(fps)
    if label is None or not label.in_range or label.frames >= base:
        return None
    drop = _dropped_per_minute(fps, label.separator in ";,")
    total_minutes = label.hours * 60 + label.minutes
    if drop and label.seconds == 0 and label.frames < drop and label.minutes % 10:
        return None  # a label drop-frame counting skips
    return ((total_minutes * 60 + label.seconds) * base + label.frames
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
    label = Timecode.parse(timecode)
    if start is None or label is None:
        return None
    drop_frame = label.separator in ";," and bool(_dropped_per_minute(fps, True))
    return format_timecode(start + round(seconds * float(fps)), fps, drop_frame)


def converted_timecode(timecode: str, fps: Fraction | float, target_fps: Fraction | float) -> str | None:
    """The label at `target_fps` of the instant `timecode` names at `fps` (a frame rate
    conversion). A drop-frame label keeps to the clock, so its instant is its frame count at the
    true rate (01:00:00;00 at 29.97 is 3599.996 s, 01:00:00:00 at 25); a non-drop label reads
    its own counting (10:00:00:00 at 23.976 stays 10:00:00:00 at 25, as a speed conversion keeps
    a programme's start). Drop-frame stays drop-frame only where the target rate has it."""
    frames = timecode_frames(timecode, fps)
    label = Timecode.parse(timecode)
    if frames is None or label is None:
        return None
    drop = label.separator in ";," and bool(_dropped_per_minute(fps, True))
    seconds = Fraction(frames) / Fraction(fps) if drop else Fraction(frames, _nominal(fps))
    target_drop = drop and bool(_dropped_per_minute(target_fps, True))
    per_second = Fraction(target_fps) if target_drop else Fraction(_nominal(target_fps))
    return format_timecode(round(seconds * per_second), target_fps, target_drop)


def delivered_timecode(timecode: str | None, programme_start_s: float, fps: Fraction | float,
                       out_fps: Fraction | float | None = None) -> str | None:
    """The label of a deliverable's first frame: the master's start timecode plus the programme
    start, converted to `out_fps` when the deliverable has another frame rate."""
    label = shifted_timecode(timecode, programme_start_s, fps) if timecode else None
    if label is None or out_fps is None or Fraction(out_fps) == Fraction(fps):
        return label
    return converted_timecode(label, fps, out_fps)


def timecode_args(timecode: str | None, programme_start_s: float, fps: Fraction | float,
                  out_fps: Fraction | float | None = None) -> list[str]:
    """Output options writing the first frame's timecode (MP4/MOV: a `tmcd` track)."""
    label = delivered_timecode(timecode, programme_start_s, fps, out_fps)
    return ["-timecode", label] if label else []

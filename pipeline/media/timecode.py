"""SMPTE-style timecode labels (HH:MM:SS:FF, ';' before the frames for drop-frame): the one
parser, used for the master's start timecode, for `programme_start`/`programme_end` in the
metadata and for subtitle files timed to the programme's clock.

A label counts `round(fps)` frames per labelled second (non-drop-frame), so at 29.97 fps the
label 00:01:00:00 is frame 1800, which plays at 60.06 s."""

from __future__ import annotations

import re
from dataclasses import dataclass

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

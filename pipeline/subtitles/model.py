"""Subtitles: read untrusted SRT files, check them against the delivery rules, retime them to the
programme, and write the sidecars (SRT, WebVTT) and the ASS script that burns them in.

Every time inside is an integer number of milliseconds; SRT, VTT and ASS time strings exist only
at the edges (reading and writing). Nothing here changes a cue silently: reading notes what it
normalised, QC reports without changing, retiming reports what it dropped or clipped.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.errors import SubtitleError

logger = logging.getLogger(__name__)

Severity = Literal["warning", "error"]

# Tags an SRT may carry and that every output keeps (or, for VTT <font>, drops). Anything else
# between angle brackets is ordinary text, so "x < y > z" and "<3" stay as they are.
_TAG = re.compile(
    r"<\s*(?P<close>/)?\s*(?P<style>[ibu])\s*>"
    r"|<\s*/\s*(?P<font_close>font)\s*>"
    r"|<\s*font\b(?P<font_attrs>[^<>]*)>",
    re.IGNORECASE,
)
_FONT_COLOUR = re.compile(r"""color\s*=\s*["']?\s*(#?[0-9a-z]+)""", re.IGNORECASE)
_NAMED_COLOURS = {
    "white": "FFFFFF", "black": "000000", "red": "FF0000", "green": "00FF00", "lime": "00FF00",
    "blue": "0000FF", "yellow": "FFFF00", "cyan": "00FFFF", "aqua": "00FFFF",
    "magenta": "FF00FF", "fuchsia": "FF00FF", "grey": "808080", "gray": "808080",
}


# --------------------------------------------------------------------------------------------
# Domain


class NoCueError(SubtitleError):
    """The SRT is readable but leaves this language nothing to show: no cue at all, or none
    inside the programme. Only this language's subtitled version fails; the clean master, the
    international version and the other languages still render."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from start_ms (inclusive) to end_ms (exclusive).

    `text` keeps the SRT styling tags (<i>, <b>, <u>, <font color="...">) and "\\n" between lines.
    """

    index: int
    start_ms: int
    end_ms: int
    text: str

    def __post_init__(self) -> None:
        if self.start_ms < 0 or self.end_ms < self.start_ms:
            raise ValueError(f"cue {self.index}: invalid times {self.start_ms}..{self.end_ms} ms")

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def plain_text(self) -> str:
        """The text as a viewer reads it: styling tags removed, line breaks kept."""
        return _TAG.sub("", self.text)

    @property
    def lines(self) -> list[str]:
        """The text's lines, tags kept."""
        return self.text.split("\n")

    @property
    def plain_lines(self) -> list[str]:
        return self.plain_text.split("\n")


@dataclass
class SubtitleTrack:
    """One language's subtitles, cues sorted by start time and numbered 1..n."""

    language: str
    """BCP 47 tag: en, fr, sr-Latn."""
    source: Path
    cues: list[Cue]
    encoding: str
    """The encoding the source was read in (all output is UTF-8)."""
    notes: list[str] = field(default_factory=list)
    """What was normalised while reading or retiming, for the QC report."""


@dataclass(frozen=True)
class Finding:
    """One QC or retiming observation about one cue (or the whole track when cue is None)."""

    language: str
    cue: int | None
    timecode: str
    rule: str
    measured: str | float
    limit: str | float
    message: str
    severity: Severity = "warning"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def format_timecode(ms: int) -> str:
    """Milliseconds as an SRT timecode, HH:MM:SS,mmm."""
    if ms < 0:
        raise ValueError(f"negative time: {ms} ms")
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"



"""Subtitles: read untrusted SRT files, check them against the delivery rules, retime them to the
programme, and write the sidecars (SRT, WebVTT) and the ASS script that burns them in.

Every time inside is an integer number of milliseconds; SRT, VTT and ASS time strings exist only
at the edges (reading and writing). Nothing here changes a cue silently: reading notes what it
normalised, QC reports without changing, retiming reports what it dropped or clipped.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pipeline.errors import SubtitleError

Severity = Literal["warning", "error"]

# Tags an SRT may carry and that every output keeps (or, for VTT <font>, drops). Anything else
# between angle brackets is ordinary text, so "x < y > z" and "<3" stay as they are.
STYLE_TAG = re.compile(
    r"<\s*(?P<close>/)?\s*(?P<style>[ibu])\s*>"
    r"|<\s*/\s*(?P<font_close>font)\s*>"
    r"|<\s*font\b(?P<font_attrs>[^<>]*)>",
    re.IGNORECASE,
)
FONT_COLOUR = re.compile(r"""color\s*=\s*["']?\s*(#?[0-9a-z]+)""", re.IGNORECASE)
NAMED_COLOURS = {
    "white": "FFFFFF", "black": "000000", "red": "FF0000", "green": "00FF00", "lime": "00FF00",
    "blue": "0000FF", "yellow": "FFFF00", "cyan": "00FFFF", "aqua": "00FFFF",
    "magenta": "FF00FF", "fuchsia": "FF00FF", "grey": "808080", "gray": "808080",
}
# Markup no output keeps: ASS override blocks ("{\\an8}", "{\\pos(10,20)}", "{\\fs40}") and
# tags other than the ones above (WebVTT <c.yellow>, <v Anna>, <s>, <lang en>, <ruby>, and tags
# no reader knows, such as <invalid_tag>, which every reader drops). A tag starts with a letter
# right after "<" (or is a WebVTT timestamp), so "x < y > z" and "<3" are still text; a brace
# without a backslash ("{laughs}") is text too.
_OTHER_MARKUP = re.compile(r"\{\\[^{}\n]*\}|</?[A-Za-z][A-Za-z0-9_-]*(?:[.\s][^<>\n]*)?>"
                           r"|<(?:\d+:)?\d{2}:\d{2}\.\d{3}>")  # a WebVTT karaoke timestamp
# A position override: {\anN} (numpad: 7 8 9 top, 4 5 6 middle, 1 2 3 bottom), or the SSA {\aN}.
_AN_TAG = re.compile(r"\\an([1-9])")
_SSA_A_TAG = re.compile(r"\\a([1-9]|1[01])(?![0-9])")
_SSA_TO_NUMPAD = {1: 1, 2: 2, 3: 3, 5: 7, 6: 8, 7: 9, 9: 4, 10: 5, 11: 6}
BOTTOM_CENTRE = 2


def strip_other_markup(text: str) -> str:
    """`text` with only the styling tags every output keeps (<i> <b> <u> <font color>)."""
    return _OTHER_MARKUP.sub(lambda match: match[0] if STYLE_TAG.fullmatch(match[0]) else "", text)


def position_of(text: str) -> int:
    """The numpad position a cue's first position override asks for; bottom centre without one."""
    for block in re.findall(r"\{(\\[^{}\n]*)\}", text):
        if found := _AN_TAG.search(block):
            return int(found[1])
        if found := _SSA_A_TAG.search(block):
            return _SSA_TO_NUMPAD.get(int(found[1]), BOTTOM_CENTRE)
    return BOTTOM_CENTRE


def with_position(text: str, position: int) -> str:
    """`text` with `position` as its leading {\anN} (none for bottom centre, the default)."""
    return text if position == BOTTOM_CENTRE else f"{{\\an{position}}}{text}"


# --------------------------------------------------------------------------------------------
# Domain


class NoCueError(SubtitleError):
    """The SRT is readable but leaves this language nothing to show: no cue at all, or none
    inside the programme. Only this language's subtitled version fails; the clean master, the
    international version and the other languages still render."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from start_ms (inclusive) to end_ms (exclusive).

    `text` keeps the SRT styling tags (<i>, <b>, <u>, <font color="...">), a position override
    ({\\an8}) and "\\n" between lines; `styled_text` drops every other tag and override block.
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
    def styled_text(self) -> str:
        """What is drawn, with the styling tags: other tags and ASS override blocks removed."""
        return strip_other_markup(self.text)

    @property
    def plain_text(self) -> str:
        """The text as a viewer reads it: every tag removed, line breaks kept."""
        return STYLE_TAG.sub("", self.styled_text)

    @property
    def position(self) -> int:
        """Numpad position (2: bottom centre, 8: top centre, 7: top left...)."""
        return position_of(self.text)

    @property
    def lines(self) -> list[str]:
        """The drawn text's lines, styling tags kept."""
        return self.styled_text.split("\n")

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

    def played_faster(self, speed: float) -> SubtitleTrack:
        """The cues of a programme played `speed` times as fast (a speed frame rate conversion,
        23.976 -> 25: 1.0427), each at the same picture as before."""
        if speed == 1:
            return self
        cues = [replace(cue, start_ms=round(cue.start_ms / speed), end_ms=round(cue.end_ms / speed))
                for cue in self.cues]
        return replace(self, cues=cues)


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

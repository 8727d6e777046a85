"""Reading WebVTT: cues from the lines of a `.vtt` file (or a WebVTT file saved as `.srt`).

WebVTT is stricter than SRT about blocks: a blank line ends every block, a block is a cue only
when it has a timing line, and NOTE, STYLE and REGION blocks are not shown. A cue's identifier
(the line above its timing) is not text. Cue settings that place the cue (`line:`, `align:`)
become a `{\\anN}` position, the form the rest of the pipeline carries positions in.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SubtitleError
from pipeline.subtitles.model import Cue, NoCueError, format_timecode, with_position

_HEADER = re.compile(r"\ufeff?WEBVTT(?:[ \t].*)?")
_NON_CUE_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")
_TIME = r"(?:(\d{1,3}):)?([0-5]\d):([0-5]\d)[.,](\d{3})"
_TIMING = re.compile(rf"{_TIME}[ \t]+-->[ \t]+{_TIME}(?P<settings>(?:[ \t].*)?)", re.ASCII)
_FIX_TIMING = "write it as HH:MM:SS.mmm --> HH:MM:SS.mmm, e.g. 00:01:02.500 --> 00:01:05.000"


def is_webvtt(lines: list[str]) -> bool:
    """Whether the file starts with the WebVTT signature line."""
    return bool(lines) and _HEADER.fullmatch(lines[0]) is not None


@dataclass(frozen=True)
class _Block:
    first_line: int
    """1-based number of the block's first line in the file."""
    lines: list[str]


def _blocks(lines: list[str]) -> list[_Block]:
    """The file's blocks as the WebVTT parser collects them: a block ends at an empty line, and
    also right before a line holding "-->" that cannot be its timing line. A timing line is the
    block's first line, or its second after an identifier; any later "-->" line (in the header,
    or after a cue's text, as YouTube's automatic captions write the next cue without a blank
    line) starts the next block. A line of spaces is not empty: it is text, as the parser says.
    """
    blocks: list[_Block] = []
    current: list[str] = []
    start = 0
    for at, line in enumerate([*lines, ""]):
        if line and "-->" in line and current:
            in_header = not blocks
            if in_header or len(current) > 1 or "-->" in current[0]:
                blocks.append(_Block(start, current))
                current = []
        if line:
            if not current:
                start = at + 1
            current.append(line)
        elif current:
            blocks.append(_Block(start, current))
            current = []
    return blocks


def _ms(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def position_from_settings(settings: str) -> int:
    """The numpad position WebVTT cue settings ask for: `line:` picks the row (a line number
    from the top, a negative one from the bottom, or a percentage), `align:` the column."""
    values = dict(part.split(":", 1) for part in settings.split() if ":" in part)
    row = 0  # bottom
    line = values.get("line", "").split(",")[0]
    if line.endswith("%"):
        try:
            share = float(line[:-1])
        except ValueError:
            share = 100.0  # not a number: ignored, as a WebVTT player ignores it (the cue stays at the bottom)
        row = 2 if share < 34 else 1 if share < 67 else 0
    elif re.fullmatch(r"-?\d+(?:\.\d+)?", line):
        row = 2 if float(line) >= 0 else 0
    column = {"left": 0, "start": 0, "right": 2, "end": 2}.get(values.get("align", ""), 1)
    return 1 + 3 * row + column


def _cue(path: Path, block: _Block, timing_at: int) -> tuple[int, int, str]:
    line_no = block.first_line + timing_at
    match = _TIMING.fullmatch(block.lines[timing_at].strip())
    if match is None:
        raise SubtitleError(path, f"this timing line cannot be read: "
                            f"'{block.lines[timing_at].strip()[:80]}'", _FIX_TIMING, line=line_no)
    times = match.groups()
    start_ms, end_ms = _ms(*times[0:4]), _ms(*times[4:8])
    if end_ms < start_ms:
        raise SubtitleError(path, f"the cue ends ({format_timecode(end_ms)}) before it starts "
                            f"({format_timecode(start_ms)})", "correct the cue's end time",
                            line=line_no)
    # A line of spaces is text to the parser, but nothing to draw or count (YouTube starts each
    # automatic caption with one).
    text = html.unescape("\n".join(line.strip() for line in block.lines[timing_at + 1:] if line.strip()))
    return start_ms, end_ms, with_position(text, position_from_settings(match["settings"]))


def read_webvtt_cues(path: Path, lines: list[str], max_cues: int) -> tuple[list[Cue], list[str]]:
    """The cues of a WebVTT file, sorted and numbered 1..n, and notes on what was skipped."""
    timed, skipped, identifiers = [], 0, 0
    for block in _blocks(lines)[1:]:  # the first block is the header
        timing_at = next((k for k, line in enumerate(block.lines[:2]) if "-->" in line), None)
        if timing_at is None and _NON_CUE_BLOCK.fullmatch(block.lines[0].strip()):
            skipped += 1
            continue
        if timing_at is None:
            raise SubtitleError(path, f"this block has no timing line: '{block.lines[0].strip()[:60]}'",
                                "give it a timing line (00:00:01.000 --> 00:00:03.500), start it "
                                "with NOTE if it is a comment, or delete it", line=block.first_line)
        identifiers += timing_at
        timed.append(_cue(path, block, timing_at))
        if len(timed) > max_cues:
            raise SubtitleError(path, f"has more than {max_cues} cues, over the limit",
                                "split it or check it is really one programme's subtitles")
    if not timed:
        raise NoCueError(path, "is a WebVTT file without a cue",
                            "export the subtitles again with their cues")
    order = sorted(range(len(timed)), key=lambda k: (timed[k][0], timed[k][1], k))
    cues = [Cue(n, *timed[k]) for n, k in enumerate(order, 1)]
    notes = ["read as WebVTT"]
    if skipped:
        notes.append(f"skipped {skipped} NOTE/STYLE/REGION block(s)")
    if identifiers:
        notes.append(f"dropped {identifiers} cue identifier(s)")
    if order != sorted(order):
        notes.append("sorted cues by start time")
    return cues, notes

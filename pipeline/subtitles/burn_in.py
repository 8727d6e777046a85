"""Burn-in: the ASS script libass draws, and the fonts it draws with."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import SubtitleStyle
from pipeline.files import write_atomically
from pipeline.subtitles.fonts import BurnFont, FontDirs, font_for_track, size_factor
from pipeline.subtitles.model import FONT_COLOUR, NAMED_COLOURS, STYLE_TAG, Cue, SubtitleTrack, with_position

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Burn-in: ASS for libass

_ASS_STYLE_FORMAT = ("Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
                     "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
                     "Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, "
                     "Encoding")
_ASS_EVENT_FORMAT = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"
_WORD_JOINER = "\u2060"


def _ass_time(ms: int) -> str:
    """ASS time (H:MM:SS.cc) for a frame-snapped millisecond time.

    ASS keeps centiseconds. ffmpeg's subtitles filter asks libass for the frame at its timestamp
    truncated to whole milliseconds (33 ms for frame 1 at 29.97 fps, 119 ms when float error puts
    frame 3 at 25 fps a hair under 120), and libass shows an event while start <= t < end. So the
    time is the last centisecond strictly before `ms`: at most 10 ms earlier, which is still
    after the previous frame at any rate up to 90 fps, and never after this frame's timestamp.
    Rounding up instead would show every cue one frame late at 29.97 fps.
    """
    centis = max(0, (ms - 1) // 10)
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{centis:02d}"


def _ass_escape(text: str) -> str:
    """User text as literal ASS text: it can never open an override block or an escape.

    libass reads "\\{" and "\\}" as literal braces. A backslash has no escape of its own, so a
    word joiner (invisible) after it stops it from forming \\N, \\h or \\{ with what follows.
    """
    text = text.replace("\r", "").replace("\\", "\\" + _WORD_JOINER)
    return text.replace("{", "\\{").replace("}", "\\}").replace("\n", "\\N")


def _ass_colour(value: str) -> str | None:
    """'#RRGGBB' or a basic colour name as ASS &HBBGGRR&, or None when it is neither."""
    rgb = NAMED_COLOURS.get(value.lower(), value.lstrip("#"))
    if not re.fullmatch(r"[0-9a-fA-F]{6}", rgb):
        return None
    return f"&H{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}&".upper()


@dataclass
class _AssTagState:
    open_styles: list[str] = field(default_factory=list)
    colours: list[str | None] = field(default_factory=list)

    def override(self, match: re.Match) -> str:
        """The ASS override block for one SRT tag."""
        if match["style"]:
            name = match["style"].lower()
            if match["close"]:
                with contextlib.suppress(ValueError):
                    self.open_styles.remove(name)
                return f"{{\\{name}0}}"
            self.open_styles.append(name)
            return f"{{\\{name}1}}"
        if match["font_close"]:
            return self._close_font()
        colour = FONT_COLOUR.search(match["font_attrs"] or "")
        ass_colour = _ass_colour(colour[1]) if colour else None
        self.colours.append(ass_colour)
        return f"{{\\c{ass_colour}}}" if ass_colour else ""

    def _close_font(self) -> str:
        if not self.colours or self.colours.pop() is None:
            return ""
        # \r resets everything to the style, so styles still open and an outer colour come back.
        outer = next((colour for colour in reversed(self.colours) if colour), None)
        restore = "".join(f"\\{name}1" for name in self.open_styles)
        if outer:
            restore += f"\\c{outer}"
        return f"{{\\r{restore}}}"


def _ass_text(cue: Cue, max_lines: int, language: str) -> str:
    lines = cue.lines
    if len(lines) > max_lines:
        logger.warning("%s cue %d has %d lines; burning it in on %d", language, cue.index,
                       len(lines), max_lines)
        lines = [*lines[:max_lines - 1], " ".join(lines[max_lines - 1:])]
    text = "\n".join(lines)
    state, parts, position = _AssTagState(), [], 0
    for match in STYLE_TAG.finditer(text):
        parts.append(_ass_escape(text[position:match.start()]))
        parts.append(state.override(match))
        position = match.end()
    parts.append(_ass_escape(text[position:]))
    # The one override taken from the user's text is the position, rebuilt from its number: the
    # rest of their override blocks were dropped with the other markup (Cue.lines).
    return with_position("".join(parts), cue.position)


def text_scale(width: int, height: int) -> float:
    """The length the style's ratios are fractions of: the picture's height, or, for a picture
    narrower than 16:9 (a portrait phone video, 4:3), the height a 16:9 picture of its width
    would have. Text sized from a portrait picture's height would be three times too big, and
    a 42-character line would wrap to three lines; sized this way it fits on one as it does
    in 16:9."""
    return min(height, width * 9 / 16)


def _ass_header(style: SubtitleStyle, width: int, height: int, font: BurnFont) -> list[str]:
    # A comma in the font name would shift every later field of the Style line.
    name = re.sub(r"[,\r\n]", " ", font.family)
    scale = text_scale(width, height)
    fields = [
        "Default", name, round(style.size_ratio * scale * size_factor(font)), style.primary_colour, "&H000000FF",
        style.outline_colour, style.back_colour, 0, 0, 0, 0, 100, 100, 0, 0, 1,
        round(style.outline_ratio * scale, 2), round(style.shadow_ratio * scale, 2), 2,
        round(style.side_margin_ratio * width), round(style.side_margin_ratio * width),
        round(style.bottom_margin_ratio * height), 1,
    ]
    return [
        "[Script Info]", "; Script generated by pipeline.subtitles", "ScriptType: v4.00+",
        f"PlayResX: {width}", f"PlayResY: {height}", "WrapStyle: 0",
        "ScaledBorderAndShadow: yes", "",
        "[V4+ Styles]", f"Format: {_ASS_STYLE_FORMAT}",
        "Style: " + ",".join(str(value) for value in fields), "",
        "[Events]", f"Format: {_ASS_EVENT_FORMAT}",
    ]


def to_ass(track: SubtitleTrack, style: SubtitleStyle, width: int, height: int,
           max_lines: int, font_dirs: FontDirs = ()) -> str:
    """A complete ASS script that burns the track into a width x height picture.

    Give it a frame-snapped track (snap_to_frames): each cue then shows from its first frame and
    is gone on the frame at or after its end. A cue with more than max_lines lines is kept, its
    last lines joined (QC reports it as too_many_lines). `font_dirs` are the desk's font
    folders (`[subtitles] font_dirs`), looked in for a script the shipped fonts lack.
    """
    events = [f"Dialogue: 0,{_ass_time(cue.start_ms)},{_ass_time(cue.end_ms)},Default,,0,0,0,,"
              f"{_ass_text(cue, max_lines, track.language)}" for cue in track.cues]
    font = font_for_track(track, style.font_name, font_dirs)  # DejaVu, Noto, or the desk's
    return "\n".join([*_ass_header(style, width, height, font), *events]) + "\n"


def write_ass(track: SubtitleTrack, path: str | Path, style: SubtitleStyle, width: int, height: int,
              max_lines: int, font_dirs: FontDirs = ()) -> None:
    """Write the burn-in ASS script (UTF-8)."""
    write_atomically(path, to_ass(track, style, width, height, max_lines, font_dirs))



"""Sidecar writers: normalised UTF-8 SRT and WebVTT, written atomically."""

from __future__ import annotations

from pathlib import Path

from pipeline.files import write_atomically
from pipeline.subtitles.model import BOTTOM_CENTRE, STYLE_TAG, SubtitleTrack, format_timecode, with_position

# --------------------------------------------------------------------------------------------
# Sidecar writers


def srt_text(track: SubtitleTrack) -> str:
    """The track as SRT: renumbered, LF line ends, styling tags and a {\\anN} position kept,
    every other tag and override block dropped."""
    return "".join(
        f"{n}\n{format_timecode(cue.start_ms)} --> {format_timecode(cue.end_ms)}\n"
        f"{with_position(cue.styled_text, cue.position)}\n\n"
        for n, cue in enumerate(track.cues, 1))


def write_srt(track: SubtitleTrack, path: str | Path) -> None:
    """Write the track as UTF-8 SRT (no BOM, LF)."""
    write_atomically(path, srt_text(track))


def _vtt_time(ms: int) -> str:
    return format_timecode(ms).replace(",", ".")


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_cue_text(text: str) -> str:
    """SRT cue text as WebVTT cue text: <i> <b> <u> kept, <font> dropped (VTT has no such tag)."""
    parts, position = [], 0
    for match in STYLE_TAG.finditer(text):
        parts.append(_vtt_escape(text[position:match.start()]))
        if match["style"]:
            parts.append(f"<{'/' if match['close'] else ''}{match['style'].lower()}>")
        position = match.end()
    parts.append(_vtt_escape(text[position:]))
    return "".join(parts)


# Numpad position -> WebVTT cue settings. The bottom row is the default (no setting); the top
# row sits 10 % down, inside the title-safe area, the middle row at half height.
_VTT_LINE = {7: " line:10%", 8: " line:10%", 9: " line:10%", 4: " line:50%,center",
             5: " line:50%,center", 6: " line:50%,center"}
_VTT_ALIGN = {7: " align:left", 4: " align:left", 1: " align:left", 9: " align:right",
              6: " align:right", 3: " align:right"}


def vtt_settings(position: int) -> str:
    """The cue settings (with a leading space) that put a cue at a numpad position."""
    if position == BOTTOM_CENTRE:
        return ""
    return _VTT_LINE.get(position, "") + _VTT_ALIGN.get(position, "")


def vtt_text(track: SubtitleTrack) -> str:
    """The track as WebVTT, valid for a browser's <track> element."""
    cues = "".join(
        f"{n}\n{_vtt_time(cue.start_ms)} --> {_vtt_time(cue.end_ms)}{vtt_settings(cue.position)}\n"
        f"{_vtt_cue_text(cue.styled_text)}\n\n"
        for n, cue in enumerate(track.cues, 1))
    return f"WEBVTT\n\n{cues}"


def write_vtt(track: SubtitleTrack, path: str | Path) -> None:
    """Write the track as UTF-8 WebVTT."""
    write_atomically(path, vtt_text(track))

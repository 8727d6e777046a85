"""Subtitle timing: frame snapping, retiming to the programme, and which clock a file is timed to."""

from __future__ import annotations

import dataclasses
import math

from pipeline.media.timecode import Timecode
from pipeline.subtitles.model import Cue, Finding, NoCueError, SubtitleTrack, format_timecode

# --------------------------------------------------------------------------------------------
# Frames


def first_frame_at_or_after(ms: int, fps: float) -> int:
    # The epsilon keeps a time that is exactly a frame's start on that frame despite float error.
    return math.ceil(ms * fps / 1000 - 1e-6)


def _frame_start_ms(frame: int, fps: float) -> int:
    """Frame `frame`'s start, rounded *down* to the millisecond.

    Rounding down keeps the time at or before the frame's own timestamp, so a renderer that
    shows a cue when `start <= frame time` shows it on this frame; rounding up (34 ms for frame 1
    at 29.97 fps, whose timestamp is 33.37 ms) would push the cue to the next frame. Frames are
    more than a millisecond apart, so the value still lies after the previous frame.
    """
    return math.floor(frame * 1000 / fps + 1e-6)


def snap_to_frames(track: SubtitleTrack, fps: float) -> SubtitleTrack:
    """Move each cue's start and end up to the frame on which it appears / disappears.

    A cue appears on the first frame at or after its start and is gone by the first frame at or
    after its end. Times already on a frame stay; snapping twice changes nothing. A cue shorter
    than a frame may end up zero-length: on screen it would never appear either (QC reports it).
    """
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")

    def snap(ms: int) -> int:
        return _frame_start_ms(first_frame_at_or_after(ms, fps), fps)

    cues = [dataclasses.replace(cue, start_ms=snap(cue.start_ms), end_ms=snap(cue.end_ms))
            for cue in track.cues]
    note = f"snapped to frames at {fps:g} fps"
    return dataclasses.replace(track, cues=cues, notes=[*track.notes, note])


# --------------------------------------------------------------------------------------------
# Retiming to the programme

_HOUR_MS = 3_600_000
_TIMECODE_FIX = ("set subtitle_start_timecode in metadata.yaml to the timecode the SRT is timed "
                 "from (e.g. 10:00:00:00), or time the SRT from the first frame of the master "
                 "(00:00:00,000)")


def _retime_finding(track: SubtitleTrack, cue: Cue, rule: str, limit: str, message: str) -> Finding:
    timecode = format_timecode(cue.start_ms)
    span = f"{timecode} --> {format_timecode(cue.end_ms)}"
    return Finding(track.language, cue.index, timecode, rule, span, limit,
                   f"{track.language} cue {cue.index} at {timecode} (in the SRT): {message}")


def _dropped_finding(track: SubtitleTrack, dropped: list[Cue], window: str) -> Finding:
    """One finding for every cue that fell outside the programme: a file timed to another clock
    can drop thousands, and a line per cue would bury everything else in the log."""
    first, last = dropped[0], dropped[-1]
    if len(dropped) == 1:
        return _retime_finding(track, first, "dropped_outside_programme", window,
                               f"dropped: it lies wholly outside the programme ({window})")
    timecode = format_timecode(first.start_ms)
    return Finding(track.language, first.index, timecode, "dropped_outside_programme", len(dropped),
                   window, f"{track.language}: {len(dropped)} cues dropped: they lie wholly outside "
                   f"the programme ({window}); the first is cue {first.index} at {timecode}, the "
                   f"last cue {last.index} at {format_timecode(last.start_ms)} (in the SRT)")


def retime(track: SubtitleTrack, offset_ms: int,
           programme_ms: int) -> tuple[SubtitleTrack, list[Finding]]:
    """Shift the cues by -offset_ms onto the programme's timeline [0, programme_ms).

    `offset_ms` is where the programme starts in the SRT's time (the line-up cut from the master,
    or the master's start timecode). Cues wholly outside are dropped (one finding for all of
    them: count, first, last), cues across an edge are clipped (a finding each); both name the
    cue's number and time as the SRT has them.
    """
    first, last = max(offset_ms, 0), max(offset_ms + programme_ms, 0)
    window = f"{format_timecode(first)} --> {format_timecode(last)}"
    kept: list[tuple[int, int, str]] = []
    findings, dropped = [], []
    for cue in track.cues:
        start, end = cue.start_ms - offset_ms, cue.end_ms - offset_ms
        if end <= 0 or start >= programme_ms:
            dropped.append(cue)
            continue
        clipped = (max(start, 0), min(end, programme_ms))
        if clipped != (start, end):
            findings.append(_retime_finding(track, cue, "clipped", window,
                                            f"clipped to the programme ({window})"))
        kept.append((*clipped, cue.text))
    if not kept:
        raise NoCueError(track.source, f"every cue lies outside the programme ({window} in the "
                         "SRT's time)", "check that the SRT belongs to this master; if it is timed "
                         f"from the programme's timecode, {_TIMECODE_FIX}")
    if dropped:
        findings.insert(0, _dropped_finding(track, dropped, window))
    cues = [Cue(n, start, end, text) for n, (start, end, text) in enumerate(kept, 1)]
    note = f"shifted by {-offset_ms} ms onto the programme"
    return dataclasses.replace(track, cues=cues, notes=[*track.notes, note]), findings


# --------------------------------------------------------------------------------------------
# Which clock an SRT is timed to: the file's, or the master's start timecode

def timecode_ms(timecode: str, fps: float) -> int | None:
    """A start timecode (HH:MM:SS:FF; ';' before the frames for drop-frame) as the time its
    label reads, in ms; None when it is not a timecode at this frame rate.

    The label is what an SRT timed to the timecode holds: a subtitle editor showing 10:00:01:00
    writes 10:00:01,000. A labelled second has round(fps) frames.
    """
    label = Timecode.parse(timecode)
    if label is None or not label.in_range or round(fps) <= label.frames:
        return None
    return label.label_ms(fps)


def _any_cue_inside(track: SubtitleTrack, start_ms: int, length_ms: int) -> bool:
    return any(cue.end_ms > start_ms and cue.start_ms < start_ms + length_ms for cue in track.cues)


def _span(start_ms: int, length_ms: int) -> str:
    return f"{format_timecode(start_ms)} --> {format_timecode(start_ms + length_ms)}"


def _programme_timecode_offset(track: SubtitleTrack, programme_start_ms: int, programme_ms: int,
                               master_ms: int) -> tuple[int, list[Finding]]:
    """A master without a timecode and an SRT timed from the programme's timecode (edit suites
    start at 01:00:00:00 or 10:00:00:00): every cue at or after a whole hour, none inside the
    master's duration, some inside the programme from that hour. Moved, with a warning."""
    first = min(cue.start_ms for cue in track.cues)
    origin = first // _HOUR_MS * _HOUR_MS
    if (origin == 0 or _any_cue_inside(track, 0, master_ms)
            or not _any_cue_inside(track, origin + programme_start_ms, programme_ms)):
        return programme_start_ms, []
    moved = format_timecode(origin)
    finding = Finding(track.language, None, format_timecode(first), "timed_to_timecode",
                      format_timecode(first), moved,
                      f"{track.language}: the SRT looks timed from the programme's timecode (first "
                      f"cue at {format_timecode(first)}, none inside the master, which has no "
                      f"timecode of its own); every cue moved {moved} earlier. If that is wrong, "
                      f"{_TIMECODE_FIX}")
    return origin + programme_start_ms, [finding]


def programme_offset(track: SubtitleTrack, programme_start_ms: int, programme_ms: int,
                     master_ms: int, start_timecode: str | None,
                     fps: float) -> tuple[int, list[Finding]]:
    """Where the programme starts in the SRT's own time, for `retime`.

    An SRT is timed from the first frame of the file (00:00:00,000), unless it is timed to the
    master's start timecode: edit suites start masters at 10:00:00:00 and their SRTs follow
    (first cue at 10:00:01,000). That is taken to be the case when no cue lands inside the
    programme in the file's time but some do from the timecode, or when the first cue is at or
    after the timecode and some cue would start past the end of the file. The shift is reported;
    an SRT that fits neither clock raises NoCueError naming both windows it tried.
    """
    origin = timecode_ms(start_timecode, fps) if start_timecode else None
    if not track.cues:
        return programme_start_ms, []
    if not origin:
        return _programme_timecode_offset(track, programme_start_ms, programme_ms, master_ms)
    first = min(cue.start_ms for cue in track.cues)
    fits_file = _any_cue_inside(track, programme_start_ms, programme_ms)
    fits_timecode = _any_cue_inside(track, origin + programme_start_ms, programme_ms)
    timed_to_timecode = first >= origin and any(cue.start_ms >= master_ms for cue in track.cues)
    if fits_timecode and (timed_to_timecode or not fits_file):
        moved = format_timecode(origin)
        finding = Finding(track.language, None, format_timecode(first), "timed_to_timecode",
                          format_timecode(first), start_timecode or "",
                          f"{track.language}: the SRT is timed to the master's start timecode "
                          f"{start_timecode} (first cue at {format_timecode(first)}); every cue "
                          f"moved {moved} earlier onto the file's time")
        return origin + programme_start_ms, [finding]
    if fits_file:
        return programme_start_ms, []
    raise NoCueError(track.source, "no cue lies inside the programme, neither in the file's time "
                     f"({_span(programme_start_ms, programme_ms)}) nor timed to the master's start "
                     f"timecode {start_timecode} ({_span(origin + programme_start_ms, programme_ms)})",
                     "time the SRT from the first frame of the master file (00:00:00,000) or from "
                     f"its start timecode {start_timecode}, and check it belongs to this master")

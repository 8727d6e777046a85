"""Where each file's contact sheet (the QC report's frames, pipeline.delivery.contact_sheets) shows
its picture, decided before the render, which cuts the sheet of every picture it encodes from its
own decode (`sheet_chain`): no file is decoded again for its sheet. (The render once made those
frames keyframes instead, for sheets cut from the files afterwards; the encodes are now left to
place their keyframes as they would.) The asset page's players' poster frames are cut there too
(`poster_chain`)."""

from __future__ import annotations

import math

THUMBNAILS = 8
"""Frames on each file's contact sheet."""
THUMBNAIL_COLUMNS = 4
THUMBNAIL_WIDTH = 240
POSTER_AT = 0.1
"""Where a player's poster frame is cut, as a share of the programme: past a fade from black."""
POSTER_WIDTH = 960
"""The players' largest width on the asset page (STYLE): a wider poster would only be scaled down."""
PLAYABLE = (".mp4", ".m4v", ".webm")
"""The files a browser's player plays (the asset page's players, each with its poster frame):
broadcast MXF and ProRes files are for download."""


def cue_midpoints(track, speed: float = 1.0) -> list[float]:
    """The middle of each cue of a subtitle track (None: no track), in seconds of a file that plays
    the programme `speed` times faster (a sped-up file shows each cue earlier)."""
    return [(cue.start_ms + cue.end_ms) / 2000 / speed for cue in track.cues] if track else []


def thumbnail_times(duration_s: float, cue_midpoints: list[float], count: int = THUMBNAILS) -> list[float]:
    """Where to cut frames: inside cues first (so a subtitled version shows its subtitles), the
    rest spread evenly over the programme."""
    chosen: list[float] = []
    if cue_midpoints:
        step = max(1, len(cue_midpoints) / count)
        chosen = [cue_midpoints[int(i * step)] for i in range(min(count, len(cue_midpoints)))]
    spread = [(i + 0.5) * duration_s / count for i in range(count - len(chosen))]
    return sorted(time for time in chosen + spread if 0 <= time < duration_s)


def frame_at(time_s: float, fps: float) -> int:
    """The number of the frame shown at `time_s` (from the programme's first frame, 0)."""
    return max(0, math.floor(time_s * fps + 1e-6))


def sheet_frames(times: list[float], fps: float) -> tuple[list[float], list[int]]:
    """The frames a sheet shows at `times`, one per frame: (the first time shown by each frame,
    their numbers)."""
    frames: dict[int, float] = {}
    for time in times:
        frames.setdefault(frame_at(time, fps), time)
    return list(frames.values()), list(frames)


def sheet_chain(source: str, frames: list[int], label: str) -> str:
    """The filter chain cutting a contact sheet from a picture on its way to its encoder: the
    frames numbered `frames`, each scaled to a thumbnail of the picture's display shape (its
    pixel aspect applied, so a circle stays round) and tiled in rows of THUMBNAIL_COLUMNS, as
    the sheets cut from a file are. Pure.

    ffmpeg reports no progress until every output has had its first frame, and a render that
    reports none looks stuck to whoever follows it: so the first frame always goes through too, and
    the tile is a sliding window, one picture out per frame in (the first one at once); the last
    one written, which the output keeps (`-update 1`), holds the sheet's frames alone."""
    count = len(frames)
    columns = min(count, THUMBNAIL_COLUMNS)
    rows = -(-count // columns)
    chosen = "+".join(f"eq(n\\,{frame})" for frame in sorted({0, *frames}))
    height = f"max(2\\,trunc({THUMBNAIL_WIDTH}/dar/2+0.5)*2)"
    window = f"nb_frames={count}:overlap={count - 1}:init_padding={count - 1}"
    return (f"[{source}]select='{chosen}',scale={THUMBNAIL_WIDTH}:'{height}',setsar=1,"
            f"tile={columns}x{rows}:{window}[{label}]")


def poster_chain(source: str, frame: int, label: str) -> str:
    """The poster frame of a player, from a picture on its way to its encoder: frame `frame` at
    the picture's display shape, POSTER_WIDTH wide at most, as a poster cut from the file is. As
    for the sheets, the first frame goes through too (ffmpeg's progress waits for every output's
    first frame); the last one written, which the output keeps, is the poster. Pure."""
    chosen = "+".join(f"eq(n\\,{number})" for number in sorted({0, frame}))
    width = f"min({POSTER_WIDTH}\\,trunc(iw*sar/2)*2)"
    return f"[{source}]select='{chosen}',scale='{width}':'max(2\\,trunc(ow/dar/2+0.5)*2)',setsar=1[{label}]"

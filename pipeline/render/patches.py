"""A burned-in picture in an intra-only codec, encoded only where its text is.

ProRes (prores_ks) codes every frame on its own: the packet of a frame depends on that frame
alone, whatever came before it and however many threads encode it (a subtitled ProRes file and
its clean file carry byte-identical packets on every frame without text, measured). So the
render encodes a subtitled mezzanine's picture only on the frames around its cues (the
"patch"), and the file is put together afterwards by stream copy: the clean file's packets
between the cues, the patch's on them. The delivered file holds the same packets, in the same
order and at the same times, as a file encoded whole. A ProRes HQ picture costs more CPU than
the other two profiles' pictures together (9 s of 1080p25 on one core: 30.7 s, against 14.4 s
for x264 medium and 4.8 s for XDCAM), and every frame between two cues is one it need not
encode.

Frames are counted from the programme's first delivered frame (the render's `select` counts
them where the picture goes to its encoder); a cue's frames are those its times cover at the
delivered rate, widened by MARGIN_FRAMES on each side (ASS times are centiseconds, and the
first delivered frame may sit a little off the programme start), so no frame with text is
ever taken from the clean file. Pure builders: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pipeline.media import ffmpeg

INTRA_ENCODERS = frozenset({"prores_ks"})
"""Encoders whose every frame is coded alone and deterministically (see the module's text).
MPEG-2 and H.264 predict frames from each other: their burned pictures are encoded whole.
ProRes goes in MOV only (pipeline/config.py CONTAINERS), where the picture is track 1 of both
the clean file and the patch, as the concat list reads it."""

MARGIN_FRAMES = 2
NEAR_END_FRAMES = 3
"""A range ending this close to the file's estimated end runs to its real end (`Patch.to_end`):
the estimate (the programme's length at the delivered rate) may be a frame or two off, and the
file must neither lose a frame with text to the clean file nor end on an empty clean segment
(the concat demuxer then times the last packet as lasting one tick)."""

CONCAT_SUFFIX = ".ffconcat"

PATCH_AT_MOST = 0.98
"""A burned picture is patched only when its patch leaves at least one frame in fifty to the
clean file: putting a file together costs about what encoding two of its frames in a hundred
does (a stream copy of 30 s of 1080p ProRes HQ, 0.3 s of CPU, against 0.14 s a frame)."""


@dataclass(frozen=True)
class Patch:
    """The frames of a burned picture that the render encodes: [start, end) ranges of frame
    numbers of the delivered file, at `fps`."""

    ranges: tuple[tuple[int, int], ...]
    fps: Fraction
    frames: int
    """How many frames the delivered file has, about (the programme's length at `fps`)."""
    to_end: bool = False
    """The last range runs to the file's last frame, wherever that is (its end is `frames`)."""

    @property
    def encoded(self) -> int:
        return sum(end - start for start, end in self.ranges)

    @property
    def worth_it(self) -> bool:
        """Whether encoding the patch and putting the file together costs less than encoding
        the picture whole (PATCH_AT_MOST); never for a patch of no frame (no cue)."""
        return bool(self.ranges) and self.encoded <= PATCH_AT_MOST * self.frames


def text_frames(cues_ms: Sequence[tuple[int, int]], fps: Fraction, frames: int) -> Patch:
    """The patch of a picture burning cues shown from start_ms (inclusive) to end_ms (exclusive),
    in a file of about `frames` frames at `fps`."""
    ranges: list[tuple[int, int]] = []
    for start_ms, end_ms in sorted(cues_ms):
        first = max(0, math.floor(start_ms * fps / 1000) - MARGIN_FRAMES)
        end = math.ceil(end_ms * fps / 1000) + MARGIN_FRAMES
        if end <= first:
            continue
        if ranges and first <= ranges[-1][1]:  # touching: one range (a segment costs next to nothing,
            # a frame of 1080p ProRes HQ about 0.14 s of CPU: every clean frame is worth its segment)
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
        else:
            ranges.append((first, end))
    kept: list[tuple[int, int]] = []
    for start, end in ranges:
        if start >= frames:  # a cue after the programme: not in the file
            break
        if end >= frames - NEAR_END_FRAMES:  # to the end, from a few frames before it at the latest
            start = max(0, min(start, frames - NEAR_END_FRAMES - 1))
            if kept and start <= kept[-1][1]:
                start = kept.pop()[0]
            kept.append((start, frames))
            return Patch(tuple(kept), fps, frames, to_end=True)
        kept.append((start, end))
    return Patch(tuple(kept), fps, frames)


def select_chain(source: str, patch: Patch, label: str) -> str:
    """The filter chain taking the patch's frames of `source`, numbered on from 0 at `fps`."""
    terms = [f"between(n,{start},{end - 1})" for start, end in patch.ranges]
    if patch.to_end:
        terms[-1] = f"gte(n,{patch.ranges[-1][0]})"
    frames = "+".join(terms)
    rate = patch.fps
    return f"[{source}]select='{frames}',setpts=N*{rate.denominator}/({rate.numerator}*TB)[{label}]"


def _seconds(frame: int | float, fps: Fraction) -> Fraction:
    return Fraction(frame) / fps


def _micro(value: Fraction, rounding: Callable[[Fraction], int] = round) -> str:
    """Seconds to the microsecond (the concat demuxer's own unit), rounded as asked."""
    return f"{rounding(value * 1_000_000) / 1_000_000:.6f}"


def _quoted(path: Path) -> str:
    """A file name in a concat list: single-quoted, a quote in it closed, escaped and reopened."""
    return "'" + f"file:{path}".replace("'", "'\\''") + "'"


def concat_list(clean: Path, patch_file: Path, patch: Patch) -> str:
    """The concat demuxer's list of the assembled picture: the clean file between the patch's
    ranges, the patch file on them.

    Each segment starts at its first frame's time (rounded up to the microsecond, so the seek
    lands on that frame), is cut half a frame before the frame after its last (packets at or
    past the cut are dropped), and lasts exactly its frames as the delivered file times them
    (`duration`, rounded to the microsecond from the programme's start each time, so the
    rounding never adds up): every packet keeps the time it has in a file encoded whole. The
    last segment runs to its file's end: the clean file's, or the patch's when it runs to the
    end (`Patch.to_end`). Only the picture stream (track 1 in both files) is read."""
    fps = patch.fps
    lines = ["ffconcat version 1.0", "stream", "exact_stream_id 1"]

    def segment(path: Path, first: int, count: int | None, at: int) -> None:
        lines.append(f"file {_quoted(path)}")
        if first:
            lines.append(f"inpoint {_micro(_seconds(first, fps), math.ceil)}")
        if count is not None:
            lines.append(f"outpoint {_micro(_seconds(first + count - 0.5, fps))}")
            lines.append(f"duration {_duration(at, count, fps)}")

    position = 0  # frames of the assembled file so far
    taken = 0  # frames of the patch file so far
    for number, (start, end) in enumerate(patch.ranges, 1):
        if start > position:
            segment(clean, position, start - position, position)
        last = patch.to_end and number == len(patch.ranges)
        segment(patch_file, taken, None if last else end - start, start)
        taken += end - start
        position = end
    if not patch.to_end:
        segment(clean, position, None, position)
    return "\n".join(lines) + "\n"


def _duration(at: int, count: int, fps: Fraction) -> str:
    """Frames [at, at + count) of the assembled file, in seconds: the difference of their ends,
    each rounded to the microsecond, so consecutive segments' durations add up exactly."""
    micro = [round(_seconds(frame, fps) * 1_000_000) for frame in (at, at + count)]
    return f"{(micro[1] - micro[0]) / 1_000_000:.6f}"


def concat_input_args(path: Path) -> list[str]:
    """A concat list as an input, opened as any input is (`ffmpeg.input_args`): only local files,
    read by the concat demuxer and, for the files it names (absolute paths: `-safe 0`), mov's."""
    return ["-safe", "0", *ffmpeg.input_args(path, demuxer="concat,mov,mp4,m4a,3gp,3g2,mj2")]


def picture_input_args(path: Path) -> list[str]:
    """The input of a stream-copy file's picture: a concat list (an assembled picture) or a file."""
    return concat_input_args(path) if Path(path).suffix == CONCAT_SUFFIX else ffmpeg.input_args(path)

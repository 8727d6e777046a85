"""Each textless insert measured where it landed in a delivered file (docs/design.md section 12).

An insert is the texted shot again without its text, so away from the text its picture is the
texted shot's, frame for frame. A few frames of the insert, as delivered, are compared with the
master's texted frames at the declared place and a few frames either way: the insert must match
best where it was declared. What is compared is the change from one frame to the next (grey,
small): a caption stands still, so it is not in the change, and the insert and the texted shot
change alike exactly where they are the same moment. An insert declared late or early, or the
wrong shot, is an error naming the insert and the offset measured. A still shot changes nowhere
and is left where it was declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.intake.submission import Submission
from pipeline.intake.textless import TextlessInsert
from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.timecode import format_timecode

WINDOW = 5
"""Frames either way of the declared place the insert is compared at."""
SIZE = (96, 54)
"""The grey pictures compared: small, the same for the master and any delivered frame size."""
SAMPLES = 3
"""Frames of each insert compared (spread over it)."""


@dataclass(frozen=True)
class InsertMatch:
    """Where one insert matches the texted shot best, and how well."""

    number: int
    offset_frames: int
    """Where it matches best against where it was declared: 0 in place, -3 three frames earlier."""
    difference: float
    """The median difference at that offset (grey levels, 0-255)."""
    in_place: float
    """The median difference where it was declared."""
    replaces: int
    """The declared first frame replaced (from the master's first frame)."""

    def problem(self, fps: float) -> str | None:
        if self.offset_frames == 0:
            return None
        frames = abs(self.offset_frames)
        direction = "earlier" if self.offset_frames < 0 else "later"
        return (f"textless insert {self.number} matches best {frames} frame{'s' if frames > 1 else ''} {direction}: "
                f"replaces {format_timecode(self.replaces + self.offset_frames, fps)}?")

    def to_dict(self) -> dict:
        return {"number": self.number, "offset_frames": self.offset_frames, "difference": round(self.difference, 2),
                "difference_in_place": round(self.in_place, 2)}


def _grey_frames_command(path: Path, first_s: float, count: int, fps: float) -> list[str]:
    """`count` frames of `path` from the frame at `first_s`, at the master's rate (a 50p delivery
    of a 25i master gives one frame per master frame), small and grey as float32. Pure."""
    width, height = SIZE
    return (ffmpeg.base_args() + ffmpeg.input_args(path, seek_s=max(0.0, first_s))
            + ["-map", "0:v:0", "-vf", f"setpts=PTS-STARTPTS,fps={fps:.6f},scale={width}:{height}:flags=area,"
                                         "format=grayf32le",
               "-frames:v", str(count), "-f", "rawvideo", "pipe:1"])


def _grey_frames(path: Path, first_frame: int, count: int, fps: float, limit: TimeLimit) -> list[np.ndarray]:
    # A frame is a "sample" of width x height "channels" to the PCM reader: raw float32 either way.
    width, height = SIZE
    command = _grey_frames_command(path, (first_frame - 0.5) / fps, count, fps)
    return [chunk.reshape(height, width) * 255.0 for chunk in
            ffmpeg.stream_pcm(command, channels=width * height, chunk_frames=1, limit=limit,
                              what=f"textless check of {path.name}")]


def _samples(insert: TextlessInsert) -> list[int]:
    """The insert's frames compared (offsets from its first), each with the frame after it, spread
    over the insert."""
    return sorted({min(insert.frames - 2, insert.frames * (2 * index + 1) // (2 * SAMPLES))
                   for index in range(SAMPLES)})


def _windows(insert: TextlessInsert) -> list[list[int]]:
    """The samples in groups decoded by one run each: all of them for a short insert, one by one
    for a long one (a whole textless programme is not decoded whole)."""
    samples = _samples(insert)
    return [samples] if samples[-1] - samples[0] <= MAX_SPAN else [[sample] for sample in samples]


MAX_SPAN = 250
"""The longest run of frames decoded to compare the samples of one insert at once."""


def _change(frames: list[np.ndarray], index: int) -> np.ndarray | None:
    """How the picture changes from frame `index` to the next: the text, which stands still, is
    not in it, so the textless insert and the texted shot change alike."""
    if not 0 <= index < len(frames) - 1:
        return None
    return frames[index + 1] - frames[index]


def measure_insert(delivered: Path, master: Path, insert: TextlessInsert, programme_first: int, fps: float,
                   limit: TimeLimit) -> InsertMatch:
    """Where `insert` matches the master's texted frames best in the delivered file: the change
    from each sampled frame to the next, as delivered, against the texted shot's change at the
    declared place and at each offset up to WINDOW frames either way."""
    if insert.frames < 2:
        return InsertMatch(insert.number, 0, 0.0, 0.0, insert.replaces)  # one frame does not move
    scores = np.zeros(2 * WINDOW + 1)
    for window in _windows(insert):
        start, end = insert.replaces + window[0], insert.replaces + window[-1] + 2
        shown = _grey_frames(delivered, start - programme_first, end - start, fps, limit)
        first = max(0, start - WINDOW)
        texted = _grey_frames(master, first, end + WINDOW - first, fps, limit)
        for sample in window:
            delivered_change = _change(shown, insert.replaces + sample - start)
            for offset in range(-WINDOW, WINDOW + 1):
                texted_change = _change(texted, insert.replaces + sample + offset - first)
                scores[offset + WINDOW] += (np.inf if delivered_change is None or texted_change is None
                                            else float(np.mean(np.abs(delivered_change - texted_change))))
    scores /= len(_samples(insert))
    best = int(np.argmin(scores))
    in_place = float(scores[WINDOW])
    # In place unless another offset is clearly better (half the difference, and a fifth of a grey
    # level at least: an encode's noise), so a still shot, alike everywhere, stays where declared.
    if not (scores[best] < 0.5 * in_place and in_place - scores[best] > 0.2):
        best = WINDOW
    return InsertMatch(insert.number, best - WINDOW, float(scores[best]), in_place, insert.replaces)


def measure_inserts(submission: Submission, delivered: Path, limit: TimeLimit) -> list[InsertMatch]:
    """Every insert of the package measured in the delivered file `delivered`."""
    material = submission.textless
    if material is None:
        return []
    fps = submission.fps
    first = round(submission.programme.start_s * fps)
    return [measure_insert(delivered, submission.package.master, insert, first, fps, limit)
            for insert in material.inserts]

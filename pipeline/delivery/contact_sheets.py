"""Each delivered file's contact sheet for the QC report: eight frames of its picture (a
subtitled version shows frames inside cues, so the burn-in can be judged), at the shape shown on
screen.

The render cuts the sheet of every picture it encodes from its own decode, as that picture goes
to its encoder (pipeline.render.sheet_frames); the files whose picture it did not encode (a master's
picture copied as it is) have theirs cut from the file by ffmpeg while the files are read back
(pipeline.delivery.verify), side by side with the read-backs: each such sheet is asked for as
soon as its read-back knows the file's duration and shape, and the versions that carry the same
picture by stream copy share one sheet, cut once. The report embeds what was cut; a result that
comes without a sheet has its own cut when the report is written.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path

from pipeline.config import LimitsConfig
from pipeline.delivery.results import ContactSheet, DeliverableResult, TechnicalFacts
from pipeline.errors import FFmpegError
from pipeline.media import ffmpeg, work
from pipeline.parallel import SideBySide
from pipeline.render.commands import RenderedSheet
from pipeline.render.sheet_frames import THUMBNAIL_COLUMNS, THUMBNAIL_WIDTH, cue_midpoints, thumbnail_times

__all__ = ["THUMBNAIL_COLUMNS", "THUMBNAIL_WIDTH", "ContactSheets", "contact_sheet_command", "cut_sheet",
           "cut_sheets", "png_uri"]

KEYFRAME_INTERVAL_FRAMES = 250
"""x264's default keyframe interval: cutting one frame from a file decodes at most this many."""


def contact_sheet_command(source: Path, times: list[float], width: int, height: int, output: Path,
                          columns: int = THUMBNAIL_COLUMNS, thumbnail_width: int = THUMBNAIL_WIDTH) -> list[str]:
    """One ffmpeg run cutting one frame at each time (a seek per frame, so a one-hour file is
    not decoded whole; a decoder thread each, as sheets are cut side by side) and tiling them into
    a picture: PNG, or JPEG when `output` ends in .jpg (one time and one column make the asset
    page's poster frame). `width` x `height`: the display size, whose shape the thumbnails take.
    Pure: no I/O."""
    thumb_height = max(2, round(thumbnail_width * height / max(1, width) / 2) * 2)
    command = ffmpeg.base_args()
    chains, layout = [], []
    for index, time in enumerate(times):
        command += ["-threads", "1"] + ffmpeg.input_args(source, seek_s=time, duration_s=1.0)
        chains.append(f"[{index}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,"
                      f"scale={thumbnail_width}:{thumb_height},setsar=1[t{index}]")
        row, column = divmod(index, columns)
        layout.append(f"{column * thumbnail_width}_{row * thumb_height}")
    labels = "".join(f"[t{index}]" for index in range(len(times)))
    if len(times) == 1:
        chains.append(f"{labels}null[sheet]")
    else:
        chains.append(f"{labels}xstack=inputs={len(times)}:layout={'|'.join(layout)}:fill=black[sheet]")
    quality = ["-q:v", "4"] if output.suffix == ".jpg" else []  # as the shot thumbnails
    return command + ["-filter_complex", ";".join(chains), "-map", "[sheet]", *quality, "-frames:v", "1",
                      "-update", "1", str(output)]


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def cut_sheet(path: Path, technical: TechnicalFacts, times: list[float], scratch: Path, limits: LimitsConfig) -> str:
    """The sheet of one file as a data URI, or raise FFmpegError."""
    video = technical.video or {}
    output = scratch / f"{path.stem}.png"
    # The shape shown on screen (pixel aspect and rotation applied), not the stored one: an
    # anamorphic 720x576 16:9 file makes 16:9 thumbnails, so a circle stays a circle.
    width, height = video.get("display_size") or (video["width"], video["height"])
    command = contact_sheet_command(path, times, width, height, output)
    limit = work.time_limit(limits, KEYFRAME_INTERVAL_FRAMES * len(times),
                            [work.Picture("decode", video["width"], video["height"])])
    ffmpeg.run(command, limit=limit, what=f"contact sheet of {path.name}")
    return png_uri(output.read_bytes())


class ContactSheets:
    """The sheets of one delivery: those the render cut (`rendered`, by deliverable key), and the
    others cut on `workers` as they are asked for."""

    def __init__(self, submission, scratch: Path, limits: LimitsConfig, workers: SideBySide,
                 rendered: Mapping[str, RenderedSheet] | None = None):
        self.submission, self.scratch, self.limits = submission, scratch, limits
        self.workers = workers
        self.rendered = rendered or {}
        self._lock = threading.Lock()
        self._cut: dict[tuple, Future[str]] = {}
        self._asked: dict[str, tuple[list[float], list[float], Future[str]]] = {}

    def ask(self, result: DeliverableResult, path: Path) -> None:
        """The sheet of a read-back file, `path`: the render's, else cut from the file (nothing for
        a file that failed its read-back or has no picture: the report shows sheets of delivered
        files only)."""
        technical = result.technical
        if not result.delivered or technical is None or not technical.video:
            return
        speed = result.conversion.get("speed", 1.0)  # a sped-up file shows each cue earlier
        deliverable = result.deliverable
        language = deliverable.subtitle_language if deliverable else None
        cues = cue_midpoints(self.submission.subtitles.get(language) if language else None, speed)
        rendered = self.rendered.get(result.key)
        if rendered is not None and rendered.png.is_file():
            done: Future[str] = Future()
            done.set_result(png_uri(rendered.png.read_bytes()))
            with self._lock:
                self._asked[result.key] = (list(rendered.times), cues, done)
            return
        times = thumbnail_times(technical.duration_s, cues)
        shared = ((deliverable.profile, deliverable.textless, tuple(times))
                  if deliverable and deliverable.picture != "burn" else (result.key,))
        with self._lock:
            cut = self._cut.get(shared)
            if cut is None:
                cut = self._cut[shared] = self.workers.submit(cut_sheet, path, technical,
                                                              times, self.scratch, self.limits)
            self._asked[result.key] = (times, cues, cut)

    def collect(self) -> dict[str, ContactSheet]:
        """Every sheet asked for, by deliverable key, once cut (or failed)."""
        sheets = {}
        for key, (times, cues, cut) in self._asked.items():
            try:
                sheets[key] = ContactSheet(times, cues, uri=cut.result())
            except FFmpegError as error:
                sheets[key] = ContactSheet(times, cues, error=error.reason)
        return sheets


def cut_sheets(submission, results: list[DeliverableResult], folder: Path, scratch: Path,
               limits: LimitsConfig) -> None:
    """The sheets of delivered results that came without one, side by side, set on each result."""
    missing = [result for result in results if result.file and result.contact_sheet is None]
    if not missing:
        return
    with SideBySide(name="contact-sheet") as workers:
        sheets = ContactSheets(submission, scratch, limits, workers)
        for result in missing:
            sheets.ask(result, folder / str(result.file))
        collected = sheets.collect()
    for result in missing:
        result.contact_sheet = collected.get(result.key)

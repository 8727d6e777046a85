"""The automatic shot list: where the master's picture cuts, found by ffmpeg on a reduced-size
decode of the programme, each shot with its in and out timecode (the master's own timecode when
it has one), its duration and a thumbnail (the shot's first frame). Where the render decodes the
picture, the shots are found on that decode, one more branch of its split graph
(pipeline.render.commands.ShotBranch), and cost almost nothing; where it only copies the
master's picture, the delivered clean master is searched (the same frames, cheaper to decode
than a ProRes or UHD master).

One ffmpeg run does it all: the picture is scaled down to `[shots] width` first (so the scene
measure and the thumbnails cost little beside the decode itself), a scene detector marks each
frame that starts a new shot, those frames are written as JPEG thumbnails, and their times are
printed to stdout by the `metadata` filter. Two detectors are offered, both ffmpeg's:
`scene` (`select=gt(scene,T)`, the mean absolute difference of a frame against the one before,
normalised and corrected for motion; a score of 0-1) and `scdet` (the same difference, minus the
previous one, so a steady pan does not build up; a score in percent). tests/test_shots.py
measures both on a master with known cuts.

Out timecodes are exclusive, as an EDL writes them: a shot's out is the next shot's in.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.errors import FFmpegError
from pipeline.media import ffmpeg, work
from pipeline.media.ffmpeg import DEFAULT_LIMIT, TimeLimit
from pipeline.media.timecode import format_timecode, shifted_timecode

log = logging.getLogger(__name__)

THUMBNAIL_PATTERN = "shot-%04d.jpg"
CUTS_FILE = "cuts.txt"


def render_detection_dir(deliver_dir: Path) -> Path:
    """Where the render, when it finds the shots on its own decode, leaves their times
    (CUTS_FILE) and thumbnails: beside the delivery folder, so they move into it by rename."""
    return deliver_dir.parent / "shots"
_TIME = re.compile(r"pts_time:([0-9.]+)")


@dataclass(frozen=True)
class Shot:
    number: int
    in_s: float
    """Seconds from the master's first frame."""
    out_s: float
    in_timecode: str
    out_timecode: str
    duration_s: float
    thumbnail: str | None = None
    """File name of the thumbnail in the delivery folder."""

    def to_dict(self) -> dict:
        return asdict(self)


def detection_filter(method: str, threshold: float, width: int, print_to: str = "pipe\\:1") -> str:
    """The filter chain: scale down, keep the first frame and every frame that starts a shot, and
    print the kept frames' times to `print_to` (stdout, or a file name relative to ffmpeg's
    working directory, with no character a filter graph treats specially). Pure."""
    scale = f"scale={width}:-2:flags=fast_bilinear"
    if method == "scdet":
        # scdet's score is in percent; sc_pass keeps only the frames it marks. The first frame is
        # kept by a select before it, which scdet then passes on as frame 0.
        pick = f"scdet=threshold={threshold:g}:sc_pass=1"
        return f"{scale},{pick},metadata=mode=print:file='{print_to}'"
    pick = f"select='eq(n\\,0)+gt(scene\\,{threshold:g})'"
    return f"{scale},{pick},metadata=mode=print:file='{print_to}'"


def detection_command(master: Path, start_s: float, duration_s: float, method: str, threshold: float,
                      width: int, thumbnails: Path | None, demuxer: str | None = None,
                      fast_decode: bool = False) -> list[str]:
    """One ffmpeg run over the programme's picture; thumbnails into the folder `thumbnails`
    (none when None). `fast_decode`: skip H.264's in-loop deblocking (a third of its decode),
    for a file of our own whose picture is only measured at a tenth of its size. Pure: no I/O."""
    command = ffmpeg.base_args() + ["-loglevel", "error", "-threads", "0"]
    if fast_decode:
        command += ["-skip_loop_filter", "all", "-flags2", "+fast"]
    command += ffmpeg.input_args(master, seek_s=start_s or None, duration_s=duration_s, demuxer=demuxer)
    command += ["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", detection_filter(method, threshold, width),
                "-fps_mode", "passthrough"]
    if thumbnails is None:
        return command + ["-f", "null", "-"]
    return command + ["-q:v", "4", "-f", "image2", str(thumbnails / THUMBNAIL_PATTERN)]


def cut_times(printed: str) -> list[float]:
    """The times of the frames the detection kept (the first frame, then each cut)."""
    return [float(match) for match in _TIME.findall(printed)]


def timecode_at(seconds: float, fps: float, start_timecode: str | None = None) -> str:
    """The timecode of the frame at `seconds` from the first frame, counted from the master's
    start timecode (drop-frame when it is written with ';'), else from 00:00:00:00."""
    label = shifted_timecode(start_timecode, seconds, fps) if start_timecode else None
    return label or format_timecode(round(seconds * fps), fps)


def shots_from_cuts(starts: list[float], start_s: float, end_s: float, fps: float,
                    start_timecode: str | None, thumbnails: list[str | None]) -> list[Shot]:
    """Shots from the (programme-relative) times of their first frames."""
    edges = sorted({0.0, *[time for time in starts if 0 < time < end_s - start_s]})
    shots = []
    for number, (begin, end) in enumerate(zip(edges, [*edges[1:], end_s - start_s]), 1):
        in_s, out_s = start_s + begin, start_s + end
        shots.append(Shot(number, round(in_s, 3), round(out_s, 3), timecode_at(in_s, fps, start_timecode),
                          timecode_at(out_s, fps, start_timecode), round(out_s - in_s, 3),
                          thumbnails[number - 1] if number - 1 < len(thumbnails) else None))
    return shots


def detect_cuts(master: Path, start_s: float, duration_s: float, settings, thumbnails: Path | None = None,
                demuxer: str | None = None, fast_decode: bool = False,
                limit: TimeLimit = DEFAULT_LIMIT) -> tuple[list[float], float]:
    """The programme-relative times of the frames that start a shot (the first frame included
    for the `scene` method), and the seconds the run took. Thumbnails into `thumbnails`."""
    command = detection_command(master, start_s, duration_s, settings.method, settings.threshold_of_method,
                                settings.width, thumbnails, demuxer, fast_decode)
    result = ffmpeg.run(command, limit=limit, what="shot detection")
    return cut_times(result.stdout), result.seconds


def _picture_to_search(submission, results, deliver_dir: Path | None) -> tuple[Path, float, str | None, bool]:
    """Where the programme's picture is cheapest to decode: the delivered clean master (the
    programme alone, at delivery size, H.264 for the web profile; the same frames as the
    master's), else the master itself between the programme's bounds."""
    for result in results:
        clean = result.deliverable is not None and result.deliverable.picture == "encode"
        if getattr(result, "conversion", None):
            continue  # at another frame rate than the master: other frames, or other times
        if clean and result.delivered and result.file and result.technical and deliver_dir is not None:
            path = deliver_dir / result.file
            if path.is_file():
                return path, 0.0, result.technical.format, True
    return submission.package.master, submission.programme.start_s, submission.media.container, False


def find_shots(submission, deliver_dir: Path | None, config, results=()) -> list[Shot]:
    """The shots of the submission's programme; thumbnails into `deliver_dir` as
    `<asset_id>_shot-NNNN.jpg`. A failure is logged and gives no shots: the shot list is a help
    to the producer, never a reason to withhold a delivery."""
    settings = config.shots
    if not settings.enabled:
        return []
    programme = submission.programme
    found_by_render = render_detection_dir(deliver_dir) / CUTS_FILE if deliver_dir is not None else None
    if found_by_render is not None and deliver_dir is not None and found_by_render.is_file():
        starts = cut_times(found_by_render.read_text(encoding="utf-8"))
        names: list[str | None] = list(_keep_thumbnails(found_by_render.parent, deliver_dir, submission.asset_id))
        return _shot_list(submission, settings, starts, names, "the render's own decode", 0.0)
    source, seek_s, demuxer, ours = _picture_to_search(submission, results, deliver_dir)
    # Beside the delivery folder, so the thumbnails move into it by rename (one filesystem).
    with tempfile.TemporaryDirectory(prefix=".shots-", dir=deliver_dir.parent if deliver_dir else None) as scratch:
        scratch_dir = Path(scratch) if deliver_dir is not None else None
        try:
            starts, seconds = detect_cuts(source, seek_s, programme.duration_s, settings, scratch_dir, demuxer, ours,
                                          _search_limit(submission, config))
        except FFmpegError as error:
            log.warning("%s: no shot list: %s", submission.asset_id, error.reason)
            return []
        names = []
        if scratch_dir is not None and deliver_dir is not None:
            names = list(_keep_thumbnails(scratch_dir, deliver_dir, submission.asset_id))
    return _shot_list(submission, settings, starts, names, source.name, seconds)


def _search_limit(submission, config) -> TimeLimit:
    """One decode of the programme's picture (at the master's size: a bound for a delivered file)."""
    video = submission.media.video
    frames = submission.programme.duration_s * float(submission.media.picture.fps)
    return work.time_limit(config.limits, frames, [work.Picture("decode", video.width, video.height)])


def _shot_list(submission, settings, starts: list[float], names: list[str | None], searched: str,
               seconds: float) -> list[Shot]:
    programme, media = submission.programme, submission.media
    fps = float(media.picture.fps)
    if starts and starts[0] > 0.5 / fps:
        names.insert(0, None)  # scdet keeps only the cuts: the first shot has no thumbnail
    shots = shots_from_cuts(starts, programme.start_s, programme.end_s, fps, media.start_timecode, names)
    log.info("%s: %d shot(s) found in %s (%s, threshold %g) in %.1f s", submission.asset_id, len(shots),
             searched, settings.method, settings.threshold_of_method, seconds)
    return shots


def _keep_thumbnails(scratch: Path, deliver_dir: Path, asset_id: str) -> list[str]:
    names = []
    for number, path in enumerate(sorted(scratch.glob("shot-*.jpg")), 1):
        name = f"{asset_id}_shot-{number:04d}.jpg"
        path.replace(deliver_dir / name)
        (deliver_dir / name).chmod(0o644)
        names.append(name)
    return names

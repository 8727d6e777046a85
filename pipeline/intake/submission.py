"""Checking a package before anything renders: metadata, master, audio layout, subtitles.

`check_submission` is what `versioner check`, `submit` and the first step of every render
call; it raises an InputError (the submitter must fix it) or returns a `Submission` that the
render can trust.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import subtitles
from pipeline.audio import evidence
from pipeline.audio.layouts import ResolvedLayout, detect_layout
from pipeline.config import Config
from pipeline.errors import AmbiguousLayoutError, MediaError, MetadataError, SubtitleError
from pipeline.intake.metadata import Descriptive, derive_asset_id, load_descriptive
from pipeline.intake.package import Package, find_package
from pipeline.intake.textless import TextlessMaterial, textless_of
from pipeline.media.faults import named_faults
from pipeline.media.probe import MediaInfo, probe
from pipeline.subtitles.fonts import font_for_track, missing_glyphs
from pipeline.subtitles.model import Finding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Programme:
    """The part of the master every deliverable keeps; the rest is line-up."""

    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass
class Submission:
    package: Package
    descriptive: Descriptive
    asset_id: str
    media: MediaInfo
    layout: ResolvedLayout
    programme: Programme
    subtitles: dict[str, subtitles.SubtitleTrack] = field(default_factory=dict)
    subtitle_findings: list[Finding] = field(default_factory=list)
    subtitle_failures: dict[str, str] = field(default_factory=dict)
    """Languages that cannot be rendered, with the reason (the other deliverables still are)."""
    textless: TextlessMaterial | None = None
    """The textless inserts or the whole textless programme, checked; None: the package has none."""

    @property
    def fps(self) -> float:
        return float(self.media.picture.fps)


def check_master(media: MediaInfo, config: Config) -> None:
    path = media.path
    if media.video is None:
        raise MediaError(path, "has no video stream", "deliver the edited master with its picture")
    if not media.audio:
        raise MediaError(path, "has no audio stream", "deliver the master with its full mix and M&E (or stems)")
    if media.duration_s <= 0:
        raise MediaError(path, "has no duration (the file may be truncated)", "export the master again")
    if media.duration_s > config.limits.max_master_duration_s:
        raise MediaError(path, f"lasts {media.duration_s:.1f} s, over the limit of "
                         f"{config.limits.max_master_duration_s:g} s",
                         "split the programme, or raise limits.max_master_duration_s in the config")


def programme_of(descriptive: Descriptive, media: MediaInfo, metadata_file: Path) -> Programme:
    start, end = descriptive.programme_bounds_s(float(media.picture.fps))
    start = start or 0.0
    end = media.duration_s if end is None else end
    if not 0 <= start < end <= media.duration_s + media.picture.frame_s:
        raise MediaError(metadata_file, f"programme_start/programme_end ({start:.3f} s to {end:.3f} s) "
                         f"do not lie inside the master (0 to {media.duration_s:.3f} s)",
                         "give times inside the master, programme_start before programme_end")
    return Programme(start, min(end, media.duration_s) - start)


def check_submission(package_dir: str | Path, config: Config) -> Submission:
    package = find_package(package_dir)
    descriptive = load_descriptive(package.metadata_file, config.limits.max_metadata_bytes)
    asset_id = derive_asset_id(descriptive)
    media = probe(package.master, config.media.allowed_containers)
    check_master(media, config)
    programme = programme_of(descriptive, media, package.metadata_file)
    layout = resolve_layout(package.master, media, config, descriptive.audio_layout, programme)
    log.info("%s: %s, %.2f s, %dx%d @ %.3f fps, audio layout %s (from %s)", asset_id,
             package.master.name, media.duration_s, media.picture.width, media.picture.height,
             float(media.picture.fps), layout.name, layout.how)
    textless = textless_of(package, descriptive, media, (programme.start_s, programme.end_s), config)
    submission = Submission(package, descriptive, asset_id, media, layout, programme, textless=textless)
    for path in package.subtitle_files:
        _add_subtitles(submission, path, config)
    return submission


def _subtitle_clock(submission: Submission) -> str | None:
    """The timecode the subtitle files are timed from: metadata.yaml's subtitle_start_timecode,
    else the master's own start timecode."""
    given = submission.descriptive.subtitle_start_timecode
    if given and subtitles.timecode_ms(given, submission.fps) is None:
        raise MetadataError(submission.package.metadata_file, f"subtitle_start_timecode '{given[:20]}' "
                            f"is not a timecode at {submission.fps:g} fps",
                            "write it as HH:MM:SS:FF, e.g. 10:00:00:00")
    return given or submission.media.start_timecode


def resolve_layout(master: Path, media: MediaInfo, config: Config, requested: str | None,
                   programme: Programme) -> ResolvedLayout:
    """Metadata, titles and channel count (pipeline.audio.layouts); where they leave several
    layouts, the sound decides (pipeline.audio.evidence), or the package is refused."""
    try:
        return detect_layout(media.audio, config.layouts, requested, master.name)
    except AmbiguousLayoutError as ambiguous:
        with named_faults(master.parent, master):  # a master ffmpeg cannot decode is bad input
            return evidence.layout_from_signals(master, media.audio, ambiguous, config, start_s=programme.start_s,
                                                duration_s=programme.duration_s, demuxer=media.container)


def _add_subtitles(submission: Submission, path: Path, config: Config) -> None:
    language = subtitles.language_from_filename(path, submission.package.master.stem)
    if language in submission.subtitles or language in submission.subtitle_failures:
        raise SubtitleError(path, f"is a second subtitle file for language '{language}'",
                            "keep one subtitle file (.srt or .vtt) per language")
    programme_ms = round(submission.programme.duration_s * 1000)
    try:
        track = subtitles.read_subtitles(path, language, config.subtitles.max_srt_bytes, config.subtitles.max_cues)
        offset_ms, shifted = subtitles.programme_offset(
            track, round(submission.programme.start_s * 1000), programme_ms,
            round(submission.media.duration_s * 1000), _subtitle_clock(submission), submission.fps)
        track, moved = subtitles.retime(track, offset_ms, programme_ms)
    except subtitles.NoCueError as error:
        # Only this language fails; the clean master and the international version still render.
        submission.subtitle_failures[language] = f"{path.name}: {error.problem}; fix: {error.fix}"
        log.warning("%s: subtitles %s will not render: %s", submission.asset_id, language, error)
        return
    track = subtitles.snap_to_frames(track, submission.fps)
    findings = shifted + moved + subtitles.qc_subtitles(track, config.subtitles.rules, programme_ms, submission.fps)
    findings += missing_glyphs(track, font_for_track(track, config.subtitles.style.font_name,
                                                     config.subtitles.font_dirs))
    for finding in findings:
        log.warning("%s: subtitle QC: %s", submission.asset_id, finding.message)
    submission.subtitles[language] = track
    submission.subtitle_findings.extend(findings)

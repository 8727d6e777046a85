"""The render step: the one ffmpeg run for every encoded picture, then the stream-copy
deliverables, into the staging folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pipeline import subtitles
from pipeline.audio.loudness import GainPlan
from pipeline.config import Config
from pipeline.deliverables import Deliverable
from pipeline.files import ensure_free_space
from pipeline.intake.submission import Submission
from pipeline.media import ffmpeg, shots
from pipeline.media.faults import disk_full_as_error, named_faults
from pipeline.media.ffmpeg import Progress
from pipeline.media.timecode import timecode_args
from pipeline.parallel import SideBySide
from pipeline.render.commands import (
    RenderedSheet,
    RenderInputs,
    ShotBranch,
    build_render_command,
    picture_copy_blockers,
    prepare_work_dir,
    render_timeout,
    tracks_of,
)
from pipeline.render.conform import conform_notes, frame_size
from pipeline.render.outputs import bytes_per_second, soft_subtitle_key, subtitle_script_name
from pipeline.render.patches import INTRA_ENCODERS
from pipeline.render.sheet_frames import PLAYABLE, POSTER_AT, cue_midpoints, thumbnail_times
from pipeline.render.tags import audio_stream_tags, container_tags, metadata_args, subtitle_stream_tags

log = logging.getLogger(__name__)


class AnalysedSound(Protocol):
    """What the render takes of the audio analysis (pipeline.analysis.AudioAnalysis): the gain of
    every sound, and the sound the loudness trial already encoded (signal -> file)."""

    gain: GainPlan
    encoded_sound: dict[str, Path]


@dataclass
class Rendered:
    """What the render step made: deliverable key -> its file; and the contact sheets it cut from
    its own decode, by deliverable key (the files of pictures it did not encode have none)."""

    files: dict[str, Path]
    sheets: dict[str, RenderedSheet] = field(default_factory=dict)
    posters: dict[str, Path] = field(default_factory=dict)
    """Deliverable key -> the poster frame of its player, cut from the render's decode too."""


def estimate_output_bytes(submission: Submission, specs: list[Deliverable], config: Config) -> int:
    """About how much a render writes: each deliverable at a generous bit rate for its profile,
    plus, for each stream-copy version, the file of its sound kept in the work dir until muxed,
    and for each burned picture in an intra-only codec, its patch (at most the whole picture)
    kept until the file is put together."""
    per_second = 0.0
    for spec in specs:
        profile = config.profiles[spec.profile]
        channels = sum(2 if track is None else track.channels for track in tracks_of(spec))
        per_second += bytes_per_second(submission.media.picture, profile, channels)
        if spec.burns and profile.video_codec in INTRA_ENCODERS:
            per_second += bytes_per_second(submission.media.picture, profile, channels)
        if spec.picture in ("copy-clean", "copy-textless"):
            per_second += 48_000 if profile.audio.lossy else channels * profile.audio.sample_rate * 3
    return int(per_second * submission.programme.duration_s)


def _timecode_for(submission: Submission, spec: Deliverable, config: Config) -> list[str]:
    """Every output starts at the master's timecode plus the programme start (a tmcd track), as
    its own frame rate labels that instant (a frame rate conversion, pipeline.media.timecode)."""
    profile = config.profiles[spec.profile]
    if not profile.timecode:
        return []
    converted = profile.rate_conversion(submission.fps) is not None
    return timecode_args(submission.media.start_timecode, submission.programme.start_s, submission.fps,
                         profile.fixed_rate if converted else None)


def _metadata_for(submission: Submission, spec: Deliverable, config: Config) -> list[str]:
    profile = config.profiles[spec.profile]
    tags = container_tags(submission.descriptive, submission.asset_id, spec)
    return metadata_args(tags, audio_stream_tags(spec, mono=profile.audio.tracks == "mono"),
                         subtitle_stream_tags(spec))


@disk_full_as_error
def render_deliverables(submission: Submission, analysis: AnalysedSound, specs: list[Deliverable],
                        work_dir: Path, deliver_dir: Path, config: Config,
                        on_progress: Callable[[Progress], None] | None = None) -> Rendered:
    """The one ffmpeg run for every encoded picture (cutting their contact sheets too, into
    `work_dir`/sheets), then the stream-copy deliverables."""
    # ffmpeg runs inside the work dir (plain relative names in the filter graph): every other
    # path it is given must be absolute, or an `--out` relative to the caller lands nowhere.
    work_dir, deliver_dir = Path(work_dir).absolute(), Path(deliver_dir).absolute()
    ensure_free_space(deliver_dir, estimate_output_bytes(submission, specs, config) + config.limits.min_free_bytes)
    prepare_work_dir(work_dir, config.subtitles.font_dirs)
    soft_tracks, burned_cues = _write_subtitle_scripts(submission, specs, work_dir, config)
    (work_dir / "sheets").mkdir(exist_ok=True)
    metadata = {spec.key: _metadata_for(submission, spec, config) + _timecode_for(submission, spec, config)
                for spec in specs}
    encoded_sound = {label: path for label, path in analysis.encoded_sound.items() if path.exists()}
    render_plan = build_render_command(RenderInputs.of(submission), specs, analysis.gain, config, deliver_dir,
                                       submission.asset_id, metadata, subtitle_files=soft_tracks,
                                       sheet_times=_contact_sheet_times(submission, specs, config),
                                       encoded_sound=encoded_sound, shots=_shot_branch(config, work_dir, deliver_dir),
                                       sheet_folder=work_dir / "sheets",
                                       poster_times=_poster_times(submission, specs, config),
                                       burned_cues=burned_cues)
    _log_conform(submission, specs, config)
    for key, patch in render_plan.patches.items():
        log.info("%s: %s: picture encoded on the %d of about %d frames around its cues only; the rest is "
                 "its clean file's, by stream copy", submission.asset_id, key, patch.encoded, patch.frames)
    for listing, text in render_plan.concat_lists.items():
        listing.write_text(text, encoding="utf-8")
    with named_faults(deliver_dir, submission.package.master):
        ffmpeg.run(render_plan.command, limit=render_timeout(RenderInputs.of(submission), config, specs),
                   total_s=submission.programme.duration_s, on_progress=on_progress, cwd=work_dir, what="render")

    def mux(item: tuple[str, list[str]]) -> None:
        key, command = item
        with named_faults(deliver_dir):
            ffmpeg.run(command, limit=render_timeout(RenderInputs.of(submission), config), what=f"{key} mux")

    # the stream-copy files, side by side: each reads only files the render or, for the muxes,
    # the assemblies before them have finished
    for commands in (render_plan.assemblies, render_plan.mux_commands):
        with SideBySide(name="mux") as workers:
            workers.map(mux, commands.items())
    for used in [*render_plan.scratch_files, *encoded_sound.values()]:
        used.unlink(missing_ok=True)
    return Rendered(dict(render_plan.outputs), render_plan.sheets, render_plan.posters)


def _log_conform(submission: Submission, specs: list[Deliverable], config: Config) -> None:
    """What the conform does to this master in each profile, and whether a profile allowed to
    copy the master's picture does."""
    for name in dict.fromkeys(spec.profile for spec in specs):
        profile = config.profiles[name]
        for note in conform_notes(submission.media.picture, profile, config.conform.alpha_background):
            log.info("%s: conform (%s): %s", submission.asset_id, name, note)
        if profile.allow_stream_copy:
            blockers = picture_copy_blockers(RenderInputs.of(submission), profile)
            log.info("%s: master's picture in %s %s", submission.asset_id, name,
                     f"stream-copied (it meets the {name} profile)" if not blockers
                     else "encoded: " + "; ".join(blockers))


def _contact_sheet_times(submission: Submission, specs: list[Deliverable], config: Config) -> dict[str, list[float]]:
    """Where each deliverable's contact sheet shows its frames (pipeline.render.sheet_frames), in
    seconds of its file: the render cuts there the sheets of the pictures it encodes."""
    times = {}
    for spec in specs:
        speed = _speed(submission, spec, config)  # a sped-up file: earlier
        track = submission.subtitles.get(spec.subtitle_language) if spec.subtitle_language else None
        times[spec.key] = thumbnail_times(submission.programme.duration_s / speed, cue_midpoints(track, speed))
    return times


def _speed(submission: Submission, spec: Deliverable, config: Config) -> float:
    """How many times faster than the programme the deliverable's file plays (its profile's rate)."""
    return float(config.profiles[spec.profile].speed_factor(submission.fps))


def _poster_times(submission: Submission, specs: list[Deliverable], config: Config) -> dict[str, float]:
    """Where each player's poster frame is (POSTER_AT of its file, in its seconds): the files a
    browser plays (PLAYABLE)."""
    return {spec.key: POSTER_AT * submission.programme.duration_s / _speed(submission, spec, config)
            for spec in specs if spec.filename(submission.asset_id).endswith(PLAYABLE)}


def _write_subtitle_scripts(submission: Submission, specs: list[Deliverable], work_dir: Path,
                            config: Config) -> tuple[dict[str, Path], dict[str, list[tuple[int, int]]]]:
    """The ASS script of each burned language, and the SRT of each soft subtitle track (the
    frame-snapped cues in programme time), in the work dir. Returns language (`soft_subtitle_key`)
    -> SRT file, and script name -> the (start_ms, end_ms) of each cue it burns.
    A profile playing the programme faster (a speed conversion) burns a script of its own, its
    cue times scaled."""
    soft_tracks: dict[str, Path] = {}
    scripts: dict[str, list[tuple[int, int]]] = {}
    for spec in specs:
        if spec.subtitle_language is None:
            continue
        track = submission.subtitles[spec.subtitle_language]
        speed = config.profiles[spec.profile].speed_factor(submission.fps)
        script = subtitle_script_name(spec.burns, speed) if spec.burns else None
        if script and script not in scripts:
            # one script per language and speed, sized for the first profile burning it (libass
            # scales it to every other picture, which has the same display aspect)
            played = track.played_faster(float(speed))
            scripts[script] = [(cue.start_ms, cue.end_ms) for cue in played.cues]
            size = frame_size(submission.media.picture, config.profiles[spec.profile])
            subtitles.write_ass(played, work_dir / script,
                                config.subtitles.style, size[0], size[1], config.subtitles.rules.max_lines,
                                config.subtitles.font_dirs)
        if spec.soft_subtitles:
            key = soft_subtitle_key(spec.subtitle_language, speed)
            soft_tracks[key] = work_dir / f"subtitles-{key}.srt"
            subtitles.write_srt(track.played_faster(float(speed)), soft_tracks[key])
    return soft_tracks, scripts


def _shot_branch(config: Config, work_dir: Path, deliver_dir: Path) -> ShotBranch | None:
    """The shot list found on the render's own decode (pipeline.media.shots reads it back), when
    the list is wanted. Its times go to a file named relative to ffmpeg's working directory, so
    the filter graph holds no path of this machine."""
    settings = config.shots
    if not settings.enabled:
        return None
    folder = shots.render_detection_dir(deliver_dir)
    folder.mkdir(exist_ok=True)
    times = os.path.relpath(folder / shots.CUTS_FILE, work_dir)
    return ShotBranch(shots.detection_filter(settings.method, settings.threshold_of_method, settings.width,
                                             print_to=times), folder / shots.THUMBNAIL_PATTERN)

"""The render step: the one ffmpeg run for every encoded picture, then the stream-copy
deliverables, into the staging folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from pipeline import subtitles
from pipeline.audio.analysis import AudioAnalysis
from pipeline.config import Config
from pipeline.deliverables import Deliverable, clean_picture_in, clean_picture_of
from pipeline.delivery import report
from pipeline.delivery.publish import ensure_free_space
from pipeline.intake.submission import Submission
from pipeline.media import ffmpeg, shots
from pipeline.media.faults import disk_full_as_error, named_faults
from pipeline.media.ffmpeg import Progress
from pipeline.media.timecode import timecode_args
from pipeline.render.commands import (
    RenderInputs,
    ShotBranch,
    build_copy_command,
    build_render_command,
    picture_copy_blockers,
    prepare_work_dir,
    render_timeout,
)
from pipeline.render.conform import conform_notes, delivery_size
from pipeline.render.profiles import build_profile_copy_command, profile_bytes_per_second
from pipeline.render.tags import audio_stream_tags, container_tags, metadata_args, subtitle_stream_tags

log = logging.getLogger(__name__)



# Bits per pixel of an encoded picture, on the high side, for the free-space estimate.
_BITS_PER_PIXEL = {"libx264": 0.3, "prores_ks": 4.0}


def estimate_output_bytes(submission: Submission, specs: list[Deliverable], config: Config) -> int:
    """About how much a render writes: each media deliverable at a generous bit rate for its
    codec and size, plus the M&E audio kept in the work dir until the international mux."""
    profile = config.delivery
    width, height = _delivery_size(submission, config)
    picture = width * height * submission.fps * _BITS_PER_PIXEL.get(profile.video_codec, 4.0) / 8
    audio = profile.sample_rate * 2 * 3 if profile.audio_codec.startswith("pcm") else 48_000
    web = [spec for spec in specs if spec.profile == "web"]
    per_second = len(web) * (picture + audio) + audio
    per_second += sum(profile_bytes_per_second(submission.media.picture, config.profiles[spec.profile])
                      for spec in specs if spec.profile != "web")
    return int(per_second * submission.programme.duration_s)



def _metadata_for(submission: Submission, spec: Deliverable) -> list[str]:
    tags = container_tags(submission.descriptive, submission.asset_id, spec)
    return metadata_args(tags, audio_stream_tags(spec), subtitle_stream_tags(spec))


@disk_full_as_error
def render_deliverables(submission: Submission, analysis: AudioAnalysis, specs: list[Deliverable],
                        work_dir: Path, deliver_dir: Path, config: Config,
                        on_progress: Callable[[Progress], None] | None = None) -> dict[str, Path]:
    """The one ffmpeg run for every encoded picture, then the stream-copy deliverables."""
    # ffmpeg runs inside the work dir (plain relative names in the filter graph): every other
    # path it is given must be absolute, or an `--out` relative to the caller lands nowhere.
    work_dir, deliver_dir = Path(work_dir).absolute(), Path(deliver_dir).absolute()
    ensure_free_space(deliver_dir, estimate_output_bytes(submission, specs, config) + config.limits.min_free_bytes)
    prepare_work_dir(work_dir)
    soft_tracks = _write_subtitle_scripts(submission, specs, work_dir, config)
    # Every output starts at the master's timecode plus the programme start (a tmcd track).
    timecode = timecode_args(submission.media.start_timecode, submission.programme.start_s, submission.fps)
    metadata = {spec.key: _metadata_for(submission, spec)
                + (timecode if spec.profile == "web" or config.profiles[spec.profile].timecode else [])
                for spec in specs}
    encoded_sound = {label: path for label, path in analysis.encoded_sound.items() if path.exists()}
    render_plan = build_render_command(RenderInputs.of(submission), specs, analysis.gain, config, deliver_dir,
                                       submission.asset_id, metadata, subtitle_files=soft_tracks,
                                       keyframes=_contact_sheet_times(submission, specs),
                                       encoded_sound=encoded_sound, shots=_shot_branch(config, work_dir, deliver_dir))
    for note in conform_notes(submission.media.picture, config.delivery):
        log.info("%s: conform: %s", submission.asset_id, note)
    if config.delivery.allow_stream_copy:
        blockers = picture_copy_blockers(RenderInputs.of(submission), config.delivery)
        log.info("%s: master's picture %s", submission.asset_id,
                 "stream-copied (it meets the delivery profile)" if not blockers
                 else "encoded: " + "; ".join(blockers))
    with named_faults(deliver_dir, submission.package.master):
        ffmpeg.run(render_plan.command, limit=render_timeout(RenderInputs.of(submission), config, specs),
                   total_s=submission.programme.duration_s, on_progress=on_progress, cwd=work_dir, what="render")
    outputs = dict(render_plan.outputs)
    for key, command in render_plan.mux_commands.items():  # a picture another profile's file has
        with named_faults(deliver_dir):
            ffmpeg.run(command, limit=render_timeout(RenderInputs.of(submission), config),
                       what=f"{key} mux")
        outputs[key] = Path(command[-1])
    for scratch in render_plan.scratch_files:
        scratch.unlink(missing_ok=True)
    clean = clean_picture_of(specs)
    for spec in specs:
        if spec.picture == "copy-clean" and spec.profile == "web" and spec.key not in outputs and clean is not None:
            # else copied from the master in the render itself
            path = deliver_dir / spec.filename(submission.asset_id, config.delivery.container)
            sound = render_plan.sound_files.get(spec.sound.signal, outputs[clean.key])
            command = build_copy_command(outputs[clean.key], sound, path, metadata[spec.key],
                                         subtitle_source=soft_tracks.get(spec.subtitle_language or "")
                                         if spec.soft_subtitles else None)
            with named_faults(deliver_dir):
                ffmpeg.run(command, limit=render_timeout(RenderInputs.of(submission), config),
                           what=f"{spec.key} mux")
            outputs[spec.key] = path
    outputs |= _profile_copies(submission, specs, outputs, deliver_dir, config, metadata, soft_tracks)
    for used in [*render_plan.sound_files.values(), *encoded_sound.values()]:
        used.unlink(missing_ok=True)
    return outputs


def _profile_copies(submission: Submission, specs: list[Deliverable], outputs: dict[str, Path],
                    deliver_dir: Path, config: Config, metadata: dict[str, list[str]],
                    soft_tracks: dict[str, Path]) -> dict[str, Path]:
    """The stream-copy versions of the profiles beside web: their profile's clean file whole
    (picture and every track: a profile's track allocation is the same for every version),
    their own tags, and a soft subtitle track where the profile carries one."""
    made: dict[str, Path] = {}
    for spec in specs:
        clean = clean_picture_in(specs, spec.profile)
        if spec.profile == "web" or spec.picture != "copy-clean" or clean is None or clean.key not in outputs:
            continue
        profile = config.profiles[spec.profile]
        path = deliver_dir / spec.filename(submission.asset_id, profile.container)
        subtitle = soft_tracks.get(spec.subtitle_language or "") if spec.soft_subtitles else None
        command = build_profile_copy_command(outputs[clean.key], path, metadata[spec.key], profile, subtitle)
        with named_faults(deliver_dir):
            ffmpeg.run(command, limit=render_timeout(RenderInputs.of(submission), config),
                       what=f"{spec.key} mux")
        made[spec.key] = path
    return made


def _contact_sheet_times(submission: Submission, specs: list[Deliverable]) -> dict[str, list[float]]:
    """Where the QC report will cut each deliverable's frames (pipeline.delivery.report), for the render to
    make them keyframes: cutting a frame then decodes that frame, not everything since the
    keyframe before (up to 10 s of picture at x264's default keyint). Without this, the report's
    frames cost a tenth of the render's CPU on a 1080p minute."""
    times = {}
    for spec in specs:
        track = submission.subtitles.get(spec.subtitle_language) if spec.subtitle_language else None
        cues = [(cue.start_ms + cue.end_ms) / 2000 for cue in track.cues] if track else []
        times[spec.key] = report.thumbnail_times(submission.programme.duration_s, cues)
    return times


def _write_subtitle_scripts(submission: Submission, specs: list[Deliverable], work_dir: Path,
                            config: Config) -> dict[str, Path]:
    """The ASS script of each burned language, and the SRT of each soft subtitle track (the
    frame-snapped cues in programme time), in the work dir. Returns language -> SRT file."""
    soft_tracks: dict[str, Path] = {}
    for spec in specs:
        if spec.subtitle_language is None:
            continue
        track = submission.subtitles[spec.subtitle_language]
        if spec.burns:
            size = _delivery_size(submission, config)
            subtitles.write_ass(track, work_dir / f"subtitles-{spec.subtitle_language}.ass",
                                config.subtitles.style, size[0], size[1], config.subtitles.rules.max_lines)
        if spec.soft_subtitles:
            soft_tracks[spec.subtitle_language] = work_dir / f"subtitles-{spec.subtitle_language}.srt"
            subtitles.write_srt(track, soft_tracks[spec.subtitle_language])
    return soft_tracks


def _delivery_size(submission: Submission, config: Config) -> tuple[int, int]:
    return delivery_size(submission.media.picture, config.delivery)


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

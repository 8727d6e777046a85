"""The steps from a checked package to a published delivery folder, and `render_package`, which
runs them in order for callers without Prefect (the flow runs the same steps as tasks)."""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import math
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import av

from . import __version__, audio_checks, ebucore, ffmpeg, loudness, qc, report, sidecar_schema, subtitles, sync
from .audio_checks import MEReport
from .config import Config
from .deliverables import DeliverableSpec, plan_deliverables
from .errors import DeliverableError, FFmpegError, MediaError
from .ffmpeg import Progress
from .layouts import me_source, routing_graph
from .loudness import GainPlan
from .probe import MediaInfo, probe
from .publish import disk_full, ensure_free_space, publish_folder, sha256_of, write_checksums, write_json
from .render import (RenderInputs, build_copy_command, build_render_command, picture_copy_blockers,
                     prepare_work_dir, render_timeout)
from .submission import Submission, check_submission
from .tags import AUDIO_ROLES, audio_stream_tags, container_tags, metadata_args, subtitle_stream_tags

log = logging.getLogger(__name__)


@dataclass
class AudioAnalysis:
    gain: GainPlan
    me_report: MEReport | None
    subtitle_sync: list[sync.SyncEstimate] = field(default_factory=list)
    """Each language's cue timing against the speech in the sound (pipeline.sync)."""
    encoded_sound: dict[str, Path] = field(default_factory=dict)
    """"mix" / "me" -> the sound as the accepted loudness trial encoded it: the render copies it
    into every deliverable instead of encoding the same sound once per deliverable. The files
    live in a temporary folder removed with this object (or by the render, once used)."""
    sound_digests: dict[str, str] = field(default_factory=dict)
    """"mix" / "me" -> sha256 of the audio packets of `encoded_sound`, whose loudness the trial
    measured (`gain.trial`): an output with the same packets needs no measuring again."""


@dataclass
class DeliverableResult:
    key: str
    state: str  # "delivered" | "failed"
    file: str | None = None
    reason: str | None = None
    technical: dict = field(default_factory=dict)
    loudness: dict = field(default_factory=dict)
    seconds: float = 0.0
    qc: list[dict] = field(default_factory=list)
    """QC findings of this deliverable (pipeline.qc.QCFinding.to_dict()), set before publishing."""
    short_term: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """The short-term loudness curve, for the QC report only: too long for the JSON sidecar."""

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, "") and k != "short_term"}


@dataclass
class RenderReport:
    asset_id: str
    folder: Path
    deliverables: list[DeliverableResult]
    metadata_file: Path

    @property
    def failed(self) -> list[DeliverableResult]:
        return [item for item in self.deliverables if item.state != "delivered"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _inputs(submission: Submission) -> RenderInputs:
    return RenderInputs(submission.package.master, submission.media.video, submission.layout.roles,
                        submission.media.audio, submission.programme.start_s, submission.programme.duration_s,
                        demuxer=submission.media.container, master_duration_s=submission.media.duration_s)


@contextmanager
def _named_faults(folder: Path, master: Path | None = None) -> Iterator[None]:
    """What ffmpeg or the system says about the master or the disk, as the project's own errors:
    a damaged master is bad input (quarantine, never retry); a full disk may pass on a later run."""
    try:
        yield
    except FFmpegError as error:
        damage = ffmpeg.damaged_input(error) if master is not None else None
        if damage:
            raise MediaError(master, f"is damaged: ffmpeg cannot decode it ({damage})",
                             "export the master again from the edit suite and submit it again") from None
        if ffmpeg.ran_out_of_space(error):
            raise disk_full(folder) from error
        raise
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise disk_full(folder) from error
        raise


def _disk_full_as_error(step: Callable) -> Callable:
    """A step that writes files: a full disk becomes DiskFullError with its free-space figure."""
    @functools.wraps(step)
    def guarded(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise disk_full(Path(error.filename or ".")) from error
    return guarded


# Bits per pixel of an encoded picture, on the high side, for the free-space estimate.
_BITS_PER_PIXEL = {"libx264": 0.3, "prores_ks": 4.0}


def estimate_output_bytes(submission: Submission, specs: list[DeliverableSpec], config: Config) -> int:
    """About how much a render writes: each media deliverable at a generous bit rate for its
    codec and size, plus the M&E audio kept in the work dir until the international mux."""
    profile = config.delivery
    width, height = _delivery_size(submission, config)
    picture = width * height * submission.fps * _BITS_PER_PIXEL.get(profile.video_codec, 4.0) / 8
    audio = profile.sample_rate * 2 * 3 if profile.audio_codec.startswith("pcm") else 48_000
    per_second = len(specs) * (picture + audio) + audio
    return int(per_second * submission.programme.duration_s)


def analyse_audio(submission: Submission, config: Config) -> AudioAnalysis:
    """Audio-only passes: the loudness of the mix and the M&E, the gain (and limiter) that bring
    the mix to target, confirmed on a trial encode of the sound (pipeline/loudness.py), and the
    M&E checks. The accepted trial's files are the delivery's sound: kept for the render to copy
    (`AudioAnalysis.encoded_sound`), in a temporary folder that goes with the analysis."""
    sound_folder = Path(tempfile.mkdtemp(prefix="versioner-sound-"))
    try:
        analysis = _analyse_audio(submission, config, sound_folder)
    except BaseException:
        shutil.rmtree(sound_folder, ignore_errors=True)
        raise
    weakref.finalize(analysis, shutil.rmtree, str(sound_folder), True)
    return analysis


def _analyse_audio(submission: Submission, config: Config, sound_folder: Path) -> AudioAnalysis:
    inputs = _inputs(submission)
    timeout = render_timeout(inputs.duration_s, config)
    with _named_faults(inputs.master.parent, inputs.master):
        gain, encoded_sound = _plan_loudness(inputs, config, timeout, sound_folder)
        report = audio_checks.check_me(inputs.master, inputs.audio_streams, inputs.roles, config.audio_checks,
                                       timeout_s=timeout, seek_s=inputs.start_s, duration_s=inputs.duration_s,
                                       demuxer=inputs.demuxer, sample_rate=config.delivery.sample_rate)
    for check in report.checks if report else []:
        (log.info if check.passed else log.warning)("%s: M&E check %s: %s", submission.asset_id, check.name, check.message)
    digests = {label: sound_digest(path) for label, path in encoded_sound.items()}
    return AudioAnalysis(gain, report, check_subtitle_sync(submission, config), encoded_sound, digests)


def _plan_loudness(inputs: RenderInputs, config: Config, timeout: float,
                   sound_folder: Path) -> tuple[GainPlan, dict[str, Path]]:
    """The gain plan, and the files of the trial encode that confirmed it (in `sound_folder`;
    none when no trial ran, or when the plan changed after the last one)."""
    signals = {"mix": "mix"} | ({"me": "me"} if me_source(inputs.roles) else {})
    graph = routing_graph(inputs.audio_streams, inputs.roles, signals, config.delivery.sample_rate)
    command = loudness.measure_signals_command(inputs.master, graph, list(signals), inputs.start_s,
                                               inputs.duration_s, demuxer=inputs.demuxer)
    measured = loudness.measure_signals(command, list(signals), timeout)
    plan = loudness.plan_gain(measured["mix"], config.loudness, measured.get("me"), config.delivery.sample_rate)
    suffix = ".m4a" if config.delivery.audio_codec == "aac" else ".mov"
    files = {label: sound_folder / f"{label}{suffix}" for label in signals}
    tried: list[list[str]] = []  # the gain chain of each trial, in order

    def trial(candidate: GainPlan) -> dict[str, loudness.Loudness]:
        tried.append(candidate.filters())
        return _trial_encode(inputs, graph, files, candidate, config, timeout)

    plan = loudness.settle_plan(plan, config.loudness, trial,
                                lossy_codec=not config.delivery.audio_codec.startswith("pcm"))
    return plan, files if tried and tried[-1] == plan.filters() else {}


def _trial_encode(inputs: RenderInputs, graph: list[str], outputs: dict[str, Path], gain: GainPlan,
                  config: Config, timeout: float) -> dict[str, loudness.Loudness]:
    """The planned sound (label -> file) encoded exactly as the render would encode it (audio
    only), measured."""
    from .render import _audio_codec_args  # the render's own codec arguments, so the trial matches it

    command = loudness.trial_command(inputs.master, graph, gain, _audio_codec_args(config.delivery), outputs,
                                     inputs.start_s, inputs.duration_s, demuxer=inputs.demuxer)
    ffmpeg.run(command, timeout_s=timeout, what="loudness trial encode")
    return dict(zip(outputs, loudness.measure_files(list(outputs.values()), timeout_s=timeout)))


def check_subtitle_sync(submission: Submission, config: Config) -> list[sync.SyncEstimate]:
    """An audio-only pass: the speech of the dialogue stem (else the mix) against every
    language's cues; an offset beyond `subtitles.rules.sync_warning_s` is a warning."""
    inputs = _inputs(submission)
    listen_to = sync.speech_source(inputs.roles, inputs.audio_streams, config.delivery.sample_rate)
    if not submission.subtitles or listen_to is None:
        return []
    graph, label, source = listen_to
    command = sync.speech_command(inputs.master, graph, label, inputs.start_s, inputs.duration_s,
                                  demuxer=inputs.demuxer)
    with _named_faults(inputs.master.parent, inputs.master):
        speech = sync.measure_speech(command, source, render_timeout(inputs.duration_s, config))
    return sync.check_sync(submission.subtitles, speech, config.subtitles.rules, submission.asset_id)


def plan(submission: Submission, analysis: AudioAnalysis, config: Config) -> tuple[list[DeliverableSpec], dict[str, str]]:
    specs, failures = plan_deliverables(submission, config)
    if analysis.me_report is not None and not analysis.me_report.passed:
        reasons = "; ".join(check.message for check in analysis.me_report.failures())
        failures["international"] = reasons
        specs = [spec for spec in specs if spec.audio != "me"]
    return specs, failures


def _metadata_for(submission: Submission, spec: DeliverableSpec) -> list[str]:
    tags = container_tags(submission.descriptive, submission.asset_id, spec)
    return metadata_args(tags, audio_stream_tags(spec), subtitle_stream_tags(spec))


@_disk_full_as_error
def render_deliverables(submission: Submission, analysis: AudioAnalysis, specs: list[DeliverableSpec],
                        work_dir: Path, deliver_dir: Path, config: Config,
                        on_progress: Callable[[Progress], None] | None = None) -> dict[str, Path]:
    """The one ffmpeg run for every encoded picture, then the stream-copy deliverables."""
    # ffmpeg runs inside the work dir (plain relative names in the filter graph): every other
    # path it is given must be absolute, or an `--out` relative to the caller lands nowhere.
    work_dir, deliver_dir = Path(work_dir).absolute(), Path(deliver_dir).absolute()
    ensure_free_space(deliver_dir, estimate_output_bytes(submission, specs, config) + config.limits.min_free_bytes)
    prepare_work_dir(work_dir)
    soft_tracks = _write_subtitle_scripts(submission, specs, work_dir, config)
    metadata = {spec.key: _metadata_for(submission, spec) for spec in specs}
    encoded_sound = {label: path for label, path in analysis.encoded_sound.items() if path.exists()}
    render_plan = build_render_command(_inputs(submission), specs, analysis.gain, config, deliver_dir,
                                       submission.asset_id, metadata, subtitle_files=soft_tracks,
                                       keyframes=_contact_sheet_times(submission, specs),
                                       encoded_sound=encoded_sound)
    if config.delivery.allow_stream_copy:
        blockers = picture_copy_blockers(_inputs(submission), config.delivery)
        log.info("%s: master's picture %s", submission.asset_id,
                 "stream-copied (it meets the delivery profile)" if not blockers
                 else "encoded: " + "; ".join(blockers))
    with _named_faults(deliver_dir, submission.package.master):
        ffmpeg.run(render_plan.command, timeout_s=render_timeout(submission.programme.duration_s, config),
                   total_s=submission.programme.duration_s, on_progress=on_progress, cwd=work_dir, what="render")
    outputs = dict(render_plan.outputs)
    for spec in specs:
        if spec.picture == "copy-clean" and spec.key not in outputs:  # else copied from the master
            path = deliver_dir / spec.filename(submission.asset_id, config.delivery.container)
            sound = render_plan.me_audio if spec.audio == "me" else outputs["master-clean"]
            command = build_copy_command(outputs["master-clean"], sound, path, metadata[spec.key],
                                         subtitle_source=soft_tracks.get(spec.subtitle_language)
                                         if spec.soft_subtitles else None)
            with _named_faults(deliver_dir):
                ffmpeg.run(command, timeout_s=render_timeout(submission.programme.duration_s, config) / 4,
                           what=f"{spec.key} mux")
            outputs[spec.key] = path
    for used in [render_plan.me_audio, *encoded_sound.values()]:
        if used is not None:
            used.unlink(missing_ok=True)
    return outputs


def _contact_sheet_times(submission: Submission, specs: list[DeliverableSpec]) -> dict[str, list[float]]:
    """Where the QC report will cut each deliverable's frames (pipeline.report), for the render to
    make them keyframes: cutting a frame then decodes that frame, not everything since the
    keyframe before (up to 10 s of picture at x264's default keyint). Without this, the report's
    frames cost a tenth of the render's CPU on a 1080p minute."""
    times = {}
    for spec in specs:
        track = submission.subtitles.get(spec.key.removeprefix("subtitled-")) if spec.subtitle_language else None
        cues = [(cue.start_ms + cue.end_ms) / 2000 for cue in track.cues] if track else []
        times[spec.key] = report.thumbnail_times(submission.programme.duration_s, cues)
    return times


def _write_subtitle_scripts(submission: Submission, specs: list[DeliverableSpec], work_dir: Path,
                            config: Config) -> dict[str, Path]:
    """The ASS script of each burned language, and the SRT of each soft subtitle track (the
    frame-snapped cues in programme time), in the work dir. Returns language -> SRT file."""
    soft_tracks: dict[str, Path] = {}
    for spec in specs:
        if spec.subtitle_language is None:
            continue
        track = submission.subtitles[spec.subtitle_language]
        if spec.picture == "burn":
            size = _delivery_size(submission, config)
            subtitles.write_ass(track, work_dir / f"subtitles-{spec.subtitle_language}.ass",
                                config.subtitles.style, size[0], size[1], config.subtitles.rules.max_lines)
        if spec.soft_subtitles:
            soft_tracks[spec.subtitle_language] = work_dir / f"subtitles-{spec.subtitle_language}.srt"
            subtitles.write_srt(track, soft_tracks[spec.subtitle_language])
    return soft_tracks


def _delivery_size(submission: Submission, config: Config) -> tuple[int, int]:
    from .render import scaled_size

    video = submission.media.video
    return scaled_size(video, config.delivery) or (video.width, video.height)


def verify_outputs(submission: Submission, outputs: dict[str, Path], config: Config,
                   analysis: AudioAnalysis | None = None) -> list[DeliverableResult]:
    """Read every finished output back. Their loudness: where an output's sound is, packet for
    packet, what the loudness trial encoded and measured (the render copies it in), that
    measurement; the others measured in one audio-only ffmpeg run (not one per file)."""
    known = _known_loudness(outputs, analysis)
    unknown = {key: path for key, path in outputs.items() if key not in known}
    timeout = render_timeout(submission.programme.duration_s, config)
    if unknown:
        known |= dict(zip(unknown, loudness.measure_files(list(unknown.values()), timeout_s=timeout)))
    return [verify_output(submission, key, path, config, measured=known[key]) for key, path in outputs.items()]


def _known_loudness(outputs: dict[str, Path], analysis: AudioAnalysis | None) -> dict[str, loudness.Loudness]:
    if analysis is None or not analysis.sound_digests:
        return {}
    by_digest = {digest: analysis.gain.trial[label] for label, digest in analysis.sound_digests.items()
                 if label in analysis.gain.trial}
    digests = {key: sound_digest(path) for key, path in outputs.items()}
    return {key: by_digest[digest] for key, digest in digests.items() if digest in by_digest}


def sound_digest(path: Path) -> str | None:
    """sha256 of the packets of a file's first audio stream (None without one): equal digests,
    the same encoded sound bit for bit. Reads packets only, decodes nothing."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        for packet in container.demux(container.streams.audio[0]):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def verify_output(submission: Submission, key: str, path: Path, config: Config,
                  measured: loudness.Loudness | None = None) -> DeliverableResult:
    """Read a finished output back: it must have its streams and the programme's duration.
    `measured`: its loudness when already measured (`verify_outputs`)."""
    info = probe(path)
    frame = submission.media.video.frame_s
    problems = []
    if info.video is None or not info.audio:
        problems.append("missing its video or audio stream")
    if abs(info.duration_s - submission.programme.duration_s) > frame * 1.5:
        problems.append(f"lasts {info.duration_s:.3f} s instead of {submission.programme.duration_s:.3f} s")
    if measured is None:
        measured = loudness.measure_file(path, timeout_s=render_timeout(info.duration_s, config))
    technical = technical_facts(path, info)
    state, reason = ("failed", "; ".join(problems)) if problems else ("delivered", None)
    return DeliverableResult(key, state, path.name, reason, technical, measured.to_dict(),
                             short_term=measured.short_term)


CHANNEL_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def technical_facts(path: Path, info: MediaInfo) -> dict:
    """What an output is, read back from the file itself, for the sidecar and the QC report."""
    audio = [stream.__dict__ | {"channel_layout": CHANNEL_LAYOUTS.get(stream.channels, f"{stream.channels} channels"),
                                "roles": AUDIO_ROLES.get(stream.title, [])}
             for stream in info.audio]
    return {"container": path.suffix.lstrip("."), "format": info.container, "size_bytes": path.stat().st_size,
            "duration_s": round(info.duration_s, 3), "sha256": sha256_of(path),
            "video": info.to_dict()["video"], "audio": audio, "subtitle_streams": info.subtitle_streams}


def write_subtitle_sidecars(submission: Submission, deliver_dir: Path) -> list[str]:
    written = []
    for language, track in sorted(submission.subtitles.items()):
        for suffix, writer in ((".srt", subtitles.write_srt), (".vtt", subtitles.write_vtt)):
            path = deliver_dir / f"{submission.asset_id}.{language}{suffix}"
            writer(track, path)
            written.append(path.name)
    return written


def sidecar_document(submission: Submission, analysis: AudioAnalysis, results: list[DeliverableResult],
                     config: Config, started: datetime, run_id: str | None) -> dict:
    source_sha256 = sha256_of(submission.package.master)  # once: a master can be tens of GB
    deliverables = [_finite(result.to_dict()) for result in results]
    return _finite({
        "asset_id": submission.asset_id,
        "descriptive": submission.descriptive.to_json_dict(),
        "source": {"master": submission.package.master.name, "sha256": source_sha256,
                   "technical": submission.media.to_dict() | {"path": submission.package.master.name},
                   "audio_layout": {"name": submission.layout.name, "detected_by": submission.layout.how,
                                    "channels": submission.layout.roles},
                   "programme": {"start_s": submission.programme.start_s,
                                 "duration_s": submission.programme.duration_s}},
        "deliverables": deliverables,
        "qc": {"verdict": qc.verdict_of(deliverables),
               "loudness": {"standard": config.loudness.standard, "target_lufs": config.loudness.target_lufs,
                            "tolerance_lu": config.loudness.tolerance_lu,
                            "true_peak_dbtp": config.loudness.true_peak_dbtp,
                            "source": analysis.gain.measured.to_dict(),
                            "gain_db": analysis.gain.gain_db, "limiter": analysis.gain.limit},
               "me_checks": analysis.me_report.to_dict() if analysis.me_report else None,
               "subtitles": [finding.to_dict() for finding in submission.subtitle_findings],
               "subtitle_sync": [estimate.to_dict() for estimate in analysis.subtitle_sync]},
        "sidecars": {"subtitles": sorted(submission.subtitles),
                     "qc_report": report.filename(submission.asset_id),
                     "ebucore": ebucore.filename(submission.asset_id)},
        "provenance": {"source_sha256": source_sha256, "config_hash": config.digest(),
                       # names only: the folders of the machine that rendered are nobody's business
                       "config_files": [Path(source).name for source in config.source],
                       "pipeline_version": __version__,
                       "ffmpeg_version": ffmpeg.capabilities().version, "flow_run_id": run_id,
                       "started": started.isoformat(), "finished": datetime.now(timezone.utc).isoformat()},
    })


def _finite(data):
    """`data` with -inf / nan (the loudness of silence) as null: JSON has no infinity, and
    `json.dumps` would write `-Infinity`, which strict readers (a browser's JSON.parse) refuse."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data


def render_package(package_dir: str | Path, out_dir: str | Path, config: Config,
                   on_progress: Callable[[Progress], None] | None = None,
                   run_id: str | None = None) -> RenderReport:
    """Check, analyse, render, verify and publish one package; `out_dir/<asset_id>/` appears whole."""
    started = datetime.now(timezone.utc)
    submission = check_submission(package_dir, config)
    analysis = analyse_audio(submission, config)
    specs, failures = plan(submission, analysis, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".work-{submission.asset_id}-", dir=out_dir))
    try:
        deliver_dir = work_dir / "deliver"
        deliver_dir.mkdir()
        return _render_and_publish(submission, analysis, specs, failures, work_dir, deliver_dir,
                                   out_dir, config, on_progress, started, run_id)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _render_and_publish(submission, analysis, specs, failures, work_dir, deliver_dir, out_dir, config,
                        on_progress, started, run_id) -> RenderReport:
    begun = time.monotonic()
    outputs = render_deliverables(submission, analysis, specs, work_dir / "tmp", deliver_dir, config, on_progress)
    results = verify_outputs(submission, outputs, config, analysis)
    for result in results:
        result.seconds = round(time.monotonic() - begun, 2)
    results += [DeliverableResult(key, "failed", reason=reason) for key, reason in failures.items()]
    return finish_delivery(submission, analysis, results, deliver_dir, out_dir, config, started, run_id)


def deliverable_findings(submission: Submission, analysis: AudioAnalysis, result: DeliverableResult,
                         config: Config) -> list[qc.QCFinding]:
    """What a technician must look at for one deliverable (pipeline.qc explains the severities)."""
    findings = []
    if result.state != "delivered":
        findings.append(qc.QCFinding("delivery", "error", f"not delivered: {result.reason}"))
    if result.key == "international":
        findings += qc.me_findings(analysis.me_report)
    if result.key.startswith("subtitled-"):
        sync_findings = [estimate.finding for estimate in analysis.subtitle_sync if estimate.finding]
        findings += qc.subtitle_findings(result.key.removeprefix("subtitled-"),
                                         submission.subtitle_findings + sync_findings)
    if result.state == "delivered":
        findings += qc.loudness_findings(result.technical, result.loudness, config.loudness)
    return findings


@_disk_full_as_error
def finish_delivery(submission, analysis, results, deliver_dir: Path, out_dir: Path, config: Config,
                    started: datetime, run_id: str | None) -> RenderReport:
    """Sidecars, checksums, and the one rename that makes the delivery visible."""
    for result in results:
        if result.state == "delivered" and not (deliver_dir / result.file).exists():
            raise DeliverableError(result.key, "output vanished before publishing")
        if result.state != "delivered" and result.file:
            (deliver_dir / result.file).unlink(missing_ok=True)  # only verified files are published
            result.file = None
    write_subtitle_sidecars(submission, deliver_dir)
    for result in results:
        result.qc = [finding.to_dict() for finding in deliverable_findings(submission, analysis, result, config)]
    document = sidecar_document(submission, analysis, results, config, started, run_id)
    sidecar_schema.validate_sidecar(document)  # a violation is a bug: raise before anything is published
    metadata_file = deliver_dir / f"{submission.asset_id}_metadata.json"
    write_json(metadata_file, document)
    ebucore.write_ebucore(deliver_dir / ebucore.filename(submission.asset_id), document)
    report.write_report(deliver_dir / report.filename(submission.asset_id), submission, analysis, results,
                        document, config)
    write_checksums(deliver_dir)
    folder = publish_folder(deliver_dir, out_dir / submission.asset_id)
    for result in results:
        if result.state != "delivered":
            log.error("%s: %s not delivered: %s", submission.asset_id, result.key, result.reason)
    return RenderReport(submission.asset_id, folder, results, folder / metadata_file.name)

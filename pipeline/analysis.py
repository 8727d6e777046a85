"""The audio-only passes before the render: loudness of every sound, the one gain (confirmed
on a trial encode with the delivery's own codec), the M&E checks and the subtitle sync check."""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.audio import loudness, profile_gains, sound_checks
from pipeline.audio import me_checks as audio_checks
from pipeline.audio.encoding import audio_codec_args, sound_file_suffix
from pipeline.audio.layouts import routing_graph
from pipeline.audio.loudness import GainPlan
from pipeline.audio.me_checks import MEReport
from pipeline.config import Config, LoudnessConfig, OutputProfile
from pipeline.deliverables import Sound, plan_deliverables
from pipeline.intake.submission import Submission
from pipeline.media import ffmpeg
from pipeline.media.faults import named_faults
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.probe import sound_digest
from pipeline.parallel import SideBySide
from pipeline.render.commands import RenderInputs, render_timeout
from pipeline.subtitles import sync

log = logging.getLogger(__name__)

PCM_TRIAL = OutputProfile(container="mov", video_codec="prores_ks", video_profile="hq", pix_fmt="yuv422p10le")
"""Where no profile in use has a lossy sound, a limiter's trial (if any) is PCM, as delivered."""


@dataclass
class AudioAnalysis:
    gain: GainPlan
    me_report: MEReport | None
    subtitle_sync: list[sync.SyncEstimate] = field(default_factory=list)
    """Each language's cue timing against the speech in the sound (pipeline.subtitles.sync)."""
    encoded_sound: dict[str, Path] = field(default_factory=dict)
    """Signal -> the sound as the accepted loudness trial encoded it: the render copies it
    into every deliverable instead of encoding the same sound once per deliverable. The files
    live in a temporary folder removed with this object (or by the render, once used)."""
    sound_digests: dict[str, str] = field(default_factory=dict)
    """Signal -> sha256 of the audio packets of `encoded_sound`, whose loudness the trial
    measured (`gain.trial`): an output with the same packets needs no measuring again."""
    sound_report: sound_checks.SoundReport | None = None
    """Where each delivered sound comes from, and its QC findings (pipeline.audio.sound_checks)."""




def analyse_audio(submission: Submission, config: Config, sounds: list[Sound] | None = None) -> AudioAnalysis:
    """Audio-only passes: the loudness of every sound the deliverables carry (`sounds`; default:
    those of the deliverables planned for this submission), the gain (and limiter) that brings
    the sound held to the target (the full mix) there, applied alike to the others (the M&E),
    confirmed on a trial encode (pipeline/audio/loudness.py); and the M&E checks. The accepted
    trial's files are the delivery's sound: kept for the render to copy
    (`AudioAnalysis.encoded_sound`), in a temporary folder that goes with the analysis."""
    if sounds is None:
        planned = plan_deliverables(submission, config)[0]
        sounds = [sound for deliverable in planned for sound in deliverable.carried]
    sound_folder = Path(tempfile.mkdtemp(prefix="versioner-sound-"))
    try:
        analysis = _analyse_audio(submission, config, sounds, sound_folder)
    except BaseException:
        shutil.rmtree(sound_folder, ignore_errors=True)
        raise
    weakref.finalize(analysis, shutil.rmtree, str(sound_folder), True)
    return analysis


def _analyse_audio(submission: Submission, config: Config, sounds: list[Sound], sound_folder: Path) -> AudioAnalysis:
    """The passes side by side (each is one ffmpeg reading the master's sound, mostly on a core of
    its own): the loudness plan and its trial, one after the other, beside the M&E checks, the
    sound checks and the subtitle sync."""
    inputs = RenderInputs.of(submission)
    limit = render_timeout(inputs, config)

    def check_me() -> MEReport | None:
        return audio_checks.check_me(inputs.master, inputs.audio_streams, inputs.roles, config.audio_checks,
                                     limit=limit, seek_s=inputs.start_s, duration_s=inputs.duration_s,
                                     demuxer=inputs.demuxer, sample_rate=config.sample_rate)

    def check_sounds() -> sound_checks.SoundReport:
        return sound_checks.check_sounds(inputs.master, inputs.audio_streams, inputs.roles, config.audio_checks,
                                         limit=limit, seek_s=inputs.start_s, duration_s=inputs.duration_s,
                                         demuxer=inputs.demuxer, sample_rate=config.sample_rate)

    with named_faults(inputs.master.parent, inputs.master), SideBySide(name="analyse") as workers:
        planned = workers.submit(_plan_loudness, inputs, sounds, config, limit, sound_folder)
        me_checked, sounds_checked = workers.submit(check_me), workers.submit(check_sounds)
        synced = workers.submit(check_subtitle_sync, submission, config)
        gain, encoded_sound = planned.result()
        report, sound_report, sync_estimates = me_checked.result(), sounds_checked.result(), synced.result()
    for check in report.checks if report else []:
        (log.info if check.passed else log.warning)("%s: M&E check %s: %s", submission.asset_id, check.name, check.message)
    digests = {label: digest for label, path in encoded_sound.items() if (digest := sound_digest(path))}
    return AudioAnalysis(gain, report, sync_estimates, encoded_sound, digests, sound_report)


def _plan_loudness(inputs: RenderInputs, sounds: list[Sound], config: Config, limit: TimeLimit,
                   sound_folder: Path) -> tuple[GainPlan, dict[str, Path]]:
    """The gain plan, and the files of the trial encode that confirmed it (in `sound_folder`;
    none when no trial ran, or when the plan changed after the last one). Every routed sound is
    measured in one pass; a profile with a loudness target of its own gets its plan from that
    same measurement (`GainPlan.profiles`, pipeline/audio/profile_gains.py)."""
    groups = profile_gains.gain_groups(sounds)
    by_signal = groups.get(None, {})
    reference = profile_gains.reference_of(by_signal) if by_signal else "mix"
    routed = {signal: sound for group in groups.values() for signal, sound in group.items()}
    signals = {signal: sound.pan for signal, sound in profile_gains.ordered(routed, reference).items()}
    graph = routing_graph(inputs.audio_streams, inputs.roles, signals, config.sample_rate)
    command = loudness.measure_signals_command(inputs.master, graph, list(signals), inputs.start_s,
                                               inputs.duration_s, demuxer=inputs.demuxer)
    measured = loudness.measure_signals(command, list(signals), limit)
    others = {signal: loud for signal, loud in measured.items() if signal != reference and signal in by_signal}
    plan = loudness.plan_gain(measured[reference], config.loudness, others, config.sample_rate, reference)
    own = profile_gains.profile_plans(groups, measured, config, functools.partial(
        _settle_profile, inputs, config=config, limit=limit, sound_folder=sound_folder))
    if own:
        plan = replace(plan, profiles=own)
    if not by_signal:
        return plan, {}  # every sound goes out with a profile's own gain: nothing to confirm here
    stereo = _stereo(profile_gains.ordered(by_signal, reference))
    if own or len(stereo) != len(signals):  # the trial encodes the stereo sounds of [loudness]'s gain
        signals = {signal: sound.pan for signal, sound in stereo.items()}
        graph = routing_graph(inputs.audio_streams, inputs.roles, signals, config.sample_rate)
    lossy = config.lossy_profile()
    trial_profile = config.profiles[lossy] if lossy else PCM_TRIAL
    files = {label: sound_folder / f"{label}{sound_file_suffix(trial_profile)}" for label in signals}
    tried: list[list[str]] = []  # the gain chain of each trial, in order

    def trial(candidate: GainPlan) -> dict[str, loudness.Loudness]:
        tried.append(candidate.filters())
        return _trial_encode(inputs, graph, files, candidate, trial_profile, limit)

    plan = loudness.settle_plan(plan, config.loudness, trial, lossy_codec=trial_profile.audio.lossy)
    return plan, files if tried and tried[-1] == plan.filters() else {}


def _stereo(sounds: dict[str, Sound]) -> dict[str, Sound]:
    """The stereo sounds, those a trial encodes: a 5.1 sound takes its stereo sibling's gain, and
    an AAC trial would fold it to two channels (its own loudness is measured on the delivered
    file, BS.1770 with the LFE left out)."""
    return {signal: sound for signal, sound in sounds.items() if sound.channels == 2}


def _settle_profile(inputs: RenderInputs, profile: str, plan: GainPlan, target: LoudnessConfig,
                    group: dict[str, Sound], config: Config, limit: TimeLimit, sound_folder: Path) -> GainPlan:
    """A profile's own plan, confirmed on a PCM trial where it must be (a limiter, or peaks near
    the ceiling): its files are PCM, so the gain alone needs none."""
    signals = {signal: sound.pan for signal, sound in _stereo(group).items()}
    graph = routing_graph(inputs.audio_streams, inputs.roles, signals, config.sample_rate)
    files = {signal: sound_folder / f"{profile}-{signal}.mov" for signal in signals}
    return loudness.settle_plan(plan, target, lambda candidate: _trial_encode(inputs, graph, files, candidate,
                                                                             PCM_TRIAL, limit), lossy_codec=False)


def _trial_encode(inputs: RenderInputs, graph: list[str], outputs: dict[str, Path], gain: GainPlan,
                  profile: OutputProfile, limit: TimeLimit) -> dict[str, loudness.Loudness]:
    """The planned sound (label -> file) encoded exactly as the render encodes it in `profile`
    (audio only, the render's own codec arguments), measured."""
    command = loudness.trial_command(inputs.master, graph, gain, audio_codec_args(profile), outputs,
                                     inputs.start_s, inputs.duration_s, demuxer=inputs.demuxer)
    ffmpeg.run(command, limit=limit, what="loudness trial encode")
    return dict(zip(outputs, loudness.measure_files(list(outputs.values()), limit=limit)))


def check_subtitle_sync(submission: Submission, config: Config) -> list[sync.SyncEstimate]:
    """An audio-only pass: the speech of the dialogue stem (else the mix) against every
    language's cues; an offset beyond `subtitles.rules.sync_warning_s` is a warning."""
    inputs = RenderInputs.of(submission)
    listen_to = sync.speech_source(inputs.roles, inputs.audio_streams, config.sample_rate)
    if not submission.subtitles or listen_to is None:
        return []
    graph, label, source = listen_to
    command = sync.speech_command(inputs.master, graph, label, inputs.start_s, inputs.duration_s,
                                  demuxer=inputs.demuxer)
    with named_faults(inputs.master.parent, inputs.master):
        speech = sync.measure_speech(command, source, render_timeout(inputs, config))
    return sync.check_sync(submission.subtitles, speech, config.subtitles.rules, submission.asset_id)



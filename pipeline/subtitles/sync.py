"""Subtitle sync check: do the cues start where the speech starts?

A subtitler's most common slip is a file timed against another cut or another start point: every
cue is early or late by the same amount. Here the speech in the sound (the dialogue stem where the
master has one, else the full mix) becomes a voice-activity signal at 100 Hz, the cues become an
on/off signal at the same rate, and the lag at which the two agree best, within +/- 5 s, is the
offset. It is reported for every language; beyond `rules.sync_warning_s` it is a warning.

The PCM is streamed from ffmpeg in chunks (only the 100 Hz envelope is kept), so memory stays flat
for a master of any length. A sound with no speech-like activity, or cues that match it nowhere,
gives no estimate rather than a made-up one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.audio.layouts import dialogue_pan, mix_pan, routing_graph
from pipeline.config import SubtitleRules
from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import TimeLimit
from pipeline.subtitles import Finding, SubtitleTrack, format_timecode

log = logging.getLogger(__name__)

PCM_RATE = 8000
ENVELOPE_RATE = 100
"""Activity frames per second: 10 ms, finer than any offset worth reporting."""
SEARCH_S = 5.0
CHUNK_FRAMES = PCM_RATE * 10
SPEECH_BAND = "highpass=f=300,lowpass=f=3400"
"""Where speech energy is and most music and effects energy is not (telephone band)."""
MIN_AGREEMENT = 0.25
"""The lowest correlation between cues and speech activity taken as a match. The sample's full
mix (narration over music and effects) gives 0.40-0.47 at the right lag; activity that is only
noise gives under 0.1, and sound without any level changes gives no activity to match at all."""


@dataclass(frozen=True)
class SpeechActivity:
    """Voice activity over the programme, ENVELOPE_RATE values per second (1 = speech)."""

    source: str
    """'dialogue stem' or 'full mix'."""
    active: np.ndarray


@dataclass(frozen=True)
class SyncEstimate:
    """How far one language's cues sit from the speech; positive: the subtitles are late."""

    language: str
    source: str
    offset_s: float | None
    """None when the sound gives no reliable estimate (no speech, or no lag matches)."""
    agreement: float
    """Correlation of cue and speech activity at the best lag (-1..1)."""
    limit_s: float
    finding: Finding | None = None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["finding"] = self.finding.to_dict() if self.finding else None
        return data


def speech_command(master: Path, audio_graph: list[str], label: str, start_s: float,
                   duration_s: float, demuxer: str | None = None) -> list[str]:
    """Decode the stereo signal `label` of the graph as mono speech-band float PCM to stdout."""
    chains = [*audio_graph, f"[{label}]pan=mono|c0=0.5*c0+0.5*c1,{SPEECH_BAND},"
                             f"aresample={PCM_RATE}[speech]"]
    return (ffmpeg.base_args() + ffmpeg.input_args(master, seek_s=start_s, duration_s=duration_s,
                                                   demuxer=demuxer)
            + ["-vn", "-sn", "-dn", "-filter_complex", ";".join(chains), "-map", "[speech]",
               "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"])


def speech_source(roles: list[str], audio_streams: list,
                  sample_rate: int) -> tuple[list[str], str, str] | None:
    """The filter graph, its output label and the name of the signal to listen to: the dialogue
    stem, else the full mix; None when the layout has neither."""
    for signal, pan, name in (("dialogue", dialogue_pan, "dialogue stem"), ("mix", mix_pan, "full mix")):
        if pan(roles) is not None:
            return routing_graph(audio_streams, roles, {"voice": signal}, sample_rate), "voice", name
    return None


def energy_envelope(chunks: Iterable[np.ndarray], pcm_rate: int = PCM_RATE) -> np.ndarray:
    """Mean power in dB of every 1/ENVELOPE_RATE s of mono PCM arriving in chunks."""
    hop = pcm_rate // ENVELOPE_RATE
    levels: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float64)
    for chunk in chunks:
        samples = np.concatenate([carry, chunk.reshape(-1).astype(np.float64)])
        whole = len(samples) - len(samples) % hop
        power = (samples[:whole].reshape(-1, hop) ** 2).mean(axis=1)
        levels.append(10 * np.log10(power + 1e-12))
        carry = samples[whole:]
    return np.concatenate(levels) if levels else np.zeros(0)


def voice_activity(levels_db: np.ndarray) -> np.ndarray:
    """1 where the speech band is loud, 0 where it is quiet: the threshold sits halfway between
    the quiet floor (10th percentile) and the speaking level (90th), so it follows the master's
    own levels instead of an absolute number."""
    if not len(levels_db):
        return np.zeros(0, dtype=np.float32)
    floor, speaking = np.percentile(levels_db, [10, 90])
    return (levels_db > (floor + speaking) / 2).astype(np.float32)


def cue_activity(track: SubtitleTrack, frames: int) -> np.ndarray:
    """1 while a cue is on screen, at ENVELOPE_RATE values per second of programme."""
    shown = np.zeros(frames)
    for cue in track.cues:
        first = min(frames, round(cue.start_ms * ENVELOPE_RATE / 1000))
        last = min(frames, round(cue.end_ms * ENVELOPE_RATE / 1000))
        shown[first:last] = 1.0
    return shown


def best_lag(speech: np.ndarray, shown: np.ndarray, max_lag: int) -> tuple[int, float] | None:
    """The lag (in frames) at which `shown` best matches `speech` shifted later, and the
    correlation there; None when either signal is constant (nothing to match)."""
    length = min(len(speech), len(shown))
    speech, shown = speech[:length], shown[:length]
    if length < 2 or speech.std() == 0 or shown.std() == 0:
        return None
    speech = (speech - speech.mean()) / speech.std()
    shown = (shown - shown.mean()) / shown.std()
    reach = min(max_lag, length - 1)
    # One dot product per lag: memory stays at the two signals (an FFT of a six-hour master's
    # envelope would not), and 1001 lags over an hour at 100 Hz take well under a second.
    values = {lag: float(np.dot(speech[:length - lag], shown[lag:]) if lag >= 0
                         else np.dot(speech[-lag:], shown[:length + lag])) / length
              for lag in range(-reach, reach + 1)}
    lag = max(values, key=values.__getitem__)
    return lag, values[lag]


def estimate_sync(track: SubtitleTrack, speech: SpeechActivity, rules: SubtitleRules) -> SyncEstimate:
    """One language's offset against the speech, with a warning finding beyond the limit."""
    limit = rules.sync_warning_s
    found = best_lag(speech.active, cue_activity(track, len(speech.active)),
                     round(SEARCH_S * ENVELOPE_RATE))
    if found is None or found[1] < MIN_AGREEMENT:
        agreement = 0.0 if found is None else round(found[1], 3)
        return SyncEstimate(track.language, speech.source, None, agreement, limit)
    lag, agreement = found
    offset = lag / ENVELOPE_RATE
    estimate = SyncEstimate(track.language, speech.source, round(offset, 2), round(agreement, 3), limit)
    if abs(offset) <= limit:
        return estimate
    return dataclasses.replace(estimate, finding=_offset_finding(track, speech.source, offset, limit))


def _offset_finding(track: SubtitleTrack, source: str, offset: float, limit: float) -> Finding:
    direction = "late" if offset > 0 else "early"
    first = track.cues[0]
    timecode = format_timecode(first.start_ms)
    return Finding(track.language, None, timecode, "sync_offset", round(offset, 2), limit,
                   f"{track.language} subtitles are {abs(offset):.2f} s {direction} against the "
                   f"speech in the {source} (limit {limit:g} s): check the SRT was timed to this cut "
                   "of the master")


def measure_speech(command: list[str], source: str, limit: TimeLimit) -> SpeechActivity:
    """Run the decode of `speech_command` and keep only the 100 Hz voice activity."""
    chunks = ffmpeg.stream_pcm(command, channels=1, chunk_frames=CHUNK_FRAMES, limit=limit,
                               what="subtitle sync analysis")
    return SpeechActivity(source, voice_activity(energy_envelope(chunks)))


def check_sync(tracks: dict[str, SubtitleTrack], speech: SpeechActivity, rules: SubtitleRules,
               asset_id: str = "") -> list[SyncEstimate]:
    """Every language's estimate, each logged (a warning beyond the limit)."""
    estimates = [estimate_sync(tracks[language], speech, rules) for language in sorted(tracks)]
    for estimate in estimates:
        if estimate.finding is not None:
            log.warning("%s: subtitle sync: %s", asset_id, estimate.finding.message)
        elif estimate.offset_s is None:
            log.info("%s: subtitle sync: no estimate for %s (no speech in the %s matches the cues)",
                     asset_id, estimate.language, estimate.source)
        else:
            log.info("%s: subtitle sync: %s subtitles %+.2f s against the speech (limit %g s)",
                     asset_id, estimate.language, estimate.offset_s, estimate.limit_s)
    return estimates

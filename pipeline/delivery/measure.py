"""QC measured on the delivered files themselves, against the master: the picture's display
aspect, combing left in a progressive picture, where the sound sits against the picture, and
the start timecode. Each check returns a problem in words (with the figure) or None; a problem
fails the deliverable, so the report can only say PASS when the file is right.

The plan is never trusted here: a squashed picture, a combed one or a sound half a second early
is what a broadcaster would measure, so that is what is measured.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from pipeline.config import OutputProfile
from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import DEFAULT_LIMIT, TimeLimit
from pipeline.media.fields import measure_fields
from pipeline.media.probe import MediaInfo
from pipeline.media.timecode import delivered_timecode

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01
"""Display aspect of an output against the master's, relative."""
COMBED_SHARE = 0.3
"""Above this share of frames that idet finds interlaced, a progressive output is combed."""
COMBING_FRAMES = 50
SYNC_RATE = 8000
"""Sample rate the sound is compared at: 0.125 ms a sample, well inside the 1 ms tolerance."""
SYNC_WINDOW_S = 10.0
SYNC_SEARCH_S = 2.0
"""The largest sound offset looked for, either way."""
MIN_CORRELATION = 0.3
"""Below this the two sounds are too unlike (silence, a different stem) to place one on the other."""
AUDIO_FRAME_SAMPLES = 1024
"""An AAC frame: the granularity at which a muxer may place a sound's start."""


@dataclass(frozen=True)
class MasterFacts:
    """What each output is measured against."""

    path: Path
    demuxer: str | None
    start_s: float
    duration_s: float
    display_aspect: Fraction
    fps: float
    timecode: str | None
    """The timecode the outputs' first frame must carry (master's start + programme start)."""
    speed: float = 1.0
    """How much faster the output plays the programme than the master (a speed frame rate
    conversion): its duration and sound are the master's divided by it."""
    had_fields: bool = False
    """The master is interlaced, or its stream did not say it was progressive: its outputs are
    measured for combing. (idet takes fine moving detail in a small progressive picture, such
    as ffmpeg's own test pattern at 320x180, for combing, so a master its stream flags
    progressive, whose picture conform leaves as it is, is not measured.)"""

    @classmethod
    def of(cls, submission, profile: OutputProfile | None = None) -> MasterFacts:
        """What an output of `submission` in `profile` is measured against: at the profile's
        frame rate, the start timecode is its label of the same instant and a speed conversion
        shortens the programme (pipeline.media.timecode, OutputProfile.speed_factor)."""
        video = submission.media.video
        start = submission.programme.start_s
        converted = profile is not None and profile.rate_conversion(video.fps) is not None
        out_fps = profile.fixed_rate if converted and profile is not None else None
        speed = float(profile.speed_factor(video.fps)) if profile is not None else 1.0
        return cls(Path(submission.package.master), submission.media.container, start,
                   submission.programme.duration_s, video.display_aspect, float(video.fps),
                   delivered_timecode(submission.media.start_timecode, start, video.fps, out_fps), speed=speed,
                   had_fields=video.field_order != "progressive" or video.field_order_source != "stream")

    @property
    def delivered_duration_s(self) -> float:
        """The programme's length in an output (shorter when sped up)."""
        return self.duration_s / self.speed


def aspect_problem(output: MediaInfo, expected: Fraction) -> str | None:
    """The output's display aspect (pixel aspect and rotation included) against the master's."""
    if output.video is None:
        return None
    measured = output.video.display_aspect
    if abs(float(measured) / float(expected) - 1) <= ASPECT_TOLERANCE:
        return None
    return (f"display aspect {float(measured):.3f}:1 ({output.video.width}x{output.video.height}, pixel aspect "
            f"{output.video.sar}) instead of the master's {float(expected):.3f}:1: the picture is distorted")


def combing_problem(path: Path, output: MediaInfo, *, limit: TimeLimit = DEFAULT_LIMIT,
                    measure_content: bool = True) -> str | None:
    """Field flags in a progressive delivery, or (`measure_content`) combing left in the
    picture: idet on frames from the middle."""
    if output.video is None:
        return None
    if output.video.interlaced:
        return f"flagged interlaced ({output.video.field_order}) in a progressive delivery"
    if not measure_content:
        return None
    start = max(0.0, output.duration_s / 2 - COMBING_FRAMES / 2 * output.video.frame_s)
    counted = measure_fields(path, start_s=start, frames=COMBING_FRAMES, limit=limit)
    if counted.interlaced_share <= COMBED_SHARE:
        return None
    return (f"combed: idet finds {counted.interlaced_share:.0%} of {counted.decided} frames interlaced "
            f"(at most {COMBED_SHARE:.0%}); the master's fields were not de-interlaced")


def sound_command(path: Path, *, start_s: float = 0.0, duration_s: float = SYNC_WINDOW_S,
                  demuxer: str | None = None) -> list[str]:
    """The first audio stream, mono at SYNC_RATE, placed on the file's own timeline: a sound
    that starts late is preceded by silence (`first_pts=0`), so offsets show."""
    return (ffmpeg.base_args() + ffmpeg.input_args(path, seek_s=start_s or None, duration_s=duration_s,
                                                   demuxer=demuxer)
            + ["-filter_complex", f"[0:a:0]aresample={SYNC_RATE}:first_pts=0,pan=mono|c0=c0[sound]",
               "-map", "[sound]", "-f", "f32le", "pipe:1"])


def _sound(command: tuple[str, ...], limit: TimeLimit) -> np.ndarray:
    chunks = list(ffmpeg.stream_pcm(list(command), channels=1, chunk_frames=SYNC_RATE, limit=limit,
                                    what="sync measurement"))
    return np.concatenate(chunks)[:, 0] if chunks else np.zeros(0, dtype=np.float32)


_master_sound_lock = threading.Lock()


def _master_sound(command: tuple[str, ...], limit: TimeLimit) -> np.ndarray:
    """Measured once for all the outputs of a master: the files' read-backs run side by side,
    and the first to ask reads it while the others wait for it."""
    with _master_sound_lock:
        return _cached_master_sound(command, limit)


@functools.lru_cache(maxsize=4)
def _cached_master_sound(command: tuple[str, ...], limit: TimeLimit) -> np.ndarray:
    return _sound(command, limit)


def sound_offset(reference: np.ndarray, delivered: np.ndarray, rate: int = SYNC_RATE) -> float | None:
    """Seconds the delivered sound lags the reference (negative: early), from the peak of
    their cross-correlation; None when they are too unlike to tell. `rate`: samples a second."""
    length = min(len(reference), len(delivered))
    if length < rate // 4:
        return None
    a = reference[:length].astype(np.float64)
    b = delivered[:length].astype(np.float64)
    energy = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if energy < 1e-9:
        return None
    size = 1 << int(np.ceil(np.log2(2 * length)))
    correlation = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    search = min(int(SYNC_SEARCH_S * rate), length - 1)
    lags = np.concatenate([np.arange(0, search + 1), np.arange(-search, 0)])
    values = np.concatenate([correlation[:search + 1], correlation[-search:]])
    best = int(np.argmax(values))
    if values[best] / energy < MIN_CORRELATION:
        return None
    return float(lags[best]) / rate


def sync_problem(master: MasterFacts, path: Path, output: MediaInfo, *, limit: TimeLimit = DEFAULT_LIMIT) -> str | None:
    """Where the output's sound sits against its picture, compared with the master's. A sound
    time-stretched for a speed conversion is placed by its envelope (`stretched_offset`) and
    held to one frame of the output."""
    if not output.audio:
        return None
    window = min(SYNC_WINDOW_S, master.duration_s)
    reference = _master_sound(tuple(sound_command(master.path, start_s=master.start_s, duration_s=window,
                                                  demuxer=master.demuxer)), limit)
    delivered = _sound(tuple(sound_command(path, duration_s=window / master.speed)), limit)
    if master.speed != 1:
        offset = stretched_offset(reference, delivered, master.speed)
        tolerance = output.video.frame_s if output.video is not None else 0.04
    else:
        offset = sound_offset(reference, delivered)
        tolerance = 0.001 + AUDIO_FRAME_SAMPLES / (output.audio[0].sample_rate or 48000)
    if offset is None:
        log.info("%s: sound too unlike the master's to measure its sync", path.name)
        return None
    if abs(offset) <= tolerance:
        return None
    return (f"sound {abs(offset) * 1000:.1f} ms {'late' if offset > 0 else 'early'} against the picture "
            f"compared with the master (tolerance {tolerance * 1000:.1f} ms)")


ENVELOPE_RATE = 1000
"""Envelope samples per second for the sync of a time-stretched sound: 1 ms resolution."""


def envelope(sound: np.ndarray, rate: int = SYNC_RATE) -> np.ndarray:
    """The sound's level over time (RMS over 10 ms, every 1 ms): what a time stretch keeps in
    place while it changes the waveform."""
    hop, width = rate // ENVELOPE_RATE, rate // 100
    power = np.convolve(sound.astype(np.float64) ** 2, np.ones(width) / width, mode="same")
    return np.sqrt(power[::hop])


def stretched_offset(reference: np.ndarray, delivered: np.ndarray, speed: float) -> float | None:
    """Seconds the delivered sound lags the master's played `speed` times as fast, from their
    envelopes (the master's squeezed in time by `speed`); None when they are too unlike."""
    master, output = envelope(reference), envelope(delivered)
    squeezed = np.interp(np.arange(0, len(master) / speed) * speed, np.arange(len(master)), master)
    return sound_offset(squeezed - squeezed.mean(), output - output.mean(), rate=ENVELOPE_RATE)


PITCH_TOLERANCE = 0.01
"""A time-stretched sound keeps its pitch within 1 % (a speed-up without the stretch is 4.3 % sharp)."""
PITCH_BAND_HZ = (80.0, 3500.0)
LOG_STEP = 0.0005
"""The log-frequency grid the two spectra are compared on: 0.05 % a step."""


def _log_spectrum(sound: np.ndarray, rate: int) -> np.ndarray:
    """The sound's average magnitude spectrum (dB, 8192-sample Hann windows) on a log-frequency grid."""
    size = 8192
    frames = [sound[start:start + size] for start in range(0, len(sound) - size + 1, size // 2)] or [
        np.pad(sound, (0, max(0, size - len(sound))))]
    power = np.mean([np.abs(np.fft.rfft(frame * np.hanning(size))) ** 2 for frame in frames], axis=0)
    frequencies = np.fft.rfftfreq(size, 1 / rate)
    grid = np.exp(np.arange(np.log(PITCH_BAND_HZ[0]), np.log(PITCH_BAND_HZ[1]), LOG_STEP))
    return 10 * np.log10(np.interp(grid, frequencies, power) + 1e-12)


def pitch_ratio(reference: np.ndarray, delivered: np.ndarray, rate: int = SYNC_RATE) -> float | None:
    """How much higher the delivered sound sits than the reference (1.0: the same pitch), from the
    shift that best lines up their log-frequency spectra (within +/- 10 %); None for silence."""
    if len(reference) < rate // 4 or len(delivered) < rate // 4:
        return None
    master, output = _log_spectrum(reference, rate), _log_spectrum(delivered, rate)
    master, output = master - master.mean(), output - output.mean()
    if not (master.any() and output.any()):
        return None
    reach = int(np.log(1.1) / LOG_STEP)
    scores = [_likeness(master[max(0, -shift):len(master) - max(0, shift)],
                        output[max(0, shift):len(output) - max(0, -shift)]) for shift in range(-reach, reach + 1)]
    best = int(np.argmax(scores))
    if scores[best] < MIN_CORRELATION:
        return None
    if scores[best] - scores[reach] < PITCH_EVIDENCE:  # a flat spectrum (noise) lines up anywhere
        return 1.0
    return float(np.exp((best - reach) * LOG_STEP))


PITCH_EVIDENCE = 0.05
"""How much better a shifted spectrum must line up than the unshifted one to count as a pitch change."""


def _likeness(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) or 1.0))


def pitch_problem(master: MasterFacts, path: Path, output: MediaInfo, *, limit: TimeLimit = DEFAULT_LIMIT) -> str | None:
    """A sped-up file's sound must keep the master's pitch (time-stretched, not played faster)."""
    if master.speed == 1 or not output.audio:
        return None
    window = min(SYNC_WINDOW_S, master.duration_s)
    reference = _master_sound(tuple(sound_command(master.path, start_s=master.start_s, duration_s=window,
                                                  demuxer=master.demuxer)), limit)
    ratio = pitch_ratio(reference, _sound(tuple(sound_command(path, duration_s=window / master.speed)), limit))
    if ratio is None or abs(ratio - 1) <= PITCH_TOLERANCE:
        return None
    return (f"sound {abs(ratio - 1):.1%} {'sharp' if ratio > 1 else 'flat'} of the master's pitch "
            f"(at most {PITCH_TOLERANCE:.0%}): it was sped up, not time-stretched")


def timecode_problem(output: MediaInfo, expected: str | None) -> str | None:
    """The output's start timecode: the master's, shifted by the programme start."""
    if expected is None or output.start_timecode == expected:
        return None
    if output.start_timecode is None:
        return f"carries no start timecode (expected {expected})"
    return f"starts at timecode {output.start_timecode} instead of {expected}"


def measured_problems(master: MasterFacts, path: Path, output: MediaInfo, *, limit: TimeLimit = DEFAULT_LIMIT,
                      interlaced_delivery: bool = False, frame_aspect: Fraction | None = None) -> list[str]:
    """Every measured check on one delivered file. `interlaced_delivery`: the file is meant to
    carry fields (a broadcast profile), so it is not held to being progressive. `frame_aspect`:
    the file has a fixed frame the picture is fitted into (black bars), whose aspect it must have."""
    combing = None if interlaced_delivery else combing_problem(path, output, limit=limit,
                                                               measure_content=master.had_fields)
    problems = [aspect_problem(output, frame_aspect or master.display_aspect), combing,
                sync_problem(master, path, output, limit=limit),
                pitch_problem(master, path, output, limit=limit),
                timecode_problem(output, master.timecode)]
    return [problem for problem in problems if problem]

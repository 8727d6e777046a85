"""QC of the sounds a delivery carries, on PCM streamed from ffmpeg like the M&E checks
(pipeline/audio/me_checks.py): the stereo mix and M&E exactly as the render routes them
(downmix included), and the 5.1 centre where the mix is 5.1.

Findings, each tied to the sound it concerns ('mix' or 'me'):
- a silent channel inside a delivered stereo pair: one side carries the programme and the other
  nothing (a track left unpatched in the edit suite, or a spare track taken for a sound);
- a polarity-inverted channel: left and right strongly anti-correlated, so a mono listener (a
  kitchen radio, a phone speaker) hears the centre, voice included, cancel out;
- a 5.1 mix whose centre is silent: the dialogue normally lives there; a mix without it may be
  a music programme, so it is a warning for a person to look at, not a failure.

Every sound also states where it comes from (`pipeline.audio.layouts.sound_origin`): the
channels, and whether it is a downmix, a sum of stems or a difference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.audio.layouts import me_pan, merged_audio, mix_pan, sound_origin
from pipeline.audio.me_checks import RunningStats, analysis_command, collect_stats
from pipeline.config import AudioChecks
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.probe import AudioInfo

ANTI_CORRELATION = -0.5
"""Left and right correlating below this are in opposite polarity (a wide stereo image stays
above about -0.2; an inverted copy reads -1)."""


@dataclass(frozen=True)
class SoundFinding:
    sound: str
    """'mix' or 'me': the deliverables carrying that sound get the finding."""
    check: str
    severity: str
    message: str
    measured: str
    limit: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SoundReport:
    origins: dict[str, str] = field(default_factory=dict)
    """'mix' / 'me' -> where the delivered sound comes from, in words."""
    findings: list[SoundFinding] = field(default_factory=list)

    def for_sound(self, sound: str) -> list[SoundFinding]:
        return [finding for finding in self.findings if finding.sound == sound]


def checked_signals(roles: list[str]) -> dict[str, str]:
    """Label -> `pan` of every stereo signal to look at: the mix, the M&E, and the 5.1 centre
    (as a stereo pair of itself, so every signal decodes as two columns)."""
    signals = {"snd_mix": mix_pan(roles), "snd_me": me_pan(roles)}
    if "mix_c" in roles:
        centre = roles.index("mix_c")
        signals["snd_centre"] = f"stereo|c0=c{centre}|c1=c{centre}"
    return {label: pan for label, pan in signals.items() if pan}


def sound_graph(streams: list[AudioInfo], signals: dict[str, str], sample_rate: int) -> list[str]:
    chains, merged = merged_audio(streams, sample_rate=sample_rate)
    chains.append(f"[{merged}]asplit={len(signals)}" + "".join(f"[pre_{label}]" for label in signals))
    return chains + [f"[pre_{label}]pan={pan}[{label}]" for label, pan in signals.items()]


def check_sounds(master: Path, streams: list[AudioInfo], roles: list[str], limits: AudioChecks, *,
                 limit: TimeLimit, seek_s: float | None = None, duration_s: float | None = None,
                 demuxer: str | None = None, sample_rate: int = 48000) -> SoundReport:
    signals = checked_signals(roles)
    report = SoundReport({sound: origin for sound in ("mix", "me") if (origin := sound_origin(roles, sound))})
    if not signals:
        return report
    command = analysis_command(master, sound_graph(streams, signals, sample_rate), list(signals),
                              seek_s, duration_s, demuxer)
    stats = collect_stats(command, 2 * len(signals), limit)
    report.findings = judge_sounds(stats, list(signals), limits)
    return report


def _channel_db(stats: RunningStats, column: int) -> float:
    if stats.products is None or not stats.count:
        return -math.inf  # nothing was decoded
    power = stats.products[column, column] / stats.count
    return 10 * math.log10(power) if power > 0 else -math.inf


def judge_sounds(stats: RunningStats, labels: list[str], limits: AudioChecks) -> list[SoundFinding]:
    """`labels` in decoding order; each signal is two columns of `stats`."""
    findings: list[SoundFinding] = []
    if stats.products is None:
        return findings
    names = {"snd_mix": ("mix", "full mix"), "snd_me": ("me", "M&E")}
    floor = f"> {limits.silence_dbfs:g} dBFS"
    for position, label in enumerate(labels):
        left, right = _channel_db(stats, 2 * position), _channel_db(stats, 2 * position + 1)
        if label == "snd_centre":
            if left <= limits.silence_dbfs:
                findings.append(SoundFinding("mix", "sound.centre_silent", "warning", (
                    "the 5.1 mix's centre channel is silent: the dialogue normally lives there; check the "
                    "master's channel order (L R C LFE Ls Rs)"), _level(left), floor))
            continue
        sound, name = names[label]
        silent = [side for side, level in (("left", left), ("right", right)) if level <= limits.silence_dbfs]
        if len(silent) == 1:
            findings.append(SoundFinding(sound, "sound.silent_channel", "error", (
                f"the {silent[0]} channel of the delivered {name} is silent while the other carries sound: "
                "a track is missing from the pair; export the master again with both channels"),
                f"left {_level(left)}, right {_level(right)}", floor))
        elif not silent:
            correlation = _pair_correlation(stats, position)
            if correlation < ANTI_CORRELATION:
                findings.append(SoundFinding(sound, "sound.polarity", "error", (
                    f"the left and right channels of the delivered {name} are in opposite polarity "
                    f"(correlation {correlation:.2f}): in mono the centre, voice included, cancels out; "
                    "invert one channel in the edit suite and export again"),
                    f"correlation {correlation:.2f}", f">= {ANTI_CORRELATION:g}"))
    return findings


def _pair_correlation(stats: RunningStats, position: int) -> float:
    left, right = 2 * position, 2 * position + 1
    products = stats.products
    if products is None:
        return 0.0
    denominator = math.sqrt(products[left, left] * products[right, right])
    return float(products[left, right] / denominator) if denominator > 0 else 0.0


def _level(level_dbfs: float) -> str:
    return "digital silence" if math.isinf(level_dbfs) else f"{level_dbfs:.1f} dBFS"

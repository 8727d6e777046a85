"""M&E sanity checks on decoded PCM (docs/design.md section 4), streamed from ffmpeg in chunks so
memory stays flat for a master of any length.

One ffmpeg pass decodes the full mix, the M&E and (where there is one) the dialogue stem, each
stereo, at 16 kHz float (the checks concern speech, music and effects, all well inside 8 kHz).
numpy keeps one running matrix of sums of products of the channels, never the signal: every
level, correlation and regression below comes from that matrix, for a minute or for six hours.
Left and right are compared channel to channel (never summed to mono first), so an M&E that is
silent in mono because its sides are in opposite phase still counts as sound.

The checks, each failing only the international version:
- the M&E is silent;
- the M&E is the full mix (the classic wrong delivery: the narration would stay in);
- the M&E correlates with the dialogue stem (the narration leaked into it);
- for an M&E derived as mix - dialogue, the null test. If the dialogue stem is exactly the
  narration that is in the mix, subtracting it cancels the narration completely ("nulls"), and
  what is left of it in mix - dialogue is nothing. What is left is measured as the part of
  mix - dialogue that still follows the dialogue stem (its least-squares coefficient c): 20 log10
  |c| dB relative to the stem (a stem 1 dB off the mix's level leaves -19 dB; a wrong take or a
  shift of a few samples leaves more), and the same residual relative to the derived M&E's own
  level (how audible it is there). Both must be under `audio_checks.null_test_db`. The chance
  correlation of independent music and speech sits near -50 dB for a few seconds and lower for
  longer programmes, under the -40 dB default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.audio.layouts import dialogue_pan, me_source, routing_graph
from pipeline.config import AudioChecks
from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.probe import AudioInfo

ANALYSIS_RATE = 16000
CHUNK_FRAMES = ANALYSIS_RATE * 10
MIX, ME, DIALOGUE = 0, 1, 2
"""Signals in decoding order; each is two columns (left, right)."""


@dataclass
class RunningStats:
    """Sums of products of every pair of columns: enough for levels, correlations and
    regressions of the signals, whatever their length. Each signal is a stereo pair of columns."""

    count: int = 0
    products: np.ndarray | None = None

    def add(self, chunk: np.ndarray) -> None:
        data = chunk.astype(np.float64)
        if self.products is None:
            self.products = np.zeros((data.shape[1], data.shape[1]))
        self.count += len(data)
        self.products += data.T @ data

    def inner(self, a: int, b: int) -> float:
        """Sum over samples of signal a times signal b, left with left and right with right."""
        if self.products is None:
            return 0.0
        return float(self.products[2 * a, 2 * b] + self.products[2 * a + 1, 2 * b + 1])

    def level_dbfs(self, signal: int) -> float:
        """RMS level over both channels (a full-scale sine reads -3 dBFS)."""
        power = self.inner(signal, signal) / (2 * self.count) if self.count else 0.0
        return 10 * math.log10(power) if power > 0 else -math.inf

    def correlation(self, a: int, b: int) -> float:
        denominator = math.sqrt(self.inner(a, a) * self.inner(b, b))
        return self.inner(a, b) / denominator if denominator > 0 else 0.0

    def coefficient(self, signal: int, regressor: int) -> float:
        """How much of `regressor` is inside `signal` (least squares), as a factor."""
        power = self.inner(regressor, regressor)
        return self.inner(signal, regressor) / power if power > 0 else 0.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    measured: str
    limit: str
    message: str

    def to_dict(self) -> dict:
        return {"check": self.name, "passed": self.passed, "measured": self.measured,
                "limit": self.limit, "message": self.message}


@dataclass
class MEReport:
    source: str
    """Where the M&E came from: 'channels', 'stems' or 'derived'."""
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict:
        return {"source": self.source, "passed": self.passed,
                "checks": [check.to_dict() for check in self.checks]}


def analysis_command(source: Path, audio_graph: list[str], labels: list[str],
                     seek_s: float | None = None, duration_s: float | None = None,
                     demuxer: str | None = None) -> list[str]:
    """Decode the stereo signals `labels` side by side (two float columns each) at 16 kHz to stdout."""
    chains = list(audio_graph)
    if len(labels) == 1:
        chains.append(f"[{labels[0]}]aresample={ANALYSIS_RATE}[pcm]")
    else:  # stereo inputs overlap (FL+FR each), so amerge keeps them in order
        chains.append("".join(f"[{label}]" for label in labels)
                      + f"amerge=inputs={len(labels)},aresample={ANALYSIS_RATE}[pcm]")
    return (ffmpeg.base_args() + ffmpeg.input_args(source, seek_s=seek_s, duration_s=duration_s, demuxer=demuxer)
            + ["-vn", "-sn", "-dn", "-filter_complex", ";".join(chains), "-map", "[pcm]",
               "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"])


def collect_stats(command: list[str], columns: int, limit: TimeLimit) -> RunningStats:
    stats = RunningStats()
    for chunk in ffmpeg.stream_pcm(command, channels=columns, chunk_frames=CHUNK_FRAMES,
                                   limit=limit, what="M&E analysis"):
        stats.add(chunk)
    return stats


def check_me(master: Path, streams: list[AudioInfo], roles: list[str], limits: AudioChecks, *,
             limit: TimeLimit, seek_s: float | None = None, duration_s: float | None = None,
             demuxer: str | None = None, sample_rate: int = 48000) -> MEReport | None:
    """Run the M&E checks on a master (None when its layout has no M&E to take)."""
    source = me_source(roles)
    if source is None:
        return None
    signals = {"chk_mix": "mix", "chk_me": "me"}
    if dialogue_pan(roles):
        signals["chk_dia"] = "dialogue"
    graph = routing_graph(streams, roles, signals, sample_rate)
    command = analysis_command(master, graph, list(signals), seek_s, duration_s, demuxer)
    stats = collect_stats(command, 2 * len(signals), limit)
    return judge_me(stats, source, limits, has_dialogue="chk_dia" in signals)


_WHAT_ME_IS = {"channels": "the M&E tracks are", "stems": "the music and effects stems are",
               "derived": "mix minus dialogue is"}


def judge_me(stats: RunningStats, source: str, limits: AudioChecks, has_dialogue: bool) -> MEReport:
    """Signals: 0 mix, 1 M&E, 2 dialogue (when there is one). A silent M&E (or, for a derived
    M&E, a silent dialogue stem) makes the other checks meaningless, so they are left out."""
    report = MEReport(source)
    level = stats.level_dbfs(ME)
    silent = level <= limits.silence_dbfs
    report.checks.append(CheckResult(
        "me_not_silent", not silent, f"{level:.1f} dBFS", f"> {limits.silence_dbfs:g} dBFS",
        f"{_WHAT_ME_IS[source]} silent ({_level_words(level)}): the master carries no music and effects "
        "for the international version; export it again with the M&E (music and effects, no narration)"
        if silent else f"M&E level {level:.1f} dBFS"))
    if silent:
        return report
    if has_dialogue and source == "derived" and not _dialogue_present(stats, limits, report):
        return report
    _judge_same_as_mix(stats, source, limits, report)
    if has_dialogue and stats.level_dbfs(DIALOGUE) > limits.silence_dbfs:
        _judge_dialogue(stats, limits, report)
        if source == "derived":
            _judge_null_test(stats, limits, report)
    return report


def _level_words(level_dbfs: float) -> str:
    return "digital silence" if math.isinf(level_dbfs) else f"{level_dbfs:.0f} dBFS"


def _dialogue_present(stats: RunningStats, limits: AudioChecks, report: MEReport) -> bool:
    level = stats.level_dbfs(DIALOGUE)
    present = level > limits.silence_dbfs
    report.checks.append(CheckResult(
        "dialogue_not_silent", present, f"{level:.1f} dBFS", f"> {limits.silence_dbfs:g} dBFS",
        f"dialogue stem {level:.1f} dBFS" if present else
        f"the dialogue stem is silent ({_level_words(level)}), so mix minus dialogue would be the full mix, "
        "narration and all; deliver the dialogue stem that is in the mix, or a real M&E"))
    return present


def _judge_same_as_mix(stats: RunningStats, source: str, limits: AudioChecks, report: MEReport) -> None:
    same = stats.correlation(MIX, ME)
    gap = stats.level_dbfs(ME) - stats.level_dbfs(MIX)
    is_copy = same >= limits.same_as_mix_correlation
    report.checks.append(CheckResult(
        "me_differs_from_mix", not is_copy, f"correlation {same:.4f}, level {gap:+.1f} dB",
        f"correlation < {limits.same_as_mix_correlation:g}",
        f"{_WHAT_ME_IS[source]} the same as the full mix (correlation {same:.3f}, level {gap:+.1f} dB): "
        "the narration would stay in the international version; deliver the real M&E, music and "
        "effects without narration (a programme with no speech at all needs no international version)"
        if is_copy else f"M&E differs from the mix (correlation {same:.3f})"))


def _judge_dialogue(stats: RunningStats, limits: AudioChecks, report: MEReport) -> None:
    correlation = abs(stats.correlation(ME, DIALOGUE))
    leaks = correlation >= limits.dialogue_correlation
    report.checks.append(CheckResult(
        "me_without_dialogue", not leaks, f"correlation {correlation:.3f}", f"< {limits.dialogue_correlation:g}",
        f"the M&E carries the narration: it correlates {correlation:.2f} with the dialogue stem; "
        "deliver music and effects without the narration" if leaks
        else f"no dialogue in the M&E (correlation {correlation:.3f})"))


def null_test_residuals(stats: RunningStats) -> tuple[float, float]:
    """Dialogue left in mix - dialogue (signal 1), in dB relative to the dialogue stem and
    relative to the derived M&E's own level."""
    coefficient = abs(stats.coefficient(ME, DIALOGUE))
    if coefficient == 0:
        return -math.inf, -math.inf
    versus_stem = 20 * math.log10(coefficient)
    return versus_stem, versus_stem + stats.level_dbfs(DIALOGUE) - stats.level_dbfs(ME)


def _judge_null_test(stats: RunningStats, limits: AudioChecks, report: MEReport) -> None:
    versus_stem, versus_me = null_test_residuals(stats)
    passed = max(versus_stem, versus_me) < limits.null_test_db
    measured = f"{versus_stem:.1f} dB re dialogue stem, {versus_me:.1f} dB re derived M&E"
    report.checks.append(CheckResult(
        "null_test", passed, measured, f"< {limits.null_test_db:g} dB",
        f"null test passed: mix minus dialogue leaves {versus_stem:.1f} dB of the narration" if passed else
        f"mix minus dialogue does not cancel the narration ({measured}; limit {limits.null_test_db:g} dB): "
        "the dialogue stem is not exactly the narration in the mix (another level, take or timing); "
        "deliver a real M&E, or music and effects stems"))

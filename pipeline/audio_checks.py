"""M&E sanity checks on decoded PCM (DESIGN.md section 4), streamed from ffmpeg in chunks so
memory stays flat for a master of any length.

One ffmpeg pass decodes the mix, the M&E and (where there is one) the dialogue stem as mono
16 kHz float; numpy keeps running sums only, never the whole signal.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ffmpeg
from .config import AudioChecks

log = logging.getLogger(__name__)

ANALYSIS_RATE = 16000
CHUNK_FRAMES = ANALYSIS_RATE * 10


@dataclass
class RunningStats:
    """Sums over signals in columns: enough for RMS, correlation and regression."""

    count: int = 0
    sums: np.ndarray | None = None
    products: np.ndarray | None = None

    def add(self, chunk: np.ndarray) -> None:
        data = chunk.astype(np.float64)
        if self.sums is None:
            self.sums = np.zeros(data.shape[1])
            self.products = np.zeros((data.shape[1], data.shape[1]))
        self.count += len(data)
        self.sums += data.sum(axis=0)
        self.products += data.T @ data

    def rms_db(self, column: int) -> float:
        if not self.count:
            return -math.inf
        power = self.products[column, column] / self.count
        return 10 * math.log10(power) if power > 0 else -math.inf

    def correlation(self, a: int, b: int) -> float:
        denominator = math.sqrt(self.products[a, a] * self.products[b, b])
        return float(self.products[a, b] / denominator) if denominator > 0 else 0.0

    def regression_db(self, signal: int, regressor: int) -> float:
        """How much of `regressor` is left inside `signal`, in dB (the coefficient's level)."""
        power = self.products[regressor, regressor]
        if power <= 0:
            return -math.inf
        coefficient = abs(self.products[signal, regressor] / power)
        return 20 * math.log10(coefficient) if coefficient > 0 else -math.inf


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
                     seek_s: float | None = None, duration_s: float | None = None) -> list[str]:
    """Decode the stereo signals `labels` as mono float columns at 16 kHz to stdout."""
    chains = list(audio_graph)
    monos = []
    for label in labels:
        chains.append(f"[{label}]pan=mono|c0=0.5*c0+0.5*c1[mono_{label}]")
        monos.append(f"[mono_{label}]")
    if len(monos) == 1:
        chains.append(f"{monos[0]}aresample={ANALYSIS_RATE}[pcm]")
    else:
        chains.append(f"{''.join(monos)}amerge=inputs={len(monos)},aresample={ANALYSIS_RATE}[pcm]")
    return (ffmpeg.base_args() + ffmpeg.input_args(source, seek_s=seek_s, duration_s=duration_s)
            + ["-vn", "-sn", "-dn", "-filter_complex", ";".join(chains), "-map", "[pcm]",
               "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"])


def collect_stats(command: list[str], columns: int, timeout_s: float) -> RunningStats:
    stats = RunningStats()
    for chunk in ffmpeg.stream_pcm(command, channels=columns, chunk_frames=CHUNK_FRAMES,
                                   timeout_s=timeout_s, what="M&E analysis"):
        stats.add(chunk)
    return stats


def judge_me(stats: RunningStats, source: str, limits: AudioChecks, has_dialogue: bool) -> MEReport:
    """Columns: 0 mix, 1 M&E, 2 dialogue (when there is one)."""
    report = MEReport(source)
    level = stats.rms_db(1)
    report.checks.append(CheckResult(
        "me_not_silent", level > limits.silence_dbfs, f"{level:.1f} dBFS", f"> {limits.silence_dbfs} dBFS",
        "the M&E is silent: the master carries no music and effects on its M&E channels"
        if level <= limits.silence_dbfs else f"M&E level {level:.1f} dBFS"))
    same = stats.correlation(0, 1)
    level_gap = abs(stats.rms_db(0) - level)
    is_copy = same >= limits.same_as_mix_correlation and level_gap < 1.0
    report.checks.append(CheckResult(
        "me_differs_from_mix", not is_copy, f"correlation {same:.4f}",
        f"< {limits.same_as_mix_correlation}",
        "the M&E is the same as the full mix: the narration would stay in the international "
        "version; deliver the real M&E (music and effects only)" if is_copy
        else f"M&E differs from the mix (correlation {same:.3f})"))
    if has_dialogue:
        _judge_dialogue(stats, source, limits, report)
    return report


def _judge_dialogue(stats: RunningStats, source: str, limits: AudioChecks, report: MEReport) -> None:
    correlation = abs(stats.correlation(1, 2))
    report.checks.append(CheckResult(
        "me_without_dialogue", correlation < limits.dialogue_correlation,
        f"correlation {correlation:.3f}", f"< {limits.dialogue_correlation}",
        f"the M&E carries the dialogue (correlation {correlation:.2f} with the dialogue stem): "
        "deliver an M&E without narration" if correlation >= limits.dialogue_correlation
        else f"no dialogue in the M&E (correlation {correlation:.3f})"))
    if source == "derived":
        residual = stats.regression_db(1, 2)
        report.checks.append(CheckResult(
            "null_test", residual < limits.null_test_db, f"{residual:.1f} dB", f"< {limits.null_test_db} dB",
            f"mix - dialogue leaves the dialogue in at {residual:.1f} dB: the dialogue stem is not "
            "the one in the mix; deliver an M&E or matching stems" if residual >= limits.null_test_db
            else f"null test passed: dialogue residual {residual:.1f} dB"))

"""Loudness per ITU-R BS.1770 / EBU R 128, measured with ffmpeg's ebur128 filter in audio-only
passes, and the plan that brings the full mix to target with one linear gain.

The M&E gets the same gain as the mix (DESIGN.md section 2): its loudness is measured and
reported, never targeted. ffmpeg's `loudnorm` is not used to change levels at all, so its
dynamic mode can never be switched on by accident.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import ffmpeg
from .config import LoudnessConfig

log = logging.getLogger(__name__)

_FRAME = re.compile(r"t:\s*([\d.]+)\s+TARGET:.*?M:\s*(-?[\d.]+|-inf)\s+S:\s*(-?[\d.]+|-inf)")
_SUMMARY = {
    "integrated_lufs": re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf) LUFS"),
    "lra_lu": re.compile(r"Loudness range:\s*\n\s*LRA:\s*(-?[\d.]+) LU"),
    "true_peak_dbtp": re.compile(r"True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-inf) dBFS"),
}
# A limiter works on sample peaks; true peaks between samples can sit higher, so the limiter
# aims this far under the ceiling.
LIMITER_MARGIN_DB = 1.0


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float
    short_term: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """(seconds, short-term LUFS) every 0.1 s, for the QC report's curve."""

    def to_dict(self, with_curve: bool = False) -> dict:
        data = {"integrated_lufs": self.integrated_lufs, "true_peak_dbtp": self.true_peak_dbtp,
                "lra_lu": self.lra_lu}
        if with_curve:
            data["short_term"] = self.short_term
        return data


@dataclass(frozen=True)
class GainPlan:
    gain_db: float
    limit: bool
    """True when the gain alone would break the true-peak ceiling, so a limiter follows it."""
    limiter_ceiling_dbfs: float
    measured: Loudness

    def filters(self) -> list[str]:
        """The filter chain applied identically to the mix and the M&E."""
        chain = [f"volume={self.gain_db:.2f}dB"]
        if self.limit:
            linear = 10 ** (self.limiter_ceiling_dbfs / 20)
            # level=disabled: alimiter must not renormalise the output (it would undo the gain).
            chain.append(f"alimiter=limit={linear:.4f}:level=disabled:attack=1:release=50")
        return chain


def _number(text: str) -> float:
    return -math.inf if text == "-inf" else float(text)


def parse_ebur128(stderr: str) -> Loudness:
    summary_at = stderr.rfind("Summary:")
    summary = stderr[summary_at:] if summary_at >= 0 else ""
    values = {}
    for key, pattern in _SUMMARY.items():
        found = pattern.search(summary)
        values[key] = _number(found.group(1)) if found else -math.inf
    curve = [(float(t), _number(s)) for t, _m, s in _FRAME.findall(stderr[:summary_at])]
    return Loudness(short_term=curve, **values)


def measure_command(source: Path, filter_graph: list[str], output_label: str,
                    seek_s: float | None = None, duration_s: float | None = None) -> list[str]:
    """An audio-only pass measuring the stereo signal `output_label` made by `filter_graph`."""
    graph = ";".join(filter_graph + [f"[{output_label}]ebur128=peak=true:framelog=info[measured]"])
    return (ffmpeg.base_args() + ffmpeg.input_args(source, seek_s=seek_s, duration_s=duration_s)
            + ["-vn", "-sn", "-dn", "-filter_complex", graph, "-map", "[measured]", "-f", "null", "-"])


def measure(command: list[str], timeout_s: float) -> Loudness:
    result = ffmpeg.run(command, timeout_s=timeout_s, what="loudness measurement")
    return parse_ebur128(result.stderr)


def measure_file(path: Path, audio_index: int = 0, timeout_s: float = 600) -> Loudness:
    """The loudness of one audio stream of a rendered file."""
    command = measure_command(path, [f"[0:a:{audio_index}]anull[a]"], "a")
    return measure(command, timeout_s)


def plan_gain(measured: Loudness, target: LoudnessConfig) -> GainPlan:
    if math.isinf(measured.integrated_lufs):
        return GainPlan(0.0, False, target.true_peak_dbtp, measured)  # silence: nothing to scale
    gain = target.target_lufs - measured.integrated_lufs
    predicted_peak = measured.true_peak_dbtp + gain
    limit = predicted_peak > target.true_peak_dbtp
    plan = GainPlan(round(gain, 2), limit, target.true_peak_dbtp - LIMITER_MARGIN_DB, measured)
    log.info("loudness: measured %.1f LUFS, true peak %.1f dBTP; gain %+.2f dB%s",
             measured.integrated_lufs, measured.true_peak_dbtp, gain,
             " with a true-peak limiter" if limit else "")
    return plan

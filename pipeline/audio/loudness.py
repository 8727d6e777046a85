"""Loudness per ITU-R BS.1770 / EBU R 128, measured with ffmpeg's ebur128 filter in audio-only
passes, and the plan that brings the full mix to target with one linear gain.

How it is measured. ebur128 logs the momentary loudness (the 400 ms blocks of BS.1770, every
100 ms) and the short-term loudness, and prints a summary. The summary rounds to 0.1 dB, so the
integrated loudness is computed here from the logged blocks with the BS.1770 gates (absolute
-70 LUFS, relative -10 LU): about 0.01 LU, and it agrees with the summary within its rounding.
True peak (4x oversampled by ebur128) and loudness range come from the summary. `loudnorm`'s
JSON analysis has two decimals too but runs some 15 times slower (it normalises as it measures),
and every output is measured, so it is not used at all: nothing here can switch on its dynamic
mode by accident.

How the level is set. One linear gain brings the full mix to the target. A limiter follows only
where the gain alone would break the true-peak ceiling: `alimiter` works on sample peaks, so it
runs at 4x the sample rate (192 kHz), where sample peaks are true peaks, and the signal goes
back to the delivery rate after it. A lossy codec (AAC) adds overshoot of its own, up to ~2 dB
on dense material, and its low-pass takes loudness away from bright material (over 1 LU on
white noise). So the plan is confirmed on a trial encode of the audio alone, with the render's
own chain and codec settings, measured, and corrected until it complies: the limiter ceiling
lowered by the overshoot found (the limiter engaged if the gain alone now breaks the ceiling),
the gain raised by the loudness the limiter or the codec took. The render then encodes the
same samples the same way, so the delivered file measures what the trial measured.

The M&E (docs/design.md section 2) gets the same chain as the mix: the same gain, and the same
limiter settings when the mix has one. Each limiter reacts to its own signal: the M&E is
reduced only where it would itself break the ceiling, never where the original narration
peaked (a linked limiter would print dips of a voice that is no longer there into the M&E, and
the dubbing studio limits its own mix anyway). Its loudness is measured and reported, never
targeted, so stems keep their relative levels.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.audio.signals import signal_profile
from pipeline.config import LoudnessConfig
from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import DEFAULT_LIMIT, TimeLimit

log = logging.getLogger(__name__)

# One line per 100 ms; each is written whole, so it can be read even where other threads' log
# lines (a muxer's, another meter's) cut into the multi-line summary.
_NUMBER = r"(-?inf|-?[\d.]+)"
_FRAME = (r"\[{instance} @ [^\]]+\] t:\s*([\d.]+)\s+TARGET:.*?M:\s*" + _NUMBER + r"\s+S:\s*" + _NUMBER
          + r"\s+I:\s*" + _NUMBER + r" LUFS\s+LRA:\s*" + _NUMBER + r" LU(?:.*?\sTPK:\s*([-\d.inf ]+?)\s*dBFS)?")
_SUMMARY = {
    "summary_lufs": re.compile(r"Integrated loudness:\s*\n\s*I:\s*" + _NUMBER + " LUFS"),
    "true_peak_dbtp": re.compile(r"True peak:\s*\n\s*Peak:\s*" + _NUMBER + " dBFS"),
}
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
BLOCK_S = 0.4
OVERSAMPLED_RATE = 192_000
"""The limiter's rate: 4x 48 kHz, where sample peaks are true peaks (BS.1770 annex 2)."""
TRUE_PEAK_MARGIN_DB = 0.1
"""A trial must peak this far under the ceiling: ebur128 prints true peaks to 0.1 dB, and other
meters interpolate between samples a little differently."""
LIMITER_FLOOR_DBFS = -24.0
"""alimiter's lowest limit (0.0625)."""
MAX_TRIALS = 4


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float
    short_term: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """(seconds, short-term LUFS) every 0.1 s, for the QC report's curve."""

    @property
    def silent(self) -> bool:
        return not math.isfinite(self.integrated_lufs) or self.integrated_lufs <= ABSOLUTE_GATE_LUFS

    def to_dict(self, with_curve: bool = False) -> dict:
        data: dict[str, object] = {"integrated_lufs": self.integrated_lufs, "true_peak_dbtp": self.true_peak_dbtp,
                "lra_lu": self.lra_lu}
        if with_curve:
            data["short_term"] = self.short_term
        return data


def _number(text: str) -> float:
    return -math.inf if text == "-inf" else float(text)


def integrated_from_blocks(momentary: list[tuple[float, float]]) -> float:
    """BS.1770 integrated loudness from the momentary loudness of overlapping 400 ms blocks
    (ebur128 logs one every 100 ms: the 75 % overlap of the standard). -inf for silence."""
    powers = [10 ** ((value + 0.691) / 10) for seconds, value in momentary
              if seconds >= BLOCK_S - 0.01 and value > ABSOLUTE_GATE_LUFS]
    if not powers:
        return -math.inf
    relative_gate = -0.691 + 10 * math.log10(sum(powers) / len(powers)) + RELATIVE_GATE_LU
    gated = [power for power in powers if -0.691 + 10 * math.log10(power) > relative_gate]
    return round(-0.691 + 10 * math.log10(sum(gated) / len(gated)), 2)


def _summary(stderr: str, instance: str) -> dict[str, float]:
    """The values of the summary ebur128 prints at the end (missing ones are left out)."""
    found_at = [match.end() for match in re.finditer(rf"\[{instance} @ [^\]]+\] Summary:", stderr)]
    if not found_at:
        return {}
    rest = stderr[found_at[-1]:]
    values = {}
    for key, pattern in _SUMMARY.items():
        found = pattern.search(rest[:700])  # this instance's block only, not the next one's
        if found:
            values[key] = _number(found.group(1))
    return values


def parse_ebur128(stderr: str, instance: str = r"Parsed_ebur128_\d+") -> Loudness:
    """The loudness one ebur128 instance logged (`instance`: its name in ffmpeg's log prefix).

    Integrated: from the logged 400 ms blocks (0.01 LU). Loudness range and true peak: the last
    logged line (the running values at the end) and the summary, whichever is higher."""
    frames = re.findall(_FRAME.format(instance=instance), stderr)
    summary = _summary(stderr, instance)
    integrated = integrated_from_blocks([(float(row[0]), _number(row[1])) for row in frames])
    in_summary = summary.get("summary_lufs", -math.inf)
    if math.isfinite(integrated) and math.isfinite(in_summary) and abs(integrated - in_summary) > 0.1:
        log.warning("loudness: %.2f LUFS from the blocks, %.1f LUFS in ebur128's summary; using the summary",
                    integrated, in_summary)
        integrated = in_summary
    lra = _number(frames[-1][4]) if frames else -math.inf
    peaks = [_number(value) for value in frames[-1][5].split()] if frames and frames[-1][5] else []
    true_peak = max(peaks + [summary.get("true_peak_dbtp", -math.inf)])
    return Loudness(integrated, true_peak, lra, [(float(row[0]), _number(row[2])) for row in frames])


def _meter(label: str) -> str:
    return f"[{label}]ebur128@{label}=peak=true:framelog=info[metered_{label}]"


def measure_signals_command(source: Path, filter_graph: list[str], labels: list[str],
                            seek_s: float | None = None, duration_s: float | None = None,
                            demuxer: str | None = None) -> list[str]:
    """One audio-only pass measuring each stereo signal of `labels` made by `filter_graph`."""
    graph = ";".join(filter_graph + [_meter(label) for label in labels])
    outputs = [arg for label in labels for arg in ("-map", f"[metered_{label}]", "-f", "null", "-")]
    return (ffmpeg.base_args() + ffmpeg.input_args(source, seek_s=seek_s, duration_s=duration_s, demuxer=demuxer)
            + ["-vn", "-sn", "-dn", "-filter_complex", graph] + outputs)


def measure_command(source: Path, filter_graph: list[str], output_label: str,
                    seek_s: float | None = None, duration_s: float | None = None,
                    demuxer: str | None = None) -> list[str]:
    """An audio-only pass measuring the stereo signal `output_label` made by `filter_graph`."""
    return measure_signals_command(source, filter_graph, [output_label], seek_s, duration_s, demuxer)


def measure_signals(command: list[str], labels: list[str], limit: TimeLimit) -> dict[str, Loudness]:
    result = ffmpeg.run(command, limit=limit, what="loudness measurement")
    return {label: parse_ebur128(result.stderr, re.escape(f"ebur128@{label}")) for label in labels}


def measure(command: list[str], limit: TimeLimit) -> Loudness:
    """Run a `measure_command` (one signal)."""
    result = ffmpeg.run(command, limit=limit, what="loudness measurement")
    return parse_ebur128(result.stderr, r"ebur128@[\w]+")


def measure_file(path: Path, audio_index: int = 0, limit: TimeLimit = DEFAULT_LIMIT) -> Loudness:
    """The loudness of one audio stream of a rendered file."""
    command = measure_command(path, [f"[0:a:{audio_index}]anull[a]"], "a")
    return measure(command, limit)


def measure_files_command(paths: list[Path], audio_index: int = 0) -> list[str]:
    """One audio-only run measuring one audio stream of each file (labelled file0, file1...):
    one process for all the outputs of a render, which ffmpeg reads and meters in parallel."""
    command = ffmpeg.base_args()
    for path in paths:
        command += ffmpeg.input_args(path)
    labels = [f"file{index}" for index in range(len(paths))]
    graph = [f"[{index}:a:{audio_index}]anull[{label}]" for index, label in enumerate(labels)]
    outputs = [arg for label in labels for arg in ("-map", f"[metered_{label}]", "-f", "null", "-")]
    return command + ["-filter_complex", ";".join(graph + [_meter(label) for label in labels])] + outputs


def measure_files(paths: list[Path], audio_index: int = 0, limit: TimeLimit = DEFAULT_LIMIT) -> list[Loudness]:
    """The loudness of one audio stream of each rendered file, in the order given."""
    labels = [f"file{index}" for index in range(len(paths))]
    measured = measure_signals(measure_files_command(paths, audio_index), labels, limit)
    return [measured[label] for label in labels]


# ---- the plan ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class GainPlan:
    gain_db: float
    limit: bool
    """True when the gain alone would break the true-peak ceiling, so a limiter follows it."""
    limiter_ceiling_dbfs: float
    measured: Loudness
    """The sound held to the target (the full mix) in the master, before any gain."""
    others: Mapping[str, Loudness] = field(default_factory=dict)
    """Signal -> each sound that takes the same gain without being targeted (the M&E), as
    measured in the master before any gain."""
    sample_rate: int = 48000
    trial: dict[str, Loudness] = field(default_factory=dict)
    """Signal -> what the last trial encode measured, when there was one."""
    reference: str = "mix"
    """The signal of `measured`, held to the target."""
    profiles: Mapping[str, GainPlan] = field(default_factory=dict)
    """Profile -> the plan of a delivery profile with a loudness target of its own, from the
    same measurement of the master (its sounds are the signals "mix@<profile>"...)."""

    def for_signal(self, signal: str) -> GainPlan:
        """The plan whose gain `signal` carries: its profile's own, else this one."""
        return self.profiles.get(signal_profile(signal) or "", self)

    def filters(self) -> list[str]:
        """The filter chain applied identically to every sound (the mix and the M&E)."""
        chain = [f"volume={self.gain_db:.2f}dB"]
        if self.limit:
            linear = 10 ** (self.limiter_ceiling_dbfs / 20)
            # level=0: alimiter must not renormalise its output (that would undo the gain);
            # latency=1: compensate its look-ahead, so the sound stays in sync with the picture.
            chain += [f"aresample={OVERSAMPLED_RATE}",
                      f"alimiter=limit={linear:.5f}:attack=1:release=50:level=0:latency=1",
                      f"aresample={self.sample_rate}"]
        return chain

    def predicted_peaks(self) -> dict[str, float]:
        """The true peak of each signal going into the encoder."""
        peaks = {}
        for label, loud in {self.reference: self.measured, **self.others}.items():
            if loud is not None and math.isfinite(loud.true_peak_dbtp):
                peak = loud.true_peak_dbtp + self.gain_db
                peaks[label] = min(peak, self.limiter_ceiling_dbfs) if self.limit else peak
        return peaks

    def predicted_peak_dbtp(self) -> float:
        """The highest true peak going into the encoder, mix or M&E."""
        return max(self.predicted_peaks().values(), default=-math.inf)

    def to_dict(self) -> dict:
        data = {"gain_db": self.gain_db, "limiter": self.limit,
                "limiter_ceiling_dbfs": round(self.limiter_ceiling_dbfs, 2) if self.limit else None,
                f"source_{self.reference}": self.measured.to_dict(),
                **{f"source_{label}": loud.to_dict() for label, loud in self.others.items()}}
        if self.trial:
            data["trial"] = {label: loud.to_dict() for label, loud in self.trial.items()}
        if self.profiles:
            data["profiles"] = {name: plan.to_dict() for name, plan in self.profiles.items()}
        return data


def plan_gain(measured: Loudness, target: LoudnessConfig, others: Mapping[str, Loudness] | None = None,
              sample_rate: int = 48000, reference: str = "mix") -> GainPlan:
    """One gain from the measured sound held to the target (the mix) to the target; a limiter
    only where the gain would break the ceiling, by that sound's own peaks or those of the
    `others` (the M&E), which get the same gain."""
    others = dict(others or {})
    ceiling = target.true_peak_dbtp - target.limiter_headroom_db
    if measured.silent:
        log.warning("loudness: the full mix is silent; no gain applied")
        return GainPlan(0.0, False, ceiling, measured, others, sample_rate, reference=reference)
    gain = round(target.target_lufs - measured.integrated_lufs, 2)
    plan = GainPlan(gain, False, ceiling, measured, others, sample_rate, reference=reference)
    limit = plan.predicted_peak_dbtp() > target.true_peak_dbtp
    plan = replace(plan, limit=limit)
    log.info("loudness: measured %.2f LUFS, true peak %.1f dBTP; gain %+.2f dB%s", measured.integrated_lufs,
             measured.true_peak_dbtp, gain, f", true-peak limiter at {ceiling:.1f} dBTP" if limit else "")
    return plan


def needs_trial(plan: GainPlan, target: LoudnessConfig, lossy_codec: bool) -> bool:
    """Whether the plan must be confirmed on a trial encode: always for a lossy codec (it can
    push peaks up, and its low-pass takes loudness away from bright material), and where a
    limiter takes loudness away or the peaks come near the ceiling."""
    if plan.measured.silent:
        return False
    return lossy_codec or plan.limit or plan.predicted_peak_dbtp() > target.true_peak_dbtp - TRUE_PEAK_MARGIN_DB


def corrected_plan(plan: GainPlan, trial: Mapping[str, Loudness], target: LoudnessConfig,
                   slope: float = 1.0) -> GainPlan | None:
    """The plan corrected by what its trial encode measured, or None when the trial complies:
    mix at the target (within a quarter of the tolerance, at most 0.1 LU) and every signal at
    least TRUE_PEAK_MARGIN_DB under the ceiling. `slope`: LU of output per dB of gain (under 1
    where a limiter holds the peaks, so a shortfall needs more gain than its size)."""
    mix = trial[plan.reference]
    peak = max((loud.true_peak_dbtp for loud in trial.values() if not loud.silent), default=-math.inf)
    loudness_error = target.target_lufs - mix.integrated_lufs
    ceiling = target.true_peak_dbtp - TRUE_PEAK_MARGIN_DB
    excess = peak - ceiling
    slack = min(0.1, target.tolerance_lu / 4)
    if excess <= 0 and abs(loudness_error) <= slack:
        return None
    gain = plan.gain_db + (loudness_error / slope if abs(loudness_error) > slack else 0.0)
    if excess <= 0:
        return replace(plan, gain_db=round(gain, 2), trial=dict(trial))
    return replace(plan, gain_db=round(gain, 2), limit=True, trial=dict(trial),
                   limiter_ceiling_dbfs=_limiter_ceiling(plan, trial, ceiling))


def _limiter_ceiling(plan: GainPlan, trial: Mapping[str, Loudness], ceiling: float) -> float:
    """Low enough that every signal over the ceiling in the trial comes under it: the codec's
    overshoot on each (its trial peak over the peak that went into the encoder) is taken off."""
    predicted = plan.predicted_peaks()
    limits = []
    for label, loud in trial.items():
        if loud.silent or loud.true_peak_dbtp <= ceiling:
            continue
        overshoot = max(0.0, loud.true_peak_dbtp - predicted.get(label, loud.true_peak_dbtp))
        limits.append(ceiling - overshoot)
        if plan.limit:
            limits.append(plan.limiter_ceiling_dbfs - (loud.true_peak_dbtp - ceiling))
    return max(LIMITER_FLOOR_DBFS, round(min(limits), 2))


def settle_plan(plan: GainPlan, target: LoudnessConfig, run_trial: Callable[[GainPlan], dict[str, Loudness]],
                lossy_codec: bool = True) -> GainPlan:
    """Confirm (and correct) a plan on trial encodes of the audio alone until it complies."""
    if not needs_trial(plan, target, lossy_codec):
        return plan
    tried: list[tuple[GainPlan, float]] = []
    for attempt in range(1, MAX_TRIALS + 1):
        trial = run_trial(plan)
        log.info("loudness trial %d: %s %.2f LUFS, peaks %s", attempt, plan.reference, trial[plan.reference].integrated_lufs,
                 ", ".join(f"{label} {loud.true_peak_dbtp:.1f} dBTP" for label, loud in trial.items()))
        tried.append((plan, trial[plan.reference].integrated_lufs))
        corrected = corrected_plan(plan, trial, target, _slope(tried))
        if corrected is None:
            return replace(plan, trial=dict(trial))
        plan = corrected
        log.info("loudness: corrected to gain %+.2f dB%s", plan.gain_db,
                 f", limiter at {plan.limiter_ceiling_dbfs:.2f} dBTP" if plan.limit else "")
    log.warning("loudness: the plan still misses the target after %d trial encodes", MAX_TRIALS)
    return plan


def _slope(tried: list[tuple[GainPlan, float]]) -> float:
    """Output loudness per dB of gain, from the last two trials with the same limiter."""
    if len(tried) < 2:
        return 1.0
    (before, loud_before), (after, loud_after) = tried[-2:]
    change = after.gain_db - before.gain_db
    if abs(change) < 0.01 or (before.limit, before.limiter_ceiling_dbfs) != (after.limit, after.limiter_ceiling_dbfs):
        return 1.0
    return min(1.0, max(0.25, (loud_after - loud_before) / change))


def trial_command(source: Path, filter_graph: list[str], plan: GainPlan, codec_args: list[str],
                  outputs: Mapping[str, Path], seek_s: float | None = None, duration_s: float | None = None,
                  demuxer: str | None = None) -> list[str]:
    """Encode each stereo signal of `outputs` (label -> file) through the plan's chain and the
    delivery's audio codec, exactly as the render will: audio only."""
    chain = ",".join(plan.filters())
    graph = filter_graph + [f"[{label}]{chain}[trial_{label}]" for label in outputs]
    command = (ffmpeg.base_args() + ffmpeg.input_args(source, seek_s=seek_s, duration_s=duration_s, demuxer=demuxer)
               + ["-vn", "-sn", "-dn", "-filter_complex", ";".join(graph)])
    for label, path in outputs.items():
        command += ["-map", f"[trial_{label}]"] + codec_args + [str(path)]
    return command

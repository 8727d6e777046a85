"""The QC verdict of a delivery: what a technician must look at, per deliverable, and the one
word at the top of the QC report and the metadata sidecar: pass, warning or fail.

A finding is an `error` when the file must not go out as it is (a deliverable that could not
be made, a full mix off its loudness target or over the true-peak ceiling) and a `warning` when
a person should look before publishing (a subtitle a viewer cannot read in time, an M&E that
peaks over the ceiling). The rules that produce subtitle and M&E findings live with those checks;
this module only gathers them and adds the loudness checks of the finished files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from pipeline.config import LoudnessConfig

if TYPE_CHECKING:
    from pipeline.deliverables import Sound

Verdict = Literal["pass", "warning", "fail"]
Severity = Literal["warning", "error"]


@dataclass(frozen=True)
class QCFinding:
    check: str
    """Where it comes from and which rule: 'loudness.integrated', 'subtitles.max_chars_per_line'..."""
    severity: Severity
    message: str
    measured: str | None = None
    limit: str | None = None
    language: str | None = None
    cue: int | None = None
    timecode: str | None = None

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


def loudness_findings(sound: Sound, measured: dict, target: LoudnessConfig) -> list[QCFinding]:
    """The delivered file's loudness against the target: the sound held to the target must be
    on it and under the ceiling; a sound that keeps its gain (the M&E) is measured, never
    targeted (docs/design.md section 2), and only its peaks are a warning."""
    integrated = measured.get("integrated_lufs")
    peak = measured.get("true_peak_dbtp")
    findings: list[QCFinding] = []
    if integrated is None or peak is None:
        return [QCFinding("loudness.measured", "error", "the file's loudness could not be measured")]
    ceiling = f"<= {target.true_peak_dbtp:.1f} dBTP"
    name = sound.title.lower()
    if sound.held_to_target:
        low, high = target.target_lufs - target.tolerance_lu, target.target_lufs + target.tolerance_lu
        if not (math.isfinite(integrated) and low <= integrated <= high):
            findings.append(QCFinding(
                "loudness.integrated", "error",
                f"the {name} measures {integrated:.1f} LUFS, off the {target.standard} target "
                f"of {target.target_lufs:.1f} LUFS +/- {target.tolerance_lu:.1f} LU",
                f"{integrated:.1f} LUFS", f"{low:.1f} to {high:.1f} LUFS"))
        if peak > target.true_peak_dbtp:
            findings.append(QCFinding("loudness.true_peak", "error",
                                      f"the {name} peaks at {peak:.1f} dBTP, over the ceiling",
                                      f"{peak:.1f} dBTP", ceiling))
    elif peak > target.true_peak_dbtp:
        findings.append(QCFinding("loudness.true_peak", "warning",
                                  f"the {name} peaks at {peak:.1f} dBTP, over the ceiling (it keeps the "
                                  "mix's gain, so a dubbing studio will have to bring it down)",
                                  f"{peak:.1f} dBTP", ceiling))
    return findings


def subtitle_findings(language: str, findings: list) -> list[QCFinding]:
    """The subtitle QC findings (pipeline.subtitles.Finding) of one language."""
    return [QCFinding(f"subtitles.{item.rule}", item.severity, item.message, str(item.measured),
                      str(item.limit), item.language, item.cue, item.timecode)
            for item in findings if item.language == language]


def me_findings(me_report) -> list[QCFinding]:
    """The M&E checks that failed (pipeline.audio.me_checks.MEReport), each an error."""
    if me_report is None:
        return []
    return [QCFinding(f"me_checks.{check.name}", "error", check.message, check.measured, check.limit)
            for check in me_report.failures()]


def sound_findings(sound_report, sound: str) -> list[QCFinding]:
    """The findings of pipeline.audio.sound_checks on the sound ('mix' or 'me') a deliverable carries."""
    if sound_report is None:
        return []
    return [QCFinding(item.check, item.severity, item.message, item.measured, item.limit)
            for item in sound_report.for_sound(sound)]


def verdict_of(deliverables: list[dict]) -> Verdict:
    """`deliverables`: sidecar entries with `state` and `qc` (a list of finding dicts)."""
    severities = {finding["severity"] for item in deliverables for finding in item.get("qc", [])}
    if "error" in severities or any(item["state"] != "delivered" for item in deliverables):
        return "fail"
    return "warning" if "warning" in severities else "pass"

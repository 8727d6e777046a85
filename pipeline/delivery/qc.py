"""The QC verdict of a delivery: what a technician must look at, per deliverable, and the one
word at the top of the QC report and the metadata sidecar: pass, warning or fail.

The finding type is pipeline/findings.py. The rules that produce subtitle and M&E findings live
with those checks; this module adds the loudness checks of the finished files and the verdict.
"""

from __future__ import annotations

import math

from pipeline.audio.sounds import Sound
from pipeline.config import LoudnessConfig
from pipeline.findings import QCFinding, Verdict, me_findings, sound_findings, subtitle_findings

__all__ = ["QCFinding", "Verdict", "loudness_findings", "me_findings", "sound_findings", "subtitle_findings",
           "verdict_of"]

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


def verdict_of(deliverables: list[dict]) -> Verdict:
    """`deliverables`: sidecar entries with `state` and `qc` (a list of finding dicts)."""
    severities = {finding["severity"] for item in deliverables for finding in item.get("qc", [])}
    if "error" in severities or any(item["state"] != "delivered" for item in deliverables):
        return "fail"
    return "warning" if "warning" in severities else "pass"

"""A QC finding: what a technician must look at, with the figure measured and the limit. The
type every check reports in, at the bottom of the layers (docs/design.md section 12) so any
step may make one; and the conversions of the checks' own results into findings.

A finding is an `error` when the file must not go out as it is (a deliverable that could not
be made, a full mix off its loudness target or over the true-peak ceiling) and a `warning` when
a person should look before publishing (a subtitle a viewer cannot read in time, an M&E that
peaks over the ceiling).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

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

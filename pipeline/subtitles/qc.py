"""Subtitle QC against the delivery rules: report only, never change a cue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.config import SubtitleRules
from pipeline.subtitles.model import Cue, Finding, SubtitleTrack, format_timecode
from pipeline.subtitles.timing import first_frame_at_or_after

# --------------------------------------------------------------------------------------------
# QC (report only, never change)

_RULES = ("overlap", "past_end", "empty", "too_many_lines", "line_too_long", "reading_speed",
          "too_short", "too_long", "gap_too_short")


@dataclass(frozen=True)
class _QcContext:
    language: str
    rules: SubtitleRules
    programme_ms: int
    fps: float

    def finding(self, cue: Cue, rule: str, measured: str | float, limit: str | float,
                message: str) -> Finding:
        timecode = format_timecode(cue.start_ms)
        return Finding(self.language, cue.index, timecode, rule, measured, limit,
                       f"{self.language} cue {cue.index} at {timecode}: {message}")


def _number(value: float) -> str:
    return f"{value:g}"


def _check_past_end(qc: _QcContext, cue: Cue) -> Finding | None:
    if cue.end_ms <= qc.programme_ms:
        return None
    end, limit = format_timecode(cue.end_ms), format_timecode(qc.programme_ms)
    return qc.finding(cue, "past_end", end, limit,
                      f"ends at {end}, after the programme ends at {limit}")


def _check_empty(qc: _QcContext, cue: Cue) -> Finding | None:
    if cue.plain_text.strip():
        return None
    return qc.finding(cue, "empty", 0, 1, "has no text")


def _check_line_count(qc: _QcContext, cue: Cue) -> Finding | None:
    count, limit = len(cue.lines), qc.rules.max_lines
    if count <= limit:
        return None
    return qc.finding(cue, "too_many_lines", count, limit, f"{count} lines over {limit}")


def _check_line_length(qc: _QcContext, cue: Cue) -> Finding | None:
    lengths = [len(line) for line in cue.plain_lines]
    longest, limit = max(lengths), qc.rules.max_chars_per_line
    if longest <= limit:
        return None
    line = lengths.index(longest) + 1
    return qc.finding(cue, "line_too_long", longest, limit,
                      f"line {line} has {longest} characters, over {limit}")


def _check_reading_speed(qc: _QcContext, cue: Cue) -> Finding | None:
    characters = len(cue.plain_text.replace("\n", ""))
    if cue.duration_ms <= 0 or not characters:
        return None  # a zero-length cue is reported as too short instead of infinitely fast
    speed, limit = characters * 1000 / cue.duration_ms, qc.rules.max_chars_per_second
    if speed <= limit:
        return None
    return qc.finding(cue, "reading_speed", round(speed, 1), limit,
                      f"reading speed {speed:.1f} chars/s over {_number(limit)}")


def _check_duration(qc: _QcContext, cue: Cue) -> Finding | None:
    duration = cue.duration_ms
    if duration < qc.rules.min_duration_ms:
        return qc.finding(cue, "too_short", duration, qc.rules.min_duration_ms,
                          f"shown for {duration} ms, under {qc.rules.min_duration_ms} ms")
    if duration > qc.rules.max_duration_ms:
        return qc.finding(cue, "too_long", duration, qc.rules.max_duration_ms,
                          f"shown for {duration} ms, over {qc.rules.max_duration_ms} ms")
    return None


_PER_CUE_CHECKS: tuple[Callable[[_QcContext, Cue], Finding | None], ...] = (
    _check_past_end, _check_empty, _check_line_count, _check_line_length, _check_reading_speed,
    _check_duration,
)


def _overlap_findings(qc: _QcContext, cues: list[Cue]) -> list[Finding]:
    """A cue that starts before an earlier one has ended (on screen, two cues at once)."""
    findings = []
    latest: Cue | None = None
    for cue in cues:
        if latest is not None and cue.start_ms < latest.end_ms:
            overlap = min(latest.end_ms, cue.end_ms) - cue.start_ms
            findings.append(qc.finding(cue, "overlap", overlap, 0,
                                       f"overlaps cue {latest.index} by {overlap} ms"))
        if latest is None or cue.end_ms > latest.end_ms:
            latest = cue
    return findings


def _gap_findings(qc: _QcContext, cues: list[Cue]) -> list[Finding]:
    """Cues that do not touch but leave fewer blank frames between them than the rule asks.

    The gap is counted in frames as the renderer will show them (first frame of the next cue
    minus first frame after this one), so millisecond rounding of frame times never trips it.
    Cues that touch exactly (gap 0) are chained on purpose and pass; overlaps have their own rule.
    """
    findings = []
    limit = qc.rules.min_gap_frames
    for cue, following in zip(cues, cues[1:]):
        gap_ms = following.start_ms - cue.end_ms
        if gap_ms <= 0:
            continue
        frames = (first_frame_at_or_after(following.start_ms, qc.fps)
                  - first_frame_at_or_after(cue.end_ms, qc.fps))
        if frames < limit:
            findings.append(qc.finding(cue, "gap_too_short", frames, limit,
                                       f"gap of {gap_ms} ms ({frames} frames) before cue "
                                       f"{following.index}, under {limit} frames"))
    return findings


def qc_subtitles(track: SubtitleTrack, rules: SubtitleRules, programme_ms: int,
                 fps: float) -> list[Finding]:
    """Check a track against the delivery rules (docs/design.md section 5). Reports, never changes.

    Findings come sorted by cue number, then in the order of the rules list.
    """
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    qc = _QcContext(track.language, rules, programme_ms, fps)
    cues = sorted(track.cues, key=lambda cue: (cue.start_ms, cue.end_ms))
    findings = [found for cue in cues for check in _PER_CUE_CHECKS
                if (found := check(qc, cue)) is not None]
    findings += _overlap_findings(qc, cues) + _gap_findings(qc, cues)
    return sorted(findings, key=lambda finding: (finding.cue or 0, _RULES.index(finding.rule)))

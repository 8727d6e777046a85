"""Subtitles: read untrusted SRT files, check them against the delivery rules, retime them to the
programme, and write the sidecars (SRT, WebVTT) and the ASS script that burns them in.

Every time inside is an integer number of milliseconds; SRT, VTT and ASS time strings exist only
at the edges (reading and writing). Nothing here changes a cue silently: reading notes what it
normalised, QC reports without changing, retiming reports what it dropped or clipped.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import errno
import logging
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import pysrt
from charset_normalizer import from_bytes

from .config import SubtitleRules, SubtitleStyle
from .errors import DiskFullError, SubtitleError

logger = logging.getLogger(__name__)

Severity = Literal["warning", "error"]

# Tags an SRT may carry and that every output keeps (or, for VTT <font>, drops). Anything else
# between angle brackets is ordinary text, so "x < y > z" and "<3" stay as they are.
_TAG = re.compile(
    r"<\s*(?P<close>/)?\s*(?P<style>[ibu])\s*>"
    r"|<\s*/\s*(?P<font_close>font)\s*>"
    r"|<\s*font\b(?P<font_attrs>[^<>]*)>",
    re.IGNORECASE,
)
_FONT_COLOUR = re.compile(r"""color\s*=\s*["']?\s*(#?[0-9a-z]+)""", re.IGNORECASE)
_NAMED_COLOURS = {
    "white": "FFFFFF", "black": "000000", "red": "FF0000", "green": "00FF00", "lime": "00FF00",
    "blue": "0000FF", "yellow": "FFFF00", "cyan": "00FFFF", "aqua": "00FFFF",
    "magenta": "FF00FF", "fuchsia": "FF00FF", "grey": "808080", "gray": "808080",
}


# --------------------------------------------------------------------------------------------
# Domain


class NoCueError(SubtitleError):
    """The SRT is readable but leaves this language nothing to show: no cue at all, or none
    inside the programme. Only this language's subtitled version fails; the clean master, the
    international version and the other languages still render."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from start_ms (inclusive) to end_ms (exclusive).

    `text` keeps the SRT styling tags (<i>, <b>, <u>, <font color="...">) and "\\n" between lines.
    """

    index: int
    start_ms: int
    end_ms: int
    text: str

    def __post_init__(self) -> None:
        if self.start_ms < 0 or self.end_ms < self.start_ms:
            raise ValueError(f"cue {self.index}: invalid times {self.start_ms}..{self.end_ms} ms")

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def plain_text(self) -> str:
        """The text as a viewer reads it: styling tags removed, line breaks kept."""
        return _TAG.sub("", self.text)

    @property
    def lines(self) -> list[str]:
        """The text's lines, tags kept."""
        return self.text.split("\n")

    @property
    def plain_lines(self) -> list[str]:
        return self.plain_text.split("\n")


@dataclass
class SubtitleTrack:
    """One language's subtitles, cues sorted by start time and numbered 1..n."""

    language: str
    """BCP 47 tag: en, fr, sr-Latn."""
    source: Path
    cues: list[Cue]
    encoding: str
    """The encoding the source was read in (all output is UTF-8)."""
    notes: list[str] = field(default_factory=list)
    """What was normalised while reading or retiming, for the QC report."""


@dataclass(frozen=True)
class Finding:
    """One QC or retiming observation about one cue (or the whole track when cue is None)."""

    language: str
    cue: int | None
    timecode: str
    rule: str
    measured: str | float
    limit: str | float
    message: str
    severity: Severity = "warning"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def format_timecode(ms: int) -> str:
    """Milliseconds as an SRT timecode, HH:MM:SS,mmm."""
    if ms < 0:
        raise ValueError(f"negative time: {ms} ms")
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


# --------------------------------------------------------------------------------------------
# Reading: bytes -> text

_BOMS = (
    # UTF-32 first: its little-endian mark begins with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
)

# The "ANSI" code page a Windows subtitle editor saves in for a language. Short subtitle files
# give charset detectors too little text to tell these pages apart (a French file comes back as
# Windows-1250, a Polish one as nothing at all), so the language the file is declared to be in
# decides; detection is used only for languages without an entry here.
_WINDOWS_CODE_PAGE = {
    **dict.fromkeys(("en", "fr", "de", "es", "it", "pt", "nl", "sv", "no", "nb", "nn", "da",
                     "fi", "is", "ga", "ca", "eu", "gl", "af", "sw", "id", "ms"), "windows-1252"),
    **dict.fromkeys(("cs", "pl", "sk", "sl", "hu", "hr", "bs", "ro", "sq"), "windows-1250"),
    **dict.fromkeys(("ru", "uk", "bg", "mk", "be"), "windows-1251"),
    "el": "windows-1253", "tr": "windows-1254", "he": "windows-1255",
    **dict.fromkeys(("ar", "fa", "ur"), "windows-1256"),
    **dict.fromkeys(("et", "lv", "lt"), "windows-1257"),
    "vi": "windows-1258",
}
_DETECTABLE_CODE_PAGES = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257")
_MAX_CONTROL_SHARE = 0.1


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        if not path.exists():
            raise SubtitleError(path, "does not exist", "check the package's file names")
        if not path.is_file():
            raise SubtitleError(path, "is not a regular file",
                                "submit the subtitles as a plain .srt file")
        size = path.stat().st_size
        if size <= max_bytes:
            with path.open("rb") as handle:
                raw = handle.read(max_bytes + 1)
            size = len(raw)
    except OSError as error:
        raise SubtitleError(path, f"cannot be read: {error.strerror}",
                            "check that the file exists and is readable") from None
    if size > max_bytes:
        raise SubtitleError(path, f"is {size} bytes, over the limit of {max_bytes} bytes",
                            "split or check it is really an SRT file")
    return raw


def _decode(path: Path, raw: bytes, language: str) -> tuple[str, str]:
    """The file's text and the encoding it was read in: BOM, then UTF-8, then a Windows page."""
    for bom, encoding, label in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(encoding), label
            except UnicodeDecodeError as error:
                bad_byte = error.start + len(bom)
                problem = (f"starts with a {encoding} byte-order mark but byte {bad_byte} "
                           f"is not valid {encoding}")
                raise SubtitleError(path, problem, "save it again as UTF-8") from None
    if b"\x00" in raw:
        raise SubtitleError(path, "contains NUL bytes: it is a binary file, or UTF-16 without a "
                            "byte-order mark", "export the subtitles again as SRT in UTF-8")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in (_legacy_code_page(raw, language), "windows-1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    # Latin-1 maps every byte; it is what is left when Windows-1252 has no character for a byte.
    return raw.decode("latin-1"), "latin-1"


def _legacy_code_page(raw: bytes, language: str) -> str:
    subtags = language.lower().split("-")
    if subtags[0] == "sr":
        # Serbian is written in both scripts; the script subtag says which, else the letters do.
        if "latn" in subtags[1:]:
            return "windows-1250"
        if "cyrl" in subtags[1:] or _mostly_cyrillic(raw.decode("cp1251", errors="replace")):
            return "windows-1251"
        return "windows-1250"
    if subtags[0] in _WINDOWS_CODE_PAGE:
        return _WINDOWS_CODE_PAGE[subtags[0]]
    return _detect_code_page(raw)


def _mostly_cyrillic(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
    return cyrillic * 2 > len(letters)


def _detect_code_page(raw: bytes) -> str:
    matches = list(from_bytes(raw, cp_isolation=list(_DETECTABLE_CODE_PAGES)))
    if not matches:
        return "windows-1252"
    least_chaos = min(match.chaos for match in matches)
    # On a tie Windows-1252 wins: it is the page the design promises to read.
    tied = [match.encoding for match in matches if match.chaos <= least_chaos]
    encoding = "cp1252" if "cp1252" in tied else tied[0]
    return encoding.replace("cp", "windows-")


def _refuse_binary(path: Path, text: str) -> None:
    if "\x00" in text:
        raise SubtitleError(path, "contains NUL characters: it is not a text file",
                            "export the subtitles as SRT (SubRip text)")
    controls = sum(1 for ch in text if _is_control(ch) and ch not in "\t\n\r")
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        share = round(100 * controls / len(text))
        raise SubtitleError(path, f"is not a text file ({share}% of it is control characters)",
                            "export the subtitles as SRT (SubRip text)")


def _is_control(ch: str) -> bool:
    return ch < " " or "\x7f" <= ch <= "\x9f"


# --------------------------------------------------------------------------------------------
# Reading: text -> cues

_TIMING_LINE = re.compile(
    r"(\d{1,3}):([0-5]\d):([0-5]\d)([,.])(\d{3})[ \t]*-->[ \t]*"
    r"(\d{1,3}):([0-5]\d):([0-5]\d)([,.])(\d{3})(?:[ \t].*)?",
    re.ASCII,
)
_CUE_NUMBER = re.compile(r"[0-9]{1,9}")
# Control characters a stray editor left (DOS end-of-file marks, form feeds, a BOM in the
# middle of two joined files) go; tabs and Unicode line/paragraph separators become spaces, so
# that every tool (pysrt splits on them) sees the same lines we number.
_LINE_CLEANUP = {
    **{code: None for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))},
    0x09: " ", 0x2028: " ", 0x2029: " ", 0xFEFF: None,
}


@dataclass(frozen=True)
class _Timing:
    line_no: int
    start_ms: int
    end_ms: int
    srt_line: str
    """The timing as SRT spells it (comma before milliseconds, no position suffix)."""
    used_dot: bool


@dataclass(frozen=True)
class _CueBlock:
    timing: _Timing
    number: int | None
    text_lines: tuple[str, ...]


def _clean_lines(text: str) -> tuple[list[str], bool]:
    """The text split at CRLF, CR or LF, each line cleaned; and whether cleaning changed any."""
    raw_lines = re.split(r"\r\n|\r|\n", text)
    lines = [line.translate(_LINE_CLEANUP).rstrip() for line in raw_lines]
    changed = any(line.translate(_LINE_CLEANUP) != line for line in raw_lines)
    return lines, changed


def _find_timings(path: Path, lines: list[str], max_cues: int) -> list[tuple[int, _Timing]]:
    positions = [at for at, line in enumerate(lines) if "-->" in line]
    if not positions:
        raise SubtitleError(path, "is not an SRT file: no cue timing line such as "
                            "'00:00:01,000 --> 00:00:03,500' was found",
                            "export the subtitles as SRT (SubRip)")
    if len(positions) > max_cues:
        raise SubtitleError(path, f"has {len(positions)} cues, over the limit of {max_cues}",
                            "split it or check it is really one programme's subtitles")
    return [(at, _parse_timing(path, at + 1, lines[at])) for at in positions]


def _parse_timing(path: Path, line_no: int, line: str) -> _Timing:
    match = _TIMING_LINE.fullmatch(line.strip())
    if match is None:
        shown = line.strip()[:80]
        raise SubtitleError(path, f"this timing line cannot be read: '{shown}'",
                            "write it as HH:MM:SS,mmm --> HH:MM:SS,mmm, "
                            "e.g. 00:01:02,500 --> 00:01:05,000", line=line_no)
    parts = match.groups()
    start_ms = _to_ms(parts[0:3], parts[4])
    end_ms = _to_ms(parts[5:8], parts[9])
    if end_ms < start_ms:
        raise SubtitleError(path, f"the cue ends ({format_timecode(end_ms)}) before it starts "
                            f"({format_timecode(start_ms)})", "correct the cue's end time",
                            line=line_no)
    srt_line = f"{':'.join(parts[0:3])},{parts[4]} --> {':'.join(parts[5:8])},{parts[9]}"
    return _Timing(line_no, start_ms, end_ms, srt_line, "." in (parts[3], parts[8]))


def _to_ms(hms: tuple[str, ...], millis: str) -> int:
    hours, minutes, seconds = (int(part) for part in hms)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + int(millis)


def _number_line(lines: list[str], timing_at: int, previous_timing_at: int | None) -> int | None:
    """Where the cue number of the timing line at `timing_at` is, if it has one.

    It is the last non-blank line before the timing line, when made of digits. Right after the
    previous timing line, though, a line of digits is that cue's text ("1995"), not a number.
    """
    floor = 0 if previous_timing_at is None else previous_timing_at + 2
    at = timing_at - 1
    while at >= floor and not lines[at]:
        at -= 1
    if at >= floor and _CUE_NUMBER.fullmatch(lines[at].strip()):
        return at
    return None


def _cue_blocks(lines: list[str],
                timings: list[tuple[int, _Timing]]) -> tuple[list[_CueBlock], int]:
    """The cues, each with its number and text; and how many lines came before the first cue.

    Blank lines do not delimit cues here (files miss them or double them); timing lines do.
    """
    positions = [at for at, _ in timings]
    number_lines = [_number_line(lines, at, positions[k - 1] if k else None)
                    for k, at in enumerate(positions)]
    blocks = []
    for k, (at, timing) in enumerate(timings):
        if k + 1 < len(timings):
            text_end = number_lines[k + 1] if number_lines[k + 1] is not None else positions[k + 1]
        else:
            text_end = len(lines)
        text = tuple(line for line in lines[at + 1:text_end] if line)
        number_at = number_lines[k]
        number = int(lines[number_at]) if number_at is not None else None
        blocks.append(_CueBlock(timing, number, text))
    first = number_lines[0] if number_lines[0] is not None else positions[0]
    leading = sum(1 for line in lines[:first] if line)
    return blocks, leading


def _parse_with_pysrt(path: Path, blocks: list[_CueBlock]) -> list[pysrt.SubRipItem]:
    """pysrt parses the cues; we check it read every cue we saw, at the times we saw.

    pysrt skips what it cannot read without a word, so a damaged file could otherwise be read
    half-way and burned in with cues missing.
    """
    source = "".join(
        f"{n}\n{block.timing.srt_line}\n" + "".join(f"{line}\n" for line in block.text_lines) + "\n"
        for n, block in enumerate(blocks, 1))
    try:
        items = list(pysrt.SubRipFile.from_string(
            source, error_handling=pysrt.SubRipFile.ERROR_RAISE))
    except pysrt.Error as error:
        raise SubtitleError(path, f"cannot be parsed as SRT ({type(error).__name__})",
                            "export the subtitles as SRT (SubRip) again") from None
    if len(items) != len(blocks):
        raise SubtitleError(path, f"has {len(blocks)} timing lines but only {len(items)} cues "
                            "could be read", "export the subtitles as SRT (SubRip) again")
    for item, block in zip(items, blocks):
        if (item.start.ordinal, item.end.ordinal) != (block.timing.start_ms, block.timing.end_ms):
            raise SubtitleError(path, "this cue's timing was read two different ways",
                                "write it as HH:MM:SS,mmm --> HH:MM:SS,mmm",
                                line=block.timing.line_no)
    return items


def _numbered_cues(blocks: list[_CueBlock],
                   items: list[pysrt.SubRipItem]) -> tuple[list[Cue], list[str]]:
    """The cues sorted by start time (then end, then file order) and numbered 1..n."""
    order = sorted(range(len(items)),
                   key=lambda k: (items[k].start.ordinal, items[k].end.ordinal, k))
    cues = [Cue(n, items[k].start.ordinal, items[k].end.ordinal, items[k].text)
            for n, k in enumerate(order, 1)]
    notes = []
    if order != sorted(order):
        notes.append("sorted cues by start time")
    if [blocks[k].number for k in order] != list(range(1, len(order) + 1)):
        notes.append(f"renumbered cues 1 to {len(order)} "
                     "(numbers were missing, repeated or out of order)")
    if any(block.timing.used_dot for block in blocks):
        notes.append("read '.' before milliseconds as ','")
    return cues, notes


def read_srt(path: str | Path, language: str, max_bytes: int, max_cues: int) -> SubtitleTrack:
    """Read an untrusted SRT file into a track, or raise SubtitleError naming the file and line.

    Accepts UTF-8 (with or without BOM), UTF-16 with BOM, Windows code pages (Windows-1252 and
    Latin-1 for western languages); CRLF or LF; missing or doubled blank lines; missing or
    disordered cue numbers; '.' before milliseconds. Styling tags are kept.
    """
    path = Path(path)
    raw = _read_bytes(path, max_bytes)
    text, encoding = _decode(path, raw, language)
    _refuse_binary(path, text)
    if not text.replace("\ufeff", "").strip():
        raise NoCueError(path, "is empty: it has no cue",
                         "export the subtitles again, or leave the file out of the package")
    lines, cleaned = _clean_lines(text)
    timings = _find_timings(path, lines, max_cues)
    blocks, leading = _cue_blocks(lines, timings)
    cues, notes = _numbered_cues(blocks, _parse_with_pysrt(path, blocks))
    if encoding != "utf-8":
        notes.insert(0, f"detected encoding {encoding}")
    if leading:
        notes.append(f"ignored {leading} line(s) of text before the first cue")
        logger.warning("%s: ignored %d line(s) before the first cue", path, leading)
    if cleaned:
        notes.append("removed control characters and turned tabs into spaces")
    logger.info("read %d cues from %s (%s)", len(cues), path, encoding)
    return SubtitleTrack(language, path, cues, encoding, notes)


# --------------------------------------------------------------------------------------------
# Frames


def _first_frame_at_or_after(ms: int, fps: float) -> int:
    # The epsilon keeps a time that is exactly a frame's start on that frame despite float error.
    return math.ceil(ms * fps / 1000 - 1e-6)


def _frame_start_ms(frame: int, fps: float) -> int:
    """Frame `frame`'s start, rounded *down* to the millisecond.

    Rounding down keeps the time at or before the frame's own timestamp, so a renderer that
    shows a cue when `start <= frame time` shows it on this frame; rounding up (34 ms for frame 1
    at 29.97 fps, whose timestamp is 33.37 ms) would push the cue to the next frame. Frames are
    more than a millisecond apart, so the value still lies after the previous frame.
    """
    return math.floor(frame * 1000 / fps + 1e-6)


def snap_to_frames(track: SubtitleTrack, fps: float) -> SubtitleTrack:
    """Move each cue's start and end up to the frame on which it appears / disappears.

    A cue appears on the first frame at or after its start and is gone by the first frame at or
    after its end. Times already on a frame stay; snapping twice changes nothing. A cue shorter
    than a frame may end up zero-length: on screen it would never appear either (QC reports it).
    """
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")

    def snap(ms: int) -> int:
        return _frame_start_ms(_first_frame_at_or_after(ms, fps), fps)

    cues = [dataclasses.replace(cue, start_ms=snap(cue.start_ms), end_ms=snap(cue.end_ms))
            for cue in track.cues]
    note = f"snapped to frames at {fps:g} fps"
    return dataclasses.replace(track, cues=cues, notes=[*track.notes, note])


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
        frames = (_first_frame_at_or_after(following.start_ms, qc.fps)
                  - _first_frame_at_or_after(cue.end_ms, qc.fps))
        if frames < limit:
            findings.append(qc.finding(cue, "gap_too_short", frames, limit,
                                       f"gap of {gap_ms} ms ({frames} frames) before cue "
                                       f"{following.index}, under {limit} frames"))
    return findings


def qc_subtitles(track: SubtitleTrack, rules: SubtitleRules, programme_ms: int,
                 fps: float) -> list[Finding]:
    """Check a track against the delivery rules (DESIGN.md section 5). Reports, never changes.

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


# --------------------------------------------------------------------------------------------
# Retiming to the programme


def _retime_finding(track: SubtitleTrack, cue: Cue, rule: str, limit: str, message: str) -> Finding:
    timecode = format_timecode(cue.start_ms)
    span = f"{timecode} --> {format_timecode(cue.end_ms)}"
    return Finding(track.language, cue.index, timecode, rule, span, limit,
                   f"{track.language} cue {cue.index} at {timecode} (in the SRT): {message}")


def retime(track: SubtitleTrack, offset_ms: int,
           programme_ms: int) -> tuple[SubtitleTrack, list[Finding]]:
    """Shift the cues by -offset_ms onto the programme's timeline [0, programme_ms).

    `offset_ms` is where the programme starts in the SRT's time (the line-up cut from the master,
    or the master's start timecode). Cues wholly outside are dropped, cues across an edge are
    clipped; both are reported, with the cue's number and time as the SRT has them.
    """
    first, last = max(offset_ms, 0), max(offset_ms + programme_ms, 0)
    window = f"{format_timecode(first)} --> {format_timecode(last)}"
    kept: list[tuple[int, int, str]] = []
    findings = []
    for cue in track.cues:
        start, end = cue.start_ms - offset_ms, cue.end_ms - offset_ms
        if end <= 0 or start >= programme_ms:
            findings.append(_retime_finding(
                track, cue, "dropped_outside_programme", window,
                f"dropped: it lies wholly outside the programme ({window})"))
            continue
        clipped = (max(start, 0), min(end, programme_ms))
        if clipped != (start, end):
            findings.append(_retime_finding(track, cue, "clipped", window,
                                            f"clipped to the programme ({window})"))
        kept.append((*clipped, cue.text))
    if not kept:
        raise NoCueError(track.source, f"every cue lies outside the programme ({window} in the "
                         "SRT's time)", "check that the SRT belongs to this master and is timed "
                         "from the start of the master file")
    cues = [Cue(n, start, end, text) for n, (start, end, text) in enumerate(kept, 1)]
    note = f"shifted by {-offset_ms} ms onto the programme"
    return dataclasses.replace(track, cues=cues, notes=[*track.notes, note]), findings


# --------------------------------------------------------------------------------------------
# Which clock an SRT is timed to: the file's, or the master's start timecode

_START_TIMECODE = re.compile(r"(\d{1,2}):([0-5]\d):([0-5]\d)[:;.,](\d{2})", re.ASCII)


def timecode_ms(timecode: str, fps: float) -> int | None:
    """A start timecode (HH:MM:SS:FF; ';' before the frames for drop-frame) as the time its
    label reads, in ms; None when it is not a timecode at this frame rate.

    The label is what an SRT timed to the timecode holds: a subtitle editor showing 10:00:01:00
    writes 10:00:01,000. A labelled second has round(fps) frames.
    """
    match = _START_TIMECODE.fullmatch(timecode.strip())
    nominal = round(fps) if fps > 0 else 0
    if match is None or nominal == 0:
        return None
    hours, minutes, seconds, frames = (int(part) for part in match.groups())
    if frames >= nominal:
        return None
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + round(frames * 1000 / nominal)


def _any_cue_inside(track: SubtitleTrack, start_ms: int, length_ms: int) -> bool:
    return any(cue.end_ms > start_ms and cue.start_ms < start_ms + length_ms for cue in track.cues)


def _span(start_ms: int, length_ms: int) -> str:
    return f"{format_timecode(start_ms)} --> {format_timecode(start_ms + length_ms)}"


def programme_offset(track: SubtitleTrack, programme_start_ms: int, programme_ms: int,
                     master_ms: int, start_timecode: str | None,
                     fps: float) -> tuple[int, list[Finding]]:
    """Where the programme starts in the SRT's own time, for `retime`.

    An SRT is timed from the first frame of the file (00:00:00,000), unless it is timed to the
    master's start timecode: edit suites start masters at 10:00:00:00 and their SRTs follow
    (first cue at 10:00:01,000). That is taken to be the case when no cue lands inside the
    programme in the file's time but some do from the timecode, or when the first cue is at or
    after the timecode and some cue would start past the end of the file. The shift is reported;
    an SRT that fits neither clock raises NoCueError naming both windows it tried.
    """
    origin = timecode_ms(start_timecode, fps) if start_timecode else None
    if not origin or not track.cues:
        return programme_start_ms, []
    first = min(cue.start_ms for cue in track.cues)
    fits_file = _any_cue_inside(track, programme_start_ms, programme_ms)
    fits_timecode = _any_cue_inside(track, origin + programme_start_ms, programme_ms)
    timed_to_timecode = first >= origin and any(cue.start_ms >= master_ms for cue in track.cues)
    if fits_timecode and (timed_to_timecode or not fits_file):
        moved = format_timecode(origin)
        finding = Finding(track.language, None, format_timecode(first), "timed_to_timecode",
                          format_timecode(first), start_timecode,
                          f"{track.language}: the SRT is timed to the master's start timecode "
                          f"{start_timecode} (first cue at {format_timecode(first)}); every cue "
                          f"moved {moved} earlier onto the file's time")
        return origin + programme_start_ms, [finding]
    if fits_file:
        return programme_start_ms, []
    raise NoCueError(track.source, "no cue lies inside the programme, neither in the file's time "
                     f"({_span(programme_start_ms, programme_ms)}) nor timed to the master's start "
                     f"timecode {start_timecode} ({_span(origin + programme_start_ms, programme_ms)})",
                     "time the SRT from the first frame of the master file (00:00:00,000) or from "
                     f"its start timecode {start_timecode}, and check it belongs to this master")


# --------------------------------------------------------------------------------------------
# Sidecar writers


def _write_atomically(path: str | Path, text: str) -> None:
    """Write UTF-8 text to a temp file beside `path`, then rename: never a half-written file."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it private; a sidecar is meant to be shared
        os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise DiskFullError(path.parent, shutil.disk_usage(path.parent).free) from error
        raise


def srt_text(track: SubtitleTrack) -> str:
    """The track as SRT: renumbered, LF line ends, tags kept."""
    return "".join(
        f"{n}\n{format_timecode(cue.start_ms)} --> {format_timecode(cue.end_ms)}\n{cue.text}\n\n"
        for n, cue in enumerate(track.cues, 1))


def write_srt(track: SubtitleTrack, path: str | Path) -> None:
    """Write the track as UTF-8 SRT (no BOM, LF)."""
    _write_atomically(path, srt_text(track))


def _vtt_time(ms: int) -> str:
    return format_timecode(ms).replace(",", ".")


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_cue_text(text: str) -> str:
    """SRT cue text as WebVTT cue text: <i> <b> <u> kept, <font> dropped (VTT has no such tag)."""
    parts, position = [], 0
    for match in _TAG.finditer(text):
        parts.append(_vtt_escape(text[position:match.start()]))
        if match["style"]:
            parts.append(f"<{'/' if match['close'] else ''}{match['style'].lower()}>")
        position = match.end()
    parts.append(_vtt_escape(text[position:]))
    return "".join(parts)


def vtt_text(track: SubtitleTrack) -> str:
    """The track as WebVTT, valid for a browser's <track> element."""
    cues = "".join(
        f"{n}\n{_vtt_time(cue.start_ms)} --> {_vtt_time(cue.end_ms)}\n{_vtt_cue_text(cue.text)}\n\n"
        for n, cue in enumerate(track.cues, 1))
    return f"WEBVTT\n\n{cues}"


def write_vtt(track: SubtitleTrack, path: str | Path) -> None:
    """Write the track as UTF-8 WebVTT."""
    _write_atomically(path, vtt_text(track))


# --------------------------------------------------------------------------------------------
# Burn-in: ASS for libass

_ASS_STYLE_FORMAT = ("Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
                     "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
                     "Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, "
                     "Encoding")
_ASS_EVENT_FORMAT = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"
_WORD_JOINER = "\u2060"


def _ass_time(ms: int) -> str:
    """ASS time (H:MM:SS.cc) for a frame-snapped millisecond time.

    ASS keeps centiseconds. ffmpeg's subtitles filter asks libass for the frame at its timestamp
    truncated to whole milliseconds (33 ms for frame 1 at 29.97 fps, 119 ms when float error puts
    frame 3 at 25 fps a hair under 120), and libass shows an event while start <= t < end. So the
    time is the last centisecond strictly before `ms`: at most 10 ms earlier, which is still
    after the previous frame at any rate up to 90 fps, and never after this frame's timestamp.
    Rounding up instead would show every cue one frame late at 29.97 fps.
    """
    centis = max(0, (ms - 1) // 10)
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{centis:02d}"


def _ass_escape(text: str) -> str:
    """User text as literal ASS text: it can never open an override block or an escape.

    libass reads "\\{" and "\\}" as literal braces. A backslash has no escape of its own, so a
    word joiner (invisible) after it stops it from forming \\N, \\h or \\{ with what follows.
    """
    text = text.replace("\r", "").replace("\\", "\\" + _WORD_JOINER)
    return text.replace("{", "\\{").replace("}", "\\}").replace("\n", "\\N")


def _ass_colour(value: str) -> str | None:
    """'#RRGGBB' or a basic colour name as ASS &HBBGGRR&, or None when it is neither."""
    rgb = _NAMED_COLOURS.get(value.lower(), value.lstrip("#"))
    if not re.fullmatch(r"[0-9a-fA-F]{6}", rgb):
        return None
    return f"&H{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}&".upper()


@dataclass
class _AssTagState:
    open_styles: list[str] = field(default_factory=list)
    colours: list[str | None] = field(default_factory=list)

    def override(self, match: re.Match) -> str:
        """The ASS override block for one SRT tag."""
        if match["style"]:
            name = match["style"].lower()
            if match["close"]:
                with contextlib.suppress(ValueError):
                    self.open_styles.remove(name)
                return f"{{\\{name}0}}"
            self.open_styles.append(name)
            return f"{{\\{name}1}}"
        if match["font_close"]:
            return self._close_font()
        colour = _FONT_COLOUR.search(match["font_attrs"] or "")
        ass_colour = _ass_colour(colour[1]) if colour else None
        self.colours.append(ass_colour)
        return f"{{\\c{ass_colour}}}" if ass_colour else ""

    def _close_font(self) -> str:
        if not self.colours or self.colours.pop() is None:
            return ""
        # \r resets everything to the style, so styles still open and an outer colour come back.
        outer = next((colour for colour in reversed(self.colours) if colour), None)
        restore = "".join(f"\\{name}1" for name in self.open_styles)
        if outer:
            restore += f"\\c{outer}"
        return f"{{\\r{restore}}}"


def _ass_text(cue: Cue, max_lines: int, language: str) -> str:
    lines = cue.lines
    if len(lines) > max_lines:
        logger.warning("%s cue %d has %d lines; burning it in on %d", language, cue.index,
                       len(lines), max_lines)
        lines = [*lines[:max_lines - 1], " ".join(lines[max_lines - 1:])]
    text = "\n".join(lines)
    state, parts, position = _AssTagState(), [], 0
    for match in _TAG.finditer(text):
        parts.append(_ass_escape(text[position:match.start()]))
        parts.append(state.override(match))
        position = match.end()
    parts.append(_ass_escape(text[position:]))
    return "".join(parts)


def _ass_header(style: SubtitleStyle, width: int, height: int) -> list[str]:
    # A comma in the font name would shift every later field of the Style line.
    font = re.sub(r"[,\r\n]", " ", style.font_name)
    fields = [
        "Default", font, round(style.size_ratio * height), style.primary_colour, "&H000000FF",
        style.outline_colour, style.back_colour, 0, 0, 0, 0, 100, 100, 0, 0, 1,
        round(style.outline_ratio * height, 2), round(style.shadow_ratio * height, 2), 2,
        round(style.side_margin_ratio * width), round(style.side_margin_ratio * width),
        round(style.bottom_margin_ratio * height), 1,
    ]
    return [
        "[Script Info]", "; Script generated by pipeline.subtitles", "ScriptType: v4.00+",
        f"PlayResX: {width}", f"PlayResY: {height}", "WrapStyle: 0",
        "ScaledBorderAndShadow: yes", "",
        "[V4+ Styles]", f"Format: {_ASS_STYLE_FORMAT}",
        "Style: " + ",".join(str(value) for value in fields), "",
        "[Events]", f"Format: {_ASS_EVENT_FORMAT}",
    ]


def to_ass(track: SubtitleTrack, style: SubtitleStyle, width: int, height: int,
           max_lines: int) -> str:
    """A complete ASS script that burns the track into a width x height picture.

    Give it a frame-snapped track (snap_to_frames): each cue then shows from its first frame and
    is gone on the frame at or after its end. A cue with more than max_lines lines is kept, its
    last lines joined (QC reports it as too_many_lines).
    """
    events = [f"Dialogue: 0,{_ass_time(cue.start_ms)},{_ass_time(cue.end_ms)},Default,,0,0,0,,"
              f"{_ass_text(cue, max_lines, track.language)}" for cue in track.cues]
    return "\n".join([*_ass_header(style, width, height), *events]) + "\n"


def write_ass(track: SubtitleTrack, path: str | Path, style: SubtitleStyle, width: int, height: int,
              max_lines: int) -> None:
    """Write the burn-in ASS script (UTF-8)."""
    _write_atomically(path, to_ass(track, style, width, height, max_lines))


# --------------------------------------------------------------------------------------------
# Language tags

_BCP47 = re.compile(
    r"(?P<language>[a-z]{2,3})(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)",
    re.ASCII | re.IGNORECASE,
)

_ISO639_2B = {
    "en": "eng", "fr": "fre", "de": "ger", "es": "spa", "it": "ita", "pt": "por", "nl": "dut",
    "sr": "srp", "hr": "hrv", "bs": "bos", "uk": "ukr", "ru": "rus", "ar": "ara", "zh": "chi",
    "ja": "jpn", "ko": "kor", "pl": "pol", "cs": "cze", "sk": "slo", "sl": "slv", "hu": "hun",
    "ro": "rum", "bg": "bul", "el": "gre", "tr": "tur", "he": "heb", "fa": "per", "hi": "hin",
    "sv": "swe", "no": "nor", "nb": "nob", "nn": "nno", "da": "dan", "fi": "fin", "et": "est",
    "lv": "lav", "lt": "lit", "sq": "alb", "mk": "mac", "be": "bel", "ca": "cat", "eu": "baq",
    "gl": "glg", "ga": "gle", "cy": "wel", "is": "ice", "mt": "mlt", "vi": "vie", "th": "tha",
    "id": "ind", "ms": "may", "sw": "swa", "ur": "urd", "bn": "ben", "ta": "tam", "hy": "arm",
    "ka": "geo", "az": "aze", "kk": "kaz", "uz": "uzb", "af": "afr", "am": "amh", "so": "som",
}
# ISO 639-2/T codes that differ from the /B code MP4 expects.
_ISO639_2T_TO_B = {
    "fra": "fre", "deu": "ger", "nld": "dut", "zho": "chi", "ces": "cze", "slk": "slo",
    "ron": "rum", "ell": "gre", "fas": "per", "sqi": "alb", "mkd": "mac", "eus": "baq",
    "cym": "wel", "isl": "ice", "msa": "may", "hye": "arm", "kat": "geo",
}


def normalise_language_tag(tag: str, source: str | Path) -> str:
    """A BCP 47 tag in its usual case (sr-latn -> sr-Latn), or SubtitleError naming `source`."""
    match = _BCP47.fullmatch(tag) if not any(bad in tag for bad in ("..", "/", "\\")) else None
    if match is None:
        raise SubtitleError(source, f"'{tag[:40]}' is not a language tag (BCP 47, such as en, fr, "
                            "sr-Latn, pt-BR)", "name it <master>.<lang>.srt, e.g. news.fr.srt")
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts += [variant.lower() for variant in match["variants"].split("-") if variant]
    return "-".join(parts)


def language_from_filename(srt_path: str | Path, master_stem: str) -> str:
    """The language of `<master>.<lang>.srt`, validated as a BCP 47 tag."""
    name = Path(srt_path).name
    prefix = f"{master_stem}."
    fix = f"name it {master_stem}.<lang>.srt, e.g. {master_stem}.fr.srt"
    if not (name.startswith(prefix) and name.lower().endswith(".srt")):
        raise SubtitleError(srt_path, f"is not named after the master '{master_stem}'", fix)
    tag = name[len(prefix):-len(".srt")]
    if not tag:
        raise SubtitleError(srt_path, "has no language tag in its name", fix)
    try:
        return normalise_language_tag(tag, srt_path)
    except SubtitleError as error:
        raise SubtitleError(srt_path, error.problem, fix) from None


def iso639_2(tag: str) -> str:
    """The ISO 639-2/B code MP4 stores for a BCP 47 tag ('fr-CA' -> 'fre'), or 'und'."""
    primary = tag.split("-")[0].lower()
    if len(primary) == 3:
        return _ISO639_2T_TO_B.get(primary, primary if primary in _ISO639_2B.values() else "und")
    return _ISO639_2B.get(primary, "und")

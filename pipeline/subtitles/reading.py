"""Reading untrusted subtitle files: bytes to text (BOMs, code pages), text to cues."""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pysrt
from charset_normalizer import from_bytes

from pipeline.errors import SubtitleError
from pipeline.subtitles.model import Cue, NoCueError, SubtitleTrack, format_timecode
from pipeline.subtitles.scripts import ScriptMismatch, language_scripts, script_mismatch
from pipeline.subtitles.webvtt import is_webvtt, read_webvtt_cues

logger = logging.getLogger(__name__)


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
# decides; detection is used only for languages without an entry here. The East Asian pages are
# the Windows ones (CP932 is Shift_JIS, CP949 is Korean EUC-KR and more, CP950 is Big5), GB18030
# a superset of GB2312 and GBK.
_WINDOWS_CODE_PAGE = {
    **dict.fromkeys(("en", "fr", "de", "es", "it", "pt", "nl", "sv", "no", "nb", "nn", "da",
                     "fi", "is", "ga", "ca", "eu", "gl", "af", "sw", "id", "ms", "cy", "so"),
                    "windows-1252"),
    **dict.fromkeys(("cs", "pl", "sk", "sl", "hu", "hr", "bs", "ro", "sq"), "windows-1250"),
    **dict.fromkeys(("ru", "uk", "bg", "mk", "be", "kk"), "windows-1251"),
    "el": "windows-1253", "tr": "windows-1254", "he": "windows-1255", "yi": "windows-1255",
    **dict.fromkeys(("ar", "fa", "ur"), "windows-1256"),
    **dict.fromkeys(("et", "lv", "lt"), "windows-1257"),
    "vi": "windows-1258", "th": "cp874", "ja": "shift_jis", "ko": "cp949",
}
_TRADITIONAL_CHINESE = ("hant", "tw", "hk", "mo")
_DETECTABLE_CODE_PAGES = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257")
_MAX_CONTROL_SHARE = 0.1
_UTF8_FIX = "save it as UTF-8 (in the subtitle editor: Save as... > Encoding: UTF-8)"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        if not path.exists():
            raise SubtitleError(path, "does not exist", "check the package's file names")
        if not path.is_file():
            raise SubtitleError(path, "is not a regular file",
                                "submit the subtitles as a plain .srt or .vtt file")
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
    """The file's text and the encoding it was read in: BOM, then UTF-8, then the language's
    code page (or a detected one), the text checked against the language's script."""
    for bom, encoding, label in _BOMS:
        if raw.startswith(bom):
            try:
                return _checked(path, raw[len(bom):].decode(encoding), label, language), label
            except UnicodeDecodeError as error:
                bad_byte = error.start + len(bom)
                problem = (f"starts with a {encoding} byte-order mark but byte {bad_byte} "
                           f"is not valid {encoding}")
                raise SubtitleError(path, problem, "save it again as UTF-8") from None
    if b"\x00" in raw:
        raise SubtitleError(path, "contains NUL bytes: it is a binary file, or UTF-16 without a "
                            "byte-order mark", "export the subtitles again as SRT in UTF-8")
    try:
        return _checked(path, _c1_as_windows_1252(raw.decode("utf-8")), "utf-8", language), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode_legacy(path, raw, language)


def _c1_as_windows_1252(text: str) -> str:
    """C1 controls (U+0080-U+009F) in UTF-8 text as the Windows-1252 characters they stand for.

    Converters that take Windows-1252 for Latin-1 write its punctuation as C1 code points: the
    apostrophe 0x92 becomes U+0092, which would otherwise be deleted as a control ("Youll").
    """
    def mapped(match: re.Match) -> str:
        try:
            return match[0].encode("latin-1").decode("windows-1252")
        except UnicodeDecodeError:
            return match[0]  # the five bytes Windows-1252 leaves undefined stay controls
    return re.sub("[\x80-\x9f]", mapped, text)


def _decode_legacy(path: Path, raw: bytes, language: str) -> tuple[str, str]:
    """A file that is not UTF-8: the first candidate page that decodes it into the language's
    script. What was tried is named when none does."""
    tried: list[tuple[str, ScriptMismatch]] = []
    for encoding in _legacy_code_pages(raw, language):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        mismatch = script_mismatch(text, language, _single_byte(encoding))
        if mismatch is None:
            # Windows-1258 writes most Vietnamese tones as combining marks; composed, each
            # letter is one character, as UTF-8 files and the line-length rule have it.
            return unicodedata.normalize("NFC", text) if encoding == "windows-1258" else text, encoding
        tried.append((encoding, mismatch))
    if not tried:
        raise SubtitleError(path, f"is not UTF-8 and cannot be read in any code page used for "
                            f"'{language}'", _UTF8_FIX)
    encoding, mismatch = tried[0]
    fix = (f"{_UTF8_FIX}, or check the language tag in the file name" if mismatch.kind != "utf8" else
           "it is UTF-8 with some bytes in another encoding (files joined?): correct those lines, "
           "and save it as UTF-8")
    raise SubtitleError(path, f"is not UTF-8; read as {encoding} (the code page for "
                        f"'{language}'), {mismatch.describe()}: the text would be mojibake", fix)


def _single_byte(*pages: str | None) -> tuple[str, ...]:
    """Of `pages`, the single-byte ones: those UTF-8 can have been read through, one character
    per byte."""
    return tuple(dict.fromkeys(page for page in pages if page and
                               (page.startswith("windows-125") or page in ("cp874", "latin-1"))))


def _checked(path: Path, text: str, encoding: str, language: str) -> str:
    """Unicode text checked against the language: letters of its script, and no UTF-8 that was
    read through a single-byte page before it was saved (converted twice)."""
    page = _WINDOWS_CODE_PAGE.get(language.lower().split("-")[0])
    mismatch = script_mismatch(text, language, _single_byte(page, "windows-1252"))
    if mismatch is not None and mismatch.kind == "utf8":
        raise SubtitleError(path, f"read as {encoding}, {mismatch.describe()}",
                            "it was converted to UTF-8 twice: export it again from the subtitle "
                            "editor as UTF-8")
    if mismatch is not None:
        raise SubtitleError(path, f"read as {encoding}, {mismatch.describe()}, which is not how "
                            f"'{language}' is written", "check the language tag in the file name, "
                            f"or {_UTF8_FIX} if it was saved in another encoding")
    return text


def _legacy_code_pages(raw: bytes, language: str) -> list[str]:
    subtags = language.lower().split("-")
    if subtags[0] == "sr":
        # Serbian is written in both scripts; the script subtag says which, else the letters do.
        if "latn" in subtags[1:]:
            return ["windows-1250"]
        if "cyrl" in subtags[1:] or _mostly_cyrillic(raw.decode("cp1251", errors="replace")):
            return ["windows-1251"]
        return ["windows-1250"]
    if subtags[0] == "zh":
        traditional = any(tag in _TRADITIONAL_CHINESE for tag in subtags[1:])
        return ["cp950", "gb18030"] if traditional else ["gb18030", "cp950"]
    if subtags[0] in _WINDOWS_CODE_PAGE:
        page = _WINDOWS_CODE_PAGE[subtags[0]]
        # Latin-1 maps every byte: what is left when Windows-1252 has no character for one.
        return [page, "latin-1"] if page == "windows-1252" else [page]
    # Without a script to check the guess against, only the Windows pages are guessed among.
    isolation = None if language_scripts(language) else list(_DETECTABLE_CODE_PAGES)
    return [*_detect_code_pages(raw, isolation), "windows-1252", "latin-1"]


def _mostly_cyrillic(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
    return cyrillic * 2 > len(letters)


def _detect_code_pages(raw: bytes, isolation: list[str] | None) -> list[str]:
    """charset-normalizer's candidates, least chaotic first; the caller checks each against the
    language's script, so a detector's guess never passes on its own."""
    matches = sorted(from_bytes(raw, cp_isolation=isolation), key=lambda match: match.chaos)
    if not matches:
        return []
    least_chaos = matches[0].chaos
    # On a tie Windows-1252 wins: it is the page the design promises to read.
    tied = [match.encoding for match in matches if match.chaos <= least_chaos]
    first = "cp1252" if "cp1252" in tied else tied[0]
    pages = [first, *(match.encoding for match in matches if match.encoding != first)]
    return [page.replace("cp125", "windows-125") for page in pages]


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
    """The text split at CRLF, CR or LF, each line cleaned; and whether cleaning changed any.
    Trailing spaces are kept: to WebVTT a line of spaces is text, not the blank line that ends a
    block (SRT reading strips them)."""
    raw_lines = re.split(r"\r\n|\r|\n", text)
    lines = [line.translate(_LINE_CLEANUP) for line in raw_lines]
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


def _cue_blocks(path: Path, lines: list[str],
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
            next_number = number_lines[k + 1]
            text_end = next_number if next_number is not None else positions[k + 1]
        else:
            text_end = len(lines)
        _refuse_untimed_block(path, lines, at + 1, text_end)
        text = tuple(line for line in lines[at + 1:text_end] if line)
        number_at = number_lines[k]
        number = int(lines[number_at]) if number_at is not None else None
        blocks.append(_CueBlock(timing, number, text))
    first = number_lines[0] if number_lines[0] is not None else positions[0]
    leading = sum(1 for line in lines[:first] if line)
    return blocks, leading


def _refuse_untimed_block(path: Path, lines: list[str], first: int, end: int) -> None:
    """A cue's text ends at the first blank line after it; text after that and before the next
    timing line is a block without a timing line. Appending it to the cue above would show a
    stray block (a translator's note, half of a cue whose timing line was lost) as dialogue."""
    at = first
    while at < end and not lines[at]:
        at += 1  # blank lines between the timing line and the text are tolerated
    while at < end and lines[at]:
        at += 1
    stray = next((k for k in range(at, end) if lines[k]), None)
    if stray is not None:
        raise SubtitleError(path, f"this block has no timing line: '{lines[stray].strip()[:60]}'",
                            "give it a number and a timing line (00:00:01,000 --> 00:00:03,500), "
                            "join it to the cue above by removing the blank line, or delete it",
                            line=stray + 1)


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


def read_subtitles(path: str | Path, language: str, max_bytes: int, max_cues: int) -> SubtitleTrack:
    """Read an untrusted SRT or WebVTT file into a track, or raise SubtitleError naming the file
    and line.

    Accepts UTF-8 (with or without BOM; C1 characters read as Windows-1252), UTF-16/32 with BOM,
    the language's legacy code page (Windows pages, GB18030, Big5, Shift_JIS, CP949, CP874) or a
    detected one, the text checked against the language's script; CRLF or LF; missing or
    doubled blank lines; missing or disordered cue numbers; '.' before milliseconds. A file that
    starts with WEBVTT is read as WebVTT whatever its name. Styling tags are kept.
    """
    path = Path(path)
    raw = _read_bytes(path, max_bytes)
    text, encoding = _decode(path, raw, language)
    _refuse_binary(path, text)
    if not text.replace("\ufeff", "").strip():
        raise NoCueError(path, "is empty: it has no cue",
                         "export the subtitles again, or leave the file out of the package")
    lines, cleaned = _clean_lines(text)
    leading = 0
    if is_webvtt(lines):
        cues, notes = read_webvtt_cues(path, lines, max_cues)
    else:
        lines = [line.rstrip() for line in lines]
        timings = _find_timings(path, lines, max_cues)
        blocks, leading = _cue_blocks(path, lines, timings)
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


read_srt = read_subtitles
"""The name callers knew when SRT was the only format read."""

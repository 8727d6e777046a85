"""Descriptive metadata of a submission package: `metadata.yaml` (or `.yml`, or `metadata.json`)
read into a typed `Descriptive` model, and the asset id that names the package's folders.

Every bad file raises `MetadataError` naming the file, the field, the problem and the fix.

How values are read (the rules a producer meets):

- YAML is read with a safe loader that follows YAML 1.2 for scalars, not PyYAML's YAML 1.1:
  `no`, `yes`, `on`, `off` stay text (so `language: no` is Norwegian, not false), `10:00:00:00`
  stays a timecode instead of becoming the sexagesimal number 2160000, `007` stays text, and dates
  stay text until the date fields read them (so `2026-02-31` is our clear error, not PyYAML's
  crash). Only `true`/`false`, plain decimal integers and decimal floats become non-text.
  Aliases (`*name`), explicit tags other than `!!str` (`!!binary`, `!!python/...`) and repeated
  keys are refused: none belongs in a metadata file, aliases let a small file expand into a huge
  one, and PyYAML crashes on some tagged values (`!!int abc`) instead of reporting them.
- Text fields accept text and whole numbers (`title: 2026` gives "2026": lossless, since the loader
  only makes plain integers like `2026` into numbers). Decimal numbers and true/false are refused
  with a hint to quote them, because turning `1.10` into "1.1" or `true` into "True" would change
  what the producer wrote without telling them.
- List fields accept a list; `locations` and `composers` also accept one text (a one-item list),
  `keywords` a comma-separated text, `shot_list` a multi-line text (one shot per non-blank line).
- Unknown fields are kept as written and passed through; they must hold plain JSON values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from pipeline.errors import MetadataError
from pipeline.media.timecode import Timecode

METADATA_NAMES = ("metadata.yaml", "metadata.yml", "metadata.json")
MAX_ASSET_ID_LENGTH = 80

_SAFE_ASSET_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECONDS = re.compile(r"\d+(\.\d+)?")
_CLOCK_TIMECODE = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?")
_MAX_NESTING = 50

# Latin letters that NFKD does not split into a base letter plus accents (Đ is common in sr-Latn).
_TRANSLITERATION = str.maketrans({
    "ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Đ": "D", "đ": "d",
    "Ł": "L", "ł": "l", "Þ": "Th", "þ": "th", "Ð": "D", "ð": "d", "ı": "i",
})

_QUOTE_FIX = "put the value in quotes so it stays as written, e.g. \"1.10\" or \"true\""
_TIMECODE_FIX = ("write seconds (e.g. 12.5) or a non-drop-frame timecode HH:MM:SS:FF "
                 "(e.g. 00:00:10:00) or HH:MM:SS.mmm (e.g. 00:00:10.000)")


class _FieldProblem(ValueError):
    """Raised inside validators; carries the user-facing problem and fix. `field` is only set
    where pydantic gives no location (model-level validators)."""

    def __init__(self, problem: str, fix: str, field: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.field = field


# --- reading single values ---------------------------------------------------------------------

def _kind(value: object) -> str:
    """How a value reads to a producer: 'a number', 'a list', 'true'..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    kinds = {str: "text", dict: "a mapping", list: "a list", tuple: "a list", bytes: "binary data",
             set: "a set", date: "a date", datetime: "a date and time"}
    return kinds.get(type(value), type(value).__name__)


def _as_text(value: object) -> str | None:
    """Text, or a whole number as its digits; None stays None."""
    if isinstance(value, str) and "\x00" in value:
        # JSON allows "\u0000"; no process argument (the tags given to ffmpeg) can carry it.
        raise _FieldProblem("holds the NUL character (U+0000), which a media file's tags cannot carry",
                            "remove it (it often comes from copying text out of another program)")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise _FieldProblem(f"expected text, got {_kind(value)}", _QUOTE_FIX)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise _FieldProblem(f"expected text, got {_kind(value)}", "write a single line of text")


def _as_text_list(value: object, split_text) -> list[str]:
    """A list of texts; a single text goes through `split_text`; None is an empty list."""
    if value is None:
        return []
    if isinstance(value, str):
        return split_text(value)
    if not isinstance(value, (list, tuple)):
        raise _FieldProblem(f"expected a list of strings, got {_kind(value)}",
                            "write one `- item` per line under the field name")
    return [_item_text(item, number) for number, item in enumerate(value, start=1)]


def _item_text(item: object, number: int) -> str:
    if item is None:
        raise _FieldProblem(f"item {number} is empty", "remove the empty `-` line or write a value")
    try:
        return cast(str, _as_text(item))  # not None: checked above
    except _FieldProblem as problem:
        raise _FieldProblem(f"item {number}: {problem.problem}", problem.fix) from None


def _required_text(value: object) -> str:
    text = _as_text(value)
    if text is None or not text.strip():
        raise _FieldProblem("is empty", "write the text after the field name")
    return text.strip()


def _as_date(value: object) -> date | None:
    """A date from `YYYY-MM-DD` text (or a date object from Python callers)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    shown = f"'{value}'" if isinstance(value, str) else _kind(value)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise _FieldProblem(f"{shown} is not a date", "write it as YYYY-MM-DD, e.g. 2026-11-20")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise _FieldProblem(f"{shown} is not a date ({error})",
                            "write a real calendar date as YYYY-MM-DD") from None


def _as_programme_point(value: object) -> int | float | str | None:
    """Seconds (a number or numeric text) or a timecode; kept as written once checked."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _FieldProblem(f"expected seconds or a timecode, got {_kind(value)}", _TIMECODE_FIX)
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise _FieldProblem(f"{value} is not a time in the programme", _TIMECODE_FIX)
        return value
    _seconds_of_point(value.strip(), fps=None)
    return value.strip()


def _seconds_of_point(text: str, fps: float | None) -> float:
    """Seconds for numeric text or a timecode. With fps None only the shape is checked."""
    if _SECONDS.fullmatch(text):
        return float(text)
    label = Timecode.parse(text)
    if label is not None and label.separator not in ":;":
        label = None  # HH:MM:SS.ff is clock time with a decimal fraction, below
    clock_match = _CLOCK_TIMECODE.fullmatch(text) if label is None else None
    if label is not None and label.drop_frame:
        raise _FieldProblem(f"'{text}' is a drop-frame timecode (with ';'), which is not supported",
                            "give the time in seconds or as a non-drop-frame timecode HH:MM:SS:FF")
    if label is None and clock_match is None:
        raise _FieldProblem(f"'{text}' is neither seconds nor a timecode", _TIMECODE_FIX)
    if clock_match:
        hours, minutes, seconds = (int(part) for part in clock_match.group(1, 2, 3))
        if minutes > 59 or seconds > 59:
            raise _FieldProblem(f"'{text}' has minutes or seconds above 59", _TIMECODE_FIX)
        return hours * 3600 + minutes * 60 + seconds + float(clock_match.group(4) or 0)
    assert label is not None
    if not label.in_range:
        raise _FieldProblem(f"'{text}' has minutes or seconds above 59", _TIMECODE_FIX)
    return _frame_timecode_seconds(text, label, fps)


def _frame_timecode_seconds(text: str, label: Timecode, fps: float | None) -> float:
    """Where a non-drop-frame label plays (pipeline/media/timecode.py counts the frames)."""
    if fps is None:
        return 0.0
    nominal = round(fps)
    if label.frames >= nominal:
        raise _FieldProblem(f"'{text}' has frame {label.frames}, but a second has only {nominal} "
                            f"frames at {fps:g} fps", "use frames 00 to "
                            f"{nominal - 1:02d}, or give the time in seconds")
    return label.frame_number(fps) / fps


def _json_safe(value: object, where: str, depth: int = 0) -> Any:
    """A copy of an unknown field's value holding only JSON types, or a problem naming `where`."""
    if depth > _MAX_NESTING:
        field = where.split(".")[0].split("[")[0]
        raise _FieldProblem(f"is nested more than {_MAX_NESTING} levels deep", "flatten it", field)
    if isinstance(value, float) and not math.isfinite(value):
        raise _FieldProblem(f"{value} is not a finite number", "write a finite number", where)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return _json_safe_mapping(value, where, depth)
    raise _FieldProblem(f"holds {_kind(value)}, which cannot be passed through as JSON",
                        "use only text, numbers, true/false, lists and mappings", where)


def _json_safe_mapping(mapping: dict, where: str, depth: int) -> dict[str, Any]:
    copy: dict[str, Any] = {}
    for key, item in mapping.items():
        name = _key_text(key, where)
        if name in copy:
            raise _FieldProblem(f"has the key '{name}' twice", "keep one of them", where)
        copy[name] = _json_safe(item, f"{where}.{name}" if where else name, depth + 1)
    return copy


def _key_text(key: object, where: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise _FieldProblem(f"the key {key!r} is {_kind(key)}, not text",
                        "put the key in quotes, e.g. \"true\": ...", where)


def _with_plain_unknown_fields(data: dict, known: set[str]) -> dict[str, Any]:
    """`data` with its unknown fields checked and copied as plain JSON under text keys."""
    fields = _json_safe_mapping({key: value for key, value in data.items() if key not in known}, "", 0)
    fields.update({key: value for key, value in data.items() if key in known})
    return fields


# --- the models --------------------------------------------------------------------------------

class MusicCredit(BaseModel):
    """One piece of music used in the edit. Unknown keys (e.g. `isrc`) are kept."""

    model_config = ConfigDict(extra="allow")

    title: str
    composers: list[str] = []
    performer: str | None = None
    publisher: str | None = None
    library: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_entry(cls, data: object) -> object:
        """A bare text entry is a credit with only a title; unknown keys must be plain JSON."""
        if isinstance(data, str):
            return {"title": data}
        if not isinstance(data, dict):
            raise _FieldProblem(f"expected a mapping with at least `title:`, got {_kind(data)}",
                                "write each credit as `- title: ...` with `composers: [...]`")
        return _with_plain_unknown_fields(data, set(cls.model_fields))

    @field_validator("title", mode="before")
    @classmethod
    def _read_title(cls, value: object) -> str:
        return _required_text(value)

    @field_validator("composers", mode="before")
    @classmethod
    def _read_composers(cls, value: object) -> list[str]:
        return _as_text_list(value, lambda text: [text])

    @field_validator("performer", "publisher", "library", mode="before")
    @classmethod
    def _read_text(cls, value: object) -> str | None:
        return _as_text(value)


class TextlessEntry(BaseModel):
    """One textless insert as the producer declares it (docs/producers.md "Textless material"):
    where the texted shot starts (`replaces`, optionally where it ends, `replaces_end`), where its
    insert starts (`from`: in the master's tail, or in `file`) and how long it lasts. Times are
    kept as written (seconds, or HH:MM:SS:FF counted from the first frame, as programme_start);
    pipeline/intake/textless.py turns them into frames and checks them against the media."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    replaces: int | float | str
    replaces_end: int | float | str | None = None
    from_: int | float | str = Field(alias="from")
    duration: int | float | str
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_entry(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise _FieldProblem(f"expected a mapping, got {_kind(data)}",
                                "write each insert as `- replaces: ...` with `from:`, `duration:` (and `file:`)")
        unknown = sorted(str(key) for key in data if key not in {"replaces", "replaces_end", "from", "duration", "file"})
        if unknown:
            raise _FieldProblem(f"unknown key '{unknown[0]}'",
                                "an insert has replaces, from, duration, and optionally replaces_end and file")
        return data

    @field_validator("replaces", "replaces_end", "from_", "duration", mode="before")
    @classmethod
    def _read_point(cls, value: object) -> int | float | str | None:
        return _as_programme_point(value)

    @field_validator("file", mode="before")
    @classmethod
    def _read_file(cls, value: object) -> str | None:
        text = _as_text(value)
        if text is None or not text.strip():
            return None
        name = text.strip()
        if name in {".", ".."} or "/" in name or "\\" in name or ":" in name:
            raise _FieldProblem(f"'{name}' is not the name of a file in the package",
                                "give the name of a file beside the master, without a folder")
        return name

    def seconds(self, field: str, fps: float) -> float | None:
        """The value of `field` (replaces, replaces_end, from, duration) in seconds."""
        value = getattr(self, "from_" if field == "from" else field)
        if value is None or isinstance(value, (int, float)):
            return None if value is None else float(value)
        return _seconds_of_point(value, fps)


def _split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _split_commas(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


RATE_CONVERSIONS = ("speed", "blend", "motion", "refuse")


class Descriptive(BaseModel):
    """The descriptive metadata of docs/design.md section 3. Unknown fields are kept as extras.

    `programme_start` / `programme_end` keep the value as written (seconds, or a timecode text);
    `programme_bounds_s(fps)` turns them into seconds from the master's first frame."""

    model_config = ConfigDict(extra="allow")

    title: str
    asset_id: str | None = None
    description: str | None = None
    publication_date: date | None = None
    filming_date: date | None = None
    shot_list: list[str] = []
    production_notes: str | None = None
    locations: list[str] = []
    keywords: list[str] = []
    music_credits: list[MusicCredit] = []
    usage_rights: str | None = None
    copyright: str | None = None
    organisation: str | None = None
    language: str | None = None
    audio_layout: str | None = None
    programme_start: int | float | str | None = None
    programme_end: int | float | str | None = None
    subtitle_start_timecode: str | None = None
    """The timecode the subtitle files are timed from (HH:MM:SS:FF), when the master has none."""
    frame_rate_conversion: Literal["speed", "blend", "motion", "refuse"] | None = None
    """How this package reaches a profile's other frame rate, instead of the profile's own
    `frame_rate_conversion` (docs/configuration.md "Delivery profiles")."""
    textless: list[TextlessEntry] = []
    """The textless inserts of the package (pipeline/intake/textless.py checks them)."""

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _read_unknown_fields(cls, data: object) -> object:
        """Unknown fields pass through, but only as plain JSON values under text keys."""
        if not isinstance(data, dict):
            raise _FieldProblem(f"the top level is {_kind(data)}, not a mapping of fields",
                                "write one `field: value` per line, starting with `title: ...`")
        return _with_plain_unknown_fields(data, set(cls.model_fields))

    @field_validator("title", mode="before")
    @classmethod
    def _read_title(cls, value: object) -> str:
        return _required_text(value)

    @field_validator("description", "production_notes", "usage_rights", "copyright",
                     "organisation", "subtitle_start_timecode", mode="before")
    @classmethod
    def _read_text(cls, value: object) -> str | None:
        return _as_text(value)

    @field_validator("audio_layout", mode="before")
    @classmethod
    def _read_layout_name(cls, value: object) -> str | None:
        text = _as_text(value)
        if text is None or not text.strip():
            return None
        return text.strip()

    @field_validator("frame_rate_conversion", mode="before")
    @classmethod
    def _read_conversion(cls, value: object) -> str | None:
        text = _as_text(value)
        if text is None or not text.strip():
            return None
        if text.strip() not in RATE_CONVERSIONS:
            raise _FieldProblem(f"'{text}' is not a frame rate conversion",
                                f"write one of {', '.join(RATE_CONVERSIONS)}")
        return text.strip()

    @field_validator("asset_id", mode="before")
    @classmethod
    def _read_asset_id(cls, value: object) -> str | None:
        text = _as_text(value)
        if text is None or not text.strip():
            return None
        _check_asset_id(text.strip())
        return text.strip()

    @field_validator("language", mode="before")
    @classmethod
    def _read_language(cls, value: object) -> str | None:
        text = _as_text(value)
        if text is None or not text.strip():
            return None
        if not _LANGUAGE_TAG.fullmatch(text.strip()):
            raise _FieldProblem(f"'{text}' is not a BCP 47 language tag",
                                "write the narration's language as a tag, e.g. en, fr, sr-Latn, pt-BR")
        return text.strip()

    @field_validator("publication_date", "filming_date", mode="before")
    @classmethod
    def _read_date(cls, value: object) -> date | None:
        return _as_date(value)

    @field_validator("shot_list", mode="before")
    @classmethod
    def _read_shot_list(cls, value: object) -> list[str]:
        return _as_text_list(value, _split_lines)

    @field_validator("locations", mode="before")
    @classmethod
    def _read_locations(cls, value: object) -> list[str]:
        return _as_text_list(value, lambda text: [text])

    @field_validator("keywords", mode="before")
    @classmethod
    def _read_keywords(cls, value: object) -> list[str]:
        return _as_text_list(value, _split_commas)

    @field_validator("music_credits", mode="before")
    @classmethod
    def _read_music_credits(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, dict):
            return [value]
        if not isinstance(value, (list, tuple)):
            raise _FieldProblem(f"expected a list of credits, got {_kind(value)}",
                                "write each credit as `- title: ...` with `composers: [...]`")
        return value

    @field_validator("textless", mode="before")
    @classmethod
    def _read_textless(cls, value: object) -> object:
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            raise _FieldProblem(f"expected a list of inserts, got {_kind(value)}",
                                "write each insert as `- replaces: ...` with `from:` and `duration:`")
        return value

    @field_validator("programme_start", "programme_end", mode="before")
    @classmethod
    def _read_programme_point(cls, value: object) -> int | float | str | None:
        return _as_programme_point(value)

    @property
    def source_path(self) -> Path | None:
        """The file this was read from, when it came through `load_descriptive`."""
        return self._source

    def to_json_dict(self) -> dict[str, Any]:
        """Every field, unknown ones included, as JSON values (dates as YYYY-MM-DD). A package
        that leaves the frame rate conversion to its profiles says nothing of it, nor one without
        textless inserts of `textless`."""
        unsaid = {"frame_rate_conversion"} if self.frame_rate_conversion is None else set()
        if not self.textless:
            unsaid.add("textless")
        return self.model_dump(mode="json", exclude=unsaid)

    def programme_bounds_s(self, fps: float) -> tuple[float | None, float | None]:
        """(start, end) in seconds from the master's first frame; None where not given.

        A timecode counts from 00:00:00:00 at the first frame (it is not matched against the
        master's own timecode track). HH:MM:SS:FF needs `fps`; drop-frame is refused."""
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        start = self._point_seconds("programme_start", self.programme_start, fps)
        end = self._point_seconds("programme_end", self.programme_end, fps)
        if start is not None and end is not None and end <= start:
            raise MetadataError(self._source, f"programme_end ({self.programme_end}) is not after "
                                f"programme_start ({self.programme_start})",
                                "set programme_end to the last moment of the programme, after its start")
        return start, end

    def textless_seconds(self, fps: float) -> list[dict[str, float | None]]:
        """Each textless insert's replaces, replaces_end, from and duration in seconds from the
        first frame (of the master, or of the insert's `file`); a MetadataError names the insert."""
        entries = []
        for number, entry in enumerate(self.textless, start=1):
            values: dict[str, float | None] = {}
            for field in ("replaces", "replaces_end", "from", "duration"):
                try:
                    values[field] = entry.seconds(field, fps)
                except _FieldProblem as problem:
                    raise MetadataError(self._source, f"textless[{number}].{field}: {problem.problem}",
                                        problem.fix) from None
            entries.append(values)
        return entries

    def _point_seconds(self, field: str, value: int | float | str | None, fps: float) -> float | None:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return _seconds_of_point(value, fps)
        except _FieldProblem as problem:
            raise MetadataError(self._source, f"{field}: {problem.problem}", problem.fix) from None


# --- asset ids ---------------------------------------------------------------------------------

def asset_id_is_safe(value: str) -> bool:
    """True when `value` can name a folder as it is: lowercase letters, digits and dashes,
    starting with a letter or digit, at most 80 characters (so never `..`, `/`, `\\`, `C:`)."""
    return isinstance(value, str) and _SAFE_ASSET_ID.fullmatch(value) is not None


def _slug(text: str, max_length: int) -> str:
    """ASCII lowercase words joined by single dashes; may be empty."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION))
    ascii_text = ascii_text.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def _fallback_slug(text: str) -> str:
    """For titles with no Latin letter or digit (e.g. Cyrillic): stable, and distinct per title."""
    return "asset-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _check_asset_id(value: str) -> None:
    if not asset_id_is_safe(value):
        suggestion = _slug(value, MAX_ASSET_ID_LENGTH) or _fallback_slug(value)
        raise _FieldProblem(f"'{value}' is not safe as a folder name",
                            f"use lowercase letters, digits and dashes, e.g. '{suggestion}'")


def derive_asset_id(descriptive: Descriptive) -> str:
    """The package's asset id: the given `asset_id` (checked), else `<date>-<title slug>`.

    The date is publication_date, else filming_date, else none (never today's date, so the id
    of a package does not change from one run to the next)."""
    if descriptive.asset_id:
        try:
            _check_asset_id(descriptive.asset_id)
        except _FieldProblem as problem:
            raise MetadataError(descriptive.source_path, f"asset_id: {problem.problem}",
                                problem.fix) from None
        return descriptive.asset_id
    day = descriptive.publication_date or descriptive.filming_date
    prefix = f"{day.isoformat()}-" if day else ""
    title_slug = _slug(descriptive.title, MAX_ASSET_ID_LENGTH - len(prefix))
    return prefix + (title_slug or _fallback_slug(descriptive.title))


# --- reading the file --------------------------------------------------------------------------

class _RefusedYaml(yaml.MarkedYAMLError):
    """Valid YAML that a metadata file may not use; carries its own fix."""

    def __init__(self, problem: str, fix: str, mark):
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


_ALLOWED_TAGS = {None, "!", "tag:yaml.org,2002:str"}


class _MetadataLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars (see the module docstring); no aliases, no explicit
    tags but `!!str`, no repeated keys."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _RefusedYaml(f"aliases (*{event.anchor}) are not accepted in metadata",
                               "write the value out in full", event.start_mark)
        if getattr(event, "tag", None) not in _ALLOWED_TAGS:
            raise _RefusedYaml(f"the explicit tag {event.tag} is not accepted in metadata",
                               "remove the tag; quote the value if it must stay text", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            _refuse_repeated_keys(node)
        return super().construct_mapping(node, deep)


def _refuse_repeated_keys(node: yaml.MappingNode) -> None:
    first_lines: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        if key_node.value in first_lines:
            raise _RefusedYaml(f"the key '{key_node.value}' appears twice (first on line "
                               f"{first_lines[key_node.value]})", "keep one of them", key_node.start_mark)
        first_lines[key_node.value] = key_node.start_mark.line + 1


_MetadataLoader.yaml_implicit_resolvers = {
    first: [(tag, rule) for tag, rule in rules
            if tag.rsplit(":", 1)[-1] not in {"bool", "int", "float", "timestamp"}]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_MetadataLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_MetadataLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:0|-?[1-9][0-9]*)$"), list("-0123456789"))
_MetadataLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$"),
    list("-.0123456789"))


def find_metadata_file(package: Path) -> Path:
    """The one metadata file in a package folder."""
    found = [package / name for name in METADATA_NAMES if os.path.lexists(package / name)]
    if not found:
        raise MetadataError(package, "no metadata file", "add a metadata.yaml with at least `title: ...`")
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        raise MetadataError(package, f"more than one metadata file ({names})", "keep only one of them")
    return found[0]


def _read_text(path: Path, max_bytes: int) -> str:
    """The file's text, refusing links, special files, huge files and non-text."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise MetadataError(path, "file not found", "add a metadata.yaml with at least `title: ...`") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise MetadataError(path, "is not a regular file (a link or a special file)",
                            "put the metadata file itself in the package")
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise MetadataError(path, f"is larger than the {max_bytes:,}-byte limit for metadata",
                            "keep only descriptive text in it; deliver pictures or documents separately")
    return _decode(path, raw)


def _decode(path: Path, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise MetadataError(path, "starts like UTF-16 text but is not", "save it as UTF-8") from None
    if b"\x00" in raw:
        raise MetadataError(path, "is binary, not text", "write the metadata as UTF-8 YAML or JSON text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MetadataError(path, f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})",
                            "save it with the UTF-8 encoding (Save As... > Encoding: UTF-8)") from None


def _yaml_line(error: yaml.YAMLError) -> int | None:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        return " ".join(part for part in (error.context, error.problem) if part)
    return str(error)


def _parse_yaml(path: Path, text: str) -> object:
    try:
        return yaml.load(text, Loader=_MetadataLoader)
    except _RefusedYaml as error:
        raise MetadataError(path, error.problem, error.fix, line=_yaml_line(error)) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        character = f"U+{error.character:04X}" if isinstance(error.character, int) else repr(error.character)
        raise MetadataError(path, f"holds the control character {character}, which YAML does "
                            "not allow", "remove it (it often comes from copying text out of another "
                            "program)", line=line) from None
    except yaml.YAMLError as error:
        raise MetadataError(path, f"not valid YAML: {_yaml_problem(error)}",
                            "check the indentation, and quote values that contain ': ', '#' or "
                            "start with a special character", line=_yaml_line(error)) from None
    except RecursionError:
        raise MetadataError(path, "is nested too deeply to read", "flatten the structure") from None
    except (ValueError, OverflowError) as error:
        # e.g. an integer of more than 4300 digits (Python's int-from-text limit)
        raise MetadataError(path, f"a value cannot be read: {error}", "shorten that value") from None


class _RepeatedJsonKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _RepeatedJsonKey(f"the key '{key}' appears twice in one object")
        mapping[key] = value
    return mapping


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(path: Path, text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise MetadataError(path, f"not valid JSON: {error.msg}",
                            "check the commas, quotes and brackets near that line", line=error.lineno) from None
    except RecursionError:
        raise MetadataError(path, "is nested too deeply to read", "flatten the structure") from None
    except _RepeatedJsonKey as error:
        raise MetadataError(path, str(error), "keep one of them") from None
    except ValueError as error:
        # NaN/Infinity, or an integer of more than 4300 digits (Python's int-from-text limit)
        raise MetadataError(path, f"a value cannot be read: {error}", "write plain, finite JSON numbers") from None


def _missing_field_message(location: str, data: object) -> tuple[str, str]:
    name = location.rsplit(".", 1)[-1]
    fix = f"add `{name}: ...`"
    if location == "title" and isinstance(data, dict):
        near = [key for key in data if isinstance(key, str) and key.strip().lower() == "title"]
        if near:
            fix += f" (field names are lowercase; found '{near[0]}')"
    elif location != name:
        fix += f" to {location.rsplit('.', 1)[0]}"
    return f"{location} is required", fix


def _location(parts: tuple) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem_of(error: Mapping[str, Any], data: object) -> tuple[str, str]:
    """(problem, fix) for one pydantic error, both worded for the producer."""
    location = _location(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _FieldProblem):
        field = ".".join(part for part in (location, cause.field) if part)
        return (f"{field}: {cause.problem}" if field else cause.problem), cause.fix
    if error["type"] == "missing":
        return _missing_field_message(location, data)
    return f"{location or '(top level)'}: {error['msg']}", f"correct the value of {location or 'the file'}"


def _metadata_error(path: Path | None, error: ValidationError, data: object) -> MetadataError:
    problems = [_problem_of(item, data) for item in error.errors()]
    if len(problems) == 1:
        return MetadataError(path, *problems[0])
    listed = "".join(f"\n  - {problem} (fix: {fix})" for problem, fix in problems)
    return MetadataError(path, f"{len(problems)} fields are wrong:{listed}", "correct each field listed above")


def descriptive_from_mapping(data: object, path: Path | None = None) -> Descriptive:
    """A `Descriptive` from already-parsed data; `path` names the file in errors."""
    if data is None:
        raise MetadataError(path, "is empty", "add at least `title: ...`")
    try:
        descriptive = Descriptive.model_validate(data)
    except ValidationError as error:
        raise _metadata_error(path, error, data) from None
    descriptive._source = path
    return descriptive


def load_descriptive(path: Path, max_bytes: int = 1_000_000) -> Descriptive:
    """Read `metadata.yaml` / `metadata.yml` / `metadata.json` (or find it, given the package
    folder) into a `Descriptive`. Every problem is a `MetadataError` naming the file and field."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        path = find_metadata_file(path)
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".json"}:
        raise MetadataError(path, "is not a metadata file", "name it metadata.yaml (or metadata.json)")
    text = _read_text(path, max_bytes)
    data = _parse_json(path, text) if suffix == ".json" else _parse_yaml(path, text)
    return descriptive_from_mapping(data, path)

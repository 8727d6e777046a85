"""Which script a language is written in, and how much of a text is in it.

A script is named by the first word Unicode gives its letters ("LATIN", "CYRILLIC", "THAI",
"HANGUL"...; CJK ideographs are "HAN"). Reading uses it to refuse mojibake, the burn-in to pick
a font.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")

_LATIN_LANGUAGES = (
    "en", "fr", "de", "es", "it", "pt", "nl", "sv", "no", "nb", "nn", "da", "fi", "is", "ga", "ca",
    "eu", "gl", "af", "sw", "id", "ms", "cs", "pl", "sk", "sl", "hu", "hr", "bs", "ro", "sq", "tr",
    "et", "lv", "lt", "vi", "cy", "mt", "so", "uz", "az",
)
SCRIPTS_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(_LATIN_LANGUAGES, ("LATIN",)),
    **dict.fromkeys(("ru", "uk", "bg", "mk", "be", "kk"), ("CYRILLIC",)),
    "el": ("GREEK",), "he": ("HEBREW",), "yi": ("HEBREW",),
    **dict.fromkeys(("ar", "fa", "ur"), ("ARABIC",)),
    "zh": ("HAN",), "ja": ("HAN", "HIRAGANA", "KATAKANA"), "ko": ("HANGUL", "HAN"),
    "th": ("THAI",), **dict.fromkeys(("hi", "mr", "ne", "sa"), ("DEVANAGARI",)),
    "bn": ("BENGALI",), "ta": ("TAMIL",), "te": ("TELUGU",), "km": ("KHMER",),
    "hy": ("ARMENIAN",), "ka": ("GEORGIAN",), **dict.fromkeys(("am", "ti"), ("ETHIOPIC",)),
    "as": ("BENGALI",), "gu": ("GUJARATI",), "pa": ("GURMUKHI",), "kn": ("KANNADA",),
    "ml": ("MALAYALAM",), "or": ("ORIYA",), "si": ("SINHALA",), "my": ("MYANMAR",), "lo": ("LAO",),
}
# A script subtag overrides the language's usual script (sr-Latn, sr-Cyrl, az-Cyrl, zh-Hant).
_SCRIPT_SUBTAGS = {"latn": ("LATIN",), "cyrl": ("CYRILLIC",), "arab": ("ARABIC",),
                   "hans": ("HAN",), "hant": ("HAN",), "deva": ("DEVANAGARI",)}
_MAX_FOREIGN_SHARE = 0.5

_VIETNAMESE_TONES = set("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook, dot below
_VIETNAMESE_VOWEL_MARKS = {"\u0302": "aeo", "\u0306": "a", "\u031b": "ou"}  # circumflex, breve, horn


def _vietnamese_letters() -> str:
    """đ, and the vowels with at most one vowel mark and one tone (â, ơ, ấ, ợ, ữ...)."""
    letters = ["đ"]
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        decomposed = unicodedata.normalize("NFD", chr(code))
        base, marks = decomposed[0], decomposed[1:]
        tones = [mark for mark in marks if mark in _VIETNAMESE_TONES]
        vowel_marks = [mark for mark in marks if base in _VIETNAMESE_VOWEL_MARKS.get(mark, "")]
        if (base in "aeiouy" and marks and len(tones) <= 1 and len(vowel_marks) <= 1
                and len(tones) + len(vowel_marks) == len(marks)):
            letters.append(chr(code))
    return "".join(letters)


# The letters beyond A-Z each Latin-script language is written with (lower case; capitals
# follow). Text in the language may hold others (names, loan words), but only as a few of its
# letters: a file where they are many is another script read through the wrong code page.
_OWN_LETTERS = {
    **dict.fromkeys(("en", "sw", "id", "ms", "so"), ""),
    "fr": "àâæçéèêëîïôœùûüÿ", "de": "äöüßẞ", "es": "áéíóúüñ", "it": "àèéìíîòóùú",
    "pt": "áâãàçéêíóôõúü", "nl": "áàâäéèêëíìîïóòôöúùûü", "sv": "åäöé", "da": "æøåé",
    **dict.fromkeys(("no", "nb", "nn"), "æøåéèêóòôü"), "fi": "äöåšž", "is": "áðéíóúýþæö",
    "ga": "áéíóú", "ca": "àçéèíïòóúü", "eu": "ñü", "gl": "áéíóúñü",
    "af": "áäéèêëíìîïóòôöúùûüýŉ", "cs": "áčďéěíňóřšťúůýž", "pl": "ąćęłńóśźż",
    "sk": "áäčďéíĺľňóôŕšťúýž", **dict.fromkeys(("sl", "hr", "bs", "sr"), "čćđšž"),
    "hu": "áéíóöőúüű", "ro": "ăâîșțşţ", "sq": "çë", "tr": "çğıİöşüâîû", "et": "äöõüšž",
    "lv": "āčēģīķļņšūž", "lt": "ąčęėįšųūž", "cy": "âêîôûŵŷàáèéìíòóùúẁẃỳýäëïöüẅÿ",
    "mt": "àèìòùċġħż", "uz": "ʻ", "az": "çəğıİöşü",
    "vi": _vietnamese_letters(),
}
_MAX_OTHER_LETTER_SHARE = 0.3
# What the bytes of a UTF-8 character look like; read through a single-byte code page each
# becomes two to four characters ("é" C3 A9 is "Ã©" in Windows-1252, "š" C5 A1 is "Å¡").
# The well-formed sequences of RFC 3629 (no overlong forms, no surrogates).
_UTF8_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def language_scripts(language: str) -> tuple[str, ...] | None:
    """The scripts `language` (BCP 47) is written in; None when not known (und, rare tags)."""
    subtags = language.lower().split("-")
    for subtag in subtags[1:]:
        if subtag in _SCRIPT_SUBTAGS:
            return _SCRIPT_SUBTAGS[subtag]
    if subtags[0] == "sr":
        return ("LATIN", "CYRILLIC")  # Serbian is written in both
    return SCRIPTS_BY_LANGUAGE.get(subtags[0])


@functools.lru_cache(maxsize=4096)
def script_of(ch: str) -> str:
    """The script of one letter ("LATIN", "HAN", "THAI"...); "" for one Unicode has no name for."""
    name = unicodedata.name(ch, "")
    if name.startswith("CJK"):
        return "HAN"
    return name.split(" ", 1)[0]


def own_letters(language: str) -> frozenset[str] | None:
    """The letters beyond A-Z a Latin-script language is written with, both cases; None for a
    language of another script, or one not listed."""
    subtags = language.lower().split("-")
    if language_scripts(language) != ("LATIN",) or subtags[0] not in _OWN_LETTERS:
        return None
    letters = _OWN_LETTERS[subtags[0]]
    return frozenset(letters + letters.upper())


@dataclass(frozen=True)
class ScriptMismatch:
    """Text that is not how its language is written: mostly letters of another script, mostly
    letters the language does not use, or UTF-8 read through a single-byte code page."""

    kind: Literal["script", "letters", "utf8"]
    share: float
    """How much of the text is wrong: of its letters, or (utf8) of its non-ASCII characters."""
    found: str
    """The script most of the wrong letters are in; for utf8, an example ("'Ã©' for 'é'")."""
    expected: tuple[str, ...]
    examples: str = ""

    def describe(self) -> str:
        percent = round(100 * self.share)
        if self.kind == "utf8":
            return (f"{percent}% of its non-ASCII characters are UTF-8 read through a single-byte "
                    f"code page ({self.found})")
        if self.kind == "letters":
            return (f"{percent}% of its letters are letters the language is not written with "
                    f"({self.examples}...), as in text of another script read through the wrong "
                    "code page")
        expected = " or ".join(name.title() for name in self.expected)
        return (f"{percent}% of its letters are not {expected} "
                f"(mostly {self.found.title() or 'unnamed characters'})")


def script_mismatch(text: str, language: str, single_byte_pages: tuple[str, ...] = ()) -> ScriptMismatch | None:
    """How `text` strays from the way `language` is written, when it is mojibake.

    Mojibake is one of three things: UTF-8 read through a single-byte code page (`single_byte_pages`,
    the pages the text may have been read through: "Ã©" for "é"); letters of another script
    (more than half of the non-ASCII ones); or, for a Latin-script language, many letters the
    language is not written with (Chinese read through Windows-1252 is "ÄãºÃ"). How many
    accented letters a text has is no sign: Lithuanian or Vietnamese lines can be mostly them.
    """
    scripts = language_scripts(language)
    if scripts is None:
        return None
    letters = _letters(unicodedata.normalize("NFC", text))
    return (_utf8_read_as_single_byte(text, scripts, single_byte_pages)
            or _other_script(letters, scripts) or _other_letters(letters, language, scripts))


def _letters(text: str) -> list[str]:
    # Private-use and unassigned code points count as foreign letters: they are what a
    # multi-byte page makes of another page's bytes (Big5 read as GB18030).
    return [ch for ch in text
            if ch.isalpha() or (not ch.isascii() and unicodedata.category(ch) in ("Co", "Cn"))]


def _other_script(letters: list[str], scripts: tuple[str, ...]) -> ScriptMismatch | None:
    """More than half of the letters in another script. ASCII letters are neutral for a
    non-Latin script (names, English words in a Hindi line); for a Latin one they are its own
    (a French line may hold a π or a name in Japanese)."""
    counted = letters if "LATIN" in scripts else [ch for ch in letters if not ch.isascii()]
    foreign = [ch for ch in counted if script_of(ch) not in scripts]
    if not counted or len(foreign) / len(counted) <= _MAX_FOREIGN_SHARE:
        return None
    return ScriptMismatch("script", len(foreign) / len(counted), _most_common(map(script_of, foreign)), scripts)


def _other_letters(letters: list[str], language: str, scripts: tuple[str, ...]) -> ScriptMismatch | None:
    """For a Latin-script language, more than _MAX_OTHER_LETTER_SHARE of all letters beyond A-Z
    that the language is not written with."""
    own = own_letters(language)
    if own is None:
        return None
    other = [ch for ch in letters if not ch.isascii() and ch not in own]
    if not letters or len(other) / len(letters) <= _MAX_OTHER_LETTER_SHARE:
        return None
    examples = ", ".join(f"'{ch}'" for ch in list(dict.fromkeys(other))[:5])
    return ScriptMismatch("letters", len(other) / len(letters), _most_common(map(script_of, other)),
                          scripts, examples)


def _utf8_read_as_single_byte(text: str, scripts: tuple[str, ...],
                              pages: tuple[str, ...]) -> ScriptMismatch | None:
    """Characters that are the UTF-8 bytes of a letter of the language (or a typographic mark:
    ’ “ – …) read through one of `pages`, when they are most of the non-ASCII text. Only a
    letter of the language's scripts counts, so that two legitimate neighbours that happen to
    form a UTF-8 sequence ("ÍŠ" in Czech capitals is U+034A, a combining mark) do not."""
    non_ascii = sum(1 for ch in text if not ch.isascii())
    best: list[tuple[str, str]] = []
    for page in pages:
        # A character the page has no byte for becomes "?", which no UTF-8 sequence holds.
        raw = text.encode(page, errors="replace")
        found = [(match[0].decode(page), match[0].decode("utf-8"))
                 for match in _UTF8_CHARACTER.finditer(raw)]
        found = [(read, meant) for read, meant in found if _is_meant(meant, scripts)]
        if len(found) > len(best):
            best = found
    covered = sum(len(read) for read, _ in best)
    if len(best) < 2 or covered / non_ascii <= _MAX_FOREIGN_SHARE:
        return None
    read, meant = _most_common(best)
    return ScriptMismatch("utf8", covered / non_ascii, f"'{read}' for '{meant}'", scripts)


def _is_meant(ch: str, scripts: tuple[str, ...]) -> bool:
    if unicodedata.category(ch) in ("Pd", "Pi", "Pf", "Po", "Sc", "Zs"):
        return True  # dashes, quotes, ellipsis, the euro sign, no-break space
    return ch.isalpha() and script_of(ch) in scripts and not unicodedata.category(ch) == "Lm"


def _most_common(items: Iterable[T]) -> T:
    return Counter(items).most_common(1)[0][0]

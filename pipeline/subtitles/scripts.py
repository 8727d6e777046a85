"""Which script a language is written in, and how much of a text is in it.

A script is named by the first word Unicode gives its letters ("LATIN", "CYRILLIC", "THAI",
"HANGUL"...; CJK ideographs are "HAN"). Reading uses it to refuse mojibake, the burn-in to pick
a font.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

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
    "hy": ("ARMENIAN",), "ka": ("GEORGIAN",), "am": ("ETHIOPIC",),
}
# A script subtag overrides the language's usual script (sr-Latn, sr-Cyrl, az-Cyrl, zh-Hant).
_SCRIPT_SUBTAGS = {"latn": ("LATIN",), "cyrl": ("CYRILLIC",), "arab": ("ARABIC",),
                   "hans": ("HAN",), "hant": ("HAN",), "deva": ("DEVANAGARI",)}
_MAX_FOREIGN_SHARE = 0.5
# Polish or Vietnamese lines can be half accented letters ("Zażółć gęślą jaźń"); Chinese or
# Russian read through Windows-1252 is all accented letters.
_MAX_ACCENTED_SHARE = 0.75


def language_scripts(language: str) -> tuple[str, ...] | None:
    """The scripts `language` (BCP 47) is written in; None when not known (und, rare tags)."""
    subtags = language.lower().split("-")
    for subtag in subtags[1:]:
        if subtag in _SCRIPT_SUBTAGS:
            return _SCRIPT_SUBTAGS[subtag]
    if subtags[0] == "sr":
        return ("LATIN", "CYRILLIC")  # Serbian is written in both
    return SCRIPTS_BY_LANGUAGE.get(subtags[0])


def script_of(ch: str) -> str:
    """The script of one letter ("LATIN", "HAN", "THAI"...); "" for one Unicode has no name for."""
    name = unicodedata.name(ch, "")
    if name.startswith("CJK"):
        return "HAN"
    return name.split(" ", 1)[0]


@dataclass(frozen=True)
class ScriptMismatch:
    """Text whose letters are mostly not in the language's script."""

    foreign_share: float
    found: str
    """The script most of the letters are in."""
    expected: tuple[str, ...]

    def describe(self) -> str:
        expected = " or ".join(name.title() for name in self.expected)
        if self.found in self.expected:  # Latin: accented letters where plain ones should be
            return (f"{round(100 * self.foreign_share)}% of its letters are accented "
                    f"{self.found.title()} letters, as in text of another script read through "
                    "the wrong code page")
        return (f"{round(100 * self.foreign_share)}% of its letters are not {expected} "
                f"(mostly {self.found.title() or 'unnamed characters'})")


def script_mismatch(text: str, scripts: tuple[str, ...] | None) -> ScriptMismatch | None:
    """How far `text` strays from `scripts`, when more than half of its letters do.

    ASCII letters are neutral for a non-Latin script (names, English words in a Hindi line). For
    a Latin script it is the other way round: a file of accented letters and few plain ones is a
    non-Latin file read through a Western code page ("ÖÐÎÄ" for Chinese).
    """
    if scripts is None:
        return None
    # Private-use and unassigned code points count as foreign letters: they are what a
    # multi-byte page makes of another page's bytes (Big5 read as GB18030).
    letters = [ch for ch in text if ch.isalpha() or unicodedata.category(ch) in ("Co", "Cn")]
    if "LATIN" in scripts and len(scripts) == 1:
        counted, limit = letters, _MAX_ACCENTED_SHARE
        foreign = [ch for ch in letters if not ch.isascii()]
    else:
        counted, limit = [ch for ch in letters if not ch.isascii()], _MAX_FOREIGN_SHARE
        foreign = [ch for ch in counted if script_of(ch) not in scripts]
    if not counted or len(foreign) / len(counted) <= limit:
        return None
    found: dict[str, int] = {}
    for ch in foreign:
        found[script_of(ch)] = found.get(script_of(ch), 0) + 1
    return ScriptMismatch(len(foreign) / len(counted), max(found, key=found.__getitem__), scripts)

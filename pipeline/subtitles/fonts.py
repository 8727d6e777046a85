"""The fonts subtitles are burned in with, all from Python packages (no system font needed), and
the check that every character of every cue has a glyph in the font that draws it.

DejaVu Sans (inside matplotlib) draws Latin, Greek, Cyrillic, Hebrew and Arabic. Scripts it
lacks get a Noto Sans family published as a wheel: Noto Sans CJK (noto-cjk-sans-otc; the face
for Japanese, Korean, Simplified or Traditional Chinese, so that shared ideographs take the
local form), Noto Sans Thai and Noto Sans Devanagari (fontpkg-noto-sans-*).
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import matplotlib

from pipeline.subtitles.model import Finding, SubtitleTrack, format_timecode
from pipeline.subtitles.scripts import language_scripts, script_of


@dataclass(frozen=True)
class BurnFont:
    family: str
    """The family name libass looks the font up by (the ASS style's Fontname)."""
    path: Path
    face: int = 0
    """The face inside a font collection (.ttc)."""


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def dejavu_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


_CJK_FILE = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")
# Faces of NotoSansCJK-Regular.ttc, in the order the collection holds them.
_CJK_FACES = {"JP": 0, "KR": 1, "SC": 2, "TC": 3, "HK": 4}
_NOTO = {
    "THAI": ("Noto Sans Thai", "fontpkg_noto_sans_thai", "files/NotoSansThai[wdth,wght].ttf"),
    "DEVANAGARI": ("Noto Sans Devanagari", "fontpkg_noto_sans_devanagari",
                   "files/NotoSansDevanagari[wdth,wght].ttf"),
}


def _cjk_region(language: str) -> str:
    subtags = language.lower().split("-")
    if subtags[0] == "ja":
        return "JP"
    if subtags[0] == "ko":
        return "KR"
    if "hk" in subtags[1:] or "mo" in subtags[1:]:
        return "HK"
    return "TC" if any(tag in ("hant", "tw") for tag in subtags[1:]) else "SC"


def font_files() -> list[Path]:
    """Every font file the burn-in may use: linked into the render's work dir for libass."""
    files = sorted(dejavu_dir().glob("DejaVuSans*.ttf"))
    extra = [_package_file(*_CJK_FILE), *(_package_file(package, relative)
                                          for _, package, relative in _NOTO.values())]
    return files + [path for path in extra if path is not None]


def font_for_language(language: str, default_family: str) -> BurnFont:
    """The font a language is burned in: a Noto family for the scripts DejaVu lacks, else the
    configured one (DejaVu Sans)."""
    scripts = language_scripts(language) or ()
    if {"HAN", "HANGUL", "HIRAGANA", "KATAKANA"} & set(scripts):
        path = _package_file(*_CJK_FILE)
        region = _cjk_region(language)
        if path is not None:
            return BurnFont(f"Noto Sans CJK {region}", path, _CJK_FACES[region])
    for script in scripts:
        if script in _NOTO:
            family, package, relative = _NOTO[script]
            if (path := _package_file(package, relative)) is not None:
                return BurnFont(family, path)
    return BurnFont(default_family, dejavu_dir() / "DejaVuSans.ttf")


@functools.lru_cache(maxsize=16)
def _cmap(path: Path, face: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # imported when first needed: it is a large package

    with TTFont(str(path), fontNumber=face, lazy=True) as font:
        return frozenset(font.getBestCmap())


@functools.lru_cache(maxsize=16)
def _line_height(path: Path, face: int) -> float:
    """The font's Windows ascender + descender in ems: what an ASS font size measures."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), fontNumber=face, lazy=True) as font:
        os2 = font["OS/2"]
        return (os2.usWinAscent + os2.usWinDescent) / font["head"].unitsPerEm


def size_factor(font: BurnFont) -> float:
    """How much larger the ASS size must be for `font` to be drawn at DejaVu Sans' em size.

    An ASS font size is the height of the font's Windows ascender + descender (VSFilter's rule,
    which libass keeps), not its em. Fonts for tall scripts reserve more room above and below
    (Noto Sans Devanagari 1.9 em against DejaVu's 1.16), so at the same ASS size their letters
    would come out a third smaller.
    """
    return _line_height(font.path, font.face) / _line_height(dejavu_dir() / "DejaVuSans.ttf", 0)


def font_for_track(track: SubtitleTrack, default_family: str) -> BurnFont:
    """The language's font; for a language without a known script (und, rare tags), the first
    font that has a glyph for every character of the track."""
    chosen = font_for_language(track.language, default_family)
    if language_scripts(track.language) is not None:
        return chosen
    needed = {ord(ch) for cue in track.cues for ch in _drawn(cue.plain_text)}
    for script in sorted({script_of(chr(code)) for code in needed}):
        candidate = font_for_language(_SAMPLE_LANGUAGE.get(script, "und"), default_family)
        if needed <= _cmap(candidate.path, candidate.face):
            return candidate
    return chosen


_SAMPLE_LANGUAGE = {"HAN": "zh", "HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko",
                    "THAI": "th", "DEVANAGARI": "hi"}


def _drawn(text: str) -> str:
    """The characters that need a glyph: not line breaks, spaces or invisible format marks."""
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


def missing_glyphs(track: SubtitleTrack, font: BurnFont) -> list[Finding]:
    """An error per cue with a character the font has no glyph for (it would burn as a box)."""
    cmap = _cmap(font.path, font.face)
    findings = []
    for cue in track.cues:
        missing = list(dict.fromkeys(ch for ch in _drawn(cue.plain_text) if ord(ch) not in cmap))
        if not missing:
            continue
        timecode = format_timecode(cue.start_ms)
        named = ", ".join(f"'{ch}' U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}"
                          for ch in missing[:5])
        findings.append(Finding(
            track.language, cue.index, timecode, "missing_glyph", named, font.family,
            f"{track.language} cue {cue.index} at {timecode}: {font.family} has no glyph for "
            f"{named}{' and more' if len(missing) > 5 else ''}: it would be burned in as an empty "
            "box; remove or replace the character, or check the language tag in the file name",
            "error"))
    return findings

"""The fonts subtitles are burned in with, all from Python packages (no system font needed), and
the check that every character of every cue has a glyph in the font that draws it.

DejaVu Sans (inside matplotlib) draws Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and
Arabic. Scripts it lacks get a Noto Sans family published as a wheel: Noto Sans CJK
(noto-cjk-sans-otc; the face for Japanese, Korean, Simplified or Traditional Chinese, so that
shared ideographs take the local form); Thai, Devanagari, Tamil, Telugu and Khmer
(fontpkg-noto-sans-*); Bengali, Myanmar, Lao and Ethiopic (the justmytype-intl-* packs, which
carry the Google Fonts files). A script no wheel carries (Sinhala, Gujarati...) is drawn with a
font from the folders a desk names in `[subtitles] font_dirs`: the glyph check and the burn-in
look there alike, so what the check passes is what libass draws.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.subtitles.model import Finding, SubtitleTrack, format_timecode
from pipeline.subtitles.scripts import language_scripts, script_of

logger = logging.getLogger(__name__)


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


@functools.cache
def dejavu_dir() -> Path:
    """DejaVu fonts shipped inside matplotlib (Latin, Cyrillic, Arabic...): no system font needed.
    Found where matplotlib keeps its data (`matplotlib.get_data_path()`) without importing it,
    which took 0.26 s of every command's start for a folder name."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("matplotlib, whose DejaVu fonts draw burned subtitles, is not installed; "
                                "reinstall versioner")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


_CJK_FILE = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")
# Faces of NotoSansCJK-Regular.ttc, in the order the collection holds them.
_CJK_FACES = {"JP": 0, "KR": 1, "SC": 2, "TC": 3, "HK": 4}
# Script -> (family, package, file inside the package).
_NOTO = {
    "THAI": ("Noto Sans Thai", "fontpkg_noto_sans_thai", "files/NotoSansThai[wdth,wght].ttf"),
    "DEVANAGARI": ("Noto Sans Devanagari", "fontpkg_noto_sans_devanagari",
                   "files/NotoSansDevanagari[wdth,wght].ttf"),
    "TAMIL": ("Noto Sans Tamil", "fontpkg_noto_sans_tamil", "files/NotoSansTamil[wdth,wght].ttf"),
    "TELUGU": ("Noto Sans Telugu", "fontpkg_noto_sans_telugu", "files/NotoSansTelugu[wdth,wght].ttf"),
    "KHMER": ("Noto Sans Khmer", "fontpkg_noto_sans_khmer", "files/NotoSansKhmer[wdth,wght].ttf"),
    "BENGALI": ("Noto Sans Bengali", "justmytype_intl_south_asia",
                "fonts/ofl/notosansbengali/NotoSansBengali[wdth,wght].ttf"),
    "MYANMAR": ("Noto Sans Myanmar", "justmytype_intl_sea",
                "fonts/ofl/notosansmyanmar/NotoSansMyanmar[wdth,wght].ttf"),
    "LAO": ("Noto Sans Lao", "justmytype_intl_sea", "fonts/ofl/notosanslao/NotoSansLao[wdth,wght].ttf"),
    "ETHIOPIC": ("Noto Sans Ethiopic", "justmytype_intl_africa",
                 "fonts/ofl/notosansethiopic/NotoSansEthiopic[wdth,wght].ttf"),
}
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
FontDirs = Sequence[Path]
"""The folders of fonts a desk adds (`[subtitles] font_dirs`)."""


def _cjk_region(language: str) -> str:
    subtags = language.lower().split("-")
    if subtags[0] == "ja":
        return "JP"
    if subtags[0] == "ko":
        return "KR"
    if "hk" in subtags[1:] or "mo" in subtags[1:]:
        return "HK"
    return "TC" if any(tag in ("hant", "tw") for tag in subtags[1:]) else "SC"


def font_files(font_dirs: FontDirs = ()) -> list[Path]:
    """Every font file the burn-in may use: linked into the render's work dir for libass. The
    desk's folders are linked whole (libass loads each file), so they should hold the fonts the
    desk needs rather than a whole system font tree."""
    files = sorted(dejavu_dir().glob("DejaVuSans*.ttf"))
    extra = [_package_file(*_CJK_FILE), *(_package_file(package, relative)
                                          for _, package, relative in _NOTO.values())]
    return files + [path for path in extra if path is not None] + _desk_files(tuple(font_dirs))


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
        if (font := _noto_font(script)) is not None:
            return font
    return BurnFont(default_family, dejavu_dir() / "DejaVuSans.ttf")


def _noto_font(script: str) -> BurnFont | None:
    if script not in _NOTO:
        return None
    family, package, relative = _NOTO[script]
    path = _package_file(package, relative)
    return BurnFont(family, path) if path is not None else None


def font_for_track(track: SubtitleTrack, default_family: str, font_dirs: FontDirs = ()) -> BurnFont:
    """The first font with a glyph for every character of the track: the language's font; for
    a language without a known script (und, rare tags), the font of each script its text is in;
    then the desk's fonts (`font_dirs`). When none has them all, the language's font, which the
    glyph check then reports."""
    chosen = font_for_language(track.language, default_family)
    needed = {ord(ch) for cue in track.cues for ch in _drawn(cue.plain_text)}
    candidates = [chosen]
    if language_scripts(track.language) is None:
        for script in sorted({script_of(chr(code)) for code in needed}):
            font = _noto_font(script)
            candidates.append(font or font_for_language(_CJK_LANGUAGE.get(script, "und"), default_family))
    for candidate in [*candidates, *_desk_fonts(tuple(font_dirs))]:
        if _covers(candidate, needed):
            return candidate
    return chosen


def _covers(font: BurnFont, needed: set[int]) -> bool:
    try:
        return needed <= _cmap(font.path, font.face)
    except Exception as error:  # a damaged font in a desk's folder: fontTools raises many types
        logger.warning("%s: not used as a subtitle font: %s", font.path, error)
        return False


_CJK_LANGUAGE = {"HAN": "zh", "HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko"}


def _desk_files(font_dirs: tuple[Path, ...]) -> list[Path]:
    return [path for folder in font_dirs for path in sorted(folder.iterdir())
            if path.suffix.lower() in _FONT_SUFFIXES and path.is_file()]


@functools.lru_cache(maxsize=8)
def _desk_fonts(font_dirs: tuple[Path, ...]) -> tuple[BurnFont, ...]:
    """Every face in the desk's folders, regular upright ones first (a folder of static fonts
    holds Thin to Black and italics of each family), then by file name."""
    from fontTools.ttLib import TTCollection, TTFont

    faces = []
    for path in _desk_files(font_dirs):
        try:
            count = len(TTCollection(str(path), lazy=True).fonts) if path.suffix.lower() in (".ttc", ".otc") else 1
            for face in range(count):
                with TTFont(str(path), fontNumber=face, lazy=True) as font:
                    family = font["name"].getDebugName(1)
                    weight, italic = font["OS/2"].usWeightClass, bool(font["OS/2"].fsSelection & 1)
                if family:
                    faces.append(((abs(weight - 400), italic, path.name, face), BurnFont(family, path, face)))
        except Exception as error:  # fontTools raises many types on a damaged file
            logger.warning("%s: not used as a subtitle font: %s", path, error)
    return tuple(font for _, font in sorted(faces, key=lambda item: item[0]))


@functools.lru_cache(maxsize=64)
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
            "box; remove or replace the character, check the language tag in the file name, or "
            "add a folder holding a font that has it to [subtitles] font_dirs in the config",
            "error"))
    return findings

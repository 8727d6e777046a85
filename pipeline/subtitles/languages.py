"""Language tags: BCP 47 from file names, ISO 639-2 for MP4 tracks."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.errors import SubtitleError

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
    "te": "tel", "km": "khm", "si": "sin", "gu": "guj", "pa": "pan", "kn": "kan", "ml": "mal",
    "or": "ori", "as": "asm", "mr": "mar", "ne": "nep", "my": "bur", "lo": "lao", "ti": "tir",
}
# ISO 639-2/T codes that differ from the /B code MP4 expects.
_ISO639_2T_TO_B = {
    "fra": "fre", "deu": "ger", "nld": "dut", "zho": "chi", "ces": "cze", "slk": "slo",
    "ron": "rum", "ell": "gre", "fas": "per", "sqi": "alb", "mkd": "mac", "eus": "baq",
    "cym": "wel", "isl": "ice", "msa": "may", "hye": "arm", "kat": "geo", "mya": "bur",
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


SUBTITLE_SUFFIXES = (".srt", ".vtt")


def language_from_filename(srt_path: str | Path, master_stem: str) -> str:
    """The language of `<master>.<lang>.srt` (or `.vtt`), validated as a BCP 47 tag."""
    name = Path(srt_path).name
    prefix = f"{master_stem}."
    fix = f"name it {master_stem}.<lang>.srt, e.g. {master_stem}.fr.srt"
    suffix = Path(name).suffix.lower()
    if not (name.startswith(prefix) and suffix in SUBTITLE_SUFFIXES):
        raise SubtitleError(srt_path, f"is not named after the master '{master_stem}'", fix)
    tag = name[len(prefix):-len(suffix)]
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

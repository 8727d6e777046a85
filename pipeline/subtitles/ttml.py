"""Broadcast subtitle sidecars: IMSC 1.1 Text (TTML, what streaming platforms ask for) and
EBU-TT-D (TTML for broadcasters and HbbTV: EBU Tech 3380).

Both are one TTML document: regions for the cue positions (top, middle, bottom rows; the column
is the paragraph's text alignment), styles referenced by id for italics, bold, underline and
colours (EBU-TT-D allows no inline styling), times in media time as HH:MM:SS.mmm. They differ in
the profile they declare.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

from pipeline.files import write_atomically
from pipeline.subtitles.model import FONT_COLOUR, NAMED_COLOURS, STYLE_TAG, SubtitleTrack

TtmlFlavour = Literal["imsc", "ebu-tt-d"]

TT = "http://www.w3.org/ns/ttml"
TTS = "http://www.w3.org/ns/ttml#styling"
TTP = "http://www.w3.org/ns/ttml#parameter"
TTM = "http://www.w3.org/ns/ttml#metadata"
EBUTTM = "urn:ebu:tt:metadata"
XML = "http://www.w3.org/XML/1998/namespace"
IMSC11_TEXT = "http://www.w3.org/ns/ttml/profile/imsc1.1/text"
EBU_TT_D = "urn:ebu:tt:distribution:2018-04"
for _prefix, _uri in (("tts", TTS), ("ttp", TTP), ("ttm", TTM), ("ebuttm", EBUTTM), ("", TT)):
    ET.register_namespace(_prefix, _uri)

# Numpad row -> region: inside the title-safe area (10 % in from each edge).
_REGIONS = {"top": ("10% 10%", "before"), "middle": ("10% 40%", "center"),
            "bottom": ("10% 70%", "after")}
_ALIGN = {0: "left", 1: "center", 2: "right"}
_STYLE_OF_TAG = {"i": ("tts:fontStyle", "italic"), "b": ("tts:fontWeight", "bold"),
                 "u": ("tts:textDecoration", "underline")}


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _attr(name: str) -> str:
    prefix, local = name.split(":")
    return _q({"tts": TTS, "ttp": TTP, "xml": XML}[prefix], local)


def _time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _row(position: int) -> str:
    return "top" if position >= 7 else "middle" if position >= 4 else "bottom"


def _colour(value: str) -> str | None:
    rgb = NAMED_COLOURS.get(value.lower(), value.lstrip("#")).upper()
    return f"#{rgb}" if len(rgb) == 6 and all(ch in "0123456789ABCDEF" for ch in rgb) else None


class _Styles:
    """The referential styles a document needs, created as the cues ask for them."""

    def __init__(self, styling: ET.Element) -> None:
        self.styling = styling
        self.known: set[str] = set()

    def ref(self, style_id: str, attributes: dict[str, str]) -> str:
        if style_id not in self.known:
            self.known.add(style_id)
            ET.SubElement(self.styling, _q(TT, "style"),
                          {_q(XML, "id"): style_id, **{_attr(k): v for k, v in attributes.items()}})
        return style_id


def _spans(paragraph: ET.Element, text: str, styles: _Styles) -> None:
    """The cue's text as spans (one per run of the same styling) and <br/> between lines."""
    open_tags: list[str] = []
    colours: list[str | None] = []
    position = 0

    def emit(chunk: str) -> None:
        refs = [styles.ref(f"s_{tag}", dict([_STYLE_OF_TAG[tag]])) for tag in dict.fromkeys(open_tags)]
        colour = next((value for value in reversed(colours) if value), None)
        if colour:
            refs.append(styles.ref(f"s_c{colour[1:]}", {"tts:color": colour}))
        for k, line in enumerate(chunk.split("\n")):
            if k:
                ET.SubElement(paragraph, _q(TT, "br"))
            if line:
                span = ET.SubElement(paragraph, _q(TT, "span"), {"style": " ".join(refs)} if refs else {})
                span.text = line

    for match in STYLE_TAG.finditer(text):
        emit(text[position:match.start()])
        position = match.end()
        if match["style"]:
            tag = match["style"].lower()
            if match["close"]:
                if tag in open_tags:
                    open_tags.remove(tag)
            else:
                open_tags.append(tag)
        elif match["font_close"]:
            if colours:
                colours.pop()
        else:
            found = FONT_COLOUR.search(match["font_attrs"] or "")
            colours.append(_colour(found[1]) if found else None)
    emit(text[position:])


def _head(root: ET.Element, flavour: TtmlFlavour) -> _Styles:
    head = ET.SubElement(root, _q(TT, "head"))
    if flavour == "ebu-tt-d":
        metadata = ET.SubElement(head, _q(TT, "metadata"))
        ET.SubElement(metadata, _q(EBUTTM, "documentMetadata"))
        ET.SubElement(metadata[0], _q(EBUTTM, "conformsToStandard")).text = EBU_TT_D
    styling = ET.SubElement(head, _q(TT, "styling"))
    styles = _Styles(styling)
    styles.ref("s_base", {"tts:fontFamily": "proportionalSansSerif", "tts:fontSize": "100%",
                          "tts:lineHeight": "normal", "tts:color": "#FFFFFF",
                          "tts:backgroundColor": "#000000C2"})
    layout = ET.SubElement(head, _q(TT, "layout"))
    for row, (origin, display_align) in _REGIONS.items():
        ET.SubElement(layout, _q(TT, "region"), {
            _q(XML, "id"): f"r_{row}", _attr("tts:origin"): origin, _attr("tts:extent"): "80% 20%",
            _attr("tts:displayAlign"): display_align})
    return styles


def ttml_text(track: SubtitleTrack, flavour: TtmlFlavour) -> str:
    """The track as an IMSC 1.1 Text or an EBU-TT-D document (UTF-8 XML)."""
    profile = {"imsc": {_attr("ttp:contentProfiles"): IMSC11_TEXT}, "ebu-tt-d": {}}[flavour]
    root = ET.Element(_q(TT, "tt"), {_q(XML, "lang"): track.language, _attr("ttp:timeBase"): "media",
                                     _attr("ttp:cellResolution"): "50 30", **profile})
    styles = _head(root, flavour)
    body = ET.SubElement(root, _q(TT, "body"), {"style": "s_base"})
    div = ET.SubElement(body, _q(TT, "div"))
    for n, cue in enumerate(track.cues, 1):
        position = cue.position
        align = _ALIGN[(position - 1) % 3]
        paragraph = ET.SubElement(div, _q(TT, "p"), {
            _q(XML, "id"): f"c{n}", "begin": _time(cue.start_ms), "end": _time(cue.end_ms),
            "region": f"r_{_row(position)}",
            "style": styles.ref(f"s_{align}", {"tts:textAlign": align})})
        _spans(paragraph, cue.styled_text, styles)
    ET.indent(root)
    for paragraph in div:  # whitespace inside a paragraph would be shown: no indenting there
        paragraph.text = None
        for child in paragraph:
            child.tail = None
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_ttml(track: SubtitleTrack, path: str | Path, flavour: TtmlFlavour) -> None:
    write_atomically(path, ttml_text(track, flavour))

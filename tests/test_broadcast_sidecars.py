"""The broadcast subtitle sidecars (IMSC 1.1 Text, EBU-TT-D), read back by a second reader:
ttconv's TTML reader. No schema for either ships in a package, so the round trip is the check:
every cue comes back with its times, text, position, italics, bold and colour.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest
from ttconv.imsc.reader import to_model
from ttconv.model import Br, Span, StyleProperties, Text

from pipeline.config import load_config
from pipeline.delivery.sidecar import write_subtitle_sidecars
from pipeline.errors import ConfigError
from pipeline.subtitles import Cue, SubtitleTrack, write_ttml

TRACK = SubtitleTrack("fr", Path("news.fr.srt"), [
    Cue(1, 1000, 2500, "{\\an8}Bonjour <i>à tous</i>\n<font color=\"red\">rouge</font> & <b>gras</b>"),
    Cue(2, 3000, 4040, "{\\an4}<c.yellow>À gauche</c>, au milieu"),
    Cue(3, 3_600_000, 3_601_000, "Une heure < deux"),
], "utf-8")


def read_back(path: Path) -> list[dict]:
    """Each paragraph as ttconv models it: times, region, alignment and styled runs."""
    document = to_model(ET.parse(path))
    assert document is not None, f"ttconv could not read {path.name}"
    paragraphs = []
    for div in document.get_body():
        for paragraph in div:
            runs = []
            for child in paragraph:
                if isinstance(child, Br):
                    runs.append("\n")
                    continue
                assert isinstance(child, Span)
                text = "".join(node.get_text() for node in child if isinstance(node, Text))
                colour = child.get_style(StyleProperties.Color)
                runs.append((text, str(child.get_style(StyleProperties.FontStyle) or ""),
                             str(child.get_style(StyleProperties.FontWeight) or ""),
                             colour.components[:3] if colour else None))
            region = paragraph.get_region()
            paragraphs.append({
                "begin": paragraph.get_begin(), "end": paragraph.get_end(), "region": region.get_id(),
                "display_align": str(region.get_style(StyleProperties.DisplayAlign)),
                "text_align": str(paragraph.get_style(StyleProperties.TextAlign)), "runs": runs})
    return paragraphs


@pytest.mark.parametrize(("flavour", "marker"), [
    ("imsc", 'ttp:contentProfiles="http://www.w3.org/ns/ttml/profile/imsc1.1/text"'),
    ("ebu-tt-d", "<ebuttm:conformsToStandard>urn:ebu:tt:distribution:2018-04<")])
def test_ttml_sidecars_read_back_with_times_text_positions_and_styles(tmp_path, flavour, marker):
    path = tmp_path / f"news.fr.{flavour}.xml"
    write_ttml(TRACK, path, flavour)
    assert marker in path.read_text(encoding="utf-8")
    first, second, third = read_back(path)
    assert (first["begin"], first["end"], first["region"], first["display_align"]) == (
        1, Fraction(5, 2), "r_top", "DisplayAlignType.before")
    assert first["runs"] == [("Bonjour ", "", "", None), ("à tous", "FontStyleType.italic", "", None),
                             "\n", ("rouge", "", "", (255, 0, 0)), (" & ", "", "", None),
                             ("gras", "", "FontWeightType.bold", None)]
    assert (second["region"], second["text_align"], second["end"]) == (
        "r_middle", "TextAlignType.start", Fraction(101, 25))
    assert second["runs"] == [("À gauche, au milieu", "", "", None)]  # <c.yellow> is not shown
    assert (third["begin"], third["region"], third["runs"]) == (
        3600, "r_bottom", [("Une heure < deux", "", "", None)])


def test_the_configured_formats_are_written_beside_the_srt_and_vtt(tmp_path):
    submission = SimpleNamespace(asset_id="news-item", subtitles={"fr": TRACK})
    formats = load_config().subtitles.sidecar_formats
    written = write_subtitle_sidecars(submission, tmp_path, formats)
    assert written == ["news-item.fr.srt", "news-item.fr.vtt", "news-item.fr.ttml",
                       "news-item.fr.ebu-tt-d.xml"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(written)
    only_srt = tmp_path / "only-srt"
    only_srt.mkdir()
    assert write_subtitle_sidecars(submission, only_srt, ["srt"]) == ["news-item.fr.srt"]
    assert [path.name for path in only_srt.iterdir()] == ["news-item.fr.srt"]


def test_an_unknown_sidecar_format_is_a_config_error_naming_the_allowed_ones(tmp_path):
    config = tmp_path / "formats.toml"
    config.write_text('[subtitles]\nsidecar_formats = ["srt", "dfxp"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "sidecar_formats" in str(caught.value) and "ebu-tt-d" in str(caught.value)

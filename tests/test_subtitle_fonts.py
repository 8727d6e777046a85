"""Every script burned in real glyphs from a font shipped by a Python package, and the glyph
check that refuses a cue the font cannot draw.

A burn is one frame: the ASS script the pipeline writes, drawn by ffmpeg's libass over a dark
picture with the work dir's font folder (prepare_work_dir). Its white fill is compared with the
same text drawn directly by Pillow from the font file the pipeline chose, and with the font's
empty box, as tests/test_burn_in.py does for Arabic. Indic conjuncts are compared with the text
drawn shaped (HarfBuzz, through Pillow's Raqm layout) and letter by letter. A script no wheel
carries is burned from a desk's font folder named in the config ([subtitles] font_dirs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from pipeline.config import SubtitleStyle, load_config
from pipeline.errors import ConfigError
from pipeline.media import ffmpeg
from pipeline.render.commands import FONTS_LINK, prepare_work_dir
from pipeline.subtitles import Cue, SubtitleTrack, fonts, write_ass
from pipeline.subtitles.fonts import BurnFont, font_for_language, font_for_track, missing_glyphs, size_factor
from tests.test_burn_in import similarity

WIDTH, HEIGHT = 640, 360
FILL = 160

TEXTS = {
    "ja": "港の橋が再開しました",
    "zh-Hans": "海港大桥重新开放",
    "zh-Hant": "海港大橋重新開放",
    "ko": "항구 다리가 다시 열렸다",
    "th": "สะพานท่าเรือเปิดอีกครั้ง",
    "hi": "बंदरगाह पुल फिर से खुला",
    "he": "גשר הנמל נפתח מחדש",
    "ta": "துறைமுகப் பாலம் மீண்டும் திறக்கப்பட்டது",
    "te": "నౌకాశ్రయ వంతెన మళ్ళీ తెరుచుకుంది",
    "km": "ស្ពានកំពង់ផែបានបើកឡើងវិញ",
    "bn": "বন্দরের সেতু আবার খুলেছে",
    "my": "ဆိပ်ကမ်းတံတား ပြန်ဖွင့်ပြီ",
    "lo": "ຂົວທ່າເຮືອເປີດຄືນໃໝ່",
    "am": "የወደቡ ድልድይ እንደገና ተከፈተ",
}


def track_of(language: str, *texts: str) -> SubtitleTrack:
    cues = [Cue(n, (n - 1) * 2000, n * 2000 - 500, text) for n, text in enumerate(texts, 1)]
    return SubtitleTrack(language, Path(f"news.{language}.srt"), cues, "utf-8")


def burned_fill(work_dir: Path, language: str, text: str, font_dirs: Sequence[Path] = ()) -> np.ndarray:
    prepare_work_dir(work_dir, font_dirs)
    write_ass(track_of(language, text), work_dir / "cue.ass", SubtitleStyle(), WIDTH, HEIGHT, 2, font_dirs)
    command = ffmpeg.base_args() + [
        "-f", "lavfi", "-i", f"color=c=0x202020:s={WIDTH}x{HEIGHT}:d=0.2:r=25",
        "-vf", f"ass=filename=cue.ass:fontsdir={FONTS_LINK}:shaping=complex",
        "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "frame.raw"]
    ffmpeg.run(command, limit=ffmpeg.DEFAULT_LIMIT, cwd=work_dir)
    frame = np.fromfile(work_dir / "frame.raw", dtype=np.uint8).reshape(HEIGHT, WIDTH)
    return frame > FILL


def drawn_fill(language: str, text: str, font: BurnFont | None = None, shaped: bool = True) -> np.ndarray:
    """`text` drawn directly with the chosen font at the size libass uses (the ASS size is the
    font's Windows ascender + descender, so the em size is scaled down by that height): shaped
    by HarfBuzz (Pillow's Raqm layout, as libass shapes), or letter by letter (its basic one)."""
    font = font or font_for_language(language, "DejaVu Sans")
    ass_size = round(SubtitleStyle().size_ratio * HEIGHT * size_factor(font))
    with TTFont(str(font.path), fontNumber=font.face, lazy=True) as metrics:
        line_height = (metrics["OS/2"].usWinAscent + metrics["OS/2"].usWinDescent) / metrics["head"].unitsPerEm
    layout = ImageFont.Layout.RAQM if shaped else ImageFont.Layout.BASIC
    drawing_font = ImageFont.truetype(str(font.path), ass_size / line_height, index=font.face, layout_engine=layout)
    picture = Image.new("L", (1200, 120), 0)
    ImageDraw.Draw(picture).text((20, 20), text, font=drawing_font, fill=255)
    return np.array(picture) > FILL


@pytest.mark.ffmpeg
@pytest.mark.parametrize("language", sorted(TEXTS))
def test_each_script_is_burned_in_real_glyphs_of_its_font(tmp_path, language):
    text = TEXTS[language]
    burned = burned_fill(tmp_path, language, text)
    reference, boxes = drawn_fill(language, text), drawn_fill(language, "\ue000" * len(text))
    coverage = burned.sum() / reference.sum()
    assert 0.75 <= coverage <= 1.35, f"{language}: ink ratio burned / drawn {coverage:.2f}"
    like_glyphs, like_boxes = similarity(burned, reference), similarity(burned, boxes)
    assert like_glyphs >= 0.8, f"{language}: burned text unlike the font's glyphs ({like_glyphs:.2f})"
    assert like_glyphs - like_boxes >= 0.2, (language, like_glyphs, like_boxes)


@pytest.mark.ffmpeg
def test_a_top_position_tag_burns_the_cue_at_the_top(tmp_path):
    burned = burned_fill(tmp_path, "en", "{\\an8}Lower third below")
    rows = np.flatnonzero(burned.any(axis=1))
    assert len(rows) and rows.max() < HEIGHT // 3, "the {\\an8} cue is not in the top third"


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_the_chosen_font_has_every_glyph_of_its_script(language):
    track = track_of(language, TEXTS[language], f"<i>{TEXTS[language]}</i> (2026) OK?")
    assert missing_glyphs(track, font_for_track(track, "DejaVu Sans")) == []


def test_a_character_the_font_lacks_is_an_error_naming_cue_character_and_font_dirs():
    track = track_of("si", "OK", "සුභ උදෑසනක්")  # Sinhala: no font for it ships
    findings = missing_glyphs(track, font_for_track(track, "DejaVu Sans"))
    assert [(finding.cue, finding.rule, finding.severity) for finding in findings] == [
        (2, "missing_glyph", "error")]
    assert findings[0].message.startswith(
        "si cue 2 at 00:00:02,000: DejaVu Sans has no glyph for 'ස' U+0DC3 SINHALA LETTER DANTAJA SAYANNA, ")
    assert findings[0].message.endswith(
        "it would be burned in as an empty box; remove or replace the character, check the language "
        "tag in the file name, or add a folder holding a font that has it to [subtitles] font_dirs "
        "in the config")


def test_a_language_without_a_known_script_gets_the_font_that_covers_it():
    assert font_for_track(track_of("und", "สวัสดี"), "DejaVu Sans").family == "Noto Sans Thai"
    assert font_for_track(track_of("und", "Hello"), "DejaVu Sans").family == "DejaVu Sans"
    assert font_for_track(track_of("und", TEXTS["bn"]), "DejaVu Sans").family == "Noto Sans Bengali"



# ---------------------------------------------------------------------------------------------
# Shaping: an Indic conjunct is one cluster, as HarfBuzz shapes it

CONJUNCTS = {
    "te": "లక్ష్మి క్షమ",  # క్ష: ka, virama, ssa -> ka with ssa below it, no visible virama
    "ta": "க்ஷேத்திரம் க்ஷமா",  # க்ஷ: one ligature in Tamil fonts
    "hi": "लक्ष्मी क्षमा",  # क्ष: one ligature
}


@pytest.mark.ffmpeg
@pytest.mark.parametrize("language", sorted(CONJUNCTS))
def test_a_conjunct_is_burned_as_one_shaped_cluster_not_letters_and_a_virama(tmp_path, language):
    """The reference is the same text drawn by Pillow from the same font file twice: shaped by
    HarfBuzz (Raqm layout: the conjunct is one cluster) and letter by letter (basic layout: ka,
    a visible virama, ssa). The two drawings must differ, and the burn must be the shaped one."""
    text = CONJUNCTS[language]
    shaped, unshaped = drawn_fill(language, text), drawn_fill(language, text, shaped=False)
    assert similarity(shaped, unshaped) < 0.9, f"{language}: shaping changes nothing in this text"
    burned = burned_fill(tmp_path, language, text)
    like_shaped, like_unshaped = similarity(burned, shaped), similarity(burned, unshaped)
    assert like_shaped >= 0.85, f"{language}: burned text unlike the shaped drawing ({like_shaped:.2f})"
    assert like_shaped - like_unshaped >= 0.2, (language, like_shaped, like_unshaped)


# ---------------------------------------------------------------------------------------------
# A script no wheel carries: the desk's font folder ([subtitles] font_dirs)

def desk_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding Noto Sans Telugu renamed "Desk Telugu", with the Telugu wheel hidden from
    the font lookup: Telugu is then a script no shipped font covers, and the only font libass
    and the glyph check can find for it is the one in the folder (by a name found nowhere else)."""
    wheel_font = font_for_language("te", "DejaVu Sans").path
    monkeypatch.delitem(fonts._NOTO, "TELUGU")
    folder = tmp_path / "desk fonts"
    folder.mkdir()
    with TTFont(str(wheel_font)) as font:
        for record in font["name"].names:
            if record.nameID in (1, 4, 16):
                record.string = "Desk Telugu"
            elif record.nameID == 6:
                record.string = "DeskTelugu-Regular"
        font.save(str(folder / "DeskTelugu.ttf"))
    return folder


@pytest.mark.ffmpeg
def test_a_font_folder_in_the_config_makes_a_script_no_wheel_carries_burnable(tmp_path, monkeypatch):
    folder = desk_folder(tmp_path, monkeypatch)
    config_file = tmp_path / "desk.toml"
    config_file.write_text(f"[subtitles]\nfont_dirs = [{json.dumps(str(folder))}]\n")
    font_dirs = load_config(config_file).subtitles.font_dirs
    track = track_of("te", TEXTS["te"])
    without = missing_glyphs(track, font_for_track(track, "DejaVu Sans"))
    assert [finding.rule for finding in without] == ["missing_glyph"]
    chosen = font_for_track(track, "DejaVu Sans", font_dirs)
    assert (chosen.family, chosen.path.parent) == ("Desk Telugu", folder)
    assert missing_glyphs(track, chosen) == []
    burned = burned_fill(tmp_path / "work", "te", TEXTS["te"], font_dirs)
    reference = drawn_fill("te", TEXTS["te"], chosen)
    boxes = drawn_fill("te", "\ue000" * len(TEXTS["te"]), chosen)
    like_glyphs, like_boxes = similarity(burned, reference), similarity(burned, boxes)
    assert like_glyphs >= 0.8, f"burned text unlike the desk font's glyphs ({like_glyphs:.2f})"
    assert like_glyphs - like_boxes >= 0.2, (like_glyphs, like_boxes)


def test_a_font_folder_that_is_not_one_is_a_config_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, problem in ((tmp_path / "missing", "is not a folder"), (empty, "holds no font file")):
        config_file = tmp_path / "desk.toml"
        config_file.write_text(f"[subtitles]\nfont_dirs = [{json.dumps(str(folder))}]\n")
        with pytest.raises(ConfigError) as caught:
            load_config(config_file)
        assert "subtitles.font_dirs" in str(caught.value) and problem in str(caught.value)

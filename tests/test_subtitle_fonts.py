"""Every script burned in real glyphs from a font shipped by a Python package, and the glyph
check that refuses a cue the font cannot draw.

A burn is one frame: the ASS script the pipeline writes, drawn by ffmpeg's libass over a dark
picture with the work dir's font folder (prepare_work_dir). Its white fill is compared with the
same text drawn directly by Pillow from the font file the pipeline chose, and with the font's
empty box, as tests/test_burn_in.py does for Arabic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from pipeline.config import SubtitleStyle
from pipeline.media import ffmpeg
from pipeline.render.commands import FONTS_LINK, prepare_work_dir
from pipeline.subtitles import Cue, SubtitleTrack, write_ass
from pipeline.subtitles.fonts import font_for_language, font_for_track, missing_glyphs, size_factor
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
}


def track_of(language: str, *texts: str) -> SubtitleTrack:
    cues = [Cue(n, (n - 1) * 2000, n * 2000 - 500, text) for n, text in enumerate(texts, 1)]
    return SubtitleTrack(language, Path(f"news.{language}.srt"), cues, "utf-8")


def burned_fill(work_dir: Path, language: str, text: str) -> np.ndarray:
    prepare_work_dir(work_dir)
    write_ass(track_of(language, text), work_dir / "cue.ass", SubtitleStyle(), WIDTH, HEIGHT, 2)
    command = ffmpeg.base_args() + [
        "-f", "lavfi", "-i", f"color=c=0x202020:s={WIDTH}x{HEIGHT}:d=0.2:r=25",
        "-vf", f"ass=filename=cue.ass:fontsdir={FONTS_LINK}:shaping=complex",
        "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "frame.raw"]
    ffmpeg.run(command, limit=ffmpeg.DEFAULT_LIMIT, cwd=work_dir)
    frame = np.fromfile(work_dir / "frame.raw", dtype=np.uint8).reshape(HEIGHT, WIDTH)
    return frame > FILL


def drawn_fill(language: str, text: str) -> np.ndarray:
    """`text` drawn directly with the chosen font at the size libass uses (the ASS size is the
    font's Windows ascender + descender, so the em size is scaled down by that height)."""
    font = font_for_language(language, "DejaVu Sans")
    ass_size = round(SubtitleStyle().size_ratio * HEIGHT * size_factor(font))
    with TTFont(str(font.path), fontNumber=font.face, lazy=True) as metrics:
        line_height = (metrics["OS/2"].usWinAscent + metrics["OS/2"].usWinDescent) / metrics["head"].unitsPerEm
    drawing_font = ImageFont.truetype(str(font.path), ass_size / line_height,
                                      index=font.face, layout_engine=ImageFont.Layout.RAQM)
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


def test_a_character_the_font_lacks_is_an_error_naming_cue_and_character():
    track = track_of("bn", "OK", "নদী পার")  # Bengali: no font for it ships yet
    findings = missing_glyphs(track, font_for_track(track, "DejaVu Sans"))
    assert [(finding.cue, finding.rule, finding.severity) for finding in findings] == [
        (2, "missing_glyph", "error")]
    assert findings[0].message.startswith(
        "bn cue 2 at 00:00:02,000: DejaVu Sans has no glyph for 'ন' U+09A8 BENGALI LETTER NA, ")
    assert findings[0].message.endswith("it would be burned in as an empty box; remove or replace "
                                        "the character, or check the language tag in the file name")


def test_a_language_without_a_known_script_gets_the_font_that_covers_it():
    assert font_for_track(track_of("und", "สวัสดี"), "DejaVu Sans").family == "Noto Sans Thai"
    assert font_for_track(track_of("und", "Hello"), "DejaVu Sans").family == "DejaVu Sans"

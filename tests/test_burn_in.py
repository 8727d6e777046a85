"""Burned-in subtitles as a viewer sees them: on exactly the right frames, in real glyphs (Latin,
Cyrillic, Arabic right to left), italic and bold where the SRT asks.

Each package is made here (a plain drifting colour, so the only white ink on a frame is the
subtitle's fill), rendered through `render_package`, and every output frame is compared with the
same frame of the clean master. The reference for "real glyphs" is the same text drawn directly
with the same font file (DejaVu Sans from matplotlib) by Pillow, at the size libass uses.
"""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.config import load_config
from pipeline.sequence import render_package
from pipeline.subtitles.fonts import dejavu_dir
from tests.subtitle_masters import luma_frames, make_package, srt

pytestmark = pytest.mark.slow

HEIGHT = 360
SUBTITLE_ROWS = slice(int(HEIGHT * 0.6), HEIGHT)  # the lower part, where subtitles sit
FILL = 160   # luma of the white subtitle fill (the clean picture stays under 60)
CLEAN = 120

RUSSIAN = "Мост через гавань снова открыт"
ARABIC = "أعيد افتتاح جسر الميناء"
ENGLISH = "Harbour bridge reopens"


def render(package, out, config_file):
    report = render_package(package, out, load_config(config_file))
    failed = {item.key: item.reason for item in report.deliverables if item.state != "delivered"}
    assert not failed, failed
    return report.folder


def fill_masks(folder, language: str) -> np.ndarray:
    """Per frame, the pixels that are subtitle fill: white in the subtitled version where the
    clean master is dark."""
    clean = luma_frames(folder / "subtitle-test_master-clean.mp4", SUBTITLE_ROWS)
    subtitled = luma_frames(folder / f"subtitle-test_subtitled-{language}.mp4", SUBTITLE_ROWS)
    assert clean.shape == subtitled.shape, "the subtitled version has other frames than the clean master"
    return (subtitled > FILL) & (clean < CLEAN)


# ---------------------------------------------------------------------------------------------
# Frame accuracy

CUES = [("00:00:00,300", "00:00:01,010", "First cue"),
        ("00:00:01,500", "00:00:02,345", "Second cue"),
        ("00:00:02,800", "00:00:03,600", "Third cue")]


def srt_seconds(text: str) -> Fraction:
    hours, minutes, rest = text.split(":")
    seconds, millis = rest.split(",")
    return Fraction((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) + Fraction(int(millis), 1000)


def first_frame_at_or_after(seconds: Fraction, fps: Fraction) -> int:
    """The first frame whose time (n / fps) is at or after `seconds`, in exact arithmetic."""
    return math.ceil(seconds * fps)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("rate", ["25", "30000/1001"])
def test_each_cue_is_on_screen_from_its_first_frame_to_its_last(tmp_path, fast_config, rate):
    fps = Fraction(rate)
    package = make_package(tmp_path / "package", {"en": srt(*CUES)}, fps=rate)
    folder = render(package, tmp_path / "out", fast_config)
    masks = fill_masks(folder, "en")
    inked = masks.sum(axis=(1, 2)) > 20
    expected = np.zeros(len(inked), dtype=bool)
    for start, end, _ in CUES:
        first, gone = (first_frame_at_or_after(srt_seconds(t), fps) for t in (start, end))
        expected[first:gone] = True
        assert not inked[first - 1] and inked[first], (
            f"{rate} fps: cue at {start} should first show on frame {first}; "
            f"ink on frames {first - 1}, {first}: {inked[first - 1]}, {inked[first]}")
        assert inked[gone - 1] and not inked[gone], (
            f"{rate} fps: cue ending {end} should be gone on frame {gone}; "
            f"ink on frames {gone - 1}, {gone}: {inked[gone - 1]}, {inked[gone]}")
    assert len(inked) == round(4 * fps), "the subtitled version lost or gained frames"
    wrong = np.flatnonzero(inked != expected).tolist()
    assert not wrong, f"{rate} fps: frames with ink where none belongs, or none where it does: {wrong}"


# ---------------------------------------------------------------------------------------------
# Glyphs and styles


@pytest.fixture(scope="module")
def glyph_render(tmp_path_factory):
    """Russian, Arabic and English (upright, italic, bold) burned in one render, with the soft
    track switched on as well, so the same outputs also show both options working together."""
    root = tmp_path_factory.mktemp("glyphs")
    config = root / "burn-and-soft.toml"
    config.write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\n\n'
                      "[subtitles]\nburn_in = true\nsoft_track = true\n")
    package = make_package(root / "package", {
        "ru": srt(("00:00:00,200", "00:00:01,400", RUSSIAN)),
        "ar": srt(("00:00:00,200", "00:00:01,400", ARABIC)),
        "en": srt(("00:00:00,200", "00:00:01,200", ENGLISH),
                  ("00:00:01,400", "00:00:02,400", f"<i>{ENGLISH}</i>"),
                  ("00:00:02,600", "00:00:03,600", f"<b>{ENGLISH}</b>")),
    })
    return render(package, root / "out", config)


UPRIGHT_FRAME, ITALIC_FRAME, BOLD_FRAME = 17, 47, 77  # the middle of each English cue at 25 fps


def reference_fill(text: str, font_file: str = "DejaVuSans.ttf", basic_layout: bool = False) -> np.ndarray:
    """`text` drawn directly with the font, at the size libass draws it. An ASS font size is the
    height of the font's ascender + descender (VSFilter's convention, which libass keeps), so
    the em size is scaled down by that height."""
    ass_size = round(load_config().subtitles.style.size_ratio * HEIGHT)
    path = str(dejavu_dir() / font_file)
    ascent, descent = ImageFont.truetype(path, 1000).getmetrics()
    layout = ImageFont.Layout.BASIC if basic_layout else ImageFont.Layout.RAQM
    font = ImageFont.truetype(path, ass_size * 1000 / (ascent + descent), layout_engine=layout)
    picture = Image.new("L", (1200, 120), 0)
    ImageDraw.Draw(picture).text((20, 20), text, font=font, fill=255)
    return np.array(picture) > FILL


def tofu_fill(text: str) -> np.ndarray:
    """What a missing glyph looks like: the font's empty box, once per character."""
    return reference_fill("\ue000" * len(text))


def cropped(mask: np.ndarray) -> np.ndarray:
    rows, columns = np.nonzero(mask)
    assert len(rows), "no subtitle ink at all"
    return mask[rows.min():rows.max() + 1, columns.min():columns.max() + 1]


def blurred(picture: np.ndarray) -> np.ndarray:
    kernel = np.exp(-np.arange(-3, 4) ** 2 / 2.0)
    kernel /= kernel.sum()
    rows = np.apply_along_axis(np.convolve, 1, picture.astype(float), kernel, "same")
    return np.apply_along_axis(np.convolve, 0, rows, kernel, "same")


def similarity(a: np.ndarray, b: np.ndarray, reach: int = 3) -> float:
    """How alike two inked texts are: correlation of the slightly blurred shapes (so sub-pixel
    placement does not count), at the best alignment within `reach` pixels. 1.0 is identical."""
    a, b = cropped(a), cropped(b)
    margin = reach + 4
    height, width = max(a.shape[0], b.shape[0]) + 2 * margin, max(a.shape[1], b.shape[1]) + 2 * margin
    canvas_a, canvas_b = np.zeros((height, width)), np.zeros((height, width))
    canvas_a[margin:margin + a.shape[0], margin:margin + a.shape[1]] = a
    canvas_b[margin:margin + b.shape[0], margin:margin + b.shape[1]] = b
    canvas_a, canvas_b = blurred(canvas_a), blurred(canvas_b)
    best = -1.0
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            shifted = np.roll(canvas_b, (dy, dx), axis=(0, 1))
            best = max(best, float((canvas_a * shifted).sum()
                                   / np.sqrt((canvas_a ** 2).sum() * (shifted ** 2).sum())))
    return best


def slant(mask: np.ndarray) -> float:
    """The shear that makes the text's strokes most upright: about 0 for upright type, about
    -0.2 for DejaVu Sans Oblique (rows shifted right as they rise)."""
    ink = cropped(mask).astype(float)
    height, width = ink.shape
    middle = (height - 1) / 2
    best_score, best_shear = -1.0, 0.0
    for shear in np.linspace(-0.5, 0.5, 51):
        columns = np.zeros(width + 2 * height + 2)
        for row in range(height):
            offset = int(round(shear * (middle - row))) + height + 1
            columns[offset:offset + width] += ink[row]
        score = float((columns ** 2).sum())  # sharpest column profile: strokes lined up
        if score > best_score:
            best_score, best_shear = score, float(shear)
    return best_shear


@pytest.mark.ffmpeg
@pytest.mark.parametrize("language, text", [("ru", RUSSIAN), ("ar", ARABIC), ("en", ENGLISH)])
def test_burned_text_has_the_ink_of_real_glyphs_not_boxes(glyph_render, language, text):
    burned = fill_masks(glyph_render, language)[UPRIGHT_FRAME]
    reference, tofu = reference_fill(text), tofu_fill(text)
    coverage = burned.sum() / reference.sum()
    assert 0.8 <= coverage <= 1.3, (
        f"{language}: {burned.sum()} px of ink burned, {reference.sum()} px drawn with the font "
        f"directly (ratio {coverage:.2f})")
    width, reference_width = cropped(burned).shape[1], cropped(reference).shape[1]
    assert abs(width - reference_width) <= 0.05 * reference_width, (language, width, reference_width)
    like_glyphs, like_boxes = similarity(burned, reference), similarity(burned, tofu)
    assert like_glyphs >= 0.85, f"{language}: burned text looks unlike the font's glyphs ({like_glyphs:.2f})"
    assert like_glyphs - like_boxes >= 0.2, (
        f"{language}: burned text is as close to empty boxes ({like_boxes:.2f}) as to the glyphs "
        f"({like_glyphs:.2f})")


@pytest.mark.ffmpeg
def test_arabic_is_shaped_and_runs_right_to_left(glyph_render):
    burned = fill_masks(glyph_render, "ar")[UPRIGHT_FRAME]
    shaped = similarity(burned, reference_fill(ARABIC))
    # Pillow's basic layout puts the letters left to right in their isolated forms: what a
    # renderer without bidi and shaping would burn in.
    unshaped = similarity(burned, reference_fill(ARABIC, basic_layout=True))
    assert shaped - unshaped >= 0.2, f"shaped {shaped:.2f}, unshaped {unshaped:.2f}"


@pytest.mark.ffmpeg
def test_italic_cues_are_slanted_like_the_oblique_font(glyph_render):
    masks = fill_masks(glyph_render, "en")
    upright, italic = slant(masks[UPRIGHT_FRAME]), slant(masks[ITALIC_FRAME])
    regular_font = slant(reference_fill(ENGLISH))
    oblique_font = slant(reference_fill(ENGLISH, "DejaVuSans-Oblique.ttf"))
    assert abs(upright - regular_font) <= 0.06, (upright, regular_font)
    assert abs(italic - oblique_font) < abs(italic - regular_font), (italic, oblique_font, regular_font)
    assert abs(italic - upright) >= 0.08, f"the italic cue is no more slanted ({italic}) than the upright one ({upright})"


@pytest.mark.ffmpeg
def test_bold_cues_use_the_bold_font(glyph_render):
    masks = fill_masks(glyph_render, "en")
    bold, upright = masks[BOLD_FRAME], masks[UPRIGHT_FRAME]
    like_bold = similarity(bold, reference_fill(ENGLISH, "DejaVuSans-Bold.ttf"))
    like_regular = similarity(bold, reference_fill(ENGLISH))
    assert like_bold - like_regular >= 0.15, f"bold {like_bold:.2f}, regular {like_regular:.2f}"
    assert bold.sum() >= 1.4 * upright.sum(), (bold.sum(), upright.sum())


@pytest.mark.ffmpeg
def test_burned_version_also_carries_the_soft_track_and_its_language(glyph_render):
    with av.open(str(glyph_render / "subtitle-test_subtitled-ar.mp4")) as container:
        assert container.metadata["subtitle_language"] == "ar"
        tracks = list(container.streams.subtitles)
        assert [track.codec_context.name for track in tracks] == ["mov_text"]
        assert tracks[0].metadata["language"] == "ara"
    with av.open(str(glyph_render / "subtitle-test_master-clean.mp4")) as container:
        assert not container.streams.subtitles, "the clean master carries no subtitles"
        assert "subtitle_language" not in container.metadata

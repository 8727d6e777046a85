"""Subtitle files in every script, encoding and shape producers deliver: read right (cue count,
text, times), or refused with the line and the fix. Pure and fast: no ffmpeg.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
import webvtt

from pipeline.config import SubtitleStyle, load_config
from pipeline.errors import MetadataError, SubtitleError
from pipeline.intake.package import find_package
from pipeline.intake.submission import _subtitle_clock
from pipeline.subtitles import (
    Cue,
    SubtitleTrack,
    programme_offset,
    qc_subtitles,
    read_subtitles,
    retime,
    srt_text,
    to_ass,
    vtt_text,
)

CONFIG = load_config().subtitles


def subtitle_file(tmp_path: Path, data: bytes | str, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read(path: Path, language: str) -> SubtitleTrack:
    return read_subtitles(path, language, CONFIG.max_srt_bytes, CONFIG.max_cues)


def error_of(path: Path, language: str) -> str:
    with pytest.raises(SubtitleError) as caught:
        read(path, language)
    return str(caught.value)


def two_cues(first: str, second: str) -> str:
    return (f"1\r\n00:00:01,000 --> 00:00:03,500\r\n{first}\r\n\r\n"
            f"2\r\n00:00:04,000 --> 00:00:06,250\r\n{second}\r\n\r\n")


# ---------------------------------------------------------------------------------------------
# Decoding: the language's code page, multi-byte ones included

LEGACY = [
    ("zh-Hans", "gb2312", "gb18030", "你好，各位观众。", "我们今天去哪里？"),
    ("zh-CN", "gb18030", "gb18030", "欢迎收看新闻。", "天气很好。"),
    ("zh-Hant", "big5", "cp950", "你好，各位觀眾。", "我們今天去哪裡？"),
    ("zh-TW", "big5", "cp950", "歡迎收看新聞。", "天氣很好。"),
    ("zh", "big5", "cp950", "歡迎收看新聞。", "天氣很好。"),
    ("ja", "shift_jis", "shift_jis", "こんにちは、皆さん。", "今日はどこへ行きますか？"),
    ("ko", "cp949", "cp949", "안녕하세요, 여러분.", "오늘 어디 가요?"),
    ("th", "cp874", "cp874", "สวัสดีครับ ทุกคน", "วันนี้ไปไหน"),
    ("he", "cp1255", "windows-1255", "שלום לכולם.", "לאן הולכים היום?"),
    ("ar", "cp1256", "windows-1256", "مرحبا بالجميع.", "إلى أين نذهب اليوم؟"),
    ("ru", "cp1251", "windows-1251", "Здравствуйте, друзья.", "Куда мы идём сегодня?"),
    ("el", "cp1253", "windows-1253", "Γεια σας, φίλοι.", "Πού πάμε σήμερα;"),
    ("tr", "cp1254", "windows-1254", "Merhaba arkadaşlar.", "Bugün nereye gidiyoruz?"),
]


@pytest.mark.parametrize(("language", "codec", "encoding", "first", "second"), LEGACY,
                         ids=[f"{case[0]}-{case[1]}" for case in LEGACY])
def test_legacy_code_pages_follow_the_language(tmp_path, language, codec, encoding, first, second):
    path = subtitle_file(tmp_path, two_cues(first, second).encode(codec), f"news.{language}.srt")
    track = read(path, language)
    assert [(cue.start_ms, cue.end_ms, cue.text) for cue in track.cues] == [
        (1000, 3500, first), (4000, 6250, second)]
    assert track.encoding == encoding
    assert f"detected encoding {encoding}" in track.notes


@pytest.mark.parametrize(("language", "text", "bom"), [
    ("zh-Hans", "你好，各位观众。", codecs.BOM_UTF8), ("th", "สวัสดีครับ", b""),
    ("hi", "नमस्ते दोस्तों", b""), ("ko", "안녕하세요", codecs.BOM_UTF8)])
def test_utf8_in_every_script_is_read_as_it_is(tmp_path, language, text, bom):
    path = subtitle_file(tmp_path, bom + two_cues(text, "OK " + text).encode(), f"n.{language}.srt")
    assert [cue.text for cue in read(path, language).cues] == [text, "OK " + text]


@pytest.mark.parametrize(("language", "text", "codec", "tried"), [
    ("fr", "你好，各位观众。我们今天去哪里？", "gb2312", "windows-1252"),
    ("de", "Здравствуйте, друзья. Куда мы идём?", "cp1251", "windows-1252"),
    ("pl", "Здравствуйте, друзья. Куда мы идём?", "cp1251", "windows-1250"),
])
def test_mojibake_is_refused_naming_the_encoding_tried_and_the_fix(tmp_path, language, text, codec,
                                                                  tried):
    path = subtitle_file(tmp_path, two_cues(text, text).encode(codec), f"news.{language}.srt")
    message = error_of(path, language)
    assert message.startswith(f"{path}: is not UTF-8; read as {tried} (the code page for "
                              f"'{language}'), ")
    assert "the text would be mojibake" in message
    assert message.endswith("fix: save it as UTF-8 (in the subtitle editor: Save as... > Encoding: "
                            "UTF-8), or check the language tag in the file name")


# Latin-script languages dense in letters beyond A-Z, in the Windows code page their subtitle
# editors save in (Romanian in Windows-1250 has s and t with a cedilla: the page has no comma
# below; Windows-1258 writes Vietnamese tones as combining marks).
DIACRITICS = [
    ("lt", "cp1257", "Ačiū, kad žiūrėjote.", "Šiąnakt ūkanota, rytoj – šilčiau."),
    ("lv", "cp1257", "Paldies, ka skatījāties.", "Šonakt būs migla, rīt – siltāks laiks."),
    ("cs", "cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy.", "Děkujeme, že jste se dívali."),
    ("sk", "cp1250", "Kŕdeľ ďatľov učí koňa žrať kôru.", "Ďakujeme, že ste sa pozerali."),
    ("pl", "cp1250", "Zażółć gęślą jaźń.", "Dziękujemy, że oglądaliście."),
    ("hu", "cp1250", "Árvíztűrő tükörfúrógép.", "Köszönjük, hogy velünk voltak."),
    ("ro", "cp1250", "Mulţumim că aţi fost cu noi.", "Mâine în Iaşi, îşi păstrează şarmul."),
    ("vi", "cp1258", "Cảm ơn quý vị đã theo dõi.", "Ngày mai trời sẽ ấm hơn ở Hà Nội."),
    ("vi", "cp1258", "Ừ, ở đó.", "Ừ."),  # all of its letters are accented
]
# In UTF-8, Romanian has its s and t with a comma below.
DIACRITICS_UTF8 = [(language, first, second) for language, _, first, second in DIACRITICS] + [
    ("ro", "Mulțumim că ați fost cu noi.", "Mâine în Iași, își păstrează șarmul.")]


def windows_1258(text: str) -> bytes:
    """Vietnamese as Windows-1258 holds it: a letter the page has (â, ơ, ư, đ, à...) as one
    byte, the other tones as a combining mark after it (ệ is ê and a dot below)."""
    encoded = []
    for ch in text:
        base, *marks = unicodedata.normalize("NFD", ch)
        for mark in marks:
            composed = unicodedata.normalize("NFC", base + mark)
            if len(composed) == 1 and composed.encode("cp1258", errors="ignore"):
                base = composed
                marks.remove(mark)
                break
        encoded.append((base + "".join(marks)).encode("cp1258"))
    return b"".join(encoded)


@pytest.mark.parametrize(("language", "codec", "first", "second"), DIACRITICS,
                         ids=[f"{case[0]}-{case[1]}-{case[3][:6]}" for case in DIACRITICS])
def test_latin_languages_dense_in_diacritics_are_read_in_their_code_page(tmp_path, language, codec,
                                                                         first, second):
    text = two_cues(first, second)
    data = windows_1258(text) if codec == "cp1258" else text.encode(codec)
    track = read(subtitle_file(tmp_path, data, f"news.{language}.srt"), language)
    assert [cue.text for cue in track.cues] == [first, second]
    assert track.encoding == codec.replace("cp", "windows-")


@pytest.mark.parametrize(("language", "first", "second"), DIACRITICS_UTF8,
                         ids=[f"{case[0]}-{case[2][:6]}" for case in DIACRITICS_UTF8])
def test_latin_languages_dense_in_diacritics_are_read_in_utf8(tmp_path, language, first, second):
    track = read(subtitle_file(tmp_path, two_cues(first, second), f"news.{language}.srt"), language)
    assert [cue.text for cue in track.cues] == [first, second]


@pytest.mark.parametrize(("language", "text", "page", "example"), [
    ("fr", "Ça va ? Café, thé, été : c’est réglé, à demain.", "cp1252", "'Ã©' for 'é'"),
    ("cs", "Děkujeme, že jste se dívali. Příliš žluťoučký.", "cp1250", "'Ĺľ' for 'ž'"),
    ("lt", "Ačiū, kad žiūrėjote. Šiąnakt ūkanota.", "cp1257", "'Å«' for 'ū'"),
    ("ru", "Здравствуйте, друзья. Куда мы идём?", "cp1251", "'Рґ' for 'д'"),
])
def test_utf8_read_through_a_single_byte_page_and_saved_again_is_refused(tmp_path, language, text,
                                                                         page, example):
    # The producer's tool read a UTF-8 file as its code page and saved that as UTF-8: "Ã©".
    twice = text.encode("utf-8").decode(page)
    path = subtitle_file(tmp_path, two_cues(twice, twice), f"news.{language}.srt")
    message = error_of(path, language)
    assert message.startswith(f"{path}: read as utf-8, ")
    assert f"of its non-ASCII characters are UTF-8 read through a single-byte code page ({example})" in message
    assert message.endswith("fix: it was converted to UTF-8 twice: export it again from the "
                            "subtitle editor as UTF-8")


def test_utf8_with_a_stray_byte_read_through_the_code_page_is_refused(tmp_path):
    text = two_cues("Zażółć gęślą jaźń.", "Dziękujemy, że oglądaliście.").encode() + "Łódź".encode("cp1250")
    path = subtitle_file(tmp_path, text, "news.pl.srt")
    message = error_of(path, "pl")
    assert message.startswith(f"{path}: is not UTF-8; read as windows-1250 (the code page for 'pl'), ")
    assert "UTF-8 read through a single-byte code page ('ĹĽ' for 'ż'): the text would be mojibake" in message
    assert message.endswith("fix: it is UTF-8 with some bytes in another encoding (files joined?): "
                            "correct those lines, and save it as UTF-8")


@pytest.mark.parametrize(("text", "codec"), [
    ("Здравствуйте, друзья. Куда мы идём?", "cp1251"), ("Γεια σας, φίλοι. Πού πάμε σήμερα;", "cp1253"),
    ("مرحبا بالجميع. إلى أين نذهب اليوم؟", "cp1256")])
def test_another_script_read_through_the_baltic_page_is_refused_by_its_letters(tmp_path, text, codec):
    # Read as Windows-1257 these are Baltic letters, but mostly ones Lithuanian is not written with.
    path = subtitle_file(tmp_path, two_cues(text, text).encode(codec), "news.lt.srt")
    message = error_of(path, "lt")
    assert message.startswith(f"{path}: is not UTF-8; read as windows-1257 (the code page for 'lt'), ")
    assert "of its letters are letters the language is not written with" in message


def test_bytes_the_language_code_page_cannot_decode_are_refused(tmp_path):
    path = subtitle_file(tmp_path, two_cues("你好，各位观众。", "我们").encode("gb2312"), "news.th.srt")
    assert error_of(path, "th") == (f"{path}: is not UTF-8 and cannot be read in any code page "
                                    "used for 'th'\n  fix: save it as UTF-8 (in the subtitle "
                                    "editor: Save as... > Encoding: UTF-8)")


def test_a_utf8_file_in_another_script_than_its_language_is_refused(tmp_path):
    path = subtitle_file(tmp_path, two_cues("你好，各位观众。", "我们今天去哪里？"), "news.fr.srt")
    message = error_of(path, "fr")
    assert message.startswith(f"{path}: read as utf-8, 100% of its letters are not Latin (mostly Han)")
    assert "check the language tag in the file name" in message


def test_a_few_letters_of_another_script_in_latin_text_are_read(tmp_path):
    path = subtitle_file(tmp_path, two_cues("Le nombre π vaut 3,14.", "Tokyo (東京) est loin."), "n.fr.srt")
    assert [cue.text for cue in read(path, "fr").cues] == ["Le nombre π vaut 3,14.", "Tokyo (東京) est loin."]


def test_c1_characters_in_utf8_are_read_as_windows_1252_punctuation(tmp_path):
    # A broken converter wrote Windows-1252's apostrophe 0x92 and quotes 0x93/0x94 as U+0092...
    path = subtitle_file(tmp_path, two_cues("You\u0092ll see.", "\u0093Yes\u0094 \u0085"), "n.en.srt")
    assert [cue.text for cue in read(path, "en").cues] == ["You\u2019ll see.", "\u201cYes\u201d \u2026"]


# ---------------------------------------------------------------------------------------------
# WebVTT in, under either name

WEBVTT = """\ufeffWEBVTT - news item

STYLE
::cue { color: yellow }

NOTE This is a translator's note
over two lines

REGION
id:fred width:40%

intro
00:01.000 --> 00:03.500 line:0 align:left
<v Anna>Bonjour à tous.</v>

2
00:00:04.000 --> 00:00:06.250
<c.yellow>Ça va</c> &amp; <i>bien</i> ?

00:00:07.000 --> 00:00:08.000 line:50%
Au milieu.
"""


@pytest.mark.parametrize("name", ["news.fr.vtt", "news.fr.srt"])
def test_webvtt_is_read_under_either_name_without_notes_styles_or_identifiers(tmp_path, name):
    track = read(subtitle_file(tmp_path, WEBVTT, name), "fr")
    assert [(cue.start_ms, cue.end_ms, cue.plain_text, cue.position) for cue in track.cues] == [
        (1000, 3500, "Bonjour à tous.", 7), (4000, 6250, "Ça va & bien ?", 2),
        (7000, 8000, "Au milieu.", 5)]
    assert {"read as WebVTT", "skipped 3 NOTE/STYLE/REGION block(s)",
            "dropped 2 cue identifier(s)"} <= set(track.notes)


# YouTube's automatic captions: each cue starts with a line of one space, and a cue's text runs
# straight into the next cue's timing line, with no blank line between them.
YOUTUBE_AUTO_CAPTIONS = (
    "WEBVTT\nKind: captions\nLanguage: en\n\n"
    "00:00:00.160 --> 00:00:02.790 align:start position:0%\n"
    " \nso<00:00:00.480><c> today</c><00:00:00.640><c> we're</c>\n\n"
    "00:00:02.790 --> 00:00:02.800 align:start position:0%\nso today we're\n \n\n"
    "00:00:02.800 --> 00:00:05.190 align:start position:0%\n"
    "so today we're\ngoing<00:00:03.040><c> to</c>\n"
    "00:00:05.190 --> 00:00:06.000 align:start position:0%\n"
    "going to<c.colorE5E5E5> fly</c>\n"
    "00:00:06.000 --> 00:00:07.500\nover the <invalid_tag>bridge</invalid_tag>\n"
)


@pytest.mark.parametrize("name", ["news.en.vtt", "news.en.srt"])
def test_a_timing_line_ends_the_webvtt_cue_above_it_as_youtube_writes_them(tmp_path, name):
    track = read(subtitle_file(tmp_path, YOUTUBE_AUTO_CAPTIONS, name), "en")
    assert [(cue.start_ms, cue.end_ms, cue.plain_text) for cue in track.cues] == [
        (160, 2790, "so today we're"), (2790, 2800, "so today we're"),
        (2800, 5190, "so today we're\ngoing to"), (5190, 6000, "going to fly"),
        (6000, 7500, "over the bridge")]
    # A second reader that follows the WebVTT parser finds the same cue boundaries.
    assert [(caption.start, caption.end) for caption in webvtt.from_string(YOUTUBE_AUTO_CAPTIONS)] == [
        (f"00:00:{cue.start_ms / 1000:06.3f}", f"00:00:{cue.end_ms / 1000:06.3f}") for cue in track.cues]


def test_without_blank_lines_a_line_above_a_timing_line_is_text_not_an_identifier(tmp_path):
    text = "WEBVTT\n00:01.000 --> 00:02.000\nOne\nid-2\n00:02.000 --> 00:03.000\nTwo\n"
    track = read(subtitle_file(tmp_path, text, "news.en.vtt"), "en")
    # The header ends at the first "-->" line. "id-2" is the third line of the first cue's block,
    # so the parser reads it as that cue's text; only a block's first line can be an identifier.
    assert [(cue.start_ms, cue.plain_text) for cue in track.cues] == [(1000, "One\nid-2"), (2000, "Two")]
    assert [caption.text for caption in webvtt.from_string(text)] == ["One\nid-2", "Two"]


def test_a_webvtt_arrow_inside_cue_text_is_a_timing_line_named_with_its_line(tmp_path):
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\nTurn left\nthen --> right\n"
    path = subtitle_file(tmp_path, text, "news.en.vtt")
    assert error_of(path, "en").startswith(
        f"{path}, line 5: this timing line cannot be read: 'then --> right'")


def test_an_srt_timing_line_inside_cue_text_is_named_with_its_line(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nTurn left\nthen --> right\n\n2\n00:00:03,000 --> 00:00:04,000\nBye.\n"
    path = subtitle_file(tmp_path, srt, "news.en.srt")
    assert error_of(path, "en").startswith(
        f"{path}, line 4: this timing line cannot be read: 'then --> right'")


def test_srt_keeps_its_own_rule_a_number_line_before_the_timing_is_not_text(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nHello.\n2\n00:00:03,000 --> 00:00:04,000\nBye.\n"
    track = read(subtitle_file(tmp_path, srt, "news.en.srt"), "en")
    assert [cue.text for cue in track.cues] == ["Hello.", "Bye."]


def test_a_webvtt_block_without_timing_is_refused_with_its_line(tmp_path):
    path = subtitle_file(tmp_path, "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\nStray words\n", "n.en.vtt")
    assert error_of(path, "en") == (
        f"{path}, line 6: this block has no timing line: 'Stray words'\n  fix: give it a timing "
        "line (00:00:01.000 --> 00:00:03.500), start it with NOTE if it is a comment, or delete it")


def test_an_srt_block_without_timing_is_refused_not_appended(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nHello.\n\nTranslator: check this\n\n2\n00:00:03,000 --> 00:00:04,000\nBye.\n"
    path = subtitle_file(tmp_path, srt, "news.en.srt")
    assert error_of(path, "en") == (
        f"{path}, line 5: this block has no timing line: 'Translator: check this'\n  fix: give it a "
        "number and a timing line (00:00:01,000 --> 00:00:03,500), join it to the cue above by "
        "removing the blank line, or delete it")


def test_the_package_accepts_vtt_subtitles(tmp_path):
    for name in ("news.mp4", "metadata.yaml", "news.fr.vtt", "news.de.srt", "news.en.txt"):
        (tmp_path / name).write_text("x")
    package = find_package(tmp_path)
    assert [path.name for path in package.subtitle_files] == ["news.de.srt", "news.fr.vtt"]
    assert package.ignored == ["news.en.txt"]


# ---------------------------------------------------------------------------------------------
# Markup: positions kept, other tags and overrides neither drawn nor counted

def track_of(*texts: str) -> SubtitleTrack:
    return SubtitleTrack("en", Path("news.en.srt"),
                         [Cue(n, n * 2000, n * 2000 + 1500, text) for n, text in enumerate(texts, 1)],
                         "utf-8")


MARKED = track_of("{\\an8}Top centre", "{\\an7}<s>Top</s> left", "{\\an5}{\\fs40\\b1}Middle",
                  "<c.yellow>Yellow</c> <v Bob>Bob</v> <i>it</i>", "{\\a6}SSA top", "x < y > z <3",
                  "<invalid_tag>Unknown</invalid_tag> <x-y>tags</x-y> go but 1 <3 2")


def test_positions_are_read_from_an_tags_and_other_markup_is_stripped():
    assert [(cue.position, cue.plain_text) for cue in MARKED.cues] == [
        (8, "Top centre"), (7, "Top left"), (5, "Middle"), (2, "Yellow Bob it"), (8, "SSA top"),
        (2, "x < y > z <3"), (2, "Unknown tags go but 1 <3 2")]


def test_burn_in_honours_positions_and_draws_no_tag_as_text():
    script = to_ass(MARKED, SubtitleStyle(), 1920, 1080, 2)
    texts = [line.split(",,", 2)[-1].split(",", 1)[-1] for line in script.splitlines()
             if line.startswith("Dialogue:")]
    assert texts == ["{\\an8}Top centre", "{\\an7}Top left", "{\\an5}Middle",
                     "Yellow Bob {\\i1}it{\\i0}", "{\\an8}SSA top", "x < y > z <3",
                     "Unknown tags go but 1 <3 2"]


def test_positions_reach_the_vtt_and_srt_sidecars():
    parsed = webvtt.from_string(vtt_text(MARKED))  # a second reader accepts the settings
    assert [caption.text for caption in parsed][:3] == ["Top centre", "Top left", "Middle"]
    cue_lines = [line for line in vtt_text(MARKED).splitlines() if "-->" in line]
    assert cue_lines[0].endswith(" line:10%") and cue_lines[1].endswith(" line:10% align:left")
    assert cue_lines[2].endswith(" line:50%,center") and cue_lines[3].endswith("09.500")
    assert "{\\an7}Top left" in srt_text(MARKED) and "<s>" not in srt_text(MARKED)


def test_qc_counts_only_what_is_drawn():
    rules = CONFIG.rules.model_copy(update={"max_chars_per_line": 12})
    track = track_of("{\\an8}<c.yellow><v Anna>Twelve chars</v></c>")
    assert qc_subtitles(track, rules, 60_000, 25.0) == []
    longer = track_of("{\\an8}<c.yellow><v Anna>Thirteen char</v></c>")
    assert [finding.measured for finding in qc_subtitles(longer, rules, 60_000, 25.0)] == [13]
    unknown = track_of("<invalid_tag>Twelve chars</invalid_tag>")
    assert qc_subtitles(unknown, rules, 60_000, 25.0) == []


# ---------------------------------------------------------------------------------------------
# Programme timecode and dropped cues

def hour_track(hour: int) -> SubtitleTrack:
    base = hour * 3_600_000
    return SubtitleTrack("en", Path("news.en.srt"), [
        Cue(1, base + 1000, base + 3000, "First"), Cue(2, base + 5000, base + 7000, "Second"),
        Cue(3, base + 90_000, base + 92_000, "After the end")], "utf-8")


@pytest.mark.parametrize("hour", [1, 10])
def test_an_srt_timed_from_the_programme_timecode_is_moved_with_a_warning(hour):
    track = hour_track(hour)
    offset, findings = programme_offset(track, 0, 60_000, 60_000, None, 25.0)
    assert offset == hour * 3_600_000
    assert [(finding.rule, finding.severity) for finding in findings] == [("timed_to_timecode", "warning")]
    assert f"every cue moved {hour:02d}:00:00,000 earlier" in findings[0].message
    assert "set subtitle_start_timecode in metadata.yaml" in findings[0].message
    retimed, dropped = retime(track, offset, 60_000)
    assert [(cue.start_ms, cue.text) for cue in retimed.cues] == [(1000, "First"), (5000, "Second")]
    # the cue past the master's end is dropped, named by its time in the SRT
    assert [(finding.rule, finding.measured) for finding in dropped] == [
        ("dropped_outside_programme", f"{hour:02d}:01:30,000 --> {hour:02d}:01:32,000")]


def test_a_file_with_a_cue_inside_the_master_is_not_moved():
    track = SubtitleTrack("en", Path("news.en.srt"), [Cue(1, 1000, 2000, "x"), Cue(2, 3_601_000, 3_602_000, "y")], "utf-8")
    assert programme_offset(track, 0, 60_000, 60_000, None, 25.0) == (0, [])


def test_the_fix_for_a_file_outside_the_programme_names_the_timecode_field():
    with pytest.raises(SubtitleError) as caught:
        retime(hour_track(0), 100_000, 60_000)
    assert "set subtitle_start_timecode in metadata.yaml to the timecode the SRT is timed from" in str(caught.value)


def test_a_bad_subtitle_start_timecode_names_the_metadata_file():
    submission = SimpleNamespace(descriptive=SimpleNamespace(subtitle_start_timecode="10:00"), fps=25.0,
                                 package=SimpleNamespace(metadata_file=Path("pkg/metadata.yaml")),
                                 media=SimpleNamespace(start_timecode=None))
    with pytest.raises(MetadataError, match=r"pkg/metadata.yaml: subtitle_start_timecode '10:00' is not a "
                       r"timecode at 25 fps\n  fix: write it as HH:MM:SS:FF"):
        _subtitle_clock(submission)
    submission.descriptive.subtitle_start_timecode = "01:00:00:00"
    assert _subtitle_clock(submission) == "01:00:00:00"


def test_many_dropped_cues_are_one_finding_with_count_first_and_last():
    cues = [Cue(n, n * 1000, n * 1000 + 500, f"c{n}") for n in range(1, 2001)]
    track = SubtitleTrack("en", Path("news.en.srt"), cues, "utf-8")
    _, findings = retime(track, 0, 10_000)
    assert len(findings) == 1 and findings[0].measured == 1991
    assert findings[0].message == (
        "en: 1991 cues dropped: they lie wholly outside the programme (00:00:00,000 --> "
        "00:00:10,000); the first is cue 10 at 00:00:10,000, the last cue 2000 at 00:33:20,000 (in the SRT)")

"""Subtitles: what a producer's SRT turns into, and what they are told when it cannot be read.

Every SRT is built here, byte for byte, in the encoding under test.
"""

from __future__ import annotations

import codecs
import html
import logging
import math
import re
from pathlib import Path

import pytest
import webvtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import SubtitleStyle, load_config
from pipeline.errors import SubtitleError
from pipeline.subtitles import (
    Cue,
    Finding,
    NoCueError,
    SubtitleTrack,
    format_timecode,
    iso639_2,
    language_from_filename,
    normalise_language_tag,
    qc_subtitles,
    read_srt,
    retime,
    snap_to_frames,
    srt_text,
    to_ass,
    write_ass,
    write_srt,
    write_vtt,
)

CONFIG = load_config().subtitles
MAX_BYTES = CONFIG.max_srt_bytes
MAX_CUES = CONFIG.max_cues
NTSC = 30000 / 1001

TWO_CUES = (
    "1\n00:00:01,000 --> 00:00:03,500\nBonjour à tous.\n\n"
    "2\n00:00:04,000 --> 00:00:06,250\n<i>Ça va ?</i>\nOui, très bien.\n\n"
)


def srt_file(tmp_path: Path, data: bytes | str, name: str = "news.fr.srt") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read(path: Path, language: str = "fr", max_bytes: int = MAX_BYTES,
         max_cues: int = MAX_CUES) -> SubtitleTrack:
    return read_srt(path, language, max_bytes, max_cues)


def timings_and_texts(track: SubtitleTrack) -> list[tuple[int, int, int, str]]:
    return [(cue.index, cue.start_ms, cue.end_ms, cue.text) for cue in track.cues]


def error_message(path: Path, **kwargs) -> str:
    with pytest.raises(SubtitleError) as caught:
        read(path, **kwargs)
    return str(caught.value)


def track_of(*cues: tuple[int, int, str], language: str = "fr") -> SubtitleTrack:
    return SubtitleTrack(language, Path("news.fr.srt"),
                         [Cue(n, start, end, text) for n, (start, end, text) in enumerate(cues, 1)],
                         "utf-8")


EXPECTED_TWO_CUES = [
    (1, 1000, 3500, "Bonjour à tous."),
    (2, 4000, 6250, "<i>Ça va ?</i>\nOui, très bien."),
]


# ---------------------------------------------------------------------------------------------
# Reading what producers actually deliver


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (TWO_CUES.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TWO_CUES.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TWO_CUES.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + TWO_CUES.encode("utf-16-be"), "utf-16-be"),
        (TWO_CUES.encode("cp1252"), "windows-1252"),
        (TWO_CUES.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + TWO_CUES.replace("\n", "\r\n").encode("utf-16-le"), "utf-16-le"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "windows-1252", "utf8-crlf",
         "utf16le-crlf"],
)
def test_reads_every_accepted_encoding_and_line_ending(tmp_path, encoded, encoding):
    track = read(srt_file(tmp_path, encoded))
    assert timings_and_texts(track) == EXPECTED_TWO_CUES
    assert track.encoding == encoding
    assert track.language == "fr"


def test_windows_1252_punctuation_is_read_as_windows_1252(tmp_path):
    text = "1\n00:00:01,000 --> 00:00:03,000\nC’est « génial » – 5 € …\n"
    track = read(srt_file(tmp_path, text.encode("cp1252")))
    assert track.cues[0].text == "C’est « génial » – 5 € …"
    assert "detected encoding windows-1252" in track.notes


def test_latin_1_is_read(tmp_path):
    text = "1\n00:00:01,000 --> 00:00:03,000\n¿Qué tal, señor? ¡Olé!\n"
    track = read(srt_file(tmp_path, text.encode("latin-1"), "news.es.srt"), language="es")
    assert track.cues[0].text == "¿Qué tal, señor? ¡Olé!"


@pytest.mark.parametrize(
    ("language", "text", "code_page"),
    [
        ("sr-Latn", "Čaša vode, šećer i žito. Đorđe.", "cp1250"),
        ("sr", "Čaša vode, šećer i žito. Đorđe.", "cp1250"),
        ("sr", "Чаша воде, шећер и жито. Ђорђе.", "cp1251"),
        ("pl", "Zażółć gęślą jaźń. Łódź.", "cp1250"),
        ("ru", "Привет, как дела? Всё хорошо.", "cp1251"),
    ],
)
def test_central_european_and_cyrillic_code_pages_follow_the_language(tmp_path, language, text,
                                                                      code_page):
    data = f"1\n00:00:01,000 --> 00:00:03,000\n{text}\n".encode(code_page)
    track = read(srt_file(tmp_path, data), language=language)
    assert track.cues[0].text == text


def test_missing_and_extra_blank_lines_are_tolerated(tmp_path):
    crowded = (
        "\n\n1\n\n00:00:01,000 --> 00:00:03,500\nBonjour à tous.\n"
        "2\n00:00:04,000 --> 00:00:06,250\n<i>Ça va ?</i>\nOui, très bien.\n\n\n\n"
    )
    assert timings_and_texts(read(srt_file(tmp_path, crowded))) == EXPECTED_TWO_CUES


def test_cues_out_of_order_or_unnumbered_are_sorted_and_renumbered(tmp_path):
    shuffled = (
        "7\n00:00:04,000 --> 00:00:06,250\n<i>Ça va ?</i>\nOui, très bien.\n\n"
        "00:00:01,000 --> 00:00:03,500\nBonjour à tous.\n\n"
    )
    track = read(srt_file(tmp_path, shuffled))
    assert timings_and_texts(track) == EXPECTED_TWO_CUES
    assert "sorted cues by start time" in track.notes
    assert any(note.startswith("renumbered cues 1 to 2") for note in track.notes)


def test_a_text_line_of_digits_right_after_the_timing_is_text_not_a_cue_number(tmp_path):
    unnumbered = "00:00:01,000 --> 00:00:02,000\n1995\n\n00:00:03,000 --> 00:00:04,000\n2024\n"
    assert [cue.text for cue in read(srt_file(tmp_path, unnumbered)).cues] == ["1995", "2024"]


def test_a_dot_before_milliseconds_is_read_as_a_comma(tmp_path):
    track = read(srt_file(tmp_path, TWO_CUES.replace(",", ".", 1).replace("03,500", "03.500")))
    assert timings_and_texts(track) == EXPECTED_TWO_CUES
    assert "read '.' before milliseconds as ','" in track.notes


def test_styling_tags_are_kept_and_plain_text_drops_them(tmp_path):
    styled = ('1\n00:00:01,000 --> 00:00:03,000\n'
              '<b>Bold</b> <u>under</u>\n<font color="#FF8000">orange</font> a < b\n')
    cue = read(srt_file(tmp_path, styled)).cues[0]
    assert cue.text == '<b>Bold</b> <u>under</u>\n<font color="#FF8000">orange</font> a < b'
    assert cue.plain_text == "Bold under\norange a < b"
    assert cue.lines == ["<b>Bold</b> <u>under</u>", '<font color="#FF8000">orange</font> a < b']


def test_position_coordinates_after_the_timing_are_ignored(tmp_path):
    positioned = "1\n00:00:01,000 --> 00:00:02,000 X1:100 X2:200 Y1:10 Y2:50\nHi\n"
    track = read(srt_file(tmp_path, positioned))
    assert timings_and_texts(track) == [(1, 1000, 2000, "Hi")]


def test_a_header_before_the_first_cue_is_ignored_with_a_note(tmp_path):
    track = read(srt_file(tmp_path, "Subtitles by the desk\n\n" + TWO_CUES))
    assert timings_and_texts(track) == EXPECTED_TWO_CUES
    assert "ignored 1 line(s) of text before the first cue" in track.notes


# ---------------------------------------------------------------------------------------------
# What a producer is told when the file cannot be used


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = srt_file(tmp_path, TWO_CUES * 20)
    message = error_message(path, max_bytes=1000)
    size = path.stat().st_size
    assert message == (f"{path}: is {size} bytes, over the limit of 1000 bytes\n"
                       "  fix: split or check it is really an SRT file")


def test_a_binary_file_is_refused(tmp_path):
    path = srt_file(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    message = error_message(path)
    assert message.startswith(f"{path}: contains NUL bytes: it is a binary file")


def test_a_file_of_control_characters_is_refused(tmp_path):
    path = srt_file(tmp_path, bytes(range(1, 32)) * 10 + b"00:00:01,000 --> 00:00:02,000\n")
    assert error_message(path).startswith(f"{path}: is not a text file (")


@pytest.mark.parametrize("content", [b"", b"\r\n\n  \n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])
def test_an_empty_file_is_refused(tmp_path, content):
    path = srt_file(tmp_path, content)
    assert error_message(path).startswith(f"{path}: is empty: it has no cue")


def test_an_empty_file_stops_only_its_language_while_a_file_that_is_not_srt_refuses_the_package(tmp_path):
    # NoCueError: the other deliverables still render. A plain SubtitleError: the package is bad.
    with pytest.raises(NoCueError):
        read(srt_file(tmp_path, b"\n\n"))
    with pytest.raises(SubtitleError) as caught:
        read(srt_file(tmp_path, "Just some text\n"))
    assert not isinstance(caught.value, NoCueError)


def test_a_file_that_is_not_srt_is_refused(tmp_path):
    ass_script = ("[Script Info]\nTitle: an ASS script\n\n"
                  "[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,,Hi\n")
    path = srt_file(tmp_path, ass_script)
    assert error_message(path).startswith(
        f"{path}: is not an SRT file: no cue timing line such as "
        "'00:00:01,000 --> 00:00:03,500' was found")


def test_an_unreadable_timing_line_is_named_with_its_line_number(tmp_path):
    broken = TWO_CUES.replace("00:00:04,000 --> 00:00:06,250", "00:00:4,000 --> 00:00:06,250")
    message = error_message(srt_file(tmp_path, broken))
    assert message.startswith(f"{tmp_path / 'news.fr.srt'}, line 6: this timing line cannot be "
                              "read: '00:00:4,000 --> 00:00:06,250'")
    assert "fix: write it as HH:MM:SS,mmm --> HH:MM:SS,mmm" in message


def test_a_cue_ending_before_it_starts_is_named_with_its_line_number(tmp_path):
    backwards = TWO_CUES.replace("00:00:01,000 --> 00:00:03,500", "00:00:03,500 --> 00:00:01,000")
    message = error_message(srt_file(tmp_path, backwards))
    assert message.startswith(f"{tmp_path / 'news.fr.srt'}, line 2: the cue ends (00:00:01,000) "
                              "before it starts (00:00:03,500)")


def test_more_cues_than_the_limit_is_refused(tmp_path):
    path = srt_file(tmp_path, TWO_CUES)
    assert error_message(path, max_cues=1).startswith(f"{path}: has 2 cues, over the limit of 1")


def test_utf16_with_a_truncated_last_character_is_refused(tmp_path):
    path = srt_file(tmp_path, codecs.BOM_UTF16_LE + TWO_CUES.encode("utf-16-le") + b"\x41")
    assert error_message(path).startswith(
        f"{path}: starts with a utf-16-le byte-order mark but byte")


def test_a_missing_file_is_a_subtitle_error(tmp_path):
    path = tmp_path / "news.fr.srt"
    assert error_message(path).startswith(f"{path}: does not exist")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), language=st.sampled_from(["fr", "sr", "ru", "und"]))
def test_any_bytes_give_a_track_or_a_subtitle_error(tmp_path, data, language):
    path = srt_file(tmp_path, data)
    try:
        track = read(path, language=language, max_bytes=1500, max_cues=50)
    except SubtitleError as error:
        assert str(path) in str(error)
    else:
        assert track.cues


SRT_FRAGMENTS = st.sampled_from([
    "1", "2", "17", "00:00:01,000 --> 00:00:02,000", "00:00:03.500 --> 00:00:04,000",
    "00:00:05,000 --> 00:00:01,000", "00:00:01,000 -->", "-->", "Hello", "<i>Ça va</i>",
    "", " ", "\t", "{\\an8}", "\x1a", "\u2028", "\ufeff", "99:59:59,999 --> 99:59:59,999",
])


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(parts=st.lists(SRT_FRAGMENTS, max_size=30), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
def test_srt_shaped_garbage_gives_a_track_or_a_subtitle_error(tmp_path, parts, newline, encoding):
    path = srt_file(tmp_path, newline.join(parts).encode(encoding, errors="replace"))
    try:
        track = read(path)
    except SubtitleError as error:
        assert str(path) in str(error)
    else:
        assert [cue.index for cue in track.cues] == list(range(1, len(track.cues) + 1))
        assert all(a.start_ms <= b.start_ms for a, b in zip(track.cues, track.cues[1:]))


# ---------------------------------------------------------------------------------------------
# QC: one file that trips every rule exactly once

QC_SRT = """\
1
00:00:01,000 --> 00:00:03,000
Hello there.

2
00:00:04,000 --> 00:00:06,000
Line one
Line two
Line three

3
00:00:07,000 --> 00:00:11,000
This line is much longer than forty-two characters.

4
00:00:12,000 --> 00:00:14,000
<i>Far too many words for two seconds here</i>

5
00:00:15,000 --> 00:00:15,500
Hi

6
00:00:16,000 --> 00:00:24,000
A long pause.

7
00:00:25,000 --> 00:00:27,000

8
00:00:28,000 --> 00:00:30,000
First of a pair.

9
00:00:30,040 --> 00:00:32,000
Second, one frame later.

10
00:00:33,000 --> 00:00:35,000
Overlapping A.

11
00:00:34,500 --> 00:00:36,000
Overlapping B.

12
00:00:58,000 --> 00:01:01,000
Runs past the end.
"""


def test_qc_reports_each_rule_on_the_cue_that_breaks_it(tmp_path):
    track = read(srt_file(tmp_path, QC_SRT))
    findings = qc_subtitles(track, CONFIG.rules, programme_ms=60_000, fps=25)
    assert {(finding.rule, finding.cue) for finding in findings} == {
        ("too_many_lines", 2), ("line_too_long", 3), ("reading_speed", 4), ("too_short", 5),
        ("too_long", 6), ("empty", 7), ("gap_too_short", 8), ("overlap", 11), ("past_end", 12),
    }
    assert len(findings) == 9
    speed = next(finding for finding in findings if finding.rule == "reading_speed")
    assert speed.message == "fr cue 4 at 00:00:12,000: reading speed 19.5 chars/s over 17"
    assert (speed.measured, speed.limit, speed.timecode) == (19.5, 17.0, "00:00:12,000")
    assert speed.to_dict()["severity"] == "warning"


def test_qc_messages_name_language_cue_timecode_measure_and_limit(tmp_path):
    findings = qc_subtitles(read(srt_file(tmp_path, QC_SRT)), CONFIG.rules, 60_000, 25)
    messages = {finding.rule: finding.message for finding in findings}
    assert messages["too_many_lines"] == "fr cue 2 at 00:00:04,000: 3 lines over 2"
    assert messages["line_too_long"] == ("fr cue 3 at 00:00:07,000: line 1 has 51 characters, "
                                         "over 42")
    assert messages["too_short"] == "fr cue 5 at 00:00:15,000: shown for 500 ms, under 833 ms"
    assert messages["too_long"] == "fr cue 6 at 00:00:16,000: shown for 8000 ms, over 7000 ms"
    assert messages["gap_too_short"] == ("fr cue 8 at 00:00:28,000: gap of 40 ms (1 frames) before "
                                         "cue 9, under 2 frames")
    assert messages["overlap"] == "fr cue 11 at 00:00:34,500: overlaps cue 10 by 500 ms"
    assert messages["past_end"] == ("fr cue 12 at 00:00:58,000: ends at 00:01:01,000, after the "
                                    "programme ends at 00:01:00,000")


def test_qc_accepts_chained_cues_and_frame_exact_gaps_at_29_97():
    # Frames 1..3 then 5..7 at 29.97 fps: a gap of exactly 2 frames, 66 ms after snapping.
    frame = lambda k: math.floor(k * 1000 / NTSC)  # noqa: E731
    track = track_of((frame(3), frame(30), "A"), (frame(32), frame(60), "B"),
                     (frame(60), frame(90), "C"))
    assert frame(32) - frame(30) in (66, 67)
    assert qc_subtitles(track, CONFIG.rules, 60_000, NTSC) == []


def test_qc_never_changes_the_track(tmp_path):
    track = read(srt_file(tmp_path, QC_SRT))
    before = list(track.cues)
    qc_subtitles(track, CONFIG.rules, 60_000, 25)
    assert track.cues == before


# ---------------------------------------------------------------------------------------------
# Retiming onto the programme


def test_retime_drops_cues_outside_and_clips_cues_across_the_edges():
    track = track_of((0, 2000, "line-up"), (4000, 6000, "across the start"),
                     (10_000, 12_000, "inside"), (64_000, 66_000, "across the end"),
                     (70_000, 72_000, "after the end"))
    retimed, findings = retime(track, offset_ms=5000, programme_ms=60_000)
    assert timings_and_texts(retimed) == [
        (1, 0, 1000, "across the start"), (2, 5000, 7000, "inside"),
        (3, 59_000, 60_000, "across the end"),
    ]
    assert [(finding.rule, finding.cue) for finding in findings] == [
        ("dropped_outside_programme", 1), ("clipped", 2), ("clipped", 4),
    ]
    # the dropped cues are summed up once: count, first and last
    assert findings[0].measured == 2
    assert findings[0].message == ("fr: 2 cues dropped: they lie wholly outside the programme "
                                   "(00:00:05,000 --> 00:01:05,000); the first is cue 1 at "
                                   "00:00:00,000, the last cue 5 at 00:01:10,000 (in the SRT)")
    assert track.cues[0].text == "line-up"  # the input track is left as it was


def test_retime_refuses_a_track_with_no_cue_inside_the_programme():
    track = track_of((0, 2000, "line-up only"))
    with pytest.raises(SubtitleError) as caught:
        retime(track, offset_ms=10_000, programme_ms=60_000)
    assert str(caught.value).startswith("news.fr.srt: every cue lies outside the programme "
                                        "(00:00:10,000 --> 00:01:10,000 in the SRT's time)")


# ---------------------------------------------------------------------------------------------
# Frames


@pytest.mark.parametrize(
    ("fps", "ms", "snapped"),
    [
        (25, 0, 0), (25, 1, 40), (25, 40, 40), (25, 41, 80), (25, 999, 1000), (25, 1000, 1000),
        (NTSC, 1, 33), (NTSC, 33, 33), (NTSC, 34, 66), (NTSC, 100, 100), (NTSC, 101, 133),
        (NTSC, 1001, 1001), (NTSC, 1002, 1034), (NTSC, 60_060, 60_060),
        (NTSC, 3_600_000, 3_600_029),  # one hour is frame 107892.1; the next starts at 3600029.4 ms
    ],
)
def test_snap_to_frames_moves_times_up_to_the_frame_that_shows_them(fps, ms, snapped):
    track = snap_to_frames(track_of((ms, ms, "x")), fps)
    assert (track.cues[0].start_ms, track.cues[0].end_ms) == (snapped, snapped)


def first_frame_at_or_after(ms: float, fps: float) -> int:
    return math.ceil(ms * fps / 1000 - 1e-9)


@settings(max_examples=300)
@given(ms=st.integers(0, 10 * 3_600_000),
       fps=st.sampled_from([25, NTSC, 24000 / 1001, 50, 60000 / 1001]))
def test_snapping_keeps_the_frame_a_time_falls_on_and_is_stable(ms, fps):
    snapped = snap_to_frames(track_of((ms, ms, "x")), fps).cues[0].start_ms
    assert snapped >= ms
    assert first_frame_at_or_after(snapped, fps) == first_frame_at_or_after(ms, fps)
    assert snap_to_frames(track_of((snapped, snapped, "x")), fps).cues[0].start_ms == snapped


def ass_centiseconds(ass_time: str) -> int:
    hours, minutes, seconds = ass_time.split(":")
    whole, centis = seconds.split(".")
    return ((int(hours) * 60 + int(minutes)) * 60 + int(whole)) * 100 + int(centis)


@pytest.mark.parametrize("fps", [25, NTSC, 24000 / 1001, 50])
def test_burned_cues_show_on_exactly_the_frames_they_cover(fps):
    """Model of ffmpeg's subtitles filter: libass is asked for each frame at its timestamp
    truncated to whole milliseconds, and shows an event while start <= t < end."""
    cues = [(1000, 2500, "a"), (2501, 4033, "b"), (4100, 4101, "c"), (61_234, 65_432, "d")]
    snapped = snap_to_frames(track_of(*cues), fps)
    script = to_ass(snapped, CONFIG.style, 1920, 1080, 2)
    events = re.findall(r"^Dialogue: 0,([^,]+),([^,]+),", script, re.MULTILINE)
    for (start_ms, end_ms, _), (ass_start, ass_end) in zip(cues, events):
        start, end = ass_centiseconds(ass_start) * 10, ass_centiseconds(ass_end) * 10
        first, gone = first_frame_at_or_after(start_ms, fps), first_frame_at_or_after(end_ms, fps)
        for frame in range(first - 3, gone + 3):
            exact = frame * 1000 / fps
            renderer_time = int(exact)
            assert (start <= renderer_time < end) == (start_ms <= exact < end_ms), (frame, fps)


# ---------------------------------------------------------------------------------------------
# Sidecars


def test_srt_round_trip_is_utf8_lf_renumbered_and_keeps_tags(tmp_path):
    utf16_crlf = codecs.BOM_UTF16_LE + TWO_CUES.replace("\n", "\r\n").encode("utf-16-le")
    source = read(srt_file(tmp_path, utf16_crlf))
    out = tmp_path / "out" / "news.fr.srt"
    out.parent.mkdir()
    write_srt(source, out)
    data = out.read_bytes()
    assert not data.startswith(codecs.BOM_UTF8) and b"\r" not in data
    assert data.decode("utf-8") == TWO_CUES
    assert timings_and_texts(read(out)) == timings_and_texts(source)
    assert [path.name for path in out.parent.iterdir()] == ["news.fr.srt"]  # no temp file left


def test_write_replaces_an_existing_sidecar_whole(tmp_path):
    out = tmp_path / "news.fr.srt"
    out.write_text("old content that is longer than the new one " * 100)
    track = track_of((1000, 2000, "new"))
    write_srt(track, out)
    assert out.read_text(encoding="utf-8") == srt_text(track)


def test_vtt_matches_the_srt_cue_for_cue(tmp_path):
    track = track_of(
        (1000, 3500, "<i>Ça va ?</i>\nTom & Jerry"),
        (4000, 6250, '<font color="#FF0000">Rouge</font> a < b > c'),
        (3_723_004, 3_725_000, "<b>bold</b> <u>under</u> --> arrow"),
    )
    path = tmp_path / "news.fr.vtt"
    write_vtt(track, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n") and "<font" not in text and "<i>Ça va ?</i>" in text
    captions = webvtt.read(str(path))
    assert len(captions) == len(track.cues)
    for caption, cue in zip(captions, track.cues):
        assert caption.start == format_timecode(cue.start_ms).replace(",", ".")
        assert caption.end == format_timecode(cue.end_ms).replace(",", ".")
        assert html.unescape(caption.text) == cue.plain_text


# ---------------------------------------------------------------------------------------------
# Burn-in script


def dialogue_texts(script: str) -> list[str]:
    return [line.split(",", 9)[9] for line in script.splitlines() if line.startswith("Dialogue:")]


def test_ass_header_scales_the_style_to_the_picture():
    script = to_ass(track_of((1000, 2000, "x")), SubtitleStyle(), 1920, 1080, 2)
    assert "PlayResX: 1920\nPlayResY: 1080\n" in script
    assert "ScaledBorderAndShadow: yes" in script and "WrapStyle: 0" in script
    style = next(line for line in script.splitlines() if line.startswith("Style: "))
    assert style == ("Style: Default,DejaVu Sans,59,&H00FFFFFF,&H000000FF,&H00000000,&H80000000,"
                     "0,0,0,0,100,100,0,0,1,3.78,1.62,2,192,192,86,1")


def test_ass_keeps_user_text_literal_so_it_cannot_inject_override_tags():
    # The position override is honoured (rebuilt from its number); every other one is dropped.
    track = track_of((1000, 2000, "{\\an8}{\\pos(1,1)\\fs99}On top?\nback\\slash } {"))
    text = dialogue_texts(to_ass(track, SubtitleStyle(), 1920, 1080, 2))[0]
    assert text == "{\\an8}On top?\\Nback\\\u2060slash \\} \\{"
    # every other brace in the output is escaped: no override block can open
    assert not re.search(r"(?<!\\)[{}]", text.removeprefix("{\\an8}"))


def test_ass_converts_srt_styling_tags():
    track = track_of((1000, 2000, '<i>it</i> <b>bo</b> <u>un</u> <font color="#FF8000">or</font>'),
                     (3000, 4000, '<i>a <font color="#00ff00">green</font> still italic</i>'))
    first, second = dialogue_texts(to_ass(track, SubtitleStyle(), 1920, 1080, 2))
    assert first == "{\\i1}it{\\i0} {\\b1}bo{\\b0} {\\u1}un{\\u0} {\\c&H0080FF&}or{\\r}"
    assert second == "{\\i1}a {\\c&H00FF00&}green{\\r\\i1} still italic{\\i0}"


def test_ass_joins_a_cue_with_too_many_lines_and_warns(caplog):
    track = track_of((1000, 2000, "one\ntwo\nthree"))
    with caplog.at_level(logging.WARNING, logger="pipeline.subtitles"):
        text = dialogue_texts(to_ass(track, SubtitleStyle(), 1920, 1080, 2))[0]
    assert text == "one\\Ntwo three"
    assert "fr cue 1 has 3 lines; burning it in on 2" in caplog.text


def test_write_ass_writes_the_script(tmp_path):
    track = track_of((1000, 2000, "x"))
    path = tmp_path / "news.fr.ass"
    write_ass(track, path, SubtitleStyle(), 1280, 720, 2)
    assert path.read_text(encoding="utf-8") == to_ass(track, SubtitleStyle(), 1280, 720, 2)


# ---------------------------------------------------------------------------------------------
# Language tags


@pytest.mark.parametrize(
    ("name", "stem", "language"),
    [
        ("news.fr.srt", "news", "fr"),
        ("news.sr-latn.srt", "news", "sr-Latn"),
        ("news.pt-br.srt", "news", "pt-BR"),
        ("news.zh-Hant-TW.srt", "news", "zh-Hant-TW"),
        ("news.final.de.SRT", "news.final", "de"),
    ],
)
def test_language_comes_from_the_file_name(name, stem, language):
    assert language_from_filename(Path("/inbox/pkg") / name, stem) == language


@pytest.mark.parametrize("name", ["news.english.srt", "news.f.srt", "news.fr_FR.srt", "news...srt",
                                  "news.fr..srt", "news.a\\b.srt", "news.fr-.srt"])
def test_a_bad_language_tag_in_the_file_name_is_refused(name):
    with pytest.raises(SubtitleError) as caught:
        language_from_filename(Path("/inbox/pkg") / name, "news")
    message = str(caught.value)
    assert message.startswith(f"/inbox/pkg/{name}: '")
    assert "is not a language tag (BCP 47, such as en, fr, sr-Latn, pt-BR)" in message
    assert message.endswith("fix: name it news.<lang>.srt, e.g. news.fr.srt")


@pytest.mark.parametrize("name", ["news.srt", "other.fr.srt", "news.fr.txt"])
def test_a_file_not_named_after_the_master_is_refused(name):
    with pytest.raises(SubtitleError, match="fix: name it news.<lang>.srt, e.g. news.fr.srt"):
        language_from_filename(name, "news")


@pytest.mark.parametrize("tag", ["..", "../x", "a/b", "fr/../../etc", "", "fr-"])
def test_path_like_language_tags_are_refused(tag):
    with pytest.raises(SubtitleError) as caught:
        normalise_language_tag(tag, "news.srt")
    assert str(caught.value).startswith(f"news.srt: '{tag}' is not a language tag")


def test_iso639_2_gives_the_bibliographic_codes_mp4_needs():
    expected = {
        "en": "eng", "fr": "fre", "de": "ger", "es": "spa", "it": "ita", "pt": "por", "nl": "dut",
        "sr": "srp", "hr": "hrv", "bs": "bos", "uk": "ukr", "ru": "rus", "ar": "ara", "zh": "chi",
        "ja": "jpn", "ko": "kor", "pl": "pol", "cs": "cze", "sk": "slo", "sl": "slv", "hu": "hun",
        "ro": "rum", "bg": "bul", "el": "gre", "tr": "tur", "he": "heb", "fa": "per", "hi": "hin",
        "sv": "swe", "no": "nor", "da": "dan", "fi": "fin", "et": "est", "lv": "lav", "lt": "lit",
        "sq": "alb", "mk": "mac", "bn": "ben", "ta": "tam", "te": "tel", "km": "khm", "my": "bur",
        "si": "sin", "am": "amh",
    }
    assert {tag: iso639_2(tag) for tag in expected} == expected
    assert iso639_2("sr-Latn") == "srp" and iso639_2("pt-BR") == "por"
    assert iso639_2("zh-Hant-TW") == "chi"
    assert iso639_2("fra") == "fre" and iso639_2("xx") == "und"


def test_format_timecode():
    assert format_timecode(0) == "00:00:00,000"
    assert format_timecode(3_723_004) == "01:02:03,004"
    assert format_timecode(100 * 3_600_000) == "100:00:00,000"


def test_finding_to_dict_is_plain_data():
    finding = Finding("fr", 3, "00:00:01,000", "too_short", 500, 833, "fr cue 3 ...")
    assert finding.to_dict() == {
        "language": "fr", "cue": 3, "timecode": "00:00:01,000", "rule": "too_short",
        "measured": 500, "limit": 833, "message": "fr cue 3 ...", "severity": "warning",
    }

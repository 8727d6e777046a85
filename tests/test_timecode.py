"""Broadcast timecode: masters from edit suites start at 10:00:00:00 and their SRTs are timed to
it. Such an SRT is shifted onto the file's time (and the QC says so); one that fits neither the
file's time nor the timecode stops that language with a message naming both."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.intake.submission import check_submission
from pipeline.sequence import render_package
from pipeline.subtitles import Cue, NoCueError, SubtitleTrack, programme_offset, timecode_ms
from tests.subtitle_masters import luma_frames, make_package, srt

TEN_HOURS = 36_000_000


def track(*spans_ms: tuple[int, int]) -> SubtitleTrack:
    return SubtitleTrack("en", Path("show.en.srt"),
                         [Cue(n, start, end, "text") for n, (start, end) in enumerate(spans_ms, 1)], "utf-8")


@pytest.mark.parametrize("timecode, fps, ms", [
    ("10:00:00:00", 25, TEN_HOURS),
    ("01:00:00:12", 25, 3_600_480),
    ("00:59:59;29", 30000 / 1001, 3_599_967),  # drop-frame: the label's clock time
    ("10:00:00:25", 25, None),  # no frame 25 in a second of 25 frames
    ("not a timecode", 25, None),
])
def test_a_start_timecode_reads_as_the_time_its_label_shows(timecode, fps, ms):
    assert timecode_ms(timecode, fps) == ms


def test_an_srt_timed_to_the_start_timecode_is_shifted_and_the_shift_reported():
    timed = track((TEN_HOURS + 1000, TEN_HOURS + 3000), (TEN_HOURS + 4000, TEN_HOURS + 6000))
    offset, findings = programme_offset(timed, 0, 24_000, 24_000, "10:00:00:00", 25)
    assert offset == TEN_HOURS
    [finding] = findings
    assert finding.rule == "timed_to_timecode" and finding.language == "en"
    assert "10:00:00:00" in finding.message and "10:00:01,000" in finding.message


def test_line_up_cut_from_a_timecoded_master_moves_the_srt_further():
    timed = track((TEN_HOURS + 11_000, TEN_HOURS + 13_000))
    offset, _ = programme_offset(timed, 10_000, 14_000, 24_000, "10:00:00:00", 25)
    assert offset == TEN_HOURS + 10_000


@pytest.mark.parametrize("timecode", [None, "00:00:00:00", "10:00:00:00"])
def test_an_srt_timed_from_the_start_of_the_file_stays_as_it_is(timecode):
    offset, findings = programme_offset(track((1000, 3000), (20_000, 23_000)), 0, 24_000, 24_000, timecode, 25)
    assert (offset, findings) == (0, [])


def test_a_small_timecode_shifts_only_when_the_file_time_would_run_past_the_end():
    # Master at 00:00:10:00, 24 s long: cues up to 00:00:33 only make sense from the timecode.
    late = track((11_000, 13_000), (30_000, 33_000))
    assert programme_offset(late, 0, 24_000, 24_000, "00:00:10:00", 25)[0] == 10_000
    # Cues inside the file as they are stay as they are, even after the timecode.
    inside = track((11_000, 13_000), (20_000, 22_000))
    assert programme_offset(inside, 0, 24_000, 24_000, "00:00:10:00", 25)[0] == 0


def test_an_srt_fitting_neither_clock_names_both_it_tried():
    elsewhere = track((11 * 3_600_000, 11 * 3_600_000 + 2000))
    with pytest.raises(NoCueError) as caught:
        programme_offset(elsewhere, 0, 24_000, 24_000, "10:00:00:00", 25)
    message = str(caught.value)
    assert "show.en.srt" in message
    assert "neither in the file's time (00:00:00,000 --> 00:00:24,000)" in message
    assert "nor timed to the master's start timecode 10:00:00:00 (10:00:00,000 --> 10:00:24,000)" in message
    assert "fix:" in message


# ---------------------------------------------------------------------------------------------
# Through the real render

CUES = [("10:00:00,500", "10:00:01,300", "One"), ("10:00:01,700", "10:00:02,500", "Two"),
        ("10:00:02,900", "10:00:03,700", "Three")]


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_timecoded_master_and_its_srt_render_with_every_cue_on_its_frame(tmp_path, fast_config):
    package = make_package(tmp_path / "package", {"en": srt(*CUES), "fr": srt(("11:00:00,500", "11:00:01,500", "Non"))},
                           timecode="10:00:00:00")
    config = load_config(fast_config)
    submission = check_submission(package, config)
    assert submission.media.start_timecode == "10:00:00:00"
    report = render_package(package, tmp_path / "out", config)
    states = {item.key: item.state for item in report.deliverables}
    assert states == {"master-clean": "delivered", "international": "delivered",
                      "subtitled-en": "delivered", "subtitled-fr": "failed"}
    rows = slice(200, 360)
    clean = luma_frames(report.folder / "subtitle-test_master-clean.mp4", rows)
    subtitled = luma_frames(report.folder / "subtitle-test_subtitled-en.mp4", rows)
    inked = ((subtitled > 160) & (clean < 120)).sum(axis=(1, 2)) > 20
    expected = np.zeros(len(inked), dtype=bool)
    for start, end, _ in CUES:
        # Timed to 10:00:00:00: in the file, each cue is where its seconds within the hour say.
        first = math.ceil(Fraction(start[6:].replace(",", ".")) * 25)
        gone = math.ceil(Fraction(end[6:].replace(",", ".")) * 25)
        expected[first:gone] = True
    assert np.flatnonzero(inked != expected).tolist() == [], "cues off their frames"

    document = json.loads(report.metadata_file.read_text(encoding="utf-8"))
    shifts = [item for item in document["qc"]["subtitles"] if item["rule"] == "timed_to_timecode"]
    assert [item["language"] for item in shifts] == ["en"]
    sidecar = (report.folder / "subtitle-test.en.srt").read_text(encoding="utf-8")
    assert "00:00:00,520 --> 00:00:01,320" in sidecar, "the sidecar is in the file's time too"
    failed = next(item for item in document["deliverables"] if item["key"] == "subtitled-fr")
    assert "neither in the file's time" in failed["reason"] and "10:00:00:00" in failed["reason"]

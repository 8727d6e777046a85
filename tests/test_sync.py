"""The subtitle sync check: the cues of an SRT against the speech in the sound.

The committed sample's narration starts exactly where its cues start (media_samples/reference/
news-sample.json); an English SRT moved by 2 s must be reported 2 s off, the original not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pysrt
import pytest

from pipeline.analysis import analyse_audio, check_subtitle_sync
from pipeline.config import load_config
from pipeline.delivery.finish import deliverable_findings
from pipeline.delivery.results import DeliverableResult
from pipeline.delivery.sidecar import sidecar_document
from pipeline.intake.submission import check_submission
from pipeline.subtitles import Cue, SubtitleTrack, sync

CONFIG = load_config()
RULES = CONFIG.subtitles.rules


def shift_srt(path: Path, seconds: float) -> None:
    cues = pysrt.open(str(path), encoding="utf-8")
    cues.shift(milliseconds=round(seconds * 1000))
    cues.save(str(path), encoding="utf-8")


def track_of(*spans_s: tuple[float, float]) -> SubtitleTrack:
    return SubtitleTrack("en", Path("show.en.srt"), [Cue(n, round(a * 1000), round(b * 1000), "text")
                                                     for n, (a, b) in enumerate(spans_s, 1)], "utf-8")


# ---------------------------------------------------------------------------------------------
# The estimate itself, on signals made here

def speech_at(*spans_s: tuple[float, float], seconds: float = 30.0) -> sync.SpeechActivity:
    active = np.zeros(int(seconds * sync.ENVELOPE_RATE))
    for start, end in spans_s:
        active[int(start * sync.ENVELOPE_RATE):int(end * sync.ENVELOPE_RATE)] = 1
    return sync.SpeechActivity("dialogue stem", active)


PHRASES = [(1.0, 3.2), (4.0, 5.1), (7.5, 10.0), (11.0, 11.8), (14.0, 17.5), (19.0, 21.0)]


@pytest.mark.parametrize("late_s", [0.0, 0.3, 1.5, -2.7, 4.5])
def test_the_offset_is_the_lag_between_cues_and_speech(late_s):
    cues = track_of(*[(a + late_s + 3, b + late_s + 3) for a, b in PHRASES])
    estimate = sync.estimate_sync(cues, speech_at(*[(a + 3, b + 3) for a, b in PHRASES]), RULES)
    assert estimate.offset_s == pytest.approx(late_s, abs=0.011)
    assert (estimate.finding is not None) == (abs(late_s) > RULES.sync_warning_s)


def test_a_late_or_early_srt_is_a_warning_naming_the_offset():
    late = sync.estimate_sync(track_of(*[(a + 1.5, b + 1.5) for a, b in PHRASES]), speech_at(*PHRASES), RULES)
    early = sync.estimate_sync(track_of(*[(a - 0.8, b - 0.8) for a, b in PHRASES]), speech_at(*PHRASES), RULES)
    assert late.finding.rule == "sync_offset" and late.finding.severity == "warning"
    assert "1.50 s late" in late.finding.message and "limit 0.5 s" in late.finding.message
    assert "0.80 s early" in early.finding.message


def test_no_speech_gives_no_estimate_rather_than_a_made_up_one():
    silence = sync.SpeechActivity("full mix", np.zeros(3000))
    noise = sync.SpeechActivity("full mix", (np.random.default_rng(7).random(3000) > 0.5).astype(float))
    for speech in (silence, noise):
        estimate = sync.estimate_sync(track_of(*PHRASES), speech, RULES)
        assert estimate.offset_s is None and estimate.finding is None, estimate


def test_the_envelope_does_not_depend_on_how_the_pcm_is_chunked():
    pcm = np.random.default_rng(1).normal(size=sync.PCM_RATE * 3).astype(np.float32)
    whole = sync.energy_envelope([pcm])
    pieces = sync.energy_envelope(np.array_split(pcm, [123, 5000, 5001, 17_777]))
    np.testing.assert_allclose(pieces, whole)
    assert len(whole) == 3 * sync.ENVELOPE_RATE


# ---------------------------------------------------------------------------------------------
# On the committed sample's narration


@pytest.mark.ffmpeg
@pytest.mark.parametrize("shift_s", [2.0, -2.0])
def test_a_sample_srt_moved_by_two_seconds_gets_a_sync_warning_of_two_seconds(sample_copy, shift_s):
    shift_srt(sample_copy / "news-sample.en.srt", shift_s)
    estimates = {e.language: e for e in check_subtitle_sync(check_submission(sample_copy, CONFIG), CONFIG)}
    english, french = estimates["en"], estimates["fr"]
    assert english.offset_s == pytest.approx(shift_s, abs=0.2)
    assert english.finding is not None and english.finding.measured == pytest.approx(shift_s, abs=0.2)
    assert f"{abs(english.offset_s):.2f} s {'late' if shift_s > 0 else 'early'}" in english.finding.message
    assert french.finding is None and abs(french.offset_s) <= 0.1, "the untouched French SRT is in sync"


@pytest.mark.ffmpeg
def test_the_sample_as_delivered_is_in_sync_and_the_estimate_reaches_the_metadata(sample_copy):
    submission = check_submission(sample_copy, CONFIG)
    analysis = analyse_audio(submission, CONFIG)
    document = sidecar_document(submission, analysis, [], CONFIG, datetime.now(UTC), None)
    entries = {entry["language"]: entry for entry in document["qc"]["subtitle_sync"]}
    assert set(entries) == {"en", "fr"}
    for entry in entries.values():
        assert entry["source"] == "full mix"  # the sample has no dialogue stem
        assert abs(entry["offset_s"]) <= 0.1 and entry["finding"] is None
        assert entry["limit_s"] == RULES.sync_warning_s


@pytest.mark.ffmpeg
def test_a_sync_warning_is_a_finding_of_that_language_only(sample_copy):
    shift_srt(sample_copy / "news-sample.fr.srt", 1.0)
    submission = check_submission(sample_copy, CONFIG)
    analysis = analyse_audio(submission, CONFIG)
    findings = {language: [f.check for f in deliverable_findings(
        submission, analysis, DeliverableResult(f"subtitled-{language}", "failed", reason="not rendered here"), CONFIG)]
        for language in ("en", "fr")}
    assert "subtitles.sync_offset" in findings["fr"]
    assert "subtitles.sync_offset" not in findings["en"]


@pytest.mark.ffmpeg
def test_where_the_master_has_a_dialogue_stem_the_check_listens_to_it(tmp_path):
    """The sample's full mix and its narration alone as a dialogue stem (mix + D layout)."""
    import subprocess

    from pipeline.media.ffmpeg import ffmpeg_binary
    from tests.conftest import REFERENCE, SAMPLE

    package = tmp_path / "package"
    package.mkdir()
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error",
               "-f", "lavfi", "-i", "color=c=0x203070:s=320x180:r=25:d=24",
               "-i", str(SAMPLE / "news-sample.mov"), "-i", str(REFERENCE / "news-sample-narration.flac"),
               "-map", "0:v", "-map", "1:a:0", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast",
               "-c:a", "pcm_s16le", "-ar", "48000", "-ac", "2",
               "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=Dialogue",
               str(package / "show.mov")]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    (package / "show.en.srt").write_text((SAMPLE / "news-sample.en.srt").read_text(encoding="utf-8"), encoding="utf-8")
    shift_srt(package / "show.en.srt", 0.8)
    (package / "metadata.yaml").write_text("title: Dialogue stem\n", encoding="utf-8")
    submission = check_submission(package, CONFIG)
    assert submission.layout.name == "mix-dialogue"
    [english] = check_subtitle_sync(submission, CONFIG)
    assert english.source == "dialogue stem"
    assert english.offset_s == pytest.approx(0.8, abs=0.1)
    assert english.agreement > 0.6, "the narration alone matches its cues closely"
    assert english.finding is not None and "0.80 s late" in english.finding.message

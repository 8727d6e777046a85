"""One package in, every deliverable out: the committed sample rendered through the CLI and the
Prefect flow, then checked the way a technician would check it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REFERENCE, SAMPLE
from tests.media import audio_of, correlation, decodes_whole, frame_at

pytestmark = pytest.mark.slow
ASSET = "2026-11-20-harbour-bridge-reopens"
MEDIA = ["master-clean", "international", "subtitled-en", "subtitled-fr"]


@pytest.mark.ffmpeg
def test_every_deliverable_exists_and_decodes(rendered_sample):
    folder, result = rendered_sample
    for key in MEDIA:
        path = folder / f"{ASSET}_{key}.mp4"
        assert path.exists(), f"{path.name} missing; CLI said:\n{result.stdout}"
        assert decodes_whole(path), f"{path.name} does not decode cleanly"
        assert str(path) in result.stdout, "the CLI prints where each file went"
    for language in ("en", "fr"):
        assert (folder / f"{ASSET}.{language}.srt").exists()
        assert (folder / f"{ASSET}.{language}.vtt").read_text(encoding="utf-8").startswith("WEBVTT")


@pytest.mark.ffmpeg
def test_durations_match_the_master_within_one_frame(rendered_sample, sample_reference):
    import av

    folder, _ = rendered_sample
    for key in MEDIA:
        with av.open(str(folder / f"{ASSET}_{key}.mp4")) as container:
            duration = container.duration / av.time_base
            assert {s.type for s in container.streams} >= {"video", "audio"}
        assert abs(duration - sample_reference["duration"]) <= 1 / sample_reference["fps"], (key, duration)


@pytest.mark.ffmpeg
def test_international_version_carries_the_me_and_not_the_narration(rendered_sample):
    folder, _ = rendered_sample
    narration = audio_of(REFERENCE / "news-sample-narration.flac")
    master_me = audio_of(SAMPLE / "news-sample.mov", stream=1)
    international = audio_of(folder / f"{ASSET}_international.mp4")
    clean = audio_of(folder / f"{ASSET}_master-clean.mp4")
    assert correlation(international, master_me) > 0.95
    assert abs(correlation(international, narration)) < 0.05
    # The same measure finds the narration where it belongs, so the check above can fail.
    assert correlation(clean, narration) > 0.5


def _changed_pixels(a, b) -> int:
    return int((abs(a.astype(int) - b.astype(int)).max(axis=2) > 60).sum())


@pytest.mark.ffmpeg
@pytest.mark.parametrize("language", ["en", "fr"])
def test_subtitles_are_burned_inside_cues_only(rendered_sample, sample_reference, language):
    folder, _ = rendered_sample
    clean, subtitled = folder / f"{ASSET}_master-clean.mp4", folder / f"{ASSET}_subtitled-{language}.mp4"
    first = sample_reference["phrases"][0]
    inside = (first["start_s"] + first["end_s"]) / 2
    outside = first["start_s"] / 2  # the programme opens with no cue
    lower_third = slice(int(720 * 0.7), 720)
    inside_diff = _changed_pixels(frame_at(clean, inside)[lower_third], frame_at(subtitled, inside)[lower_third])
    outside_diff = _changed_pixels(frame_at(clean, outside)[lower_third], frame_at(subtitled, outside)[lower_third])
    assert inside_diff > 2000, f"no subtitle ink at {inside:.2f} s ({inside_diff} px changed)"
    assert outside_diff < 50, f"picture changed outside every cue at {outside:.2f} s ({outside_diff} px)"


@pytest.mark.ffmpeg
def test_checksums_verify_with_sha256sum(rendered_sample):
    folder, _ = rendered_sample
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) is not on this machine")
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    on_disk = {path.name for path in folder.iterdir() if path.name != "SHA256SUMS"}
    assert listed == on_disk


@pytest.mark.ffmpeg
def test_metadata_sidecar_holds_descriptive_and_technical_facts(rendered_sample):
    folder, _ = rendered_sample
    document = json.loads((folder / f"{ASSET}_metadata.json").read_text(encoding="utf-8"))
    submitted = yaml.safe_load((SAMPLE / "metadata.yaml").read_text(encoding="utf-8"))
    for field in ("title", "description", "copyright", "usage_rights", "organisation", "language"):
        assert document["descriptive"][field] == submitted[field]
    assert document["descriptive"]["publication_date"] == str(submitted["publication_date"])
    delivered = {item["key"]: item for item in document["deliverables"]}
    assert set(delivered) == set(MEDIA)
    for item in delivered.values():
        assert item["state"] == "delivered"
        technical = item["technical"]
        assert technical["video"]["width"] == 1280 and technical["video"]["height"] == 720
        assert technical["video"]["codec"] == "h264"
        assert technical["duration_s"] == pytest.approx(24.0, abs=0.04)
        assert technical["sha256"] in (folder / "SHA256SUMS").read_text()
    clean_loudness = delivered["master-clean"]["loudness"]["integrated_lufs"]
    assert clean_loudness == pytest.approx(-23.0, abs=0.5)
    assert document["provenance"]["source_sha256"]
    assert document["provenance"]["flow_run_id"]

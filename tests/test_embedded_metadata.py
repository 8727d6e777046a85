"""Metadata that travels inside every media file: a package whose text holds quotes, newlines,
`=`, `;`, `#`, markup and four scripts plus emoji is rendered, and the tags are read back from
each output with PyAV (as ffprobe or a player built on FFmpeg would) and compared exactly."""

from __future__ import annotations

import json

import av
import pytest

from pipeline.errors import MetadataError
from pipeline.intake.metadata import load_descriptive
from pipeline.media.probe import probe
from pipeline.render.tags import metadata_args
from pipeline.subtitles import iso639_2
from tests.delivery_packages import AWKWARD_METADATA, SRT_FILES, make_package, render

pytestmark = pytest.mark.slow
ASSET = AWKWARD_METADATA["asset_id"]
VERSION_NOTES = {
    "master-clean": "Clean master: full mix, no burned-in text. Subtitles are delivered as sidecar files.",
    "international": "International version: music and effects only. See the clean master for the full mix.",
    "subtitled-en": "Subtitled version: en subtitles burned into the picture, full mix.",
    "subtitled-sr-Latn": "Subtitled version: sr-Latn subtitles burned into the picture, full mix.",
}


@pytest.fixture(scope="module")
def delivered(tmp_path_factory, fast_config):
    root = tmp_path_factory.mktemp("embedded")
    report = render(make_package(root / "package"), root / "out", fast_config)
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return report.folder


def _tags(path):
    with av.open(str(path)) as container:
        streams = [(stream.type, dict(stream.metadata)) for stream in container.streams]
        return dict(container.metadata), streams


@pytest.mark.ffmpeg
@pytest.mark.parametrize("key", sorted(VERSION_NOTES))
def test_file_tags_read_back_exactly(delivered, key):
    tags, _ = _tags(delivered / f"{ASSET}_{key}.mp4")
    expected = {
        "title": AWKWARD_METADATA["title"],
        "description": AWKWARD_METADATA["description"],
        "date": AWKWARD_METADATA["publication_date"],
        "copyright": AWKWARD_METADATA["copyright"],
        "usage_rights": AWKWARD_METADATA["usage_rights"],
        "organisation": AWKWARD_METADATA["organisation"],
        "asset_id": ASSET,
        "version": key,
        "comment": VERSION_NOTES[key],
    }
    assert {name: tags.get(name) for name in expected} == expected


@pytest.mark.ffmpeg
@pytest.mark.parametrize("key", sorted(VERSION_NOTES))
def test_apple_players_find_the_standard_fields_too(delivered, key):
    """In MP4 with custom keys there is no iTunes `©nam`; Apple's players read these keys."""
    tags, _ = _tags(delivered / f"{ASSET}_{key}.mp4")
    assert tags["com.apple.quicktime.title"] == AWKWARD_METADATA["title"]
    assert tags["com.apple.quicktime.description"] == AWKWARD_METADATA["description"]
    assert tags["com.apple.quicktime.copyright"] == AWKWARD_METADATA["copyright"]
    assert tags["com.apple.quicktime.publisher"] == AWKWARD_METADATA["organisation"]
    assert tags["com.apple.quicktime.comment"] == VERSION_NOTES[key]
    assert tags["com.apple.quicktime.creationdate"] == AWKWARD_METADATA["filming_date"]


@pytest.mark.ffmpeg
@pytest.mark.parametrize("key", sorted(VERSION_NOTES))
def test_nothing_of_the_masters_own_tags_leaks_into_an_mp4(delivered, key):
    tags, _ = _tags(delivered / f"{ASSET}_{key}.mp4")
    assert tags["major_brand"] == "isom", "an MP4 labelled as a QuickTime file ('qt  ')"
    assert "master from the edit suite" not in tags.values()


@pytest.mark.ffmpeg
@pytest.mark.parametrize("key,title,language", [
    ("master-clean", "Full mix", iso639_2(AWKWARD_METADATA["language"])),
    ("subtitled-en", "Full mix", iso639_2(AWKWARD_METADATA["language"])),
    ("subtitled-sr-Latn", "Full mix", iso639_2(AWKWARD_METADATA["language"])),
    ("international", "Music and effects", "zxx"),
])
def test_each_audio_track_has_its_title_and_language(delivered, key, title, language):
    path = delivered / f"{ASSET}_{key}.mp4"
    _, streams = _tags(path)
    audio = [tags for kind, tags in streams if kind == "audio"]
    assert len(audio) == 1
    # MP4 keeps a track title in the track's name box and its handler; ffprobe shows both.
    assert audio[0]["name"] == title and audio[0]["handler_name"] == title
    assert audio[0]["language"] == language
    assert [stream.title for stream in probe(path).audio] == [title]
    assert language == ("zxx" if key == "international" else "fre")  # the package says fr


@pytest.mark.ffmpeg
@pytest.mark.parametrize("language", sorted(SRT_FILES))
def test_subtitled_versions_name_their_subtitle_language(delivered, language):
    tags, streams = _tags(delivered / f"{ASSET}_subtitled-{language}.mp4")
    assert tags["subtitle_language"] == language  # the BCP 47 tag, script subtag kept
    for kind, stream_tags in streams:
        if kind == "subtitle":  # a soft track, where the config asks for one
            assert stream_tags["language"] == iso639_2(language)


def test_tags_stay_whole_arguments_whatever_they_hold():
    """No shell, no escaping: each `key=value` is one argument, however awkward the value."""
    value = AWKWARD_METADATA["usage_rights"]
    args = metadata_args({"usage_rights": value}, [{"title": "M&E"}])
    assert args[:4] == ["-map_metadata", "-1", "-map_chapters", "-1"]
    assert args[4:] == ["-metadata", f"usage_rights={value}", "-metadata:s:a:0", "title=M&E"]


def test_a_nul_character_is_refused_naming_the_field(tmp_path):
    """JSON may carry U+0000, which no process argument (and so no tag) can hold."""
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps({"title": "Bridge", "copyright": "ACME\u0000 Ltd"}), encoding="utf-8")
    with pytest.raises(MetadataError) as caught:
        load_descriptive(path)
    assert "copyright" in str(caught.value) and "U+0000" in str(caught.value)

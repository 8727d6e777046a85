"""Descriptive metadata: what a producer writes in metadata.yaml, and what they see when it is wrong."""

from __future__ import annotations

import json
import pickle
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import MetadataError
from pipeline.intake.metadata import (
    Descriptive,
    MusicCredit,
    asset_id_is_safe,
    derive_asset_id,
    descriptive_from_mapping,
    find_metadata_file,
    load_descriptive,
)

FULL_METADATA = {
    "title": "Harbour bridge reopens",
    "asset_id": "2026-11-20-harbour-bridge",
    "description": "The bridge reopens after two years of works.",
    "publication_date": "2026-11-20",
    "filming_date": "2026-11-18",
    "shot_list": ["Wide shot of the bridge", "Mayor cuts the ribbon"],
    "production_notes": "Drone shots by the city.",
    "locations": ["Harbour", "Old town"],
    "keywords": ["bridge", "harbour", "traffic"],
    "music_credits": [
        {"title": "Morning Tide", "composers": ["A. Writer", "B. Writer"], "performer": "Harbour Band",
         "publisher": "Tide Music", "library": "Tide Library", "isrc": "XX-000-26-00001"},
    ],
    "usage_rights": "Free for editorial use",
    "copyright": "2026 City Newsroom",
    "organisation": "City Newsroom",
    "language": "sr-Latn",
    "audio_layout": "stereo_mix_me",
    "programme_start": "00:00:10:00",
    "programme_end": 95.5,
    "subtitle_start_timecode": "10:00:00:00",
    "desk": {"editor": "N. Night", "shift": 3},
}


def write(folder: Path, text: str, name: str = "metadata.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(folder: Path, text: str, name: str = "metadata.yaml") -> str:
    """The message a producer sees for this file."""
    with pytest.raises(MetadataError) as caught:
        load_descriptive(write(folder, text, name))
    return str(caught.value)


# --- good files ---------------------------------------------------------------------------------

def test_a_full_yaml_file_round_trips_through_to_json_dict(tmp_path):
    path = write(tmp_path, yaml.safe_dump(FULL_METADATA, allow_unicode=True))
    descriptive = load_descriptive(path)
    assert descriptive.publication_date == date(2026, 11, 20)
    assert descriptive.music_credits[0] == MusicCredit(**FULL_METADATA["music_credits"][0])
    assert descriptive.to_json_dict() == FULL_METADATA
    assert descriptive.source_path == path


def test_json_is_accepted_too(tmp_path):
    path = write(tmp_path, json.dumps(FULL_METADATA), "metadata.json")
    assert load_descriptive(path).to_json_dict() == FULL_METADATA


def test_a_package_folder_is_searched_for_its_metadata_file(tmp_path):
    write(tmp_path, "title: Harbour bridge reopens\n", "metadata.yml")
    assert find_metadata_file(tmp_path).name == "metadata.yml"
    assert load_descriptive(tmp_path).title == "Harbour bridge reopens"


def test_unknown_fields_are_kept_and_passed_through(tmp_path):
    path = write(tmp_path, "title: x\nseries: Night news\nrating: {stars: 4, tags: [a, b]}\n")
    data = load_descriptive(path).to_json_dict()
    assert data["series"] == "Night news"
    assert data["rating"] == {"stars": 4, "tags": ["a", "b"]}


def test_absent_fields_are_none_or_empty(tmp_path):
    data = load_descriptive(write(tmp_path, "title: x\n")).to_json_dict()
    assert data["description"] is None and data["publication_date"] is None
    assert data["keywords"] == [] and data["music_credits"] == []


def test_convenient_forms_of_lists_are_accepted(tmp_path):
    path = write(tmp_path, (
        "title: x\n"
        "keywords: bridge, harbour , ,traffic\n"
        "locations: Harbour\n"
        "shot_list: |\n  Wide shot\n\n  Close-up of the ribbon\n"
        "music_credits:\n  - title: Morning Tide\n    composers: A. Writer\n  - Untitled sting\n"
    ))
    descriptive = load_descriptive(path)
    assert descriptive.keywords == ["bridge", "harbour", "traffic"]
    assert descriptive.locations == ["Harbour"]
    assert descriptive.shot_list == ["Wide shot", "Close-up of the ribbon"]
    assert descriptive.music_credits[0].composers == ["A. Writer"]
    assert descriptive.music_credits[1].title == "Untitled sting"


def test_yaml_1_1_surprises_do_not_happen(tmp_path):
    """`no` is Norwegian, 10:00:00:00 is a timecode, 007 is text, a bare year is a title."""
    path = write(tmp_path, "title: 2026\nlanguage: no\nprogramme_start: 10:00:00:00\nepisode: 007\n")
    descriptive = load_descriptive(path)
    assert descriptive.title == "2026"
    assert descriptive.language == "no"
    assert descriptive.programme_start == "10:00:00:00"
    assert descriptive.to_json_dict()["episode"] == "007"


def test_a_utf8_bom_and_utf16_are_read(tmp_path):
    (tmp_path / "metadata.yaml").write_bytes("\ufefftitle: Čaj\n".encode("utf-8"))
    assert load_descriptive(tmp_path / "metadata.yaml").title == "Čaj"
    (tmp_path / "metadata.yaml").write_bytes("title: Čaj\n".encode("utf-16"))
    assert load_descriptive(tmp_path / "metadata.yaml").title == "Čaj"


# --- bad files: the message a producer sees -----------------------------------------------------

def test_missing_title(tmp_path):
    message = error_of(tmp_path, "description: no title here\n")
    assert "metadata.yaml: title is required" in message
    assert "add `title: ...`" in message


def test_missing_title_with_a_capitalised_key_says_why(tmp_path):
    message = error_of(tmp_path, "Title: Harbour\n")
    assert "title is required" in message and "found 'Title'" in message


def test_empty_title(tmp_path):
    assert "title: is empty" in error_of(tmp_path, "title: '  '\n")


def test_a_date_that_is_not_a_date(tmp_path):
    message = error_of(tmp_path, "title: x\npublication_date: 31/02/2026\n")
    assert "metadata.yaml: publication_date: '31/02/2026' is not a date" in message
    assert "write it as YYYY-MM-DD" in message


def test_an_impossible_calendar_date(tmp_path):
    message = error_of(tmp_path, "title: x\nfilming_date: 2026-02-31\n")
    assert "filming_date: '2026-02-31' is not a date" in message and "YYYY-MM-DD" in message


def test_wrong_type_names_the_field_and_the_expected_type(tmp_path):
    message = error_of(tmp_path, "title: x\nkeywords: 3\n")
    assert "metadata.yaml: keywords: expected a list of strings, got a number" in message


def test_a_wrong_item_in_a_list_is_numbered(tmp_path):
    message = error_of(tmp_path, "title: x\nlocations: [Harbour, {a: 1}]\n")
    assert "locations: item 2: expected text, got a mapping" in message


def test_true_false_in_a_text_field_suggests_quotes(tmp_path):
    message = error_of(tmp_path, "title: true\n")
    assert "title: expected text, got true" in message and "quotes" in message


def test_a_decimal_number_in_a_text_field_suggests_quotes(tmp_path):
    message = error_of(tmp_path, "title: 1.10\n")
    assert "title: expected text, got a number (1.1)" in message and "quotes" in message


def test_a_bad_language_tag(tmp_path):
    message = error_of(tmp_path, "title: x\nlanguage: English\n")
    assert "language: 'English' is not a BCP 47 language tag" in message and "sr-Latn" in message


def test_a_music_credit_without_title(tmp_path):
    message = error_of(tmp_path, "title: x\nmusic_credits:\n  - composers: [A. Writer]\n")
    assert "music_credits[0].title is required" in message


def test_several_wrong_fields_are_all_listed(tmp_path):
    message = error_of(tmp_path, "title: x\nkeywords: 3\npublication_date: soon\n")
    assert "2 fields are wrong" in message
    assert "keywords:" in message and "publication_date: 'soon'" in message


def test_invalid_yaml_gives_the_line(tmp_path):
    message = error_of(tmp_path, "title: x\ndescription: a: b\n")
    assert "metadata.yaml, line 2: not valid YAML" in message and "fix:" in message


def test_invalid_json_gives_the_line(tmp_path):
    message = error_of(tmp_path, '{\n  "title": "x",\n}\n', "metadata.json")
    assert "metadata.json, line 3: not valid JSON" in message


def test_json_nan_is_refused(tmp_path):
    assert "NaN is not valid JSON" in error_of(tmp_path, '{"title": "x", "v": NaN}', "metadata.json")


def test_a_repeated_key_is_refused(tmp_path):
    message = error_of(tmp_path, "title: x\ndescription: a\ntitle: y\n")
    assert "line 3: the key 'title' appears twice (first on line 1)" in message
    assert "appears twice" in error_of(tmp_path, '{"title": "x", "title": "y"}', "metadata.json")


def test_yaml_aliases_and_tags_are_refused(tmp_path):
    assert "aliases (*a) are not accepted" in error_of(tmp_path, "title: &a x\nother: *a\n")
    assert "explicit tag" in error_of(tmp_path, "title: x\nn: !!python/object:os.system {}\n")
    assert "explicit tag" in error_of(tmp_path, "title: x\nn: !!int abc\n")


def test_the_top_level_must_be_a_mapping(tmp_path):
    message = error_of(tmp_path, "- title: x\n")
    assert "metadata.yaml: the top level is a list, not a mapping of fields" in message


def test_an_empty_file(tmp_path):
    assert "metadata.yaml: is empty" in error_of(tmp_path, "# nothing yet\n")


def test_a_file_over_the_size_limit(tmp_path):
    path = write(tmp_path, "title: x\ndescription: " + "a" * 2000 + "\n")
    with pytest.raises(MetadataError, match="larger than the 1,000-byte limit"):
        load_descriptive(path, max_bytes=1000)


def test_binary_and_non_utf8_files_are_refused(tmp_path):
    (tmp_path / "metadata.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(MetadataError, match="is binary, not text"):
        load_descriptive(tmp_path / "metadata.yaml")
    (tmp_path / "metadata.yaml").write_bytes("title: Caf\u00e9\n".encode("cp1252"))
    with pytest.raises(MetadataError, match="(?s)is not UTF-8 text .*save it with the UTF-8 encoding"):
        load_descriptive(tmp_path / "metadata.yaml")


def test_a_symlinked_metadata_file_is_refused(tmp_path):
    target = write(tmp_path, "title: x\n", "elsewhere.yaml")
    (tmp_path / "metadata.yaml").symlink_to(target)
    with pytest.raises(MetadataError, match="not a regular file"):
        load_descriptive(tmp_path / "metadata.yaml")


def test_two_metadata_files_in_a_package(tmp_path):
    write(tmp_path, "title: x\n")
    write(tmp_path, '{"title": "x"}', "metadata.json")
    with pytest.raises(MetadataError, match=r"more than one metadata file \(metadata.yaml, metadata.json\)"):
        load_descriptive(tmp_path)


def test_control_characters_are_refused_with_their_line(tmp_path):
    message = error_of(tmp_path, "title: x\ndescription: a\x01b\n")
    assert "metadata.yaml, line 2: holds the control character U+0001" in message


def test_a_huge_number_is_refused(tmp_path):
    assert "a value cannot be read" in error_of(tmp_path, "title: x\nn: " + "9" * 5000 + "\n")
    assert "a value cannot be read" in error_of(tmp_path, '{"title": "x", "n": %s}' % ("9" * 5000), "metadata.json")


def test_deep_nesting_is_refused(tmp_path):
    assert "nested too deeply" in error_of(tmp_path, "title: x\nd: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "d: is nested more than 50 levels deep" in error_of(tmp_path, "title: x\nd: " + "[" * 60 + "]" * 60)


def test_unknown_fields_must_be_plain_json(tmp_path):
    message = error_of(tmp_path, '{"title": "x", "score": 1e999}', "metadata.json")
    assert "score: inf is not a finite number" in message


def test_metadata_errors_pickle_with_their_message(tmp_path):
    with pytest.raises(MetadataError) as caught:
        load_descriptive(write(tmp_path, "keywords: 3\n"))
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


# --- asset ids ------------------------------------------------------------------------------------

def test_asset_id_is_derived_from_date_and_title():
    descriptive = Descriptive(title="Harbour bridge reopens!", publication_date="2026-11-20")
    assert derive_asset_id(descriptive) == "2026-11-20-harbour-bridge-reopens"


def test_asset_id_uses_filming_date_then_no_date():
    assert derive_asset_id(Descriptive(title="Harbour", filming_date="2026-11-18")) == "2026-11-18-harbour"
    assert derive_asset_id(Descriptive(title="Harbour")) == "harbour"


def test_asset_id_folds_diacritics_to_ascii():
    descriptive = Descriptive(title="Pont sur l'Èbre — réouverture", publication_date="2026-11-20")
    assert derive_asset_id(descriptive) == "2026-11-20-pont-sur-l-ebre-reouverture"


def test_asset_id_transliterates_letters_nfkd_cannot_split():
    assert derive_asset_id(Descriptive(title="Đoković in der Straße")) == "dokovic-in-der-strasse"


def test_asset_id_is_at_most_80_characters_and_never_ends_with_a_dash():
    asset_id = derive_asset_id(Descriptive(title="word " * 40, publication_date="2026-11-20"))
    assert len(asset_id) <= 80 and asset_id_is_safe(asset_id) and not asset_id.endswith("-")


def test_asset_id_is_never_empty():
    first = derive_asset_id(Descriptive(title="Мост", publication_date="2026-11-20"))
    second = derive_asset_id(Descriptive(title="Тунел", publication_date="2026-11-20"))
    assert first.startswith("2026-11-20-asset-") and asset_id_is_safe(first)
    assert first != second


def test_a_given_safe_asset_id_is_kept():
    assert derive_asset_id(Descriptive(title="x", asset_id="night-news-42")) == "night-news-42"


@pytest.mark.parametrize("unsafe, suggestion", [
    ("../etc", "etc"), ("..", None), ("a/b", "a-b"), ("/abs", "abs"), ("C:\\x", "c-x"),
    ("Harbour Bridge", "harbour-bridge"), ("-leading-dash", "leading-dash"),
])
def test_an_unsafe_asset_id_is_refused_with_a_safe_suggestion(tmp_path, unsafe, suggestion):
    message = error_of(tmp_path, json.dumps({"title": "x", "asset_id": unsafe}), "metadata.json")
    assert f"metadata.json: asset_id: '{unsafe}' is not safe as a folder name" in message
    assert "use lowercase letters, digits and dashes, e.g. '" in message
    if suggestion:
        assert f"e.g. '{suggestion}'" in message


@pytest.mark.parametrize("value", ["..", ".", "a/b", "/abs", "C:\\x", "a b", "A", "", "abc\n", "a" * 81, "é"])
def test_asset_id_is_safe_refuses_what_cannot_name_a_folder(value):
    assert not asset_id_is_safe(value)


def test_asset_id_is_safe_accepts_lowercase_digits_and_dashes():
    assert asset_id_is_safe("2026-11-20-harbour") and asset_id_is_safe("a" * 80)


# --- programme bounds -----------------------------------------------------------------------------

def test_programme_bounds_from_seconds():
    assert Descriptive(title="x", programme_start=10, programme_end=95.5).programme_bounds_s(25) == (10.0, 95.5)
    assert Descriptive(title="x", programme_start="12.5").programme_bounds_s(25) == (12.5, None)


def test_programme_bounds_from_timecode_at_25_fps():
    descriptive = Descriptive(title="x", programme_start="00:00:10:05", programme_end="00:01:40.250")
    assert descriptive.programme_bounds_s(25) == (10.2, 100.25)


def test_non_drop_frame_timecode_at_29_97_counts_30_frames_a_second():
    start, _ = Descriptive(title="x", programme_start="00:01:00:00").programme_bounds_s(30000 / 1001)
    assert start == pytest.approx(60.06)


def test_no_programme_bounds():
    assert Descriptive(title="x").programme_bounds_s(25) == (None, None)


def test_drop_frame_timecode_is_refused(tmp_path):
    message = error_of(tmp_path, "title: x\nprogramme_start: 00:00:10;00\n")
    assert "programme_start: '00:00:10;00' is a drop-frame timecode" in message
    assert "not supported" in message and "non-drop-frame" in message


def test_sexagesimal_looking_times_are_refused(tmp_path):
    message = error_of(tmp_path, "title: x\nprogramme_start: 1:30\n")
    assert "programme_start: '1:30' is neither seconds nor a timecode" in message and "HH:MM:SS:FF" in message


def test_a_frame_number_beyond_the_frame_rate_names_the_file(tmp_path):
    descriptive = load_descriptive(write(tmp_path, "title: x\nprogramme_end: 00:00:10:25\n"))
    with pytest.raises(MetadataError, match=r"metadata.yaml: programme_end: '00:00:10:25' has frame 25"):
        descriptive.programme_bounds_s(25)


def test_programme_end_must_be_after_start(tmp_path):
    descriptive = load_descriptive(write(tmp_path, "title: x\nprogramme_start: 20\nprogramme_end: 00:00:10:00\n"))
    with pytest.raises(MetadataError, match="programme_end .* is not after programme_start"):
        descriptive.programme_bounds_s(25)


def test_negative_seconds_are_refused(tmp_path):
    assert "programme_start: -5 is not a time in the programme" in error_of(tmp_path, "title: x\nprogramme_start: -5\n")


# --- nothing but MetadataError, whatever the file holds -------------------------------------------

def _loads_or_refuses(path: Path) -> None:
    """Either a MetadataError, or a model whose JSON form and asset id are usable as they are."""
    try:
        descriptive = load_descriptive(path)
    except MetadataError:
        return
    json.dumps(descriptive.to_json_dict(), allow_nan=False)
    assert asset_id_is_safe(derive_asset_id(descriptive))


YAML_LIKE = st.text(alphabet=st.sampled_from(list("title: -[]{},'\"!&*#|>?\n 0123456789.;abcxyz\t\\%@`")),
                    max_size=200)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(list(Descriptive.model_fields)) | st.text(max_size=12)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY_SETTINGS
@given(text=st.text(max_size=300) | YAML_LIKE)
def test_any_text_loads_or_raises_metadata_error(tmp_path, text):
    _loads_or_refuses(write(tmp_path, text))


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=300))
def test_any_bytes_load_or_raise_metadata_error(tmp_path, raw):
    (tmp_path / "metadata.yaml").write_bytes(raw)
    _loads_or_refuses(tmp_path / "metadata.yaml")


@PROPERTY_SETTINGS
@given(mapping=st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=8))
def test_any_mapping_loads_or_raises_metadata_error(tmp_path, mapping):
    _loads_or_refuses(write(tmp_path, yaml.safe_dump(mapping, allow_unicode=True)))
    _loads_or_refuses(write(tmp_path, json.dumps(mapping), "metadata.json"))
    try:
        descriptive_from_mapping(mapping)
    except MetadataError:
        pass

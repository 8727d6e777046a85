"""Textless material (docs/producers.md "Textless material"): the editor supplies the texted
shots again without their text, and the textless and international versions go out on the
textless picture, frame for frame, while the clean master and the subtitled versions keep the
burned-in graphics.

The masters are made here (tests/textless_masters.py): a programme of 100 frames with a red box
"graphic" burned over programme frames 25-49 and 60-79, after 10 frames of line-up. Every
delivered frame is compared with lossless references of the programme with and without the
box: inside a replaced range the delivered picture must be the clean one, not the texted one,
from its first frame to its last; outside, the programme's own frame, not a neighbour.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.audio.loudness import GainPlan, Loudness
from pipeline.config import load_config
from pipeline.deliverables import MUSIC_AND_EFFECTS, Deliverable, full_mix, plan_deliverables
from pipeline.errors import InputError
from pipeline.intake.submission import check_submission
from pipeline.intake.textless import TextlessInsert, TextlessMaterial
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.media.probe import AudioInfo, VideoInfo, probe
from pipeline.render.commands import RenderInputs, build_render_command
from pipeline.sequence import render_package
from tests.media import audio_of
from tests.textless_masters import (
    GRAPHICS,
    PROGRAMME,
    RENDER_CONFIG,
    box_difference,
    frame_difference,
    frames_of,
    make_package,
    make_references,
)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    texted, clean = make_references(tmp_path_factory.mktemp("references"))
    return frames_of(texted), frames_of(clean)


def _config(folder: Path, text: str = RENDER_CONFIG):
    path = folder / "render.toml"
    path.write_text(text)
    return load_config(path)


def _replaced(index: int) -> bool:
    return any(start <= index < end for start, end in GRAPHICS)


def _assert_textless_picture(path: Path, references, size: tuple[int, int] | None = None) -> None:
    """Inside every replaced range the clean picture, frame-exact at both edges; outside, the
    programme's own frame; and the file ends at programme_end."""
    texted, clean = references
    delivered = frames_of(path, size)
    assert len(delivered) == PROGRAMME
    for index, frame in enumerate(delivered):
        if _replaced(index):
            assert box_difference(frame, clean[index]) < 8 < 60 < box_difference(frame, texted[index]), index
        else:
            assert box_difference(frame, texted[index]) < 8, index
        neighbours = [frame_difference(frame, clean[other]) for other in (index - 1, index + 1) if 0 <= other < PROGRAMME]
        assert frame_difference(frame, clean[index]) < min(neighbours), f"frame {index} is a neighbour's"


def _assert_texted_picture(path: Path, references) -> None:
    texted, _ = references
    delivered = frames_of(path)
    assert len(delivered) == PROGRAMME
    for start, end in GRAPHICS:
        for index in (start, (start + end) // 2, end - 1):
            assert box_difference(delivered[index], texted[index]) < 5, index


def _voice_share(path: Path) -> float:
    """The share of the 700 Hz "voice" in the file's first sound."""
    samples = audio_of(path)
    spectrum = np.abs(np.fft.rfft(samples))
    frequencies = np.fft.rfftfreq(len(samples), 1 / 16000)
    voice = spectrum[(frequencies > 650) & (frequencies < 750)].sum()
    return float(voice / spectrum.sum())


@pytest.mark.ffmpeg
def test_tail_inserts_make_the_textless_and_international_pictures_frame_exact(tmp_path, references):
    package = make_package(tmp_path / "package", "tail",
                           srts={"en": "1\n00:00:00,500 --> 00:00:03,000\nThe bridge reopened.\n"})
    report = render_package(package, tmp_path / "out", _config(tmp_path))
    assert {result.key: result.reason for result in report.deliverables if not result.delivered} == {}
    folder = report.folder
    for version in ("textless", "international"):
        _assert_textless_picture(folder / f"textless-test_{version}.mp4", references)
    for version in ("master-clean", "subtitled-en"):
        _assert_texted_picture(folder / f"textless-test_{version}.mp4", references)
    # The international sound is the M&E: no voice; the textless version has the full mix.
    assert _voice_share(folder / "textless-test_international.mp4") < 0.01 < 0.3 < _voice_share(
        folder / "textless-test_textless.mp4")
    # The splice leaves the sound where it was: picture and sound start together, as in the clean master.
    for version in ("textless", "international"):
        info = probe(folder / f"textless-test_{version}.mp4")
        assert abs(info.video.start_s - info.audio[0].start_s) <= 0.001 if info.video and info.audio else False

    document = json.loads(report.metadata_file.read_text())
    textless = document["source"]["textless"]
    assert textless["versions"] == ["textless", "international"]
    assert [(insert["replaces"], insert["from"], insert["duration"], insert["file"]) for insert in textless["inserts"]] \
        == [("00:00:01:10", "00:00:04:10", "00:00:01:00", None), ("00:00:02:20", "00:00:05:10", "00:00:00:20", None)]
    entries = {item["key"]: item for item in document["deliverables"]}
    assert [match["offset_frames"] for match in entries["textless"]["textless_inserts"]] == [0, 0]
    assert entries["international"]["picture"] == "textless" and "picture" not in entries["master-clean"]
    assert (folder / "textless-test_ebucore.xml").read_text().count('typeLabel="textless insert"') == 2
    assert "Textless version (no burned-in text)" in (folder / "index.html").read_text()
    assert "Texted frames replaced" in (folder / "textless-test_qc.html").read_text()


@pytest.mark.ffmpeg
@pytest.mark.parametrize("form", ["file", "programme"])
def test_inserts_in_a_file_or_a_whole_textless_programme(tmp_path, references, form):
    package = make_package(tmp_path / "package", form)
    config = _config(tmp_path, RENDER_CONFIG + "[outputs.international]\nprofiles = []\n")
    report = render_package(package, tmp_path / "out", config)
    assert [result.key for result in report.deliverables if result.delivered] == ["master-clean", "textless"]
    _assert_textless_picture(report.folder / "textless-test_textless.mp4", references)
    _assert_texted_picture(report.folder / "textless-test_master-clean.mp4", references)


@pytest.mark.ffmpeg
def test_the_textless_picture_in_the_broadcast_profile_too(tmp_path, references):
    package = make_package(tmp_path / "package", "file")
    config = _config(tmp_path, RENDER_CONFIG + '[outputs]\nprofiles = ["web", "broadcast"]\n')
    report = render_package(package, tmp_path / "out", config)
    assert {result.key: result.reason for result in report.deliverables if not result.delivered} == {}
    _assert_textless_picture(report.folder / "textless-test_textless_broadcast.mxf", references, size=(320, 180))
    document = json.loads(report.metadata_file.read_text())
    entries = {item["key"]: item for item in document["deliverables"]}
    for key in ("textless_broadcast", "international_broadcast"):
        assert entries[key]["picture"] == "textless"
        assert [match["offset_frames"] for match in entries[key]["textless_inserts"]] == [0, 0]
    assert sorted(document["source"]["textless"]["versions"]) == ["international", "international_broadcast",
                                                                  "textless", "textless_broadcast"]


@pytest.mark.ffmpeg
def test_without_textless_material_nothing_changes_but_the_international_versions_note(tmp_path):
    package = make_package(tmp_path / "package", "tail", textless=[])
    config = _config(tmp_path)
    submission = check_submission(package, config)
    assert submission.textless is None
    planned, failures = plan_deliverables(submission, config)
    assert [(item.version, item.picture) for item in planned] == [("master-clean", "encode"),
                                                                  ("international", "copy-clean")]
    assert "no textless material" in (planned[1].picture_note or "") and not failures


@pytest.mark.ffmpeg
def test_an_insert_declared_three_frames_late_fails_qc_naming_it(tmp_path):
    package = make_package(tmp_path / "package", "tail", textless=[
        {"replaces": "00:00:01:13", "from": "00:00:04:10", "duration": "00:00:01:00"}])
    config = _config(tmp_path, RENDER_CONFIG + "[outputs.international]\nprofiles = []\n")
    report = render_package(package, tmp_path / "out", config)
    failed = {result.key: result.reason for result in report.deliverables if not result.delivered}
    assert failed == {"textless": "textless insert 1 matches best 3 frames earlier: replaces 00:00:01:10?"}


@pytest.fixture(scope="module")
def tail_package(tmp_path_factory) -> Path:
    folder = make_package(tmp_path_factory.mktemp("bad") / "package", "tail")
    other = folder.parent / "small.mov"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "testsrc2=size=160x90:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
                    str(other)], check=True, timeout=60)
    return folder


BAD_DECLARATIONS = {
    "outside the programme": (
        [{"replaces": "00:00:04:00", "from": "00:00:04:10", "duration": "00:00:01:00"}],
        "textless insert 1 replaces 00:00:04:00 to 00:00:05:00, outside the programme (00:00:00:10 to 00:00:04:10)"),
    "overlapping": (
        [{"replaces": "00:00:01:10", "from": "00:00:04:10", "duration": "00:00:01:00"},
         {"replaces": "00:00:02:00", "from": "00:00:05:10", "duration": "00:00:00:20"}],
        "textless inserts 1 and 2 overlap"),
    "past the end of its source": (
        [{"replaces": "00:00:01:10", "from": "00:00:05:20", "duration": "00:00:01:00"}],
        "textless insert 1 runs from 00:00:05:20 to 00:00:06:20, past the end of the master (00:00:06:05)"),
    "taken from inside the programme": (
        [{"replaces": "00:00:01:10", "from": "00:00:03:00", "duration": "00:00:01:00"}],
        "textless insert 1 is taken from 00:00:03:00, inside the programme"),
    "duration differs from the range": (
        [{"replaces": "00:00:01:10", "replaces_end": "00:00:02:00", "from": "00:00:04:10", "duration": "00:00:01:00"}],
        "textless insert 1 lasts 25 frames (00:00:01:00) but the range it replaces, 00:00:01:10 to 00:00:02:00, "
        "is 15 frames"),
    "file missing": (
        [{"replaces": "00:00:01:10", "from": 0, "duration": 1, "file": "inserts.mov"}],
        "is named by textless insert 1 (`file:`) and is not in the package"),
    "file of another size": (
        [{"replaces": "00:00:01:10", "from": 0, "duration": 1, "file": "small.mov"}],
        "holds textless inserts and is 160x90, the master 320x180"),
    "timecode that does not parse": (
        [{"replaces": "00:00:01:30", "from": "00:00:04:10", "duration": "00:00:01:00"}],
        "textless[1].replaces: '00:00:01:30' has frame 30, but a second has only 25 frames at 25 fps"),
}


@pytest.mark.ffmpeg
@pytest.mark.parametrize("case", list(BAD_DECLARATIONS))
def test_each_bad_declaration_is_refused_at_check_with_its_problem_and_fix(tmp_path, tail_package, case):
    declared, problem = BAD_DECLARATIONS[case]
    package = tmp_path / "package"
    shutil.copytree(tail_package, package)
    if case == "file of another size":
        shutil.copy(tail_package.parent / "small.mov", package / "small.mov")
    metadata = yaml.safe_load((package / "metadata.yaml").read_text())
    (package / "metadata.yaml").write_text(yaml.safe_dump(metadata | {"textless": declared}))
    with pytest.raises(InputError) as refused:
        check_submission(package, _config(tmp_path))
    assert problem in refused.value.problem
    assert refused.value.fix


@pytest.mark.ffmpeg
def test_a_textless_programme_of_another_duration_is_refused(tmp_path):
    package = make_package(tmp_path / "package", "programme")
    shutil.copy(package / "show.mov", tmp_path / "texted.mov")
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i",
                    str(tmp_path / "texted.mov"), "-t", "3", "-c", "copy", str(package / "show.textless.mov")],
                   check=True, timeout=60)
    with pytest.raises(InputError) as refused:
        check_submission(package, _config(tmp_path))
    assert "is the textless programme of show.mov and lasts" in refused.value.problem


def _plan(tmp_path: Path, textless: bool):
    """The render of a 1080p ProRes master (60 s, 10 s of line-up) in web and broadcast: the clean
    master, one burned language, and the international version, with or without tail inserts
    (and then the textless version)."""
    inserts = TextlessMaterial((TextlessInsert(1, 500, 1800, 75), TextlessInsert(2, 1000, 1900, 50)))
    video = VideoInfo(0, "prores", 1920, 1080, Fraction(25), "yuv422p10le", "Standard")
    streams = [AudioInfo(1, "pcm_s24le", 2, 48000, "Full mix"), AudioInfo(2, "pcm_s24le", 2, 48000, "M&E")]
    inputs = RenderInputs(tmp_path / "show.mov", video, ["mix_l", "mix_r", "me_l", "me_r"], streams, 10.0, 60.0,
                          master_duration_s=80.0, textless=inserts if textless else None)
    versions = [Deliverable("master-clean", full_mix("en"), "encode", "clean"),
                Deliverable("international", MUSIC_AND_EFFECTS, "copy-textless" if textless else "copy-clean", "me"),
                Deliverable("subtitled-en", full_mix("en"), "burn", "en", "en")]
    versions += [Deliverable("textless", full_mix("en"), "textless", "textless")] if textless else []
    specs = versions + [dataclasses.replace(spec, profile="broadcast", profile_in_key=True, container="mxf")
                        for spec in versions if not spec.burns]
    config = _config(tmp_path, RENDER_CONFIG + '[outputs]\nprofiles = ["web", "broadcast"]\n')
    gain = GainPlan(-2.0, False, -2.0, Loudness(-21.0, -6.0, 4.0))
    return build_render_command(inputs, specs, gain, config, tmp_path, "show", {}, cores=2)


def test_the_textless_picture_costs_one_more_encode_per_profile_and_no_second_decode(tmp_path):
    texted, textless = _plan(tmp_path, textless=False), _plan(tmp_path, textless=True)
    assert textless.video_encodes == texted.video_encodes + 2  # web and broadcast
    inputs = [index for index, arg in enumerate(textless.command) if arg == "-i"]
    # The master once for the programme, and once more for the inserts, read over their frames of
    # the tail only (72-78 s): nothing decoded twice, each insert taken as the programme needs it.
    assert len(inputs) == len([arg for arg in texted.command if arg == "-i"]) + 1
    assert textless.command[inputs[-1] - 4:inputs[-1] + 2] == [
        "-ss", f"{(1800 - 0.5) / 25:.6f}", "-t", f"{150 / 25:.6f}", "-i", f"file:{tmp_path / 'show.mov'}"]
    graph = textless.command[textless.command.index("-filter_complex") + 1]
    assert graph.count("[0:v]") == 1
    assert "select='between(n\\,0\\,74)+between(n\\,100\\,149)'" in graph  # the inserts' frames of the tail
    assert "enable='between(n\\,250\\,324)+between(n\\,750\\,799)'" in graph  # where they land
    # Both international files are muxed from their profile's textless file, by stream copy.
    for key, source in (("international", "show_textless.mp4"), ("international_broadcast", "show_textless_broadcast.mxf")):
        mux = textless.mux_commands[key]
        assert f"file:{tmp_path / source}" in mux and "libx264" not in mux and "mpeg2video" not in mux

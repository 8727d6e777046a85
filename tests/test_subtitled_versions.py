"""The subtitled versions and the subtitle sidecars a producer receives: soft subtitle tracks and
their languages, sidecars that follow the picture when line-up is cut, and languages that cannot
be rendered failing alone, through the `versioner` CLI."""

from __future__ import annotations

import hashlib
import html
import subprocess
from types import SimpleNamespace

import av
import numpy as np
import pysrt
import pytest
import webvtt

from pipeline.config import load_config
from pipeline.deliverables import subtitled
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.sequence import render_package
from tests.conftest import run_versioner
from tests.subtitle_masters import luma_frames, make_package, srt

FAST = '[profiles.web]\npreset = "ultrafast"\ncrf = 23\n'


def config_file(tmp_path, burn_in: bool, soft_track: bool):
    path = tmp_path / "config.toml"
    path.write_text(FAST + f"\n[subtitles]\nburn_in = {str(burn_in).lower()}\n"
                           f"soft_track = {str(soft_track).lower()}\n")
    return path


def soft_track_cues(path) -> list[tuple[int, int, str]]:
    """The subtitle track of a media file, as ffmpeg exports it back to SRT."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
               "-map", "0:s:0", "-f", "srt", "pipe:1"]
    exported = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout.decode("utf-8")
    return [(item.start.ordinal, item.end.ordinal, item.text) for item in pysrt.from_string(exported)]


def srt_cues(path) -> list[tuple[int, int, str]]:
    return [(item.start.ordinal, item.end.ordinal, item.text) for item in pysrt.open(str(path), encoding="utf-8")]


def picture_packets(path) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


@pytest.mark.parametrize("burn_in, soft_track, picture", [
    (True, False, "burn"), (True, True, "burn"), (False, True, "copy-clean"),
])
def test_the_subtitle_options_choose_how_each_language_is_carried(burn_in, soft_track, picture):
    config = SimpleNamespace(subtitles=SimpleNamespace(burn_in=burn_in, soft_track=soft_track))
    submission = SimpleNamespace(subtitles={"fr": None, "sr-Latn": None},
                                 descriptive=SimpleNamespace(language="en"))
    specs = subtitled.plan(submission, config)
    assert [spec.key for spec in specs] == ["subtitled-fr", "subtitled-sr-Latn"]
    assert {(spec.picture, spec.soft_subtitles) for spec in specs} == {(picture, soft_track)}


def test_with_neither_option_the_subtitles_go_out_as_sidecars_only():
    config = SimpleNamespace(subtitles=SimpleNamespace(burn_in=False, soft_track=False))
    assert subtitled.plan(SimpleNamespace(subtitles={"fr": None}, descriptive=SimpleNamespace(language="en")),
                          config) == []


@pytest.mark.ffmpeg
def test_the_render_command_muxes_each_soft_track_into_its_own_version(tmp_path):
    from fractions import Fraction

    from pipeline.audio.loudness import GainPlan, Loudness
    from pipeline.deliverables import Deliverable, full_mix
    from pipeline.media.probe import VideoInfo
    from pipeline.render.commands import RenderInputs, build_render_command
    from pipeline.render.outputs import build_copy_command

    def version(language, picture):
        return Deliverable(f"subtitled-{language}", full_mix("en"), picture, "note",
                               language, soft_subtitles=True)

    specs = [Deliverable("master-clean", full_mix("en"), "encode", "note"),
             version("fr", "burn"), version("uk", "burn")]
    inputs = RenderInputs(tmp_path / "show.mov", VideoInfo(0, "h264", 640, 360, Fraction(25), "yuv420p"),
                          ["mix_l", "mix_r"], [None], 0.0, 4.0)
    gain = GainPlan(0.0, False, -1.0, Loudness(-23.0, -3.0, 5.0))
    soft = {"fr": tmp_path / "subtitles-fr.srt", "uk": tmp_path / "subtitles-uk.srt"}
    command = build_render_command(inputs, specs, gain, load_config(), tmp_path, "a", {}, subtitle_files=soft).command
    inputs_given = [command[i + 1] for i, arg in enumerate(command) if arg == "-i"]
    assert inputs_given == [f"file:{path}" for path in (inputs.master, soft["fr"], soft["uk"])]
    outputs = {name: [] for name in ("a_master-clean.mp4", "a_subtitled-fr.mp4", "a_subtitled-uk.mp4")}
    current: list[str] = []
    for arg in command[command.index("-filter_complex") + 2:]:
        if arg.endswith(".mp4"):
            outputs[arg.rsplit("/", 1)[-1]] = current
            current = []
        else:
            current.append(arg)
    assert "mov_text" not in outputs["a_master-clean.mp4"]
    for name, index in (("a_subtitled-fr.mp4", 1), ("a_subtitled-uk.mp4", 2)):
        args = outputs[name]
        assert args[args.index(f"{index}:s:0") - 1] == "-map" and args[args.index("-c:s") + 1] == "mov_text"
    copy = build_copy_command(tmp_path / "clean.mp4", tmp_path / "out.mp4", [], load_config().profiles["web"],
                              tracks_file=tmp_path / "me.m4a", subtitle_source=soft["fr"])
    assert ["-map", "2:s:0", "-c:s", "mov_text"] == copy[copy.index("2:s:0") - 1:copy.index("2:s:0") + 3]


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_soft_track_only_version_is_the_clean_picture_with_a_tagged_subtitle_track(tmp_path):
    cues = srt(("00:00:00,500", "00:00:01,700", "<i>Dobar dan,</i> gledaoci."),
               ("00:00:02,000", "00:00:03,300", "Šta ima novo?"))
    package = make_package(tmp_path / "package", {"sr-Latn": cues})
    report = render_package(package, tmp_path / "out", load_config(config_file(tmp_path, False, True)))
    assert {item.key: item.state for item in report.deliverables}["subtitled-sr-Latn"] == "delivered"
    version = report.folder / "subtitle-test_subtitled-sr-Latn.mp4"
    clean = report.folder / "subtitle-test_master-clean.mp4"
    with av.open(str(version)) as container:
        assert container.metadata["subtitle_language"] == "sr-Latn", "the BCP 47 tag, whole"
        [track] = container.streams.subtitles
        assert track.codec_context.name == "mov_text"
        assert track.metadata["language"] == "srp", "ISO 639-2 in the MP4 track header"
        assert "sr-Latn" in track.metadata.get("handler_name", "")
    assert soft_track_cues(version) == srt_cues(report.folder / "subtitle-test.sr-Latn.srt")
    assert [text for *_, text in soft_track_cues(version)] == ["<i>Dobar dan,</i> gledaoci.", "Šta ima novo?"]
    # Nothing burned in, nothing encoded twice: the clean master's picture, packet for packet.
    assert picture_packets(version) == picture_packets(clean)


# ---------------------------------------------------------------------------------------------
# Line-up, sidecars and languages that cannot render, through the CLI

LINE_UP = "programme_start: 1.0\n"  # the first second of the master is bars and a slate
GOOD = srt(("00:00:00,500", "00:00:01,400", "Straddles the start of the programme"),
           ("00:00:02,000", "00:00:03,000", "<b>Well</b> inside"),
           ("00:00:03,500", "00:00:05,000", "Runs past the end"))
IN_LINE_UP_ONLY = srt(("00:00:00,100", "00:00:00,900", "Slate"))


@pytest.fixture(scope="module")
def rendered_with_line_up(tmp_path_factory, fast_config):
    root = tmp_path_factory.mktemp("line-up")
    package = make_package(root / "package", {"en": GOOD, "fr": IN_LINE_UP_ONLY, "de": ""},
                           metadata=LINE_UP)
    result = run_versioner("render", str(package), "--out", str(root / "out"), "--config", str(fast_config))
    return root / "out" / "subtitle-test", result


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_language_that_cannot_render_fails_alone_and_is_named(rendered_with_line_up):
    folder, result = rendered_with_line_up
    assert result.returncode == 1, result.stdout + result.stderr
    failed = {line.split()[1]: line for line in result.stdout.splitlines() if line.strip().startswith("FAILED")}
    assert set(failed) == {"subtitled-fr", "subtitled-de"}, result.stdout
    assert "show.fr.srt: every cue lies outside the programme" in failed["subtitled-fr"]
    assert "show.de.srt: is empty: it has no cue" in failed["subtitled-de"]
    for key in ("master-clean", "international", "subtitled-en"):
        assert (folder / f"subtitle-test_{key}.mp4").exists(), f"{key} should still be delivered"
    assert not list(folder.glob("subtitle-test_subtitled-fr*")) and not list(folder.glob("subtitle-test.de.*"))


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_sidecars_are_shifted_like_the_picture(rendered_with_line_up):
    folder, _ = rendered_with_line_up
    # Programme time = master time - 1 s, clipped to the 3 s programme, snapped to 25 fps frames.
    assert srt_cues(folder / "subtitle-test.en.srt") == [
        (0, 400, "Straddles the start of the programme"),
        (1000, 2000, "<b>Well</b> inside"),
        (2520, 3000, "Runs past the end"),
    ]
    rows = slice(200, 360)
    clean = luma_frames(folder / "subtitle-test_master-clean.mp4", rows)
    burned = luma_frames(folder / "subtitle-test_subtitled-en.mp4", rows)
    inked = ((burned > 160) & (clean < 120)).sum(axis=(1, 2)) > 20
    assert len(inked) == 75, "the programme is 3 s at 25 fps"
    assert np.flatnonzero(inked).tolist() == [*range(0, 10), *range(25, 50), *range(63, 75)]


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_the_webvtt_sidecar_parses_and_matches_the_srt_cue_for_cue(rendered_with_line_up):
    folder, _ = rendered_with_line_up
    captions = webvtt.read(str(folder / "subtitle-test.en.vtt"))
    cues = pysrt.open(str(folder / "subtitle-test.en.srt"), encoding="utf-8")
    assert len(captions) == len(cues) == 3
    for caption, cue in zip(captions, cues):
        assert caption.start == str(cue.start).replace(",", ".")
        assert caption.end == str(cue.end).replace(",", ".")
        assert html.unescape(caption.text) == cue.text_without_tags
    assert (folder / "subtitle-test.en.vtt").read_bytes().startswith(b"WEBVTT\n")

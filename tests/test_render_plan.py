"""The render sits on the floor of docs/design.md section 9: one ffmpeg process decodes the master
once and encodes the picture once per picture that differs (the clean master and each burned-in
language), the international version reuses the clean master's encoded picture, and a master
whose picture already meets the delivery profile is not encoded at all when the config allows.

The plan is checked on the command the pure builder returns; the real renders (small masters
made here) check what a technician would: which ffmpeg runs encoded a picture, and whether two
files carry the very same encoded picture (their video packets compared byte for byte)."""

from __future__ import annotations

import base64
import io
import shlex
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from pipeline.audio import loudness
from pipeline.audio.loudness import GainPlan, Loudness
from pipeline.config import load_config
from pipeline.deliverables import MUSIC_AND_EFFECTS, Deliverable, full_mix
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.media.probe import AudioInfo, VideoInfo
from pipeline.render.commands import RenderInputs, build_render_command, encoder_threads, picture_copy_blockers
from pipeline.render.sheet_frames import THUMBNAIL_COLUMNS, THUMBNAIL_WIDTH, frame_at
from pipeline.sequence import render_package

SPECS = [
    Deliverable("master-clean", full_mix("en"), "encode", "clean"),
    Deliverable("international", MUSIC_AND_EFFECTS, "copy-clean", "international"),
    Deliverable("subtitled-en", full_mix("en"), "burn", "en", "en"),
    Deliverable("subtitled-fr", full_mix("en"), "burn", "fr", "fr"),
]
GAIN = GainPlan(-2.0, False, -2.0, Loudness(-21.0, -6.0, 4.0))


def _inputs(master: Path, video: VideoInfo, start_s: float = 0.0, duration_s: float = 60.0,
            master_duration_s: float = 60.0) -> RenderInputs:
    streams = [AudioInfo(1, "pcm_s24le", 2, 48000, "Full mix"), AudioInfo(2, "pcm_s24le", 2, 48000, "M&E")]
    return RenderInputs(master, video, ["mix_l", "mix_r", "me_l", "me_r"], streams, start_s, duration_s,
                        master_duration_s=master_duration_s)


PRORES_1080 = VideoInfo(0, "prores", 1920, 1080, Fraction(25), "yuv422p10le", "Standard")
H264_1080 = VideoInfo(0, "h264", 1920, 1080, Fraction(25), "yuv420p", "High")


def _config(tmp_path: Path, text: str = ""):
    path = tmp_path / "render.toml"
    path.write_text(text)
    return load_config(path)


def _outputs(command: list[str]) -> dict[str, list[str]]:
    """Each output file of a command (by name) with the options given for it."""
    start = command.index("-filter_complex") + 2
    outputs, options = {}, []
    for arg in command[start:]:
        if arg.endswith((".mp4", ".m4a")):
            outputs[Path(arg).name], options = options, []
        else:
            options.append(arg)
    return outputs


@pytest.mark.ffmpeg
def test_a_two_language_package_renders_in_one_ffmpeg_process_with_a_split_graph(tmp_path):
    plan = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), SPECS, GAIN, _config(tmp_path),
                                tmp_path, "show", {}, cores=2)
    command = plan.command
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "-i"] == [f"file:{tmp_path / 'show.mov'}"]
    graph = command[command.index("-filter_complex") + 1]
    assert graph.count("[0:v]") == 1 and "split=3[v0][v1][v2]" in graph  # one decode, three pictures
    assert "ass=filename=subtitles-en.ass" in graph and "ass=filename=subtitles-fr.ass" in graph
    outputs = _outputs(command)
    assert sorted(outputs) == ["me-audio.m4a", "show_master-clean.mp4", "show_subtitled-en.mp4",
                               "show_subtitled-fr.mp4"]
    assert command.count("libx264") == 3 == plan.video_encodes
    assert "-c:v" not in outputs["me-audio.m4a"]
    # The international version is no encode: it is muxed from the clean master's picture.
    mux = plan.mux_commands["international"]
    assert [mux[i + 1] for i, arg in enumerate(mux) if arg == "-i"] == [
        f"file:{tmp_path / 'show_master-clean.mp4'}", f"file:{tmp_path / 'me-audio.m4a'}"]
    assert "-c" in mux and mux[mux.index("-c") + 1] == "copy" and "libx264" not in mux
    # Three encodes on two cores: one thread each.
    assert all(options[options.index("-threads") + 1] == "1"
               for name, options in outputs.items() if name.endswith(".mp4"))


def test_the_render_cuts_each_encoded_pictures_contact_sheet_from_its_own_decode(tmp_path):
    times = {"master-clean": [0.5, 1.5], "international": [0.5, 1.5], "subtitled-en": [1.0, 1.01, 2.0],
             "subtitled-fr": [0.25]}
    plan = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), SPECS, GAIN, _config(tmp_path),
                                tmp_path, "show", {}, cores=2, sheet_times=times, sheet_folder=tmp_path / "sheets")
    graph = plan.command[plan.command.index("-filter_complex") + 1]
    # Each encoded picture is tapped once on its way to its encoder; the frames shown at the
    # times (25 fps: 1.0 and 1.01 s are one frame, shown once), tiled four to a row. The first
    # frame goes through too (ffmpeg reports no progress before every output has a frame), and
    # the tile slides: its last picture holds the sheet's frames alone.
    assert "[v0]split=2[v0_enc][v0_sheet0]" in graph and "-map" in plan.command
    assert "[v0_sheet0]select='eq(n\\,0)+eq(n\\,12)+eq(n\\,37)'" in graph
    assert ("select='eq(n\\,0)+eq(n\\,25)+eq(n\\,50)',scale=240:'max(2\\,trunc(240/dar/2+0.5)*2)',setsar=1,"
            "tile=2x1:nb_frames=2:overlap=1:init_padding=1") in graph
    assert "select='eq(n\\,0)+eq(n\\,6)',scale=" in graph and "tile=1x1:nb_frames=1:overlap=0:init_padding=0" in graph
    assert plan.sheets["subtitled-en"].times == (1.0, 2.0)
    # The international version carries the clean picture by stream copy: the same sheet.
    assert plan.sheets["international"] == plan.sheets["master-clean"]
    assert plan.sheets["master-clean"].png == tmp_path / "sheets" / "master-clean.png"
    pngs = [plan.command[index - 1] for index, arg in enumerate(plan.command) if arg.endswith(".png")]
    assert pngs == ["1"] * 3 and plan.command.count("-update") == 3
    # The encoders take the tapped pictures.
    assert "[v0_enc]" in plan.command and "[v0]" not in plan.command


def test_the_render_cuts_each_players_poster_frame_from_its_own_decode_too(tmp_path):
    posters = {"master-clean": 0.3, "international": 0.3, "subtitled-en": 0.3}  # subtitled-fr: none asked
    plan = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), SPECS, GAIN, _config(tmp_path),
                                tmp_path, "show", {}, cores=2, sheet_times={}, sheet_folder=tmp_path / "sheets",
                                poster_times=posters)
    graph = plan.command[plan.command.index("-filter_complex") + 1]
    # The frame shown at 0.3 s (25 fps: frame 7), the first frame through too, at the display
    # shape and at most POSTER_WIDTH wide; the JPEG keeps the last one written.
    assert "[v0]split=2[v0_enc][v0_poster0]" in graph
    assert ("[v0_poster0]select='eq(n\\,0)+eq(n\\,7)',scale='min(960\\,trunc(iw*sar/2)*2)':"
            "'max(2\\,trunc(ow/dar/2+0.5)*2)',setsar=1[v0_poster0_scaled]") in graph
    # The international version plays the clean picture by stream copy: the same poster frame.
    assert plan.posters["international"] == plan.posters["master-clean"] == tmp_path / "sheets" / "master-clean-poster.jpg"
    assert set(plan.posters) == {"master-clean", "international", "subtitled-en"}
    jpgs = [index for index, arg in enumerate(plan.command) if arg.endswith("-poster.jpg")]
    assert len(jpgs) == 2 and all(plan.command[index - 1] == "1" and plan.command[index - 3] == "4" for index in jpgs)


def test_parallel_encodes_share_the_cores_instead_of_each_taking_them_all():
    assert encoder_threads(cores=2, video_encodes=3) == encoder_threads(cores=2, video_encodes=2) == 1
    assert encoder_threads(cores=2, video_encodes=1) == 3  # alone: x264's own 1.5 threads per core
    assert encoder_threads(cores=8, video_encodes=3) == 4
    for cores in (1, 2, 4, 16, 64):
        for encodes in (1, 2, 3, 5, 9):
            total = encoder_threads(cores, encodes) * encodes
            # Never more than x264 would start for one encode (plus one per encode of rounding),
            # and with fewer encodes than cores, enough threads to keep every core busy.
            assert total <= max(encodes, 1.5 * cores + encodes), (cores, encodes)
            if encodes < cores:
                assert total >= cores, (cores, encodes)


def test_the_master_picture_is_copied_only_when_it_already_meets_the_delivery_profile(tmp_path):
    allowed = _config(tmp_path, "[profiles.web]\nallow_stream_copy = true\n").profiles["web"]
    master = tmp_path / "show.mov"
    assert picture_copy_blockers(_inputs(master, H264_1080), allowed) == []
    assert picture_copy_blockers(_inputs(master, H264_1080), load_config().profiles["web"]) == [
        "allow_stream_copy is false"]
    refused = {
        "prores": _inputs(master, PRORES_1080),
        "main profile": _inputs(master, VideoInfo(0, "h264", 1920, 1080, Fraction(25), "yuv420p", "Main")),
        "10 bit": _inputs(master, VideoInfo(0, "h264", 1920, 1080, Fraction(25), "yuv420p10le", "High 10")),
        "UHD": _inputs(master, VideoInfo(0, "h264", 3840, 2160, Fraction(25), "yuv420p", "High")),
        "line-up cut": _inputs(master, H264_1080, start_s=10.0, duration_s=50.0),
        "tail cut": _inputs(master, H264_1080, duration_s=50.0),
    }
    for case, inputs in refused.items():
        assert picture_copy_blockers(inputs, allowed), case


@pytest.mark.ffmpeg
def test_a_copied_master_picture_leaves_only_the_burned_languages_to_encode(tmp_path):
    config = _config(tmp_path, "[profiles.web]\nallow_stream_copy = true\n")
    plan = build_render_command(_inputs(tmp_path / "show.mov", H264_1080), SPECS, GAIN, config, tmp_path,
                                "show", {}, cores=2)
    outputs = _outputs(plan.command)
    assert sorted(outputs) == ["show_international.mp4", "show_master-clean.mp4", "show_subtitled-en.mp4",
                               "show_subtitled-fr.mp4"]
    for name in ("show_master-clean.mp4", "show_international.mp4"):
        options = outputs[name]
        assert options[:4] == ["-map", "0:0", "-c:v", "copy"] and "libx264" not in options
    assert plan.video_encodes == 2 and plan.command.count("libx264") == 2 and not plan.mux_commands
    graph = plan.command[plan.command.index("-filter_complex") + 1]
    assert "split=2[v0][v1]" in graph


@pytest.mark.ffmpeg
def test_sound_encoded_once_by_the_loudness_trial_is_copied_into_every_deliverable(tmp_path):
    sound = {"mix": tmp_path / "mix.m4a", "me": tmp_path / "me.m4a"}
    plan = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), SPECS, GAIN, _config(tmp_path),
                                tmp_path, "show", {}, cores=2, encoded_sound=sound)
    command = plan.command
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "-i"] == [
        f"file:{tmp_path / 'show.mov'}", f"file:{sound['mix']}"]
    assert "aac" not in command and "asplit" not in command[command.index("-filter_complex") + 1]
    outputs = _outputs(command)
    assert sorted(outputs) == ["show_master-clean.mp4", "show_subtitled-en.mp4", "show_subtitled-fr.mp4"]
    for options in outputs.values():
        assert options[options.index("1:a:0") - 1] == "-map" and options[options.index("-c:a") + 1] == "copy"
    mux = plan.mux_commands["international"]  # the trial's M&E muxed with the clean master's picture as it is
    assert [mux[i + 1] for i, arg in enumerate(mux) if arg == "-i"] == [
        f"file:{tmp_path / 'show_master-clean.mp4'}", f"file:{sound['me']}"]


# ---- real renders ---------------------------------------------------------------------------

def make_master(path: Path, seconds: float = 3.0) -> Path:
    """A master as an edit suite exports it for the web: H.264 High 4:2:0, full mix and M&E.
    (x264 names the lowest profile its tools need: "ultrafast" would make Constrained Baseline.)"""
    music, voice = "0.08*sin(2*PI*220*t)", "0.15*sin(2*PI*700*t)*(0.5+0.5*sin(2*PI*3*t))"
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={music}+{voice}|{music}+{voice}:s=48000:d={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={music}|{music}:s=48000:d={seconds}",
               "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "veryfast",
               "-profile:v", "high", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le",
               "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return path


@pytest.fixture
def package(tmp_path) -> Path:
    folder = tmp_path / "package"
    folder.mkdir()
    make_master(folder / "show.mov")
    (folder / "show.en.srt").write_text("1\n00:00:00,500 --> 00:00:02,000\nThe bridge reopened.\n")
    (folder / "show.fr.srt").write_text("1\n00:00:00,500 --> 00:00:02,000\nLe pont a rouvert.\n")
    (folder / "metadata.yaml").write_text("title: Render plan\nasset_id: render-plan\nlanguage: en\n")
    return folder


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(video=0) if packet.size]


def picture_encodes(ffmpeg_commands) -> list[str]:
    """The ffmpeg commands the render logged that encoded a picture, as shell lines."""
    return [shlex.join(command) for command in ffmpeg_commands() if "libx264" in command]


@pytest.mark.ffmpeg
def test_the_international_version_carries_the_clean_masters_encoded_picture(package, tmp_path, fast_config,
                                                                           ffmpeg_commands):
    report = render_package(package, tmp_path / "out", load_config(fast_config))
    assert report.exit_code == 0, [item.reason for item in report.failed]
    files = {item.key: report.folder / item.file for item in report.deliverables}
    clean, international = video_packets(files["master-clean"]), video_packets(files["international"])
    assert len(clean) == 75 and clean == international
    assert clean != video_packets(package / "show.mov")  # encoded: stream copy is off by default
    encodes = picture_encodes(ffmpeg_commands)
    assert len(encodes) == 1 and encodes[0].count("libx264") == 3  # clean, en, fr: one process
    assert " aac " not in encodes[0]  # the sound was encoded once, by the loudness trial
    for item in report.deliverables:  # the loudness reported is the delivered file's
        measured = loudness.measure_file(files[item.key])
        assert item.loudness["integrated_lufs"] == pytest.approx(measured.integrated_lufs, abs=0.05), item.key


def sheet_tiles(uri: str, count: int) -> list[np.ndarray]:
    """The thumbnails of a contact sheet (a PNG data URI), in order."""
    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split("base64,")[1]))).convert("RGB"), float)
    columns = min(count, THUMBNAIL_COLUMNS)
    height = sheet.shape[0] // -(-count // columns)
    return [sheet[row * height:(row + 1) * height, column * THUMBNAIL_WIDTH:(column + 1) * THUMBNAIL_WIDTH]
            for row, column in (divmod(index, columns) for index in range(count))]


def thumbnails(path: Path, size: tuple[int, int]) -> list[np.ndarray]:
    """Every frame of a file's picture, as a thumbnail of `size`."""
    with av.open(str(path)) as container:
        return [np.asarray(frame.to_image().resize(size, Image.BICUBIC), float) for frame in container.decode(video=0)]


@pytest.mark.ffmpeg
def test_each_sheet_shows_the_frames_its_file_shows_at_its_times(package, tmp_path, fast_config, ffmpeg_commands):
    report = render_package(package, tmp_path / "out", load_config(fast_config))
    assert report.exit_code == 0, [item.reason for item in report.failed]
    assert not [command for command in ffmpeg_commands() if "xstack" in " ".join(command)], \
        "a sheet was cut from a file: the render cuts every encoded picture's"
    sheets = {item.key: item.contact_sheet for item in report.deliverables}
    assert sheets["international"].uri == sheets["master-clean"].uri
    for item in report.deliverables:
        sheet = sheets[item.key]
        assert sheet is not None and sheet.uri and len(sheet.times) == 8, item.key
        frames = thumbnails(report.folder / item.file, (THUMBNAIL_WIDTH, 136))
        for time, tile in zip(sheet.times, sheet_tiles(sheet.uri, len(sheet.times))):
            shown = frame_at(time, 25)
            # the frame shown at that time, not its neighbour (the test pattern moves every frame)
            distance = {n: np.abs(tile - frames[n]).mean() for n in (shown - 1, shown, shown + 1)
                        if 0 <= n < len(frames)}
            assert min(distance, key=distance.get) == shown and distance[shown] < 8, (item.key, time, distance)
    # The subtitled sheet shows a frame inside the cue (0.5-2.0 s), with its text burned in.
    middle = min(sheets["subtitled-en"].times, key=lambda time: abs(time - 1.25))  # the cue's, frame-snapped
    assert middle == pytest.approx(1.25, abs=0.05)
    clean_file = report.folder / next(item.file for item in report.deliverables if item.key == "master-clean")
    tile = sheet_tiles(sheets["subtitled-en"].uri, 8)[sheets["subtitled-en"].times.index(middle)]
    burned = np.abs(tile - thumbnails(clean_file, (THUMBNAIL_WIDTH, 136))[frame_at(middle, 25)])
    assert burned.max() > 100


@pytest.mark.ffmpeg
def test_a_master_meeting_the_profile_is_copied_and_only_the_subtitles_are_encoded(package, tmp_path,
                                                                                  ffmpeg_commands):
    config_file = tmp_path / "copy.toml"
    config_file.write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\nallow_stream_copy = true\n')
    report = render_package(package, tmp_path / "out", load_config(config_file))
    assert report.exit_code == 0, [item.reason for item in report.failed]
    files = {item.key: report.folder / item.file for item in report.deliverables}
    master = video_packets(package / "show.mov")
    assert video_packets(files["master-clean"]) == master == video_packets(files["international"])
    for language in ("en", "fr"):
        burned = video_packets(files[f"subtitled-{language}"])
        assert len(burned) == len(master) and burned != master
    encodes = picture_encodes(ffmpeg_commands)
    assert len(encodes) == 1 and encodes[0].count("libx264") == 2
    # The copied picture was not decoded by the render: its sheet is cut from a file, once for
    # the two files that carry it (from whichever was read back first); the burned pictures'
    # come from the render.
    cut = [" ".join(command) for command in ffmpeg_commands() if "xstack" in " ".join(command)]
    assert len(cut) == 1 and (files["master-clean"].name in cut[0] or files["international"].name in cut[0])
    assert all(item.contact_sheet.uri for item in report.deliverables)

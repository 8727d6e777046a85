"""Delivery profiles: the broadcast MXF (XDCAM HD422) and the ProRes mezzanine beside the web
MP4, every picture from one decode of the master in one ffmpeg command, each file read back.

The builder tests check the command; one real render of a 3 s master reads the files back as a
playout house's ingest would: codec, profile, level, bit rate, field flags, tracks, timecode,
and which sound is on which track (correlation with the master's own channels)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pyloudnorm
import pytest

from pipeline.audio.loudness import Loudness, plan_gain
from pipeline.config import load_config
from pipeline.deliverables.profiles import in_profiles, track_sounds
from pipeline.errors import ConfigError
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.render.commands import build_render_command
from pipeline.sequence import render_package
from tests.test_render_plan import GAIN, PRORES_1080, SPECS, _inputs

THREE = ["web", "broadcast", "mezzanine"]


def _three_profile_specs(config):
    specs = list(SPECS)
    for name in ("broadcast", "mezzanine"):
        tracks = track_sounds(config.profiles[name], "en", has_me=True)
        specs += [dataclasses.replace(spec, profile=name, sound=tracks[0], tracks=tracks, profile_in_key=True,
                                      container=config.profiles[name].container) for spec in SPECS
                  if spec.picture != "copy-clean"]
    return specs


def _output_options(command: list[str], suffix: str) -> list[list[str]]:
    """The options of each output whose file name ends with `suffix`."""
    start = command.index("-filter_complex") + 2
    found, options = [], []
    for arg in command[start:]:
        if arg.endswith((".mp4", ".m4a", ".mxf", ".mov")):
            if arg.endswith(suffix):
                found.append(options)
            options = []
        else:
            options.append(arg)
    return found


def test_three_profiles_take_every_picture_from_one_decode_of_the_master(tmp_path):
    config = load_config(profiles=THREE)
    plan = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), _three_profile_specs(config), GAIN,
                                config, tmp_path, "show", {}, cores=2)
    command = plan.command
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "-i"] == [f"file:{tmp_path / 'show.mov'}"]
    graph = command[command.index("-filter_complex") + 1]
    assert graph.count("[0:v]") == 1 and "[0:v]split=3[vsrc0][vsrc1][vsrc2]" in graph  # one decode, 3 conforms
    assert "format=yuv422p,setfield=tff,split=3" in graph  # broadcast: PsF of the progressive master
    assert "bwdif" not in graph
    written = [path.name for key, path in plan.outputs.items() if key not in plan.mux_commands]
    assert sorted(written) == sorted(
        [f"show_{version}{suffix}" for version in ("master-clean", "subtitled-en", "subtitled-fr")
         for suffix in (".mp4", "_broadcast.mxf", "_mezzanine.mov")])
    assert [path.name for key, path in plan.outputs.items() if key in plan.mux_commands] == ["show_international.mp4"]
    assert plan.video_encodes == 9
    for options in _output_options(command, "_broadcast.mxf"):
        text = " ".join(options)
        assert ("-c:v mpeg2video" in text and "-pix_fmt yuv422p" in text and "-b:v 50000000 -minrate 50000000 "
                "-maxrate 50000000 -bufsize 17825792" in text and "-profile:v 0 -level:v 2" in text
                and "-flags +ildct+ilme" in text and "-g 12 -bf 2" in text)
        assert options.count("-map") == 9 and "-c:a pcm_s24le -ar 48000" in text  # picture + 8 mono tracks
    for options in _output_options(command, "_mezzanine.mov"):
        text = " ".join(options)
        assert "-c:v prores_ks" in text and "-profile:v 3" in text and "-pix_fmt yuv422p10le" in text
        assert options.count("-map") == 3 and "-c:a pcm_s24le" in text  # picture, mix, M&E
    # PCM needs no trial encode: the profiles' sound is the gained mix and M&E from the graph.
    assert "volume=-2.00dB" in graph


def test_an_interlaced_master_keeps_its_fields_in_the_broadcast_profile(tmp_path):
    config = load_config(profiles=["broadcast"])
    interlaced = dataclasses.replace(PRORES_1080, field_order="bff")
    specs = [spec for spec in _three_profile_specs(config) if spec.profile == "broadcast"]
    command = build_render_command(_inputs(tmp_path / "show.mov", interlaced), specs, GAIN, config, tmp_path,
                                   "show", {}, cores=2).command
    graph = command[command.index("-filter_complex") + 1]
    assert "bwdif" not in graph and "fieldorder=tff" in graph and "setfield=tff" in graph


@pytest.mark.parametrize("text, key, words", [
    ('[profiles.broadcast]\nvideo_codec = "dnxhd"\n', "profiles.broadcast.video_codec", "libx264"),
    ('[profiles.broadcast]\nbit_rate = "400M"\n', "profiles.broadcast", "over what mpeg2video allows"),
    ('[profiles.broadcast]\nwidth = 3840\nheight = 2160\n', "profiles.broadcast", "up to 1920x1152"),
    ('[profiles.broadcast.audio]\nallocation = ["mix", "dialogue"]\n', "profiles.broadcast.audio.allocation.1",
     "'mix', 'me', 'mix51', 'me51' or 'silent'"),
    ('[profiles.mezzanine]\nbit_rate = "100M"\n', "profiles.mezzanine", "ProRes has no bit rate"),
    ('[outputs]\nprofiles = ["web", "dvd"]\n', "-", "no profile 'dvd' (allowed: web, broadcast, mezzanine)"),
    ('[outputs.international]\nprofiles = ["playout"]\n', "-", "outputs.international.profiles"),
])
def test_a_bad_profile_config_is_refused_with_the_file_the_key_and_the_allowed_values(tmp_path, text, key, words):
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key and caught.value.path == str(path)
    assert words in str(caught.value)


def _submission(video=PRORES_1080, roles=("mix_l", "mix_r", "me_l", "me_r")):
    """What planning reads of a checked package."""
    return SimpleNamespace(media=SimpleNamespace(video=video), descriptive=SimpleNamespace(language="en"),
                           layout=SimpleNamespace(roles=list(roles)))


def test_each_version_goes_out_in_the_profiles_of_outputs_and_its_own_override(tmp_path):
    path = tmp_path / "outputs.toml"
    path.write_text('[outputs]\nprofiles = ["web", "mezzanine"]\n[outputs.international]\nprofiles = ["broadcast"]\n')
    deliverables, failures = in_profiles(SPECS, {}, _submission(), load_config(path))
    assert sorted(item.key for item in deliverables) == [
        "international_broadcast", "master-clean", "master-clean_mezzanine", "subtitled-en",
        "subtitled-en_mezzanine", "subtitled-fr", "subtitled-fr_mezzanine"] and not failures
    assert [item.filename("show") for item in deliverables if item.key == "master-clean_mezzanine"] == [
        "show_master-clean_mezzanine.mov"]
    thirty = dataclasses.replace(PRORES_1080, fps=Fraction(30000, 1001))
    path.write_text('[profiles.broadcast]\nframe_rate_conversion = "refuse"\n')
    _, failures = in_profiles(SPECS, {}, _submission(thirty), load_config(path, profiles=["broadcast"]))
    assert "the broadcast profile is 25 frames/s and the master 29.97" in failures["master-clean_broadcast"]


def test_a_master_without_an_me_gets_no_broadcast_file_and_says_why():
    config = load_config(profiles=THREE)
    assert "has none" in track_sounds(config.profiles["broadcast"], "en", has_me=False)
    mezzanine = track_sounds(config.profiles["mezzanine"], "en", has_me=False)
    assert [sound.signal for sound in mezzanine] == ["mix"]  # the M&E pair dropped


def _make_master(path: Path, seconds: float = 2.0) -> Path:
    """A 25 fps master with a full mix (music + voice) and an M&E (music) and a start timecode."""
    music, voice = "0.08*sin(2*PI*220*t)", "0.15*sin(2*PI*700*t)*(0.5+0.5*sin(2*PI*3*t))"
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={music}+{voice}|{music}+{voice}:s=48000:d={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={music}|{music}:s=48000:d={seconds}",
               "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "veryfast",
               "-profile:v", "high", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", "-timecode", "10:00:00:00",
               "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return path


def _tracks(path: Path) -> np.ndarray:
    """Every audio stream as one row of float samples."""
    with av.open(str(path)) as container:
        rows = []
        for stream in container.streams.audio:
            planar = av.AudioResampler(format="fltp")  # packed or planar, 16 or 24 bit: one row per channel
            frames = [out.to_ndarray().astype(np.float64) for frame in container.decode(stream)
                      for out in planar.resample(frame)]
            rows.append(np.concatenate(frames, axis=1))
            container.seek(0)
    length = min(row.shape[1] for row in rows)
    return np.concatenate([row[:, :length] for row in rows])


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    length = min(len(a), len(b))
    a, b = a[:length] - a[:length].mean(), b[:length] - b[:length].mean()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))


@pytest.mark.ffmpeg
def test_the_sample_renders_in_all_three_profiles_and_each_file_reads_back_as_its_profile(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    master = _make_master(package / "show.mov")
    (package / "metadata.yaml").write_text("title: Profiles\nasset_id: profiles\nlanguage: en\n")
    (tmp_path / "fast.toml").write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\n'
                                        '[outputs]\nprofiles = ["web", "broadcast", "mezzanine"]\n')
    report = render_package(package, tmp_path / "out", load_config(tmp_path / "fast.toml"))
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    files = {item.key: report.folder / item.file for item in report.deliverables}
    assert sorted(path.name for path in files.values()) == [
        "profiles_international.mp4", "profiles_international_broadcast.mxf", "profiles_international_mezzanine.mov",
        "profiles_master-clean.mp4", "profiles_master-clean_broadcast.mxf", "profiles_master-clean_mezzanine.mov"]
    mxf = files["master-clean_broadcast"]
    with av.open(str(mxf)) as container:
        video = container.streams.video[0].codec_context
        assert container.format.name == "mxf" and container.metadata["timecode"] == "10:00:00:00"
        assert (video.name, video.profile, video.level, video.pix_fmt) == ("mpeg2video", "4:2:2", 2, "yuv422p")
        assert (video.width, video.height, int(video.field_order)) == (1920, 1080, 2)  # 2: top field first
        bits = sum(packet.size for packet in container.demux(video=0)) * 8
        assert bits / 2.0 == pytest.approx(50e6, rel=0.05)
        audio = [(stream.codec_context.name, stream.codec_context.channels, stream.codec_context.sample_rate)
                 for stream in container.streams.audio]
        assert audio == [("pcm_s24le", 1, 48000)] * 8
    delivered, source = _tracks(mxf), _tracks(master)  # source rows: mix L, mix R, M&E L, M&E R
    for track, channel in ((0, 0), (1, 1), (2, 2), (3, 3)):
        assert _correlation(delivered[track], source[channel]) > 0.99, track
    assert _correlation(delivered[0], source[2]) < 0.9  # the mix is not the M&E
    assert np.abs(delivered[4:]).max() == 0.0  # 5-8 silent
    mov = files["master-clean_mezzanine"]
    with av.open(str(mov)) as container:
        video = container.streams.video[0].codec_context
        assert (video.name, video.profile, video.pix_fmt) == ("prores", "HQ", "yuv422p10le")
        assert [(stream.codec_context.name, stream.codec_context.channels) for stream in container.streams.audio] \
            == [("pcm_s24le", 2)] * 2
    by_key = {item.key: item for item in report.deliverables}
    mezzanine_tracks = _tracks(mov)
    assert _correlation(mezzanine_tracks[2], source[2]) > 0.99  # the M&E as the second stereo track
    assert by_key["master-clean_mezzanine"].technical.video["profile"] == "HQ"
    assert [stream["roles"] for stream in by_key["international_broadcast"].technical.audio] == [
        ["mix_l"], ["mix_r"], ["me_l"], ["me_r"]] + [["mute"]] * 4
    for key in ("master-clean_broadcast", "international_mezzanine"):
        assert by_key[key].loudness["tracks"]["mix"]["integrated_lufs"] == pytest.approx(-23.0, abs=0.5)
        assert by_key[key].loudness["tracks"]["me"]["integrated_lufs"] < -23.5
    sums = (report.folder / "SHA256SUMS").read_text()
    ebucore = next(report.folder.glob("*_ebucore.xml")).read_text()
    qc_report = next(report.folder.glob("*_qc.html")).read_text()
    for path in files.values():
        assert path.name in sums and path.name in qc_report
        assert path.stem.removeprefix("profiles_") in ebucore


def test_an_unknown_profile_on_the_command_line_is_refused_before_anything_runs(tmp_path):
    from tests.conftest import SAMPLE, run_versioner

    result = run_versioner("render", str(SAMPLE), "--out", str(tmp_path), "--profiles", "web,dvd")
    assert result.returncode == 2
    assert "--profiles: [dvd] no such delivery profile (allowed: web, broadcast, mezzanine)" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.ffmpeg
def test_an_interlaced_master_goes_out_in_broadcast_alone_with_its_fields_and_no_aac(tmp_path, ffmpeg_commands):
    package = tmp_path / "package"
    package.mkdir()
    music = "0.08*sin(2*PI*220*t)"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=2",
                    "-f", "lavfi", "-i", f"aevalsrc={music}+0.1*sin(2*PI*700*t)|{music}:s=48000:d=2",
                    "-f", "lavfi", "-i", f"aevalsrc={music}|{music}:s=48000:d=2",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-vf", "setfield=tff",
                    "-c:v", "mpeg2video", "-b:v", "20M", "-flags", "+ildct+ilme", "-pix_fmt", "yuv422p",
                    "-c:a", "pcm_s24le", "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E",
                    str(package / "news.mov")], check=True, capture_output=True, timeout=120)
    (package / "metadata.yaml").write_text("title: Fields\nasset_id: fields\nlanguage: en\n")
    report = render_package(package, tmp_path / "out", load_config(profiles=["broadcast"]))
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    assert sorted(item.file for item in report.deliverables) == ["fields_international_broadcast.mxf",
                                                                 "fields_master-clean_broadcast.mxf"]
    source = json.loads(report.metadata_file.read_text())["source"]["technical"]["video"]
    assert source["field_order"] == "tff"  # the master was read as interlaced
    commands = [" ".join(command) for command in ffmpeg_commands()]
    assert not any("bwdif" in command for command in commands)  # the fields are never de-interlaced
    assert not any(" aac " in command for command in commands)  # PCM only: no AAC trial, no AAC encode
    with av.open(str(report.folder / "fields_master-clean_broadcast.mxf")) as container:
        video = container.streams.video[0].codec_context
        assert (video.profile, int(video.field_order), len(container.streams.audio)) == ("4:2:2", 2, 8)


def test_profiles_asked_at_submission_stay_with_the_package_for_the_night(tmp_path, monkeypatch):
    from pipeline.ops.lifecycle import DataRoot, PackageState, submit_package
    from tests.conftest import SAMPLE

    monkeypatch.setenv("VERSIONER_HOME", str(tmp_path / "home"))
    config = load_config(profiles=["web", "broadcast"])
    asset_id = submit_package(SAMPLE, config, profiles=["web", "broadcast"])
    landed = DataRoot.of(config).inbox / asset_id
    assert PackageState.read(landed, asset_id).profiles == ["web", "broadcast"]


PLAYOUT = """
[profiles.playout]
container = "mxf"
video_codec = "mpeg2video"
video_profile = "422"
level = "high"
pix_fmt = "yuv422p"
bit_rate = "50M"
gop = 12
b_frames = 2
width = 1920
height = 1080
scan = "interlaced"
frame_rate = "25"

[profiles.playout.audio]
tracks = "mono"
allocation = ["mix", "silent", "silent", "me"]
"""


def test_a_profile_with_the_same_picture_as_another_takes_it_by_stream_copy(tmp_path):
    path = tmp_path / "playout.toml"
    path.write_text(PLAYOUT + '[outputs]\nprofiles = ["broadcast", "playout"]\n')
    config = load_config(path)
    specs, _ = in_profiles([spec for spec in SPECS if spec.version == "master-clean"], {}, _submission(), config)
    plan = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), specs, GAIN, config, tmp_path,
                                "show", {}, cores=2)
    assert plan.command.count("mpeg2video") == 1 == plan.video_encodes  # one encode for both profiles
    mux = plan.mux_commands["master-clean_playout"]
    assert mux[-1] == str(tmp_path / "show_master-clean_playout.mxf")
    assert [mux[i + 1] for i, arg in enumerate(mux) if arg == "-i"] == [
        f"file:{tmp_path / 'show_master-clean_broadcast.mxf'}", f"file:{plan.scratch_files[0]}"]
    assert "copy" in mux and "mpeg2video" not in mux


ATSC_MEZZANINE = ('[profiles.mezzanine.loudness]\nstandard = "ATSC A/85"\ntarget_lufs = -24.0\n'
                  'tolerance_lu = 2.0\ntrue_peak_dbtp = -2.0\n')


def _graph_chain(graph: str, label: str) -> str:
    return next(chain for chain in graph.split(";") if chain.startswith(f"[{label}]"))


def test_a_profile_with_its_own_loudness_target_gets_its_own_gain_from_the_same_measurement(tmp_path):
    path = tmp_path / "atsc.toml"
    path.write_text('[outputs]\nprofiles = ["web", "mezzanine"]\n' + ATSC_MEZZANINE)
    config = load_config(path)
    assert config.loudness_for("mezzanine").target_lufs == -24.0 and config.loudness_for("web").target_lufs == -23.0
    assert config.loudness_for("mezzanine").limiter_headroom_db == config.loudness.limiter_headroom_db  # overlaid
    specs, _ = in_profiles(SPECS, {}, _submission(), config)
    mezzanine = next(spec for spec in specs if spec.key == "master-clean_mezzanine")
    assert [sound.signal for sound in mezzanine.tracks] == ["mix@mezzanine", "me@mezzanine"]
    # The master's mix measured -21 LUFS once: -2 dB to the web's -23, -3 dB to the mezzanine's -24.
    own = plan_gain(GAIN.measured, config.loudness_for("mezzanine"), {"me": Loudness(-27.0, -12.0, 4.0)})
    gain = dataclasses.replace(GAIN, profiles={"mezzanine": own})
    command = build_render_command(_inputs(tmp_path / "show.mov", PRORES_1080), specs, gain, config, tmp_path,
                                   "show", {}, cores=2).command
    graph = command[command.index("-filter_complex") + 1]
    assert "volume=-2.00dB" in _graph_chain(graph, "pre_mix") and "volume=-2.00dB" in _graph_chain(graph, "pre_me")
    for signal in ("mix@mezzanine", "me@mezzanine"):  # the M&E at its mix's gain, as on the web files
        assert "volume=-3.00dB" in _graph_chain(graph, f"pre_{signal}")
    for options in _output_options(command, "_mezzanine.mov"):
        maps = [options[i + 1] for i, arg in enumerate(options) if arg == "-map"][1:]
        assert [label.strip("[]").rstrip("0123456789") for label in maps] == ["mix@mezzanine", "me@mezzanine"]
    for options in _output_options(command, ".mp4"):
        assert not any("@" in arg for arg in options)


@pytest.mark.parametrize("profiles", [["web"], THREE, ["broadcast"]])
def test_profiles_without_a_loudness_target_of_their_own_render_exactly_as_before(tmp_path, profiles):
    """A profile loudness table that only renames the standard or widens the tolerance changes
    what its files are held to, not the sound: the same command, signal for signal."""
    path = tmp_path / "same.toml"
    path.write_text(f"[outputs]\nprofiles = {json.dumps(profiles)}\n"
                    '[profiles.broadcast.loudness]\nstandard = "EBU R 128 s1"\ntolerance_lu = 1.0\n')
    plain, renamed = load_config(profiles=profiles), load_config(path)
    assert not renamed.has_own_gain("broadcast") and renamed.loudness_for("broadcast").tolerance_lu == 1.0
    inputs = _inputs(tmp_path / "show.mov", PRORES_1080)
    commands = []
    for config in (plain, renamed):
        specs, _ = in_profiles(SPECS, {}, _submission(), config)
        assert not any("@" in sound.signal for spec in specs for sound in spec.carried)
        commands.append(build_render_command(inputs, specs, GAIN, config, tmp_path, "show", {}, cores=2).command)
    # The same deliverables with the sounds a profile had before profile targets existed, and a
    # gain plan without profile plans: the same arguments, one for one.
    specs, _ = in_profiles(SPECS, {}, _submission(), plain)
    legacy = [spec if spec.profile == "web" else dataclasses.replace(
        spec, tracks=(tracks := track_sounds(plain.profiles[spec.profile], "en", has_me=True)), sound=tracks[0])
        for spec in specs]
    stray = dataclasses.replace(GAIN, profiles={"mezzanine": dataclasses.replace(GAIN, gain_db=-9.0)})
    assert commands[0] == commands[1] == build_render_command(inputs, legacy, GAIN, plain, tmp_path, "show", {},
                                                              cores=2).command
    assert build_render_command(inputs, specs, stray, plain, tmp_path, "show", {}, cores=2).command == commands[0]


@pytest.mark.parametrize("text, key, words", [
    ("[profiles.mezzanine.loudness]\ntarget_lufs = -60\n", "profiles.mezzanine.loudness.target_lufs",
     "target_lufs (-40 to -5)"),
    ("[profiles.mezzanine.loudness]\ntarget = -24\n", "profiles.mezzanine.loudness.target",
     "unknown key in a profile's loudness table (allowed: standard (a name), target_lufs"),
    ('[profiles.broadcast]\nloudness = "ATSC A/85"\n', "profiles.broadcast.loudness", "as in [loudness]"),
    ('[profiles.mezzanine.audio]\nallocation = ["me"]\n[profiles.mezzanine.loudness]\ntarget_lufs = -24.0\n',
     "profiles.mezzanine", 'put "mix" in the allocation or leave the loudness table out'),
])
def test_a_bad_profile_loudness_table_is_refused_with_the_file_the_key_and_the_fix(tmp_path, text, key, words):
    path = tmp_path / "loudness.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key and caught.value.path == str(path)
    assert words in str(caught.value)


def _integrated(rows: np.ndarray) -> float:
    return pyloudnorm.Meter(48000).integrated_loudness(rows.T)


def _level_db(rows: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(rows ** 2)))


@pytest.mark.ffmpeg
def test_a_mezzanine_at_atsc_minus_24_beside_web_at_minus_23_each_measures_its_own_target(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    source = _tracks(_make_master(package / "show.mov"))  # rows: mix L, mix R, M&E L, M&E R
    (package / "metadata.yaml").write_text("title: Targets\nasset_id: targets\nlanguage: en\n")
    (tmp_path / "fast.toml").write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\n'
                                        '[outputs]\nprofiles = ["web", "mezzanine"]\n' + ATSC_MEZZANINE)
    report = render_package(package, tmp_path / "out", load_config(tmp_path / "fast.toml"))
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    by_key = {item.key: item for item in report.deliverables}
    web, mezzanine = _tracks(report.folder / by_key["master-clean"].file), _tracks(
        report.folder / by_key["master-clean_mezzanine"].file)
    assert _integrated(web) == pytest.approx(-23.0, abs=0.5)
    assert _integrated(mezzanine[:2]) == pytest.approx(-24.0, abs=0.5)
    mix_gain, me_gain = _level_db(mezzanine[:2]) - _level_db(source[:2]), _level_db(mezzanine[2:]) - _level_db(source[2:])
    assert me_gain == pytest.approx(mix_gain, abs=0.05)  # the M&E at its mix's gain
    assert _level_db(mezzanine[:2]) - _level_db(web) == pytest.approx(-1.0, abs=0.3)
    sidecar = json.loads(report.metadata_file.read_text())
    assert sidecar["qc"]["verdict"] == "pass"  # -24 is off the web's -23 +/- 0.5: each file held to its profile's
    assert "the mezzanine files to ATSC A/85: -24 LUFS +/- 2 LU" in next(report.folder.glob("*_qc.html")).read_text()
    assert sidecar["qc"]["loudness"]["profiles"]["mezzanine"]["target_lufs"] == -24.0
    assert sidecar["qc"]["loudness"]["profiles"]["mezzanine"]["gain_db"] == pytest.approx(
        sidecar["qc"]["loudness"]["gain_db"] - 1.0, abs=0.05)


@pytest.mark.ffmpeg
def test_a_broadcast_file_flagged_bottom_field_first_fails_its_profile(tmp_path):
    """The broadcast profile asks for top field first: a file of that profile flagged bottom field
    first (built wrong on purpose) is refused with the flag read and the flag asked."""
    from pipeline.delivery.profile_checks import profile_problems
    from pipeline.media.probe import probe

    config = load_config(profiles=["broadcast"])
    profile = config.profiles["broadcast"]
    broadcast = next(spec for spec in _three_profile_specs(load_config(profiles=THREE))
                     if spec.profile == "broadcast" and spec.picture == "encode")
    wrong = tmp_path / "wrong.mxf"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=0.4",
                    "-vf", "setfield=bff", "-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-pix_fmt", "yuv422p",
                    "-b:v", "50M", "-f", "mxf", str(wrong)], check=True, capture_output=True)
    output = probe(wrong).video
    assert output is not None and output.field_order == "bff"
    problems = profile_problems("broadcast", profile, broadcast, wrong, PRORES_1080, output)
    assert "field order flag bff, not tff (interlaced profile)" in problems

"""Broadcast sound: the track allocations real masters come in (EBU R 48 style 4 and 8 tracks,
5.1 with stereo, R 123 style 16 tracks), stereo from 5.1 by the ITU-R BS.775 downmix, layouts
read from the signals when nothing names them, and the QC of the delivered sounds.

Three tiers: routing and detection rules (no ffmpeg); audio-only checks on masters built here
with ffmpeg (the downmix measured channel by channel, the evidence for each allocation, the
findings of the sound checks); and three whole renders (an untitled 8-track XDCAM-style MXF, a
5.1 mix + stereo M&E, a 16-track R 123 style master), each checked on what was delivered: the
international version is the master's M&E, the full mix is on target on an independent meter
(pyloudnorm), spare tracks are nowhere, and the layout evidence is in the sidecar.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile
import yaml

from pipeline.audio.layouts import detect_layout, me_pan, mix_pan, routing_graph, sound_origin
from pipeline.audio.sound_checks import check_sounds
from pipeline.config import Layout, load_config
from pipeline.errors import ConfigError, LayoutError
from pipeline.intake.submission import check_submission
from pipeline.media.ffmpeg import DEFAULT_LIMIT, ffmpeg_binary
from pipeline.media.probe import AudioInfo, probe
from pipeline.sequence import render_package
from tests.audio_masters import RATE, Stems, Stream, columns, make_stems, mono_of, write_master, write_package
from tests.media import audio_of, correlation

CONFIG = load_config()
LAYOUTS = CONFIG.layouts
DOWNMIX = 1 / np.sqrt(2)
SECONDS = 4.0


def streams_of(*spec: tuple[int, str]) -> list[AudioInfo]:
    return [AudioInfo(index, "pcm_s24le", channels, 48000, title) for index, (channels, title) in enumerate(spec, 1)]


def downmix(surround: np.ndarray) -> np.ndarray:
    """ITU-R BS.775 Lo/Ro of a 5.1 (L R C LFE Ls Rs) signal, LFE dropped: what a mixer expects."""
    left = surround[:, 0] + DOWNMIX * surround[:, 2] + DOWNMIX * surround[:, 4]
    right = surround[:, 1] + DOWNMIX * surround[:, 2] + DOWNMIX * surround[:, 5]
    return np.stack([left, right], axis=1)


def low_rumble(length: int, seed: int = 4) -> np.ndarray:
    """What an LFE channel carries: noise under 100 Hz."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(length))
    spectrum[np.fft.rfftfreq(length, 1 / RATE) > 100] = 0
    rumble = np.fft.irfft(spectrum, length)
    return 0.05 * rumble / np.sqrt(np.mean(rumble ** 2))


def surround(stems: Stems) -> tuple[np.ndarray, np.ndarray]:
    """A 5.1 M&E and 5.1 mix (L R C LFE Ls Rs): music on the fronts, effects on the surrounds
    and a little in the centre, the narration in the centre of the mix only."""
    rumble = low_rumble(len(stems.dialogue))
    me51 = columns(stems.music, 0.5 * mono_of(stems.effects), rumble, stems.effects)
    mix51 = me51.copy()
    mix51[:, 2] += stems.dialogue
    return mix51, me51


# ---------------------------------------------------------------------------------------------
# Routing: a stereo mix where the master has one, else the BS.775 downmix, the same for the M&E

def test_stereo_from_5_1_is_the_bs775_downmix_and_a_stereo_mix_is_preferred():
    downmix_of_first_six = "stereo|c0=c0+0.707107*c2+0.707107*c4|c1=c1+0.707107*c2+0.707107*c5"
    assert mix_pan(LAYOUTS["mix51-me"].channels) == downmix_of_first_six
    assert me_pan(LAYOUTS["mix51-me"].channels) == "stereo|c0=c6|c1=c7"
    assert mix_pan(LAYOUTS["mix51-mix-me"].channels) == "stereo|c0=c6|c1=c7"  # the stereo mix, no downmix
    assert mix_pan(LAYOUTS["mix51-me51"].channels) == downmix_of_first_six
    assert me_pan(LAYOUTS["mix51-me51"].channels) == (
        "stereo|c0=c6+0.707107*c8+0.707107*c10|c1=c7+0.707107*c8+0.707107*c11")
    assert (mix_pan(LAYOUTS["mix51-mix-me51-me"].channels), me_pan(LAYOUTS["mix51-mix-me51-me"].channels)) == (
        "stereo|c0=c6|c1=c7", "stereo|c0=c14|c1=c15")
    assert mix_pan(LAYOUTS["mix-me-spare"].channels) == "stereo|c0=c0|c1=c1"  # spare tracks 5-8 in nothing
    assert me_pan(LAYOUTS["mix-me-spare"].channels) == "stereo|c0=c2|c1=c3"


def test_every_delivered_sound_says_where_it_comes_from():
    assert sound_origin(LAYOUTS["mix51-me"].channels, "mix") == (
        "ch1-6 (5.1 mix), ITU-R BS.775 Lo/Ro downmix (L + 0.707 C + 0.707 Ls, R + 0.707 C + 0.707 Rs), LFE dropped")
    assert sound_origin(LAYOUTS["mix51-me"].channels, "me") == "ch7-8 (stereo M&E), no downmix"
    assert sound_origin(LAYOUTS["mix51-mix-me51-me"].channels, "me") == "ch15-16 (stereo M&E), no downmix"
    assert sound_origin(LAYOUTS["mix-dialogue"].channels, "me") == (
        "mix ch1-2 (stereo mix), no downmix minus dialogue ch3-4 (stereo)")


@pytest.mark.parametrize("streams, expected", [
    (streams_of(*[(1, title) for title in ("Mix L", "Mix R", "M&E L", "M&E R", "Spare", "Spare", "", "")]),
     "mix-me-spare"),
    (streams_of((6, "5.1 Mix"), (2, "Stereo M&E")), "mix51-me"),
    (streams_of((6, "Surround Mix"), (2, "Stereo Mix"), (2, "M&E")), "mix51-mix-me"),
    (streams_of((6, "Mix 5.1"), (6, "M&E 5.1")), "mix51-me51"),
    (streams_of((6, "5.1 Mix"), (2, "Stereo Mix"), (6, "5.1 M&E"), (2, "Stereo M&E")), "mix51-mix-me51-me"),
], ids=["8 mono tracks", "5.1 + stereo M&E", "5.1 + stereo + M&E", "5.1 + 5.1 M&E", "16 tracks R 123"])
def test_titled_allocations_are_read_from_their_titles(streams, expected):
    chosen = detect_layout(streams, LAYOUTS, None, "master.mxf")
    assert (chosen.name, chosen.how) == (expected, "stream titles")


def test_tracks_titled_spare_choose_the_layout_that_leaves_them_spare():
    """Eight tracks, only the last four titled: "Spare" rules out every layout that takes a sound
    from them (mix + stems, 5.1 mix + M&E)."""
    streams = streams_of(*[(1, title) for title in ("", "", "", "", "Spare", "Spare", "Spare", "Spare")])
    chosen = detect_layout(streams, LAYOUTS, None, "master.mxf")
    assert (chosen.name, chosen.how) == ("mix-me-spare", "stream titles")


def test_incomplete_surround_layouts_and_wrong_house_conventions_are_refused_at_load(tmp_path):
    with pytest.raises(ValueError, match="a 5.1 mix needs each of mix_l, mix_r, mix_c, mix_lfe, mix_ls, mix_rs"):
        Layout(channels=["mix_l", "mix_r", "mix_c", "mix_ls", "mix_rs", "me_l", "me_r"])
    config = tmp_path / "house.toml"
    config.write_text('[house_layouts]\n8 = "mix-me"\n')
    with pytest.raises(ConfigError, match="house_layouts: 8 names 'mix-me', which maps 4 channels, not 8"):
        load_config(config)


# ---------------------------------------------------------------------------------------------
# The downmix, measured: a tone on one channel at a time

def _segment_levels(decoded: np.ndarray, segments: int, length: int) -> list[tuple[float, float]]:
    """RMS level in dB of the left and right outputs in each segment (its middle half)."""
    levels = []
    for segment in range(segments):
        middle = decoded[segment * length + length // 4:(segment + 1) * length - length // 4]
        power = np.mean(middle ** 2, axis=0)
        levels.append(tuple(10 * np.log10(np.maximum(power, 1e-20))))
    return levels


@pytest.mark.ffmpeg
def test_the_5_1_downmix_matches_the_bs775_coefficients_within_a_tenth_of_a_db(tmp_path):
    """12 channels (5.1 mix + 5.1 M&E), a 1 kHz tone on one at a time for 0.4 s; the stereo mix
    and M&E are routed as the render routes them and each channel's gain to Lo and Ro is read."""
    roles = LAYOUTS["mix51-me51"].channels
    length = int(0.4 * RATE)
    tone = 0.25 * np.sin(2 * np.pi * 1000 * np.arange(length) / RATE)
    samples = np.zeros((length * len(roles), len(roles)))
    for channel in range(len(roles)):
        samples[channel * length:(channel + 1) * length, channel] = tone
    master = tmp_path / "tones.mov"
    write_master(master, [Stream(samples[:, :6], "5.1 Mix"), Stream(samples[:, 6:], "5.1 M&E")],
                 seconds=len(samples) / RATE)
    graph = routing_graph(probe(master).audio, roles, {"mix": "mix", "me": "me"})
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(master),
               "-filter_complex", ";".join(graph)]
    for label in ("mix", "me"):
        command += ["-map", f"[{label}]", "-c:a", "pcm_f32le", str(tmp_path / f"{label}.wav")]
    subprocess.run(command, check=True, timeout=60)
    reference = 10 * np.log10(np.mean(tone ** 2))
    expected = [(0.0, None), (None, 0.0), (-3.01, -3.01), (None, None), (-3.01, None), (None, -3.01)]
    for label, first in (("mix", 0), ("me", 6)):
        decoded = soundfile.read(tmp_path / f"{label}.wav")[0]
        levels = _segment_levels(decoded, len(roles), length)[first:first + 6]
        for name, measured, wanted in zip(("L", "R", "C", "LFE", "Ls", "Rs"), levels, expected):
            for side, level, gain in zip("LR", measured, wanted):
                where = f"{label} {name} -> {side}o at {level - reference:.2f} dB"
                if gain is None:
                    assert level - reference < -80, where  # not routed there (the LFE nowhere)
                else:
                    assert abs(level - reference - gain) < 0.1, where


# ---------------------------------------------------------------------------------------------
# Untitled masters: the layout read from the signals

def untitled_tracks(*channels: np.ndarray) -> list[Stream]:
    """One untitled mono track per channel, as XDCAM and most edit suites export them."""
    return [Stream(channel) for channel in channels]


def xdcam_channels(stems: Stems, spare_tone: bool = False) -> list[np.ndarray]:
    """R 48 style 8 tracks: 1-2 stereo mix, 3-4 M&E, 5-8 spare (silent; with `spare_tone`, a
    line-up tone left on 7-8, which no deliverable may carry)."""
    silence = np.zeros(len(stems.dialogue))
    spare = line_up_tone(len(silence)) if spare_tone else silence
    return [stems.mix[:, 0], stems.mix[:, 1], stems.me[:, 0], stems.me[:, 1], silence, silence, spare, spare]


def line_up_tone(length: int) -> np.ndarray:
    return 0.1 * np.sin(2 * np.pi * 1000 * np.arange(length) / RATE)


def no_house(tmp_path: Path, fast_config: Path | None = None) -> Path:
    path = tmp_path / "no-house.toml"
    path.write_text((fast_config.read_text() if fast_config else "") + '\n[house_layouts]\n4 = ""\n8 = ""\n')
    return path


@pytest.mark.ffmpeg
def test_untitled_allocations_are_read_from_the_signals_and_the_evidence_said(tmp_path):
    stems = make_stems(SECONDS, seed=21)
    mix51, _ = surround(stems)
    me_stereo = stems.me
    cases = {
        "mix-me": ([Stream(stems.mix), Stream(stems.me)], CONFIG,
                   "layout mix-me, from the signals: ch1-2 carry speech, ch3-4 = ch1-2 without it"),
        "mix-me-spare": (untitled_tracks(*xdcam_channels(stems)), CONFIG,
                         "layout mix-me-spare, from the signals: ch1-2 carry speech, ch3-4 = ch1-2 without it, "
                         "ch5-8 silent"),
        "mix51-me": (untitled_tracks(*mix51.T, *me_stereo.T), load_config(no_house(tmp_path)),
                     "layout mix51-me, from the signals: ch1-6 carry speech, ch7-8 = ch1-6 without it"),
    }
    for name, (streams, config, evidence) in cases.items():
        package = write_package(tmp_path / name, streams, seconds=SECONDS)
        layout = check_submission(package, config).layout
        assert (layout.name, layout.how, layout.evidence) == (name, "signals", evidence)


@pytest.mark.ffmpeg
def test_a_master_the_house_convention_does_not_fit_is_refused_naming_both(tmp_path):
    """8 untitled tracks at a house whose convention is mix + M&E + 4 spare, carrying 5.1 + M&E."""
    stems = make_stems(SECONDS, seed=22)
    mix51, _ = surround(stems)
    package = write_package(tmp_path / "surround", untitled_tracks(*mix51.T, *stems.me.T), seconds=SECONDS)
    with pytest.raises(LayoutError) as raised:
        check_submission(package, CONFIG)
    problem, fix = raised.value.problem, raised.value.fix
    assert problem.startswith("the sound says layout mix51-me (ch1-6 carry speech, ch7-8 = ch1-6 without it), "
                              "but the house convention for 8 untitled tracks is mix-me-spare"), problem
    assert "add `audio_layout: mix51-me` to metadata.yaml" in fix and "[house_layouts] 8" in fix


@pytest.mark.ffmpeg
def test_the_house_convention_decides_only_what_the_signals_leave_open(tmp_path):
    """Channels 3-4 are inside 1-2 at its level, but what 1-2 adds is no more speech-like than
    3-4 (a second steady bed, no narration): mix-me and mix-dialogue both fit the sound."""
    stems, other = make_stems(SECONDS, seed=23), make_stems(SECONDS, seed=24)
    package = write_package(tmp_path / "open", [Stream(stems.me + other.music), Stream(stems.me)], seconds=SECONDS)
    layout = check_submission(package, CONFIG).layout
    assert (layout.name, layout.how) == ("mix-me", "house convention")
    assert layout.evidence.startswith("layout mix-me, the house convention for 4 tracks, which the signals agree with")
    with pytest.raises(LayoutError, match="the sound does not decide: mix-dialogue: nothing against it; "
                                          "mix-me: nothing against it") as raised:
        check_submission(package, load_config(no_house(tmp_path)))
    assert "audio_layout: mix-dialogue" in raised.value.fix


@pytest.mark.ffmpeg
def test_unclear_evidence_is_refused_with_the_candidates_and_the_fix(tmp_path):
    noise = np.random.default_rng(5).standard_normal((int(SECONDS * RATE), 4)) * 0.05
    package = write_package(tmp_path / "noise", [Stream(noise[:, :2]), Stream(noise[:, 2:])], seconds=SECONDS)
    with pytest.raises(LayoutError) as raised:
        check_submission(package, CONFIG)
    message = str(raised.value)
    assert message.startswith("master.mov: audio layout is ambiguous: 4 channels (stream 1: 2 ch untitled, "
                              "stream 2: 2 ch untitled)")
    assert "the sound does not decide (the house convention, mix-me, is contradicted)" in message
    assert "mix-me: ch3-4 is not inside ch1-2 at its level" in message
    assert "fix: add `audio_layout: mix-dialogue` (or one of mix-dialogue, mix-me) to metadata.yaml" in message


# ---------------------------------------------------------------------------------------------
# QC of the delivered sounds

@pytest.mark.ffmpeg
def test_a_silent_channel_a_polarity_inversion_and_a_silent_centre_are_findings(tmp_path):
    stems = make_stems(2.0, seed=25)
    broken_mix = stems.mix.copy()
    broken_mix[:, 1] = 0.0  # right channel never patched
    inverted_me = np.stack([stems.me[:, 0], -stems.me[:, 0]], axis=1)  # one side wired inverted
    master = tmp_path / "faults.mov"
    write_master(master, [Stream(broken_mix), Stream(inverted_me)], seconds=2.0)
    report = check_sounds(master, probe(master).audio, LAYOUTS["mix-me"].channels, CONFIG.audio_checks, limit=DEFAULT_LIMIT)
    found = {(finding.sound, finding.check, finding.severity) for finding in report.findings}
    assert found == {("mix", "sound.silent_channel", "error"), ("me", "sound.polarity", "error")}
    assert "the right channel of the delivered full mix is silent" in report.for_sound("mix")[0].message
    assert "correlation -1.00" in report.for_sound("me")[0].measured

    mix51, _ = surround(stems)
    mix51[:, 2] = 0.0
    master = tmp_path / "no-centre.mov"
    write_master(master, [Stream(mix51), Stream(stems.me)], seconds=2.0)
    report = check_sounds(master, probe(master).audio, LAYOUTS["mix51-me"].channels, CONFIG.audio_checks,
                          limit=DEFAULT_LIMIT)
    assert [(finding.check, finding.severity) for finding in report.findings] == [("sound.centre_silent", "warning")]
    assert "BS.775" in report.origins["mix"] and report.origins["me"] == "ch7-8 (stereo M&E), no downmix"


# ---------------------------------------------------------------------------------------------
# Whole renders

SRT = "1\n00:00:00,500 --> 00:00:02,000\nThe harbour bridge reopened.\n"


def write_mxf(folder: Path, channels: list[np.ndarray], seconds: float) -> Path:
    """An XDCAM-style MXF OP1a: MPEG-2 4:2:2 picture and one untitled mono 24-bit PCM track per
    channel, with an SRT and metadata beside it."""
    folder.mkdir(parents=True)
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    with tempfile.TemporaryDirectory() as tmp:
        for index, channel in enumerate(channels):
            wav = Path(tmp) / f"track{index}.wav"
            soundfile.write(wav, np.asarray(channel, dtype=np.float32), RATE, subtype="FLOAT")
            command += ["-i", str(wav)]
        command += ["-map", "0:v"] + [arg for index in range(len(channels)) for arg in ("-map", f"{index + 1}:a")]
        command += ["-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-b:v", "1M", "-c:a", "pcm_s24le", "-t", str(seconds),
                    str(folder / "master.mxf")]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    return finish_package(folder)


def finish_package(folder: Path) -> Path:
    (folder / "master.en.srt").write_text(SRT, encoding="utf-8")
    (folder / "metadata.yaml").write_text(yaml.safe_dump({"title": "Broadcast sound", "asset_id": folder.name,
                                                         "language": "en"}), encoding="utf-8")
    return folder


def delivered(report) -> dict[str, Path]:
    assert {result.key: result.state for result in report.deliverables} == {
        "master-clean": "delivered", "international": "delivered", "subtitled-en": "delivered"}, [
        (result.key, result.reason) for result in report.deliverables]
    return {result.key: report.folder / result.file for result in report.deliverables}


def loudness_lufs(path: Path) -> float:
    return pyloudnorm.Meter(RATE).integrated_loudness(audio_of(path, rate=RATE, mono=False).astype(np.float64))


def sidecar_of(report) -> dict:
    return json.loads(report.metadata_file.read_text())


@pytest.fixture(scope="module")
def fast(fast_config):
    return load_config(fast_config)


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_an_untitled_8_track_xdcam_master_renders_everything_with_no_config(tmp_path, fast):
    stems = make_stems(SECONDS, seed=31)
    channels = xdcam_channels(stems, spare_tone=True)
    report = render_package(write_mxf(tmp_path / "xdcam", channels, SECONDS), tmp_path / "out", fast)
    files = delivered(report)
    international = audio_of(files["international"], rate=RATE)
    clean = audio_of(files["master-clean"], rate=RATE)
    assert correlation(international, mono_of(stems.me)) > 0.95
    assert abs(correlation(international, stems.dialogue)) < 0.05
    assert abs(loudness_lufs(files["master-clean"]) - fast.loudness.target_lufs) <= fast.loudness.tolerance_lu
    tone = line_up_tone(len(stems.dialogue))
    for key in files:  # the spare tracks' line-up tone is in no deliverable
        assert abs(correlation(audio_of(files[key], rate=RATE), tone)) < 0.02, key
    layout = sidecar_of(report)["source"]["audio_layout"]
    assert (layout["name"], layout["detected_by"]) == ("mix-me-spare", "signals")
    assert layout["evidence"] == ("layout mix-me-spare, from the signals: ch1-2 carry speech, "
                                  "ch3-4 = ch1-2 without it, ch5-6 silent")
    assert layout["sounds"] == {"mix": "ch1-2 (stereo mix), no downmix", "me": "ch3-4 (stereo M&E), no downmix"}
    assert layout["evidence"] in (report.folder / "xdcam_qc.html").read_text()
    assert correlation(clean, mono_of(stems.mix)) > 0.95


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_5_1_mix_with_a_stereo_m_and_e_renders_everything(tmp_path, fast):
    stems = make_stems(SECONDS, seed=32)
    mix51, _ = surround(stems)
    package = write_package(tmp_path / "surround", [Stream(mix51, "5.1 Mix"), Stream(stems.me, "Stereo M&E")],
                            seconds=SECONDS)
    finish_package(package)
    report = render_package(package, tmp_path / "out", fast)
    files = delivered(report)
    international = audio_of(files["international"], rate=RATE, mono=False)
    clean = audio_of(files["master-clean"], rate=RATE, mono=False)
    for side in (0, 1):
        assert correlation(international[:, side], stems.me[:, side]) > 0.95
        assert correlation(clean[:, side], downmix(mix51)[:, side]) > 0.95
    assert abs(loudness_lufs(files["master-clean"]) - fast.loudness.target_lufs) <= fast.loudness.tolerance_lu
    layout = sidecar_of(report)["source"]["audio_layout"]
    assert (layout["name"], layout["detected_by"], layout["evidence"]) == ("mix51-me", "stream titles", "")
    assert "ITU-R BS.775 Lo/Ro downmix" in layout["sounds"]["mix"]


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_16_track_r123_master_delivers_its_stereo_mix_and_m_and_e_not_a_downmix(tmp_path, fast):
    """The stereo versions on 7-8 and 15-16 are balanced differently from the 5.1 ones (music
    forward), so the delivered sound tells which was taken."""
    stems = make_stems(SECONDS, seed=33)
    mix51, me51 = surround(stems)
    stereo_me = 1.5 * stems.music + 0.3 * stems.effects
    stereo_mix = stereo_me + stems.dialogue_stereo
    tracks = untitled_tracks(*mix51.T, *stereo_mix.T, *me51.T, *stereo_me.T)
    package = finish_package(write_package(tmp_path / "r123", tracks, seconds=SECONDS))
    report = render_package(package, tmp_path / "out", fast)
    files = delivered(report)
    international = audio_of(files["international"], rate=RATE)
    assert correlation(international, mono_of(stereo_me)) > 0.95
    assert correlation(international, mono_of(downmix(me51))) < 0.9
    assert correlation(audio_of(files["master-clean"], rate=RATE), mono_of(stereo_mix)) > 0.95
    layout = sidecar_of(report)["source"]["audio_layout"]
    assert layout["name"] == "mix51-mix-me51-me"
    assert layout["sounds"] == {"mix": "ch7-8 (stereo mix), no downmix", "me": "ch15-16 (stereo M&E), no downmix"}

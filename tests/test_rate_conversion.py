"""Frame-rate conversion: an American master (23.976 fps, or 29.97 drop-frame) delivered in the
25 fps broadcast profile. A speed conversion keeps every frame and plays the programme 4.3 %
faster, its sound time-stretched with the pitch kept; a blend keeps the duration. Each file is
read back as a playout house would: its rate and duration, a flash against a beep (sync), a
1 kHz tone (pitch), its start timecode, and when the burned subtitle appears.

Builder tests check the chains without ffmpeg; two whole renders of 2.5 s masters built here
check the files."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.deliverables.profiles import in_profiles
from pipeline.delivery.measure import pitch_ratio
from pipeline.delivery.profile_checks import profile_problems
from pipeline.errors import MetadataError
from pipeline.intake.metadata import load_descriptive
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.media.probe import probe
from pipeline.media.timecode import converted_timecode
from pipeline.render.commands import SHOT_LABEL, ShotBranch, build_render_command, tempo_filters
from pipeline.render.conform import conform_filters, output_rate
from pipeline.sequence import render_package
from tests.media import audio_of
from tests.subtitle_masters import luma_frames, srt
from tests.test_render_plan import GAIN, PRORES_1080, SPECS, _inputs

CONFIG = load_config()
BROADCAST = CONFIG.profiles["broadcast"]
FILM = Fraction(24000, 1001)
NTSC = Fraction(30000, 1001)
FLASH_S = 1.5
BEEP_HZ, TONE_HZ = 3000, 1000
CUE = ("00:00:00,500", "00:00:01,200", "FIRST CUE")


def _video(fps: Fraction, interlaced: bool = False):
    return dataclasses.replace(PRORES_1080, fps=fps, field_order="tff" if interlaced else "progressive")


# ---------------------------------------------------------------------------------------------
# The chains: which method, where in the conform, and the sound's stretch

def test_each_rate_family_gets_its_default_method_and_refuse_fails_the_profile_alone():
    assert BROADCAST.rate_conversion(FILM) == "speed" and BROADCAST.rate_conversion(24) == "speed"
    assert BROADCAST.rate_conversion(NTSC) == "blend" and BROADCAST.rate_conversion(Fraction(60000, 1001)) == "blend"
    assert BROADCAST.rate_conversion(25) is None
    assert float(BROADCAST.speed_factor(FILM)) == pytest.approx(1.0427, abs=1e-4)
    assert BROADCAST.speed_factor(NTSC) == 1  # a blend keeps the duration
    refusing = BROADCAST.model_copy(update={"frame_rate_conversion": "refuse"})
    assert refusing.conversion_refusal(FILM, "broadcast") == (
        "the broadcast profile is 25 frames/s and the master 23.976 and frame_rate_conversion is refuse: "
        "deliver a master at 25 frames/s, or set frame_rate_conversion (speed, blend, motion)")
    too_far = BROADCAST.model_copy(update={"frame_rate_conversion": "speed"})
    assert "more than 5%" in (too_far.conversion_refusal(NTSC, "broadcast") or "")


def test_the_conversion_runs_at_the_delivered_size_and_an_interlaced_target_weaves_its_fields():
    speed = conform_filters(_video(FILM), BROADCAST)
    assert "setpts=N*1/(25*TB),fps=25/1,setsar=1" in speed and speed.endswith("setfield=tff")
    motion = BROADCAST.model_copy(update={"frame_rate_conversion": "motion"})
    assert "minterpolate=fps=25/1:mi_mode=mci" in conform_filters(_video(NTSC), motion)
    interlaced = conform_filters(_video(NTSC, interlaced=True), BROADCAST)
    assert interlaced.startswith("bwdif=mode=send_field")  # one frame per field, then 50p woven into 25i
    assert "framerate=fps=50/1,interlace=scan=tff:lowpass=linear" in interlaced
    assert output_rate(_video(NTSC, interlaced=True), BROADCAST) == 25
    assert conform_filters(_video(Fraction(25)), BROADCAST) == conform_filters(PRORES_1080, BROADCAST)
    assert tempo_filters(Fraction(25) / FILM) == ["atempo=1.04270833"] and tempo_filters(1) == []


def test_a_drop_frame_start_becomes_the_25_fps_label_of_the_same_instant():
    assert converted_timecode("01:00:00;00", NTSC, 25) == "01:00:00:00"
    assert converted_timecode("00:10:00;00", NTSC, 25) == "00:10:00:00"
    assert converted_timecode("10:00:00:00", FILM, 25) == "10:00:00:00"  # a speed conversion keeps the label


# ---------------------------------------------------------------------------------------------
# Whole renders, read back

def _make_master(path: Path, fps: Fraction, timecode: str, seconds: float = 2.5) -> Path:
    """A dark picture with one white frame at FLASH_S, a mix with a 3 kHz beep starting on that
    frame, an M&E (and the mix) carrying a steady 1 kHz tone."""
    rate = f"{fps.numerator}/{fps.denominator}"
    flash = round(FLASH_S * fps)
    picture = (f"color=c=0x203070:s=320x180:r={rate}:d={seconds},"
               f"drawbox=enable='eq(n,{flash})':c=white:t=fill,format=yuv420p")
    beep_at = flash / fps
    music = "0.05*sin(2*PI*220*t)+0.05*sin(2*PI*1000*t)"
    voice = f"0.2*sin(2*PI*{BEEP_HZ}*t)*between(t,{float(beep_at):.6f},{float(beep_at) + 0.1:.6f})"
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", picture,
               "-f", "lavfi", "-i", f"aevalsrc='{music}+{voice}+0.05*sin(2*PI*440*t)|{music}+{voice}':s=48000:d={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={music}|{music}:s=48000:d={seconds}",
               "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast",
               "-g", "1", "-c:a", "pcm_s16le", "-timecode", timecode,
               "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return path


def _render(tmp_path: Path, fps: Fraction, timecode: str):
    package = tmp_path / "package"
    package.mkdir()
    _make_master(package / "show.mov", fps, timecode)
    (package / "show.en.srt").write_text(srt(CUE))
    (package / "metadata.yaml").write_text("title: Rates\nasset_id: rates\nlanguage: en\n")
    (tmp_path / "fast.toml").write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\n'
                                        '[outputs]\nprofiles = ["web", "broadcast"]\n'
                                        '[shots]\nenabled = false\n')
    report = render_package(package, tmp_path / "out", load_config(tmp_path / "fast.toml"))
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return {item.key: report.folder / item.file for item in report.deliverables}, report


def _onset_s(samples: np.ndarray, rate: int, hz: float) -> float:
    """When a tone of `hz` first reaches half its peak level (5 ms steps)."""
    step, window = rate // 200, rate // 50
    times = np.arange(0, len(samples) - window, step)
    probe = np.exp(-2j * np.pi * hz * np.arange(window) / rate)
    levels = np.array([abs(np.dot(samples[start:start + window], probe)) for start in times])
    return float(times[np.argmax(levels > levels.max() / 2)] + window / 2) / rate


def _pitch_hz(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency between 900 and 1100 Hz (the steady tone)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), 8 * len(samples)))
    frequencies = np.fft.rfftfreq(8 * len(samples), 1 / rate)
    band = (frequencies > 900) & (frequencies < 1100)
    return float(frequencies[band][np.argmax(spectrum[band])])


def _read(path: Path) -> tuple[Fraction, int, str | None, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return Fraction(stream.average_rate), frames, container.metadata.get("timecode"), \
            int(stream.codec_context.field_order) == 2


def _check_sync_and_pitch(path: Path, frame_s: float) -> None:
    luma = luma_frames(path).mean(axis=(1, 2))
    flash_s = int(np.argmax(luma)) * frame_s
    mix = audio_of(path, stream=0, rate=48000)
    assert abs(_onset_s(mix, 48000, BEEP_HZ) - flash_s) <= frame_s, "beep and flash apart"
    me = audio_of(path, stream=2, rate=48000)  # tracks 3-4: the M&E
    assert _pitch_hz(me[: 2 * 48000], 48000) == pytest.approx(TONE_HZ, rel=0.01)


def _cue_frames(files: dict[str, Path]) -> np.ndarray:
    """The frames of the broadcast file where the burned cue shows: white text at the bottom,
    where the clean picture is dark."""
    rows = slice(900, 1040)
    burned = luma_frames(files["subtitled-en_broadcast"], rows=rows).astype(np.int16)
    clean = luma_frames(files["master-clean_broadcast"], rows=rows).astype(np.int16)
    return np.flatnonzero(np.abs(burned - clean).max(axis=(1, 2)) > 60)


@pytest.mark.ffmpeg
def test_a_23_976_master_is_sped_up_to_25_in_broadcast_and_keeps_its_rate_on_the_web(tmp_path):
    files, report = _render(tmp_path, FILM, "10:00:00:00")
    rate, frames, timecode, top_first = _read(files["master-clean_broadcast"])
    assert (rate, frames, timecode, top_first) == (25, 60, "10:00:00:00", True)  # every frame, at 25
    by_key = {item.key: item for item in report.deliverables}
    assert by_key["master-clean_broadcast"].technical.duration_s == pytest.approx(2.4, abs=0.04)
    sidecar = {item["key"]: item for item in json.loads(report.metadata_file.read_text())["deliverables"]}
    conversion = sidecar["master-clean_broadcast"]["frame_rate_conversion"]
    assert conversion == {"method": "speed", "from_fps": "24000/1001", "to_fps": "25/1", "speed": 1.042708,
                          "duration_s": pytest.approx(2.4, abs=0.002), "start_timecode": "10:00:00:00"}
    assert "frame_rate_conversion" not in sidecar["master-clean"]  # the web file keeps the master's rate
    assert "23.976 -&gt; 25 fps by speed (x1.0427" in (report.folder / "rates_qc.html").read_text()
    timing = (report.folder / "rates_broadcast.en.srt").read_text().splitlines()[1]  # the broadcast file's cues
    assert timing.startswith("00:00:00,48") and (report.folder / "rates.en.srt").read_text().splitlines()[1].startswith(
        "00:00:00,50")
    _check_sync_and_pitch(files["master-clean_broadcast"], 0.04)
    web_rate, web_frames, _, _ = _read(files["master-clean"])
    assert (web_rate, web_frames) == (FILM, 60)
    shown = _cue_frames(files)
    speed = 25 / FILM
    assert shown[0] == pytest.approx(0.5 / speed * 25, abs=1)
    assert shown[-1] + 1 == pytest.approx(1.2 / speed * 25, abs=1)


@pytest.mark.ffmpeg
def test_a_29_97_drop_frame_master_is_blended_to_25_with_its_duration_and_timecode_instant(tmp_path):
    files, report = _render(tmp_path, NTSC, "01:00:00;00")
    rate, frames, timecode, top_first = _read(files["master-clean_broadcast"])
    assert (rate, timecode, top_first) == (25, "01:00:00:00", True)
    assert frames == pytest.approx(2.5 * 25, abs=1)
    _check_sync_and_pitch(files["master-clean_broadcast"], 0.04)
    shown = _cue_frames(files)
    assert shown[0] == pytest.approx(0.5 * 25, abs=1)
    web_rate, _, web_timecode, _ = _read(files["master-clean"])
    assert (web_rate, web_timecode) == (NTSC, "01:00:00;00")


def test_a_package_chooses_its_own_method_and_a_wrong_one_is_refused_with_the_choices(tmp_path):
    (tmp_path / "metadata.yaml").write_text("title: Rates\nframe_rate_conversion: motion\n")
    chosen = load_descriptive(tmp_path / "metadata.yaml").frame_rate_conversion
    assert CONFIG.with_rate_conversion(chosen).profiles["broadcast"].rate_conversion(NTSC) == "motion"
    assert CONFIG.with_rate_conversion(None) is CONFIG
    (tmp_path / "metadata.yaml").write_text("title: Rates\nframe_rate_conversion: fast\n")
    with pytest.raises(MetadataError) as caught:
        load_descriptive(tmp_path / "metadata.yaml")
    assert "'fast' is not a frame rate conversion" in str(caught.value)
    assert "write one of speed, blend, motion, refuse" in str(caught.value)


def test_a_sped_up_profile_takes_its_own_stretched_sound_burn_script_and_soft_subtitles(tmp_path):
    """A mezzanine at 25 fps beside the web file, from a 23.976 master: the web file keeps the
    master's sound and subtitles; the mezzanine's sound is its own signal, stretched, and its
    burned and soft subtitles come from files with the cue times scaled."""
    path = tmp_path / "mezzanine25.toml"
    path.write_text('[profiles.mezzanine]\nframe_rate = "25"\n[outputs]\nprofiles = ["web", "mezzanine"]\n')
    config = load_config(path)
    film = _video(FILM)
    submission = SimpleNamespace(media=SimpleNamespace(video=film), descriptive=SimpleNamespace(language="en"),
                                 layout=SimpleNamespace(roles=["mix_l", "mix_r", "me_l", "me_r"]))
    specs = [dataclasses.replace(spec, soft_subtitles=True) if spec.subtitle_language == "en" else spec
             for spec in SPECS]
    deliverables, failures = in_profiles(specs, {}, submission, config)
    assert not failures
    mezzanine = next(item for item in deliverables if item.key == "master-clean_mezzanine")
    assert [sound.signal for sound in mezzanine.carried] == ["mix@mezzanine", "me@mezzanine"]
    soft = {"en": tmp_path / "subtitles-en.srt", "en-x1001-960": tmp_path / "subtitles-en-x1001-960.srt"}
    plan = build_render_command(_inputs(tmp_path / "show.mov", film), deliverables, GAIN, config, tmp_path, "show",
                                {}, subtitle_files=soft)
    graph = plan.command[plan.command.index("-filter_complex") + 1]
    assert "pan=stereo|c0=c0|c1=c1,volume=-2.00dB,atempo=1.04270833" in graph  # the mezzanine's mix
    assert "pan=stereo|c0=c0|c1=c1,volume=-2.00dB,asplit" in graph  # the web's, as it was
    assert "ass=filename=subtitles-fr-x1001-960.ass" in graph and "ass=filename=subtitles-fr.ass" in graph
    assert f"file:{soft['en-x1001-960']}" in plan.command and f"file:{soft['en']}" in plan.command


def test_shots_are_found_on_a_picture_at_the_master_s_own_rate_or_on_the_master(tmp_path):
    """The render finds the shots on a branch of its own decode; a sped-up picture has other
    times, so the branch is taken from the web picture, and when every profile converts there
    is none (the shot list then reads the master)."""
    shots = ShotBranch("scale=240:-2,metadata=print:file=cuts.txt", tmp_path / "shot-%04d.jpg")
    film = _inputs(tmp_path / "show.mov", _video(FILM))
    submission = SimpleNamespace(media=SimpleNamespace(video=film.video), descriptive=SimpleNamespace(language="en"),
                                 layout=SimpleNamespace(roles=film.roles))
    for profiles, branch_from_web in ((["broadcast", "web"], True), (["broadcast"], False)):
        config = load_config(profiles=profiles)
        deliverables, _ = in_profiles(SPECS, {}, submission, config)
        plan = build_render_command(film, deliverables, GAIN, config, tmp_path, "show", {}, shots=shots)
        chains = plan.command[plan.command.index("-filter_complex") + 1].split(";")
        assert plan.detects_shots is branch_from_web
        if branch_from_web:
            source = next(chain for chain in chains if chain.endswith(f"[{SHOT_LABEL}]")).split("]")[0] + "]"
            conform = next(chain for chain in chains if source in chain.split("split=")[-1])
            assert "setpts" not in conform and "fps=25/1" not in conform


@pytest.mark.ffmpeg
def test_a_broadcast_file_left_at_the_master_s_rate_fails_its_profile(tmp_path):
    """QC holds a converted file to the profile's rate: one at the master's 23.976 is named."""
    unconverted = tmp_path / "unconverted.mxf"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
                    "-i", "testsrc2=size=1920x1080:rate=24000/1001:duration=0.25", "-c:v", "mpeg2video",
                    "-pix_fmt", "yuv422p", "-f", "mxf", str(unconverted)], check=True, capture_output=True, timeout=120)
    problems = profile_problems("broadcast", BROADCAST, SPECS[0], unconverted, _video(FILM), None)
    assert "23.976 frames/s, not the 25 its profile asks" in problems


def test_qc_tells_a_time_stretched_sound_from_one_merely_played_faster():
    """The pitch check of a sped-up file lines up the long-term spectra of the master's sound
    and the file's: a stretch keeps them in place, a plain speed-up moves them 4.3 % up."""
    rate, rng = 8000, np.random.default_rng(7)
    times = np.arange(4 * rate) / rate

    def chord(scale: float) -> np.ndarray:
        return sum(np.sin(2 * np.pi * hz * scale * times + rng.uniform(0, 6)) for hz in (196, 247, 294, 440, 1000))

    assert pitch_ratio(chord(1), chord(1)) == 1.0
    assert pitch_ratio(chord(1), chord(float(25 / FILM))) == pytest.approx(1.0427, abs=0.002)
    assert pitch_ratio(rng.standard_normal(4 * rate), rng.standard_normal(4 * rate)) in (None, 1.0)  # noise: no evidence


@pytest.mark.ffmpeg
def test_a_29_97_interlaced_master_becomes_25_fps_fields_woven_from_the_converted_picture(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=60000/1001:duration=2",
                    "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2", "-f", "lavfi", "-i", "sine=f=220:r=48000:d=2",
                    "-map", "0:v", "-map", "1:a", "-map", "1:a", "-map", "2:a", "-map", "2:a",
                    "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "libx264", "-preset", "ultrafast",
                    "-flags", "+ildct+ilme", "-x264opts", "tff=1", "-c:a", "pcm_s16le", "-timecode", "01:00:00;00",
                    str(package / "show.mov")], check=True, capture_output=True, timeout=120)
    master = probe(package / "show.mov").video
    assert master is not None and master.field_order == "tff"
    assert "interlace=scan=tff" in conform_filters(master, BROADCAST)  # 59.94p from the fields, 50p, woven
    (package / "metadata.yaml").write_text("title: Fields\nasset_id: fields\naudio_layout: mix-me\n")
    (tmp_path / "fast.toml").write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\n'
                                        '[outputs]\nprofiles = ["broadcast"]\n[shots]\nenabled = false\n')
    report = render_package(package, tmp_path / "out", load_config(tmp_path / "fast.toml"))
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    rate, frames, timecode, top_first = _read(report.folder / "fields_master-clean_broadcast.mxf")
    assert (rate, timecode, top_first) == (25, "01:00:00:00", True)
    assert frames == pytest.approx(2 * 25, abs=1)

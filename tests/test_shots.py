"""The automatic shot list, measured on a master made with known cuts: 16 shots of different
moving pictures (a zooming fractal, a game of life, a test chart with a moving part, bars...) of
uneven lengths, cut on exact frames. Both of ffmpeg's detectors are measured side by side; the
configured one must find the cuts with precision and recall >= 0.95."""

from __future__ import annotations

import json
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.media.shots import cut_times, detect_cuts, detection_command, shots_from_cuts, timecode_at

FPS = 25
# Continuous pictures, half of them moving (a chart with moving parts, a zoom, drifting
# gradients), so a detector that takes motion for a cut loses precision.
SOURCES = ["testsrc2", "mandelbrot", "smptebars", "yuvtestsrc", "rgbtestsrc",
           "gradients=speed=0.05:seed=7", "testsrc", "colorspectrum"]
LENGTHS = [20, 13, 27, 16, 30, 12, 22, 18, 25, 14, 21, 17, 24, 15, 19, 26]  # frames per shot
SIZE = "320x180"


def make_cut_master(path: Path, lengths: list[int] = LENGTHS, with_sound: bool = False) -> list[float]:
    """A master whose shots are `lengths` frames long (with a full mix and an M&E when
    `with_sound`); returns the times of its cuts."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    chains = []
    for index, frames in enumerate(lengths):
        source = SOURCES[index % len(SOURCES)]
        options = f"{source}{':' if '=' in source else '='}s={SIZE}:r={FPS}"
        command += ["-f", "lavfi", "-i", options]
        # The second round of each picture in another colour: the same source is never a cut's neighbour.
        hue = f",hue=h={90 * (index // len(SOURCES))}" if index >= len(SOURCES) else ""
        chains.append(f"[{index}:v]trim=end_frame={frames},setpts=PTS-STARTPTS,format=yuv420p{hue},setsar=1[v{index}]")
    joined = "".join(f"[v{index}]" for index in range(len(lengths)))
    chains.append(f"{joined}concat=n={len(lengths)}:v=1:a=0[out]")
    sound = []
    if with_sound:
        seconds = sum(lengths) / FPS
        for number, (title, expression) in enumerate((("Full mix", "0.1*sin(2*PI*220*t)+0.1*sin(2*PI*700*t)"),
                                                      ("M&E", "0.1*sin(2*PI*220*t)")), len(lengths)):
            command += ["-f", "lavfi", "-i", f"aevalsrc={expression}|{expression}:s=48000:d={seconds}"]
            sound += ["-map", f"{number}:a", f"-metadata:s:a:{number - len(lengths)}", f"title={title}"]
    command += ["-filter_complex", ";".join(chains), "-map", "[out]", *sound, "-c:v", "libx264",
                "-preset", "ultrafast", "-g", "250", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    frames, cuts = 0, []
    for length in lengths[:-1]:
        frames += length
        cuts.append(frames / FPS)
    return cuts


def precision_recall(found: list[float], known: list[float], tolerance_s: float = 1.5 / FPS) -> tuple[float, float]:
    """One to one: a cut found twice counts once, the second time as a false cut."""
    unmatched, hits = list(known), 0
    for moment in found:
        match = next((cut for cut in unmatched if abs(moment - cut) <= tolerance_s), None)
        if match is not None:
            unmatched.remove(match)
            hits += 1
    return (hits / len(found) if found else 0.0), hits / len(known)


@pytest.fixture(scope="module")
def cut_master(tmp_path_factory) -> tuple[Path, list[float]]:
    path = tmp_path_factory.mktemp("shots") / "cuts.mp4"
    return path, make_cut_master(path)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("method", ["scene", "scdet"])
def test_the_detectors_find_the_known_cuts(cut_master, method, capsys):
    path, known = cut_master
    default = load_config().shots
    settings = default.model_copy(update={"method": method})
    starts, seconds = detect_cuts(path, 0.0, sum(LENGTHS) / FPS, settings)
    found = [time for time in starts if time > 0]
    precision, recall = precision_recall(found, known)
    with capsys.disabled():
        print(f"\n  shot detection {method:<5} threshold {settings.threshold_of_method}: {len(found)} cuts found of "
              f"{len(known)}, precision {precision:.3f}, recall {recall:.3f}, {seconds:.2f} s")
    assert precision >= 0.95 and recall >= 0.95, (method, sorted(set(known) ^ set(found)))


@pytest.mark.ffmpeg
@pytest.mark.parametrize("min_scene_len", [15, 2])
def test_pyscenedetect_side_by_side(cut_master, min_scene_len, capsys):
    """PySceneDetect (not a dependency: measured when installed) on the same master. By default
    (min_scene_len 15 frames) it merges shots shorter than 0.6 s at 25 fps: measured, not asserted;
    allowed 2-frame shots, it must do as well as ffmpeg."""
    scenedetect = pytest.importorskip("scenedetect")
    path, known = cut_master
    begun = time.monotonic()
    scenes = scenedetect.detect(str(path), scenedetect.ContentDetector(min_scene_len=min_scene_len))
    seconds = time.monotonic() - begun
    found = [_seconds_of(start) for start, _end in scenes][1:]
    precision, recall = precision_recall(found, known)
    with capsys.disabled():
        print(f"\n  shot detection PySceneDetect {scenedetect.__version__} ContentDetector min_scene_len "
              f"{min_scene_len}: {len(found)} cuts found of {len(known)}, precision {precision:.3f}, "
              f"recall {recall:.3f}, {seconds:.2f} s")
    if min_scene_len <= min(LENGTHS):
        assert precision >= 0.95 and recall >= 0.95, sorted(set(known) ^ set(found))


@pytest.mark.ffmpeg
def test_a_programme_after_line_up_is_searched_in_its_own_time(cut_master):
    path, known = cut_master
    starts, _seconds = detect_cuts(path, 1.0, 3.0, load_config().shots)
    assert starts == pytest.approx([0.0, *[cut - 1.0 for cut in known if 1.0 < cut < 4.0]], abs=0.001)


def _seconds_of(timecode) -> float:
    # PySceneDetect 0.7 has `seconds`; 0.6 only `get_seconds()` (deprecated in 0.7).
    return timecode.seconds if hasattr(type(timecode), "seconds") else timecode.get_seconds()


def test_shots_have_timecodes_from_the_master_s_start_timecode():
    shots = shots_from_cuts([0.0, 1.0, 2.52], 0.0, 4.0, 25.0, "10:00:00:00",
                            ["a_shot-0001.jpg", "a_shot-0002.jpg", "a_shot-0003.jpg"])
    assert [(shot.in_timecode, shot.out_timecode, shot.duration_s) for shot in shots] == [
        ("10:00:00:00", "10:00:01:00", 1.0), ("10:00:01:00", "10:00:02:13", 1.52),
        ("10:00:02:13", "10:00:04:00", 1.48)]
    assert shots[2].thumbnail == "a_shot-0003.jpg"


def test_programme_time_is_moved_to_the_master_s_time():
    [first, second] = shots_from_cuts([0.0, 1.0], 5.0, 8.0, 25.0, None, [])
    assert (first.in_s, first.out_s, second.in_s, second.out_s) == (5.0, 6.0, 6.0, 8.0)
    assert first.in_timecode == "00:00:05:00" and second.out_timecode == "00:00:08:00"


def test_drop_frame_timecode_skips_the_labels_it_should():
    fps = 30000 / 1001
    assert timecode_at(0, fps, "01:00:00;00") == "01:00:00;00"
    # One minute of labels minus two frames: the frame after 00:00:59;29 is 00:01:00;02.
    assert timecode_at(1800 / fps, fps, "00:00:00;00") == "00:01:00;02"
    assert timecode_at(17982 / fps, fps, "00:00:00;00") == "00:10:00;00"  # every tenth minute keeps them
    assert timecode_at(1.0, 25.0, None) == "00:00:01:00"


@pytest.mark.ffmpeg
def test_detection_is_one_reduced_size_run_that_prints_its_times(tmp_path):
    command = detection_command(Path("/media/a master.mov"), 2.0, 10.0, "scene", 0.3, 240, tmp_path,
                                "mov,mp4,m4a,3gp,3g2,mj2")
    graph = command[command.index("-vf") + 1]
    assert graph.startswith("scale=240:-2") and "gt(scene\\,0.3)" in graph and "pipe\\:1" in graph
    assert command[command.index("-ss") + 1] == "2.000000" and command[command.index("-t") + 1] == "10.000000"
    assert command[-1] == str(tmp_path / "shot-%04d.jpg") and "-an" in command
    printed = "frame:0    pts:0   pts_time:0\nlavfi.scene_score=0\nframe:1 pts:12800 pts_time:1.04\n"
    assert cut_times(printed) == [0.0, 1.04]


@pytest.mark.ffmpeg
def test_a_delivery_carries_the_shots_in_its_sidecar_report_and_page(tmp_path, fast_config, ffmpeg_commands):
    from tests.delivery_packages import make_package, render

    lengths = LENGTHS[:5]
    package = make_package(tmp_path / "package", srts={},
                           metadata={"title": "Shots", "asset_id": "shots-test", "shot_list": ["WS bridge <dawn>"]})
    known = make_cut_master(package / "show.mov", lengths, with_sound=True)
    folder = render(package, tmp_path / "out", fast_config).folder
    # Found on the render's own decode: the command that writes the clean master also writes the
    # shots' thumbnails, and no other command decodes the picture for them.
    [detection] = [command for command in ffmpeg_commands() if any(arg.endswith("shot-%04d.jpg") for arg in command)]
    assert any(arg.endswith("shots-test_master-clean.mp4") for arg in detection)
    document = json.loads((folder / "shots-test_metadata.json").read_text(encoding="utf-8"))
    shots = document["shots"]
    assert [shot["in_s"] for shot in shots] == pytest.approx([0.0, *known], abs=0.001)
    assert shots[-1]["out_s"] == pytest.approx(sum(lengths) / FPS, abs=0.05)
    assert shots[1]["in_timecode"] == "00:00:00:20" and shots[1]["out_timecode"] == "00:00:01:08"
    thumbnails = [folder / shot["thumbnail"] for shot in shots]
    assert all(path.is_file() and path.read_bytes()[:2] == b"\xff\xd8" for path in thumbnails)  # JPEG
    assert len({path.read_bytes() for path in thumbnails}) == len(shots)  # one picture per shot
    listed = (folder / "SHA256SUMS").read_text()
    assert all(f"  {path.name}\n" in listed for path in thumbnails)
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert all(f"src='{path.name}'" in page for path in thumbnails) and "WS bridge &lt;dawn&gt;" in page
    report = (folder / "shots-test_qc.html").read_text(encoding="utf-8")
    assert f"Shots ({len(shots)} found in the master)" in report and "00:00:00:20" in report
    assert "WS bridge &lt;dawn&gt;" in report
    namespace = {"ebucore": "urn:ebu:metadata-schema:ebucore"}
    parts = ET.parse(folder / "shots-test_ebucore.xml").getroot().findall(".//ebucore:part", namespace)
    assert [part.get("typeLabel") for part in parts] == ["shot"] * len(shots)
    assert parts[1].find("ebucore:partStartTime/ebucore:timecode", namespace).text == "00:00:00:20"

"""A subtitled ProRes file encoded only where its text is (pipeline/render/patches.py).

The render encodes a subtitled mezzanine's picture around its cues only and puts the file
together from that patch and the clean mezzanine's picture. What a post house receives must
not change: the tests render the same package twice, once so and once with every picture
encoded whole, and compare the files packet by packet (every stream: sizes, times, checksums),
at 25 fps, at 29.97 fps (whose frame times are no whole number of microseconds) and with an
interlaced master whose fields the mezzanine keeps and whose last cue runs to the programme's end. They also look at the pictures themselves:
the text is on the frames of its cues and nowhere else."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.render import commands, patches
from pipeline.render.patches import MARGIN_FRAMES, NEAR_END_FRAMES, concat_list, select_chain, text_frames
from pipeline.sequence import render_package
from tests.subtitle_masters import make_package, srt
from tests.test_real_masters import ffmpeg, sound_args, sound_inputs

MEZZANINE = '[outputs]\nprofiles = ["mezzanine"]\n[subtitles]\nburn_in = true\nsoft_track = false\n'


def _render(package: Path, out: Path, config: Path, whole: bool, monkeypatch) -> dict[str, Path]:
    with monkeypatch.context() as patch:
        if whole:  # the way every picture was made before: encoded whole
            patch.setattr(patches, "PATCH_AT_MOST", -1.0)
        report = render_package(package, out, load_config(config))
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return {item.key: report.folder / item.file for item in report.deliverables if item.file}


@contextmanager
def _lines_of(name: str) -> Iterator[list[str]]:
    """The INFO lines one logger writes in this block, caught on that logger itself (whatever an
    earlier test's logging set-up did to the loggers above it)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _packets(path: Path) -> list[str]:
    """Every packet of every stream as ffmpeg's framemd5 lists it: stream, dts, pts, duration,
    size and MD5 of its bytes."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
               "-map", "0", "-c", "copy", "-f", "framemd5", "-"]
    listing = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line for line in listing.splitlines() if not line.startswith("#")]


def _description(path: Path) -> list[tuple]:
    """The file as an ingest reads it: container tags (but its creation time) and each stream's
    codec, profile, size, field order, rate, tags."""
    with av.open(str(path)) as container:
        described = [("container", container.format.name,
                      sorted((key, value) for key, value in container.metadata.items() if key != "creation_time"))]
        for stream in container.streams:
            context = stream.codec_context
            described.append((stream.type, stream.time_base, stream.frames, stream.duration,
                              sorted((key, value) for key, value in stream.metadata.items() if key != "creation_time"),
                              getattr(context, "name", None), getattr(context, "profile", None),
                              getattr(context, "pix_fmt", None), getattr(context, "width", None),
                              getattr(context, "field_order", None) if stream.type == "video" else None,
                              stream.average_rate if stream.type == "video" else None))
    return described


def _text_frames(subtitled: Path, clean: Path) -> list[int]:
    """The frames where the subtitled picture differs from the clean one (where text is)."""
    with av.open(str(subtitled)) as one, av.open(str(clean)) as other:
        return [number for number, (a, b) in enumerate(zip(one.decode(video=0), other.decode(video=0)))
                if np.abs(a.to_ndarray(format="gray").astype(int) - b.to_ndarray(format="gray").astype(int)).max() > 40]


def _interlaced_package(folder: Path, srts: dict[str, str]) -> Path:
    """An interlaced 25i master (top field first, fields 1/50 s apart) with a mix and an M&E."""
    folder.mkdir(parents=True)
    picture = ("testsrc2=size=720x576:rate=50:duration=3,format=yuv420p,"
               "tinterlace=mode=interleave_top,setfield=tff")
    ffmpeg("-f", "lavfi", "-i", picture, *sound_inputs(3.0), "-map", "0:v", "-c:v", "mpeg2video", "-q:v", "3",
           "-flags", "+ilme+ildct", *sound_args(), str(folder / "show.mov"))
    for language, text in srts.items():
        (folder / f"show.{language}.srt").write_text(text, encoding="utf-8")
    (folder / "metadata.yaml").write_text("title: Patched\nasset_id: patched\nlanguage: en\n")
    return folder


def _srt_of(cues: list[tuple[float, float]]) -> str:
    def spelled(seconds: float) -> str:
        return f"00:00:{int(seconds):02d},{round(seconds % 1 * 1000):03d}"
    return srt(*[(spelled(start), spelled(end), f"Cue {number}") for number, (start, end) in enumerate(cues, 1)])


CUES = {"25": [(0.6, 1.4), (2.8, 3.2)],  # shape -> the cues (seconds)
        "interlaced": [(0.6, 1.4), (2.2, 3.0)],  # the last cue to the programme's end
        # at 29.97 fps frame times are no whole number of microseconds: five ranges to put together
        "30000/1001": [(start, start + 0.2) for start in (0.437, 1.571, 2.683, 3.817, 4.949)]}
SECONDS = {"25": 4.0, "interlaced": 3.0, "30000/1001": 6.0}


@pytest.mark.ffmpeg
@pytest.mark.parametrize("shape", ["25", "30000/1001", "interlaced"])
def test_a_subtitled_prores_file_encoded_where_its_text_is_equals_one_encoded_whole(tmp_path, monkeypatch, shape):
    srts, cues = {"en": _srt_of(CUES[shape])}, CUES[shape]
    if shape == "interlaced":
        package = _interlaced_package(tmp_path / "package", srts)
    else:
        package = make_package(tmp_path / "package", srts, fps=shape, size=(320, 180), seconds=SECONDS[shape],
                               timecode="10:00:00:00")
    config = tmp_path / "mezzanine.toml"
    config.write_text(MEZZANINE)
    with _lines_of("pipeline.render.run") as lines:
        patched = _render(package, tmp_path / "patched", config, whole=False, monkeypatch=monkeypatch)
    said = [line for line in lines if "around its cues only" in line]
    whole = _render(package, tmp_path / "whole", config, whole=True, monkeypatch=monkeypatch)

    assert len(said) == 1 and "subtitled-en_mezzanine: picture encoded on the" in said[0], said
    key = "subtitled-en_mezzanine"
    assert _packets(patched[key]) == _packets(whole[key])
    assert _description(patched[key]) == _description(whole[key])
    assert sorted(path.name for path in patched[key].parent.iterdir()) == sorted(
        path.name for path in whole[key].parent.iterdir())  # nothing of the assembly left behind
    # the text on the frames of the cues, and the picture as clean everywhere else
    fps = 25.0 if shape == "interlaced" else float(Fraction(shape))
    with_text = _text_frames(patched[key], patched["master-clean_mezzanine"])
    for start, end in cues:
        assert round((start + end) / 2 * fps) in with_text, (start, end)
    assert all(any(start - 1 / fps <= number / fps < end + 1 / fps for start, end in cues) for number in with_text)


@pytest.mark.ffmpeg
def test_only_intra_coded_burned_pictures_are_patched_and_the_others_encoded_whole(tmp_path):
    """The broadcast profile's MPEG-2 predicts frames from each other, so its subtitled file is
    encoded whole; the mezzanine's is patched; without cue times, without any cue, or with text
    on every frame, nothing is."""
    from tests.test_delivery_profiles import THREE, _three_profile_specs
    from tests.test_render_plan import GAIN, PRORES_1080, _inputs

    config = load_config(profiles=THREE)
    specs = _three_profile_specs(config)
    specs = [spec for spec in specs if spec.picture in ("encode", "burn")]
    burned = [spec for spec in specs if spec.burns]
    assert {spec.profile for spec in burned} == {"web", "broadcast", "mezzanine"}
    cues = {f"subtitles-{spec.burns}.ass": [(1000, 2000)] for spec in burned}
    inputs = _inputs(tmp_path / "show.mov", PRORES_1080)
    plan = commands.build_render_command(inputs, specs, GAIN, config, tmp_path, "show", {}, burned_cues=cues)
    assert sorted(plan.patches) == sorted(spec.key for spec in burned if spec.profile == "mezzanine")
    assert set(plan.assemblies) == set(plan.patches) and len(plan.concat_lists) == len(plan.patches)
    whole = commands.build_render_command(inputs, specs, GAIN, config, tmp_path, "show", {})
    assert not whole.patches and not whole.assemblies
    no_cue = commands.build_render_command(inputs, specs, GAIN, config, tmp_path, "show", {},
                                           burned_cues=dict.fromkeys(cues, []))
    assert not no_cue.patches  # nothing to select: encoded whole, not an empty patch
    covered = commands.build_render_command(inputs, specs, GAIN, config, tmp_path, "show", {},
                                            burned_cues=dict.fromkeys(cues, [(0, 3_600_000)]))
    assert not covered.patches  # text on every frame: nothing to gain
    assert plan.command.count("prores_ks") == whole.command.count("prores_ks")  # each picture one encoder still


def test_the_patch_covers_every_frame_a_cue_shows_on_with_a_margin_and_joins_cues_whose_margins_meet():
    fps = Fraction(25)
    patch = text_frames([(600, 1400), (2400, 2600), (2720, 3200)], fps, 100)
    # 0.6-1.4 s shows on frames 15-34 and 2.4-2.6 s on 60-64: ranges of their own, with the 23
    # frames between them from the clean file; 2.72-3.2 s (68-79) is three frames after 2.6 s,
    # so their margins overlap: one range
    assert patch.ranges == ((15 - MARGIN_FRAMES, 35 + MARGIN_FRAMES), (60 - MARGIN_FRAMES, 80 + MARGIN_FRAMES))
    assert patch.encoded == 24 + 24 and patch.frames == 100
    apart = text_frames([(600, 1400), (2400, 2600), (2880, 3200)], fps, 100)  # 72-79: far enough
    assert apart.ranges[1:] == ((60 - MARGIN_FRAMES, 65 + MARGIN_FRAMES), (72 - MARGIN_FRAMES, 80 + MARGIN_FRAMES))
    edges = text_frames([(0, 400), (3900, 5000), (6000, 7000)], fps, 100)  # the first frame; past the last
    assert edges.ranges == ((0, 10 + MARGIN_FRAMES), (97 - MARGIN_FRAMES, 100)) and edges.to_end
    late = text_frames([(1000, 3000), (3960, 4000)], fps, 100)  # a cue on the last frame only
    assert late.ranges == ((25 - MARGIN_FRAMES, 75 + MARGIN_FRAMES), (100 - NEAR_END_FRAMES - 1, 100))
    assert late.to_end and not patch.to_end
    # a range to the end: the select takes every frame from its start, wherever the file ends,
    # and the assembled file ends on the patch's own last frame, not on an empty clean segment
    assert select_chain("v0", late, "p0").endswith("+gte(n,96)',setpts=N*1/(25*TB)[p0]")
    listing = concat_list(Path("/c/clean.mov"), Path("/c/patch.mov"), late).splitlines()
    assert listing[-2:] == ["file 'file:/c/patch.mov'", "inpoint 2.160000"]  # after its first 54 frames


def test_the_assembled_picture_keeps_every_frame_at_its_own_time_at_2997():
    """The segments' durations, each rounded to the microsecond, add up to the frames' own times:
    rounding never piles up over many cues."""
    fps = Fraction(30000, 1001)
    cues = [(second * 1000 + 100, second * 1000 + 500) for second in range(0, 60, 2)]
    patch = text_frames(cues, fps, 1800)
    listing = concat_list(Path("/c/clean.mov"), Path("/c/it's.mov"), patch)
    durations = [Fraction(line.split()[1]) for line in listing.splitlines() if line.startswith("duration")]
    ends = np.cumsum([float(value) for value in durations])
    boundaries = sorted({edge for start, end in patch.ranges for edge in (start, end)} - {0})
    assert patch.ranges[0][0] == 0 and len(durations) == len(boundaries) == 2 * len(patch.ranges) - 1
    for end, frame in zip(ends, boundaries):
        assert abs(end - frame / float(fps)) <= 0.5e-6
    assert "file 'file:/c/it'\\''s.mov'" in listing  # a quote in a name is closed, escaped, reopened

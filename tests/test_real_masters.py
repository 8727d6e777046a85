"""Masters as news desks and broadcasters hand them over: anamorphic, interlaced, a phone's
rotated portrait at a variable frame rate, sound that starts after the picture, a start
timecode, ProRes 4444 with alpha. Each is built with ffmpeg here, rendered, and the delivered
files are measured as a broadcaster would (a circle stays round, no combing, the beep on the
flash frame, the timecode read back). Then each QC check is shown failing on a file made wrong
on purpose, with the figure in its message."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image

from pipeline.config import load_config
from pipeline.delivery import measure
from pipeline.delivery.contact_sheets import THUMBNAIL_COLUMNS, THUMBNAIL_WIDTH, cut_sheets
from pipeline.delivery.verify import technical_facts
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.media.fields import measure_fields, parse_idet
from pipeline.media.probe import VideoInfo, probe
from pipeline.media.timecode import shifted_timecode
from pipeline.render import conform
from pipeline.sequence import render_package
from pipeline.subtitles.burn_in import to_ass
from tests.media import audio_of, frame_at

MIX = "0.05*sin(2*PI*300*t)+{beep}"
"""A quiet tone (so the mix is not the M&E) plus the beep shared by both."""


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True, timeout=120)


def sound_inputs(seconds: float, beep_at: float | None = None, offset: float = 0.0) -> list[str]:
    """Two stereo PCM inputs, "Full mix" and "M&E"; a 1 kHz beep from `beep_at` (stream time)."""
    beep = f"0.3*sin(2*PI*1000*t)*between(t\\,{beep_at}\\,{beep_at + 0.2})" if beep_at is not None else "0"
    delay = ["-itsoffset", str(offset)] if offset else []
    mix = MIX.format(beep=beep)
    return (delay + ["-f", "lavfi", "-i", f"aevalsrc={mix}|{mix}:s=48000:d={seconds}"]
            + delay + ["-f", "lavfi", "-i", f"aevalsrc=0.02*sin(2*PI*170*t)+{beep}|0.02*sin(2*PI*170*t)+{beep}"
                                              f":s=48000:d={seconds}"])


def sound_args() -> list[str]:
    return ["-map", "1:a", "-map", "2:a", "-c:a", "pcm_s16le",
            "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E",
            "-metadata:s:a:0", "handler_name=Full mix", "-metadata:s:a:1", "handler_name=M&E"]


def circle(width: int, height: int, sar: Fraction = Fraction(1), moving: bool = False) -> str:
    """A white disc on grey, round on screen: in storage it is narrowed by the pixel aspect.
    Moving, it crosses the picture in 2 s (combing shows on its edges)."""
    radius = height // 4
    x = f"({width // 4}+{width // 2}*T/2)" if moving else str(width // 2)
    stretch = float(sar)
    return (f"geq=lum='if(lt(hypot((X-{x})*{stretch},Y-{height // 2}),{radius}),235,60)':cb=128:cr=128")


def make_package(folder: Path, master_args: list[str], metadata: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg(*master_args, str(folder / "show.mov"))
    (folder / "metadata.yaml").write_text(f"title: Real master\nasset_id: real-master\nlanguage: en\n{metadata}")
    return folder


def render(package: Path, out: Path, fast_config: Path):
    report = render_package(package, out, load_config(fast_config))
    return report, {item.key: report.folder / item.file for item in report.deliverables if item.file}


def disc_ratio(picture: np.ndarray) -> float:
    """Width over height of the bright disc in an RGB frame."""
    bright = picture[..., 0] > 160
    rows, columns = np.nonzero(bright.any(axis=1))[0], np.nonzero(bright.any(axis=0))[0]
    return (columns[-1] - columns[0] + 1) / (rows[-1] - rows[0] + 1)


def comb_ratio(picture: np.ndarray) -> float:
    """Combing: how much neighbouring rows differ against rows two apart (a woven moving edge
    makes neighbours differ far more; ~1 or less on a progressive picture)."""
    luma = picture[..., 0].astype(np.float64)
    return float(np.abs(np.diff(luma, axis=0)).mean() / max(np.abs(luma[2:] - luma[:-2]).mean(), 1e-9))


def interlaced_pal_master(seconds: float = 2.0) -> list[str]:
    """PAL 720x576, 16:9 anamorphic (pixel aspect 64:45), bottom field first: the fields are
    real (taken 1/50 s apart from a moving disc), coded as interlaced MPEG-2."""
    sar = Fraction(64, 45)
    picture = (f"color=c=gray:s=720x576:r=50:d={seconds},format=yuv420p,{circle(720, 576, sar, moving=True)},"
               f"tinterlace=mode=interleave_bottom,setsar=64/45,setfield=bff")
    return (["-f", "lavfi", "-i", picture] + sound_inputs(seconds)
            + ["-map", "0:v", "-c:v", "mpeg2video", "-q:v", "3", "-flags", "+ilme+ildct"] + sound_args())


@pytest.fixture(scope="module")
def pal_master(tmp_path_factory) -> Path:
    """The PAL master, built once (drawing the moving disc is the slow part)."""
    path = tmp_path_factory.mktemp("pal") / "show.mov"
    ffmpeg(*interlaced_pal_master(), str(path))
    return path


@pytest.fixture(scope="module")
def pal_render(tmp_path_factory, fast_config, pal_master):
    """The PAL master's package and its render, shared by the tests that measure it."""
    folder = tmp_path_factory.mktemp("pal-render")
    package = make_package(folder / "pal", ["-i", str(pal_master), "-map", "0", "-c", "copy"])
    return package, *render(package, folder / "out", fast_config)


@pytest.mark.ffmpeg
def test_anamorphic_interlaced_pal_comes_out_square_progressive_at_double_rate(pal_render):
    package, report, files = pal_render
    master = probe(package / "show.mov").video
    assert (master.sar, master.field_order, master.display_size) == (Fraction(64, 45), "bff", (1024, 576))
    assert not report.failed, [item.reason for item in report.failed]
    clean = probe(files["master-clean"]).video
    assert (clean.width, clean.height, clean.sar, clean.fps) == (1024, 576, Fraction(1), Fraction(50))
    picture = frame_at(files["master-clean"], 1.0)
    assert disc_ratio(picture) == pytest.approx(1.0, abs=0.03)
    assert comb_ratio(picture) < 1.2
    assert comb_ratio(frame_at(package / "show.mov", 1.0)) > 2  # the master is combed
    assert measure_fields(files["master-clean"]).interlaced_share < measure.COMBED_SHARE


def hdv_master(seconds: float = 2.0) -> list[str]:
    """HDV / XDCAM HD: 1440x1080 at pixel aspect 4:3 (a 16:9 picture), 50i top field first, coded
    as interlaced MPEG-2. The disc (drawn once, narrowed by the pixel aspect so it is round on
    screen) crosses the picture, so each frame's two fields show it 1/50 s apart."""
    disc = "geq=lum=235:cb=128:cr=128:a='if(lt(hypot((X-203)*4/3,Y-270),270),255,0)'"
    picture = (f"color=c=gray:s=1440x1080:r=50:d={seconds},format=yuv420p[bg];"
               f"color=c=white:s=406x540:r=50:d={seconds},format=yuva420p,{disc}[disc];"
               f"[bg][disc]overlay=x='200+800*t/{seconds}':y=270,tinterlace=mode=interleave_top,"
               "setsar=4/3,setfield=tff")
    return (["-f", "lavfi", "-i", picture] + sound_inputs(seconds)
            + ["-map", "0:v", "-c:v", "mpeg2video", "-q:v", "3", "-flags", "+ilme+ildct"] + sound_args())


@pytest.mark.ffmpeg
def test_hdv_1440_anamorphic_50i_comes_out_1920_square_progressive_at_50_fps(tmp_path, fast_config):
    package = make_package(tmp_path / "hdv", hdv_master())
    master = probe(package / "show.mov").video
    assert (master.width, master.sar, master.field_order, master.display_size) == (
        1440, Fraction(4, 3), "tff", (1920, 1080))
    assert comb_ratio(frame_at(package / "show.mov", 1.0)) > 2  # the master's moving disc is combed
    report, files = render(package, tmp_path / "out", fast_config)
    assert not report.failed, [item.reason for item in report.failed]
    for path in files.values():
        web = probe(path).video
        assert (web.width, web.height, web.sar, web.fps, web.field_order) == (
            1920, 1080, Fraction(1), Fraction(50), "progressive"), path.name
    picture = frame_at(files["master-clean"], 1.0)
    assert disc_ratio(picture) == pytest.approx(1.0, abs=0.03)
    assert comb_ratio(picture) < 1.2
    assert measure_fields(files["master-clean"]).interlaced_share < measure.COMBED_SHARE


def drop_frame_master(seconds: float = 2.0) -> list[str]:
    """29.97 fps NTSC-rate master starting at 01:00:00;00, drop-frame counting."""
    picture = f"testsrc2=s=320x180:r=30000/1001:d={seconds},format=yuv420p"
    return (["-f", "lavfi", "-i", picture] + sound_inputs(seconds)
            + ["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-timecode", "01:00:00;00"]
            + sound_args())


def stream_timecode(path: Path) -> str | None:
    """The start timecode as a player reads it: the tmcd track's (or the video stream's) tag."""
    with av.open(str(path)) as container:
        tags = [dict(stream.metadata) for stream in container.streams] + [dict(container.metadata)]
    return next((found["timecode"] for found in tags if "timecode" in found), None)


@pytest.mark.ffmpeg
def test_a_drop_frame_timecode_travels_shifted_by_the_programme_start_and_a_wrong_one_fails(tmp_path, fast_config):
    package = make_package(tmp_path / "ntsc", drop_frame_master(), "programme_start: 1\n")
    fps = Fraction(30000, 1001)
    assert stream_timecode(package / "show.mov") == "01:00:00;00"
    expected = shifted_timecode("01:00:00;00", 1.0, fps)
    assert expected == "01:00:01;00"  # 1 s is 30 frames (29.97 rounded): no label skipped yet
    report, files = render(package, tmp_path / "out", fast_config)
    assert not report.failed, [item.reason for item in report.failed]
    sidecar = next(report.folder.glob("*.json")).read_text()
    assert "timecode" not in " ".join(str(item.reason) for item in report.deliverables)
    assert "starts at timecode" not in sidecar and "no start timecode" not in sidecar
    assert sorted(files) == ["international", "master-clean"]
    for path in files.values():
        assert stream_timecode(path) == expected, path.name
        assert probe(path).video.fps == fps
    wrong = tmp_path / "wrong.mp4"  # the master's own timecode, the programme start forgotten
    ffmpeg("-i", str(files["master-clean"]), "-map", "0:v", "-map", "0:a", "-c", "copy",
           "-timecode", "01:00:00;00", str(wrong))
    assert stream_timecode(wrong) == "01:00:00;00"
    facts = master_facts(package / "show.mov", start_s=1.0, timecode=expected)
    problems = measure.measured_problems(facts, wrong, probe(wrong))
    assert problems == ["starts at timecode 01:00:00;00 instead of 01:00:01;00"]


def report_sheets(report_file: Path) -> list[Image.Image]:
    """The contact sheets embedded in a QC report (the PNGs of its `class='sheet'` images)."""
    found = re.findall(r"<img class='sheet' [^>]*src='data:image/png;base64,([^']+)'", report_file.read_text())
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in found]


def sheet_tiles(sheet: Image.Image, count: int) -> list[np.ndarray]:
    columns = min(count, THUMBNAIL_COLUMNS)
    rows = -(-count // columns)
    pixels = np.asarray(sheet.convert("RGB"))
    height = sheet.height // rows
    return [pixels[row * height:(row + 1) * height, column * THUMBNAIL_WIDTH:(column + 1) * THUMBNAIL_WIDTH]
            for row in range(rows) for column in range(columns)][:count]


@pytest.mark.ffmpeg
def test_contact_sheets_show_the_delivered_display_aspect(tmp_path, pal_render, pal_master):
    package, report, files = pal_render
    sheets = report_sheets(next(report.folder.glob("*_qc.html")))
    assert len(sheets) == len(files)
    for sheet in sheets:  # 8 frames of 240x136 in 4 columns: the 16:9 the outputs show
        assert sheet.size == (4 * THUMBNAIL_WIDTH, 2 * 136)
        # cut by the render from its own decode (de-interlaced, pixel aspect applied): round
        ratios = [disc_ratio(tile) for tile in sheet_tiles(sheet, 8) if (tile[..., 0] > 160).any()]
        assert len(ratios) == 8 and all(ratio == pytest.approx(1.0, abs=0.06) for ratio in ratios), ratios
    # The builder itself, on a file whose storage is not its shape: the anamorphic master.
    info = probe(pal_master)
    result = SimpleNamespace(key="master", file=pal_master.name, deliverable=None, conversion={}, delivered=True,
                             technical=technical_facts(pal_master, info), contact_sheet=None)
    cut_sheets(SimpleNamespace(asset_id="pal", subtitles={}), [result], pal_master.parent, tmp_path,
               load_config().limits)
    sheet = Image.open(io.BytesIO(base64.b64decode(result.contact_sheet.uri.split("base64,")[1])))
    assert sheet.size == (4 * THUMBNAIL_WIDTH, 2 * 136), "thumbnails sized from the 720x576 storage"
    ratios = [disc_ratio(tile) for tile in sheet_tiles(sheet, 8) if (tile[..., 0] > 160).any()]
    assert ratios and all(ratio == pytest.approx(1.0, abs=0.06) for ratio in ratios), ratios


def phone_master(seconds: float = 2.0) -> list[str]:
    """A phone's portrait video stored landscape (640x360) at 30 fps with frames dropped
    (variable rate); the display matrix is added by a stream copy (`phone_package`)."""
    picture = (f"color=c=gray:s=640x360:r=30:d={seconds},format=yuv420p,{circle(640, 360)},"
               "select='not(between(n\\,20\\,26))'")
    return (["-f", "lavfi", "-i", picture] + sound_inputs(seconds)
            + ["-map", "0:v", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast"] + sound_args())


@pytest.mark.ffmpeg
def test_a_rotated_variable_rate_phone_video_comes_out_upright_portrait_at_a_constant_rate(tmp_path, fast_config):
    stored = make_package(tmp_path / "stored", phone_master())
    package = make_package(tmp_path / "phone", ["-display_rotation", "90", "-i", str(stored / "show.mov"),
                                                "-map", "0", "-c", "copy"])
    master = probe(package / "show.mov").video
    assert (master.rotation, master.variable_rate, master.display_size) == (90, True, (360, 640))
    report, files = render(package, tmp_path / "out", fast_config)
    assert not report.failed, [item.reason for item in report.failed]
    clean = probe(files["master-clean"])
    assert (clean.video.width, clean.video.height, clean.video.rotation) == (360, 640, 0)
    assert not clean.video.variable_rate and clean.video.fps == 30
    assert disc_ratio(frame_at(files["master-clean"], 0.5)) == pytest.approx(1.0, abs=0.03)


PORTRAIT_SRT = """1
00:00:00,200 --> 00:00:00,950
The minister will speak after the vote.

2
00:00:01,050 --> 00:00:01,900
Crowds gathered outside the city hall.
"""
"""Two one-line cues of 39 and 38 characters, each well inside the 42-character rule."""


def ink_rows(subtitled: np.ndarray, clean: np.ndarray) -> list[tuple[int, int]]:
    """The bands of rows where the burned text (and its outline) changed the picture: the
    first and last row of each run of rows with ink, runs less than 3 rows apart joined (an
    accent or the dot of an i stands a row or two above its letter)."""
    ink = (np.abs(subtitled.astype(int) - clean.astype(int)).max(axis=2) > 40).any(axis=1)
    rows = np.nonzero(ink)[0]
    if not len(rows):
        return []
    breaks = np.nonzero(np.diff(rows) > 3)[0]
    starts, ends = np.r_[rows[0], rows[breaks + 1]], np.r_[rows[breaks], rows[-1]]
    return [(int(start), int(end)) for start, end in zip(starts, ends)]


@pytest.mark.ffmpeg
def test_a_portrait_phone_video_gets_its_one_line_cues_on_one_line_sized_from_the_width(tmp_path, fast_config):
    picture = "color=c=0x404040:s=360x640:r=30:d=2,format=yuv420p"  # flat: only the text is ink
    package = make_package(tmp_path / "portrait", ["-f", "lavfi", "-i", picture] + sound_inputs(2.0)
                           + ["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast"] + sound_args())
    (package / "show.en.srt").write_text(PORTRAIT_SRT, encoding="utf-8")
    report, files = render(package, tmp_path / "out", fast_config)
    assert not report.failed, [item.reason for item in report.failed]
    assert probe(files["subtitled-en"]).video.display_size == (360, 640)
    for at in (0.6, 1.5):
        bands = ink_rows(frame_at(files["subtitled-en"], at), frame_at(files["master-clean"], at))
        assert len(bands) == 1, bands  # one line of text: one band of ink
        top, bottom = bands[0]
        height = bottom - top + 1
        # Sized from the width as a 16:9 picture 360 wide would be (a line about 3-5 % of the
        # width); sized from the 640 px height it would be three times as tall and wrap to 3 lines.
        assert 0.02 * 360 <= height <= 0.06 * 360, bands
        assert bottom > 0.8 * 640  # at the foot of the picture


def test_portrait_subtitles_are_sized_from_the_width():
    from pipeline.config import SubtitleStyle
    from pipeline.subtitles import Cue, SubtitleTrack

    track = SubtitleTrack("en", Path("x.srt"), [Cue(1, 0, 1000, "x")], "utf-8")
    landscape = to_ass(track, SubtitleStyle(), 1920, 1080, 2)
    portrait = to_ass(track, SubtitleStyle(), 1080, 1920, 2)
    size = [line.split(",")[2] for line in (landscape, portrait) for line in line.splitlines()
            if line.startswith("Style:")]
    assert size == ["59", "33"]  # 42 characters fit on a line of the portrait picture as in 16:9


def late_sound_master(seconds: float = 3.0) -> list[str]:
    """A flash frame at 1.48 s (frame 37) and a beep on the same instant, in sound streams that
    start 0.5 s after the picture; start timecode 10:00:00:00."""
    picture = f"color=c=black:s=320x180:r=25:d={seconds},format=yuv420p,geq=lum='if(eq(N,37),235,16)':cb=128:cr=128"
    return (["-f", "lavfi", "-i", picture] + sound_inputs(seconds - 0.5, beep_at=0.98, offset=0.5)
            + ["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-g", "1", "-timecode", "10:00:00:00"]
            + sound_args())


def flash_and_beep(path: Path) -> tuple[float, float]:
    """When the flash frame starts and when the beep starts (seconds, the file's own time)."""
    with av.open(str(path)) as container:
        times = [float(frame.time) for frame in container.decode(video=0)
                 if frame.to_ndarray(format="gray").mean() > 128]
    sound = np.abs(audio_of(path, rate=48000))
    return times[0], int(np.argmax(sound > 0.15)) / 48000


@pytest.mark.ffmpeg
def test_sound_that_starts_late_keeps_its_place_and_the_timecode_travels(tmp_path, fast_config):
    package = make_package(tmp_path / "late", late_sound_master(), "programme_start: 0.4\n")
    master = probe(package / "show.mov")
    assert [stream.start_s for stream in master.audio] == [0.5, 0.5]
    assert master.start_timecode == "10:00:00:00"
    report, files = render(package, tmp_path / "out", fast_config)
    assert not report.failed, [item.reason for item in report.failed]
    for path in files.values():
        flash, beep = flash_and_beep(path)
        assert flash == pytest.approx(1.08, abs=0.001)
        assert beep - flash == pytest.approx(0.0, abs=0.001), path.name
        assert probe(path).start_timecode == "10:00:00:10"  # 10 h + the 0.4 s programme start


def alpha_master(seconds: float = 2.0) -> list[str]:
    """ProRes 4444: a white picture whose left half is fully transparent."""
    picture = (f"color=c=white:s=320x180:r=25:d={seconds},format=yuva444p10le,"
               "geq=lum='lum(X,Y)':cb='cb(X,Y)':cr='cr(X,Y)':a='if(lt(X,160),0,1023)'")
    return (["-f", "lavfi", "-i", picture] + sound_inputs(seconds)
            + ["-map", "0:v", "-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"] + sound_args())


@pytest.mark.ffmpeg
def test_alpha_is_flattened_onto_black(tmp_path, fast_config):
    package = make_package(tmp_path / "alpha", alpha_master())
    assert probe(package / "show.mov").video.alpha
    report, files = render(package, tmp_path / "out", fast_config)
    assert not report.failed, [item.reason for item in report.failed]
    picture = frame_at(files["master-clean"], 1.0)
    assert picture[:, :150].mean() < 20 and picture[:, 170:].mean() > 230


# ------------------------------------------------------------------------------------------
# The conform stage's builders

PROFILE = load_config(None).profiles["web"]


def video(**changes) -> VideoInfo:
    base = dict(index=0, codec="h264", width=1920, height=1080, fps=Fraction(25), pix_fmt="yuv420p")
    return VideoInfo(**(base | changes))


@pytest.mark.parametrize("master, size", [
    (video(width=1440, sar=Fraction(4, 3)), (1920, 1080)),
    (video(width=720, height=576, sar=Fraction(64, 45)), (1024, 576)),
    (video(width=3840, height=2160, rotation=90), (606, 1080)),
    (video(width=3840, height=2160), (1920, 1080)),
])
def test_the_delivery_size_is_the_upright_square_pixel_picture_within_the_profile(master, size):
    assert conform.frame_size(master, PROFILE) == size


def test_a_progressive_square_pixel_master_gets_the_chain_it_always_got():
    assert conform.conform_filters(video(), PROFILE) == "setsar=1,format=yuv420p"
    assert (conform.conform_filters(video(width=3840, height=2160), PROFILE)
            == "scale=1920:1080:flags=lanczos,setsar=1,format=yuv420p")


def test_an_interlaced_master_is_deinterlaced_first_with_its_field_order():
    chain = conform.conform_filters(video(width=1440, sar=Fraction(4, 3), field_order="tff"), PROFILE)
    assert chain.startswith("bwdif=mode=send_field:parity=tff:deint=all,scale=1920:1080")
    same_rate = PROFILE.model_copy(update={"deinterlace": "same-rate"})
    assert "mode=send_frame:parity=bff" in conform.conform_filters(video(field_order="bff"), same_rate)


def test_variable_rate_and_alpha_are_conformed():
    assert conform.conform_filters(video(variable_rate=True, fps=Fraction(30)), PROFILE).startswith("fps=30/1,")
    assert "drawbox=c=0x102030:t=fill" in conform.conform_filters(video(alpha=True), PROFILE, "#102030")


@pytest.mark.parametrize("timecode, seconds, fps, expected", [
    ("10:00:00:00", 0.4, 25, "10:00:00:10"),
    ("01:00:00;00", 0.0, Fraction(30000, 1001), "01:00:00;00"),
    ("00:00:59;29", 1 / (30000 / 1001), Fraction(30000, 1001), "00:01:00;02"),  # ;00 and ;01 skipped
    ("00:09:59;29", 1 / (30000 / 1001), Fraction(30000, 1001), "00:10:00;00"),  # not each tenth minute
])
def test_the_start_timecode_is_shifted_by_the_programme_start(timecode, seconds, fps, expected):
    assert shifted_timecode(timecode, seconds, fps) == expected


def test_idet_verdicts_are_read_from_its_summary():
    stderr = ("[Parsed_idet_1 @ 0x1] Single frame detection: TFF: 40 BFF: 0 Progressive: 2 Undetermined: 8\n"
              "[Parsed_idet_1 @ 0x1] Multi frame detection: TFF: 45 BFF: 0 Progressive: 1 Undetermined: 4\n")
    counted = parse_idet(stderr)
    assert counted.field_order() == "tff" and counted.interlaced_share == pytest.approx(45 / 46)
    assert parse_idet("nothing").field_order() == "unknown"


# ------------------------------------------------------------------------------------------
# Each QC check failing on a file made wrong on purpose

def master_facts(path: Path, **changes) -> measure.MasterFacts:
    info = probe(path)
    facts = dict(path=path, demuxer=info.container, start_s=0.0, duration_s=info.duration_s,
                 display_aspect=info.video.display_aspect, fps=float(info.video.fps), timecode=None)
    return measure.MasterFacts(**(facts | changes))


@pytest.mark.ffmpeg
def test_qc_fails_a_squashed_picture_and_a_combed_one(tmp_path, pal_master):
    master = pal_master
    squashed = tmp_path / "squashed.mp4"  # anamorphic pixels lost, fields left woven
    ffmpeg("-i", str(master), "-map", "0:v", "-vf", "setsar=1,setfield=prog", "-c:v", "libx264",
           "-preset", "ultrafast", "-flags", "-ildct-ilme", str(squashed))
    output = probe(squashed)
    assert output.video.field_order == "progressive"
    facts = master_facts(master)
    assert measure.aspect_problem(output, facts.display_aspect) == (
        "display aspect 1.250:1 (720x576, pixel aspect 1) instead of the master's 1.778:1: the picture is distorted")
    problem = measure.combing_problem(squashed, output)
    assert problem is not None and problem.startswith("combed: idet finds") and "interlaced" in problem
    flagged = tmp_path / "flagged.mp4"
    ffmpeg("-i", str(master), "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme",
           "-x264opts", "bff=1", str(flagged))
    assert measure.combing_problem(flagged, probe(flagged)) == (
        "flagged interlaced (bff) in a progressive delivery")


@pytest.mark.ffmpeg
def test_qc_fails_a_sound_rebased_to_zero_and_a_missing_or_wrong_timecode(tmp_path):
    master = tmp_path / "late.mov"
    ffmpeg(*late_sound_master(), str(master))
    rebased = tmp_path / "rebased.mp4"  # the sound's first sample put at 0: what the trial mux did
    ffmpeg("-i", str(master), "-map", "0:v", "-map", "0:a:0", "-c:v", "copy", "-c:a", "aac",
           "-af", "asetpts=PTS-STARTPTS", "-map_metadata", "-1", "-write_tmcd", "0", str(rebased))
    rebased_info = probe(rebased)
    facts = master_facts(master, timecode="10:00:00:00")
    problem = measure.sync_problem(facts, rebased, rebased_info)
    assert problem is not None and problem.startswith("sound 5"), problem
    assert "ms early against the picture compared with the master" in problem
    right = tmp_path / "right.mp4"
    ffmpeg("-i", str(master), "-map", "0:v", "-map", "0:a:0", "-c:v", "copy", "-c:a", "aac",
           "-af", "aresample=first_pts=0", "-timecode", "10:00:00:00", str(right))
    right_info = probe(right)
    assert measure.sync_problem(facts, right, right_info) is None
    assert measure.timecode_problem(right_info, "10:00:00:00") is None
    assert measure.timecode_problem(rebased_info, "10:00:00:00") == "carries no start timecode (expected 10:00:00:00)"
    assert measure.timecode_problem(right_info, "10:00:00:10") == (
        "starts at timecode 10:00:00:00 instead of 10:00:00:10")

"""What makes one output file of a profile, whatever the profile (web, broadcast, mezzanine or a
site's own): its video encoder settings, its container, its soft subtitle track, its burned-in
subtitles, a file made by stream copy, and a size estimate. One builder per concern; where two
profiles' files differ, the difference is the profile's data (pipeline/config.py OutputProfile).
Pure builders: no I/O. The conform chain is pipeline/render/conform.py, the sound's codec
pipeline/audio/encoding.py."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from pipeline.config import OutputProfile, bit_rate_of
from pipeline.media import ffmpeg
from pipeline.media.probe import VideoInfo
from pipeline.render.conform import frame_size, out_interlaced
from pipeline.render.patches import CONCAT_SUFFIX, picture_input_args

FONTS_LINK = "fonts"
"""Name of the link to the font folder inside the work dir: filter arguments stay plain names."""

MPEG2_PROFILES = {"422": 0, "high": 1, "main": 4}
MPEG2_LEVELS = {("422", "high"): 2, ("422", "main"): 5, ("high", "high"): 4, ("main", "high"): 4,
                ("high", "main"): 8, ("main", "main"): 8}
"""ffmpeg's numbers for MPEG-2 profiles and levels (4:2:2 Profile @ High Level is 0 and 2)."""
PRORES_PROFILES = {"proxy": 0, "lt": 1, "standard": 2, "hq": 3, "4444": 4, "4444xq": 5}
XDCAM_VBV_BITS = 17_825_792
"""The VBV buffer of XDCAM HD422 at 50 Mb/s; other bit rates get the same buffer in seconds."""


def video_codec_args(profile: OutputProfile, video: VideoInfo, threads: int) -> list[str]:
    """The encoder and its settings for one picture of the profile."""
    codec = profile.video_codec
    args = ["-c:v", codec, "-threads", str(threads)]
    if codec == "mpeg2video":
        rate = bit_rate_of(profile.bit_rate or "50M")
        vbv = str(round(XDCAM_VBV_BITS * rate / 50_000_000))
        args += ["-b:v", str(rate), "-minrate", str(rate), "-maxrate", str(rate), "-bufsize", vbv,
                 "-rc_init_occupancy", vbv, "-profile:v", str(MPEG2_PROFILES[profile.video_profile]),
                 "-level:v", str(MPEG2_LEVELS[(profile.video_profile, profile.level or "high")]),
                 "-intra_dc_precision", "2", "-intra_vlc", "1", "-non_linear_quant", "1",
                 "-qmin", "1", "-qmax", "12", "-lmin", "1*QP2LAMBDA"]
    elif codec == "prores_ks":
        args += ["-profile:v", str(PRORES_PROFILES[profile.video_profile]), "-vendor", "apl0"]
    else:
        args += ["-profile:v", profile.video_profile]
        args += ["-b:v", profile.bit_rate] if profile.bit_rate else ["-crf", str(profile.crf)]
        args += ["-preset", profile.preset]
    if profile.gop:
        args += ["-g", str(profile.gop)]
    if profile.b_frames is not None:
        args += ["-bf", str(profile.b_frames)]
    if out_interlaced(video, profile):
        # Field DCT and field motion: the two fields of a frame coded as fields, flagged by the
        # frames' own field order (setfield in the conform).
        args += ["-flags", "+ildct+ilme" if codec != "prores_ks" else "+ildct"]
    return args + ["-pix_fmt", profile.pix_fmt]


def container_args(profile: OutputProfile) -> list[str]:
    """The muxer's options; the container itself follows the file name's extension."""
    if profile.container == "mxf":
        return []  # OP1a, the mxf muxer's default
    # use_metadata_tags keeps custom keys (asset_id, usage_rights...) in MP4/MOV.
    return ["-movflags", "+faststart+use_metadata_tags" if profile.faststart else "+use_metadata_tags"]


def soft_subtitle_args(input_index: int | None) -> list[str]:
    """Map an SRT input as the output's subtitle track. MP4 and MOV carry text subtitles as
    mov_text (3GPP timed text); its language and title come with the deliverable's metadata."""
    if input_index is None:
        return []
    return ["-map", f"{input_index}:s:0", "-c:s", "mov_text"]


def burn_in_filter(language: str, speed: Fraction = Fraction(1)) -> str:
    """The filter burning one language's ASS script (written into the work dir by the render)
    into the picture, with the fonts linked there; HarfBuzz shaping for complex scripts.
    `speed`: the picture plays this much faster than the master (a speed conversion), so its
    script is the one with the cue times scaled."""
    return f"ass=filename={subtitle_script_name(language, speed)}:fontsdir={FONTS_LINK}:shaping=complex"


def soft_subtitle_key(language: str, speed: Fraction = Fraction(1)) -> str:
    """Which SRT a soft subtitle track takes: the language's, or at another `speed` (a profile that
    plays the programme faster) the one with its cue times scaled."""
    return language if speed == 1 else f"{language}-x{speed.numerator}-{speed.denominator}"


def subtitle_script_name(language: str, speed: Fraction = Fraction(1)) -> str:
    """The ASS script of a language, one per speed its pictures play at."""
    return f"subtitles-{language}.ass" if speed == 1 else f"subtitles-{language}-x{speed.numerator}-{speed.denominator}.ass"


def build_copy_command(picture_file: Path, output: Path, metadata: list[str], profile: OutputProfile,
                       tracks_file: Path | None = None, subtitle_source: Path | None = None) -> list[str]:
    """A file made by stream copy: the picture of `picture_file` (or of the concat list of an
    assembled picture, pipeline/render/patches.py), the sound of `tracks_file` (with the soft
    subtitle track it may hold) or else of `picture_file` itself, optionally a soft subtitle
    track from an SRT file, and this file's own tags."""
    inputs = [picture_file] + ([tracks_file] if tracks_file else []) + ([subtitle_source] if subtitle_source else [])
    sound = 1 if tracks_file else 0
    command = ffmpeg.base_args() + picture_input_args(picture_file)
    for path in inputs[1:]:
        command += ffmpeg.input_args(path)
    command += ["-map", "0:v:0", "-map", f"{sound}:a"] + (["-map", f"{sound}:s?"] if tracks_file else [])
    command += ["-c", "copy"] + soft_subtitle_args(len(inputs) - 1 if subtitle_source else None)
    if picture_file.suffix == CONCAT_SUFFIX:  # the picture's encoder, named as in its clean file
        # (its handler name left to the muxer: the timecode track would take it as its own)
        metadata = [*metadata, "-map_metadata:s:v:0", "0:s:v:0", "-metadata:s:v:0", "handler_name="]
    return command + metadata + container_args(profile) + [str(output)]


BITS_PER_PIXEL = {"libx264": 0.3, "prores_ks": 5.0, "mpeg2video": 1.0}
"""Bits per pixel of an encoded picture, on the high side (ProRes 4444 XQ is about 5), for the
free-space estimate of codecs without a fixed bit rate."""


def bytes_per_second(video: VideoInfo, profile: OutputProfile, channels: int) -> float:
    """About how many bytes a second of one of the profile's files takes, on the high side;
    `channels`: how many audio channels it carries."""
    width, height = frame_size(video, profile)
    if profile.bit_rate:
        picture = bit_rate_of(profile.bit_rate) / 8 * 1.05
    else:
        picture = width * height * float(video.fps) * BITS_PER_PIXEL[profile.video_codec] / 8
    if profile.audio.lossy:
        return picture + bit_rate_of(profile.audio.bitrate) / 8 * channels / 2
    return picture + channels * profile.audio.sample_rate * 3

"""The pictures and sounds of the delivery profiles beside `web` (broadcast MXF, ProRes
mezzanine...), as parts of the one render command (pipeline/render/commands.py). Pure builders.

Every profile's picture comes from the same decode of the master: the conform below runs once
per distinct chain (the same output geometry and scan share it) and is split after it, one
label per encoded picture (the clean picture, one per burned language). The sound is the same
routed and gained mix and M&E as the web profile's, written as PCM: PCM keeps the gained sound
exactly, so it needs no trial encode (the loudness is the gain plan's to the sample).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import OutputProfile, bit_rate_of
from pipeline.deliverables import Deliverable
from pipeline.media import ffmpeg
from pipeline.media.probe import VideoInfo
from pipeline.render import conform

MPEG2_PROFILES = {"422": 0, "high": 1, "main": 4}
MPEG2_LEVELS = {("422", "high"): 2, ("422", "main"): 5, ("high", "high"): 4, ("main", "high"): 4,
                ("high", "main"): 8, ("main", "main"): 8}
"""ffmpeg's numbers for MPEG-2 profiles and levels (4:2:2 Profile @ High Level is 0 and 2)."""
PRORES_PROFILES = {"proxy": 0, "lt": 1, "standard": 2, "hq": 3, "4444": 4, "4444xq": 5}
XDCAM_VBV_BITS = 17_825_792
"""The VBV buffer of XDCAM HD422 at 50 Mb/s; other bit rates get the same buffer in seconds."""


def frame_size(video: VideoInfo, profile: OutputProfile) -> tuple[int, int]:
    """The delivered frame: the profile's exact size, else the master's display size within the
    profile's limits (aspect kept, even sides)."""
    if profile.width and profile.height:
        return profile.width, profile.height
    return conform.delivery_size(video, _Limits(profile.max_width, profile.max_height))  # type: ignore[arg-type]


def picture_size(video: VideoInfo, profile: OutputProfile) -> tuple[int, int]:
    """The picture inside the frame: the display size fitted into the frame, aspect kept
    (an exact-size profile scales up to fill it; black bars fill the rest)."""
    width, height = video.display_size
    box = frame_size(video, profile)
    ratio = min(box[0] / width, box[1] / height)
    if not profile.width and ratio > 1:
        ratio = 1.0
    size = (round(width * ratio), round(height * ratio))
    return size[0] - size[0] % 2, size[1] - size[1] % 2


def keeps_fields(video: VideoInfo, profile: OutputProfile) -> bool:
    """An interlaced master goes out with its own fields (never de-interlaced) in an interlaced profile."""
    return video.interlaced and profile.scan in ("interlaced", "as-master")


def out_interlaced(video: VideoInfo, profile: OutputProfile) -> bool:
    return profile.scan == "interlaced" or (profile.scan == "as-master" and video.interlaced)


def out_field_order(video: VideoInfo, profile: OutputProfile) -> str:
    return video.field_order if profile.scan == "as-master" else profile.field_order


@dataclass(frozen=True)
class _Limits:
    max_width: int
    max_height: int


def conform_filters(video: VideoInfo, profile: OutputProfile) -> str:
    """The master's picture made this profile's: its fields kept (an interlaced profile, scaled
    field by field) or de-interlaced, a constant rate, no alpha, square pixels in the frame, the
    pixel format, and the field order flag (a progressive master in an interlaced profile goes
    out as PsF: whole frames, coded and flagged as two fields)."""
    filters: list[str] = []
    fields = keeps_fields(video, profile)
    if video.interlaced and not fields:
        filters.append(f"bwdif=mode=send_frame:parity={video.field_order}:deint=all")
    if video.interlaced and fields and video.field_order != out_field_order(video, profile):
        filters.append(f"fieldorder={out_field_order(video, profile)}")  # moves the picture one line
    if video.variable_rate:
        filters.append(f"fps={video.fps.numerator}/{video.fps.denominator}")
    if video.alpha:
        filters.append("format=yuva444p,split[alpha_fg][alpha_fill];[alpha_fill]drawbox=c=black:t=fill:"
                       "replace=1,format=yuv444p[alpha_bg];[alpha_bg][alpha_fg]overlay=format=yuv444")
    picture, frame = picture_size(video, profile), frame_size(video, profile)
    if picture != conform.decoded_size(video):
        filters.append(f"scale={picture[0]}:{picture[1]}:flags=lanczos" + (":interl=1" if fields else ""))
    if frame != picture:
        filters.append(f"pad={frame[0]}:{frame[1]}:(ow-iw)/2:(oh-ih)/2:black")
    filters += ["setsar=1", f"format={profile.pix_fmt}"]
    if out_interlaced(video, profile):
        filters.append(f"setfield={out_field_order(video, profile)}")
    return ",".join(filters)


def video_codec_args(profile: OutputProfile, video: VideoInfo, threads: int) -> list[str]:
    """The encoder and its settings for one picture of the profile."""
    codec = profile.video_codec
    args = ["-c:v", codec, "-threads", str(threads), "-pix_fmt", profile.pix_fmt]
    interlaced = out_interlaced(video, profile)
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
        args += ["-profile:v", profile.video_profile, "-preset", profile.preset]
        args += ["-b:v", profile.bit_rate] if profile.bit_rate else ["-crf", str(profile.crf)]
    if profile.gop:
        args += ["-g", str(profile.gop)]
    if profile.b_frames is not None:
        args += ["-bf", str(profile.b_frames)]
    if interlaced:
        # Field DCT and field motion: the two fields of a frame coded as fields, flagged by the
        # frames' own field order (setfield in the conform).
        args += ["-flags", "+ildct+ilme" if codec != "prores_ks" else "+ildct"]
    return args


def container_args(profile: OutputProfile) -> list[str]:
    if profile.container == "mxf":
        return ["-f", "mxf"]  # OP1a
    return ["-movflags", "+use_metadata_tags", "-f", profile.container]


@dataclass
class TrackPlan:
    """The sound of one profile output: the pairs it maps, and the chains that make them."""

    chains: list[str] = field(default_factory=list)
    maps: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    """Each audio stream's title, in order ("Full mix L", "Silent"...)."""


def track_plan(spec: Deliverable, profile: OutputProfile, take: Mapping[str, Iterator[str]], name: str) -> TrackPlan:
    """The tracks of one output from the graph's copies of each sound (`take[signal]`: an iterator
    of stereo labels). Mono tracks split each pair (channelsplit); a silent pair is the mix
    at zero gain, so it is exactly as long as the sound."""
    plan = TrackPlan()
    mono = profile.audio.tracks == "mono"
    for position, sound in enumerate(spec.tracks):
        pair = f"{name}_p{position}"
        source = next(take["mix" if sound is None else sound.signal])
        title = "Silent" if sound is None else sound.title
        chain = f"[{source}]" + ("volume=0," if sound is None else "")
        if mono:
            plan.chains.append(f"{chain}channelsplit=channel_layout=stereo[{pair}l][{pair}r]")
            plan.maps += [f"[{pair}l]", f"[{pair}r]"]
            plan.titles += [title if sound is None else f"{title} L", title if sound is None else f"{title} R"]
        elif sound is None:
            plan.chains.append(f"{chain}anull[{pair}]")
            plan.maps.append(f"[{pair}]")
            plan.titles.append(title)
        else:
            plan.maps.append(f"[{source}]")
            plan.titles.append(title)
    return plan


def sound_copies(specs: list[Deliverable]) -> dict[str, int]:
    """Signal -> copies of that sound the profile outputs take (a silent pair takes the mix's)."""
    counts: dict[str, int] = {}
    for spec in specs:
        for sound in spec.tracks:
            signal = "mix" if sound is None else sound.signal
            counts[signal] = counts.get(signal, 0) + 1
    return counts


def audio_args(profile: OutputProfile, tracks: TrackPlan, languages: list[str]) -> list[str]:
    """Map every track, PCM at the profile's rate, each titled (and its language where it has one)."""
    args: list[str] = []
    for label in tracks.maps:
        args += ["-map", label]
    args += ["-c:a", profile.audio.codec, "-ar", str(profile.audio.sample_rate)]
    for index, (title, language) in enumerate(zip(tracks.titles, languages)):
        args += [f"-metadata:s:a:{index}", f"title={title}", f"-metadata:s:a:{index}", f"language={language}"]
    return args


def build_profile_copy_command(clean_file: Path, output: Path, metadata: list[str], profile: OutputProfile,
                               subtitle_source: Path | None = None) -> list[str]:
    """A version of a profile made by stream copy of that profile's clean file (every stream),
    with its own tags, and optionally a soft subtitle track from an SRT file."""
    subtitle = ffmpeg.input_args(subtitle_source) if subtitle_source else []
    return (ffmpeg.base_args() + ffmpeg.input_args(clean_file) + subtitle
            + ["-map", "0:v", "-map", "0:a", "-c", "copy"]
            + (["-map", "1:s:0", "-c:s", "mov_text"] if subtitle_source else [])
            + metadata + container_args(profile) + [str(output)])


def build_borrowed_picture_command(picture_file: Path, tracks_file: Path, output: Path, metadata: list[str],
                                   profile: OutputProfile) -> list[str]:
    """A profile's file whose picture another profile's file already has: that picture by
    stream copy, with this profile's own tracks (and soft subtitle track) from `tracks_file`."""
    return (ffmpeg.base_args() + ffmpeg.input_args(picture_file) + ffmpeg.input_args(tracks_file)
            + ["-map", "0:v", "-map", "1:a", "-map", "1:s?", "-c", "copy"]
            + metadata + container_args(profile) + [str(output)])


_BITS_PER_PIXEL = {"prores_ks": 5.0, "libx264": 0.3}


def profile_bytes_per_second(video: VideoInfo, profile: OutputProfile) -> float:
    """About how many bytes a second of one output of the profile takes, on the high side."""
    width, height = frame_size(video, profile)
    if profile.bit_rate:
        picture = bit_rate_of(profile.bit_rate) / 8 * 1.05
    else:
        picture = width * height * float(video.fps) * _BITS_PER_PIXEL.get(profile.video_codec, 5.0) / 8
    tracks = len(profile.audio.allocation) * 2
    return picture + tracks * profile.audio.sample_rate * 3

"""What a media file is, read with PyAV (no `ffprobe` needed on the machine).

Untrusted files are sniffed before any demuxer sees them: only the containers on the allowlist
(by their magic bytes) are opened, and then with that demuxer forced, so a playlist or concat
list named `master.mov` never gets the chance to make ffmpeg open other files.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .errors import MediaError

log = logging.getLogger(__name__)

# Demuxer names as FFmpeg spells them, keyed by what `sniff_container` recognises.
DEMUXERS = {"mov": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm", "mxf": "mxf"}
_GENERIC_HANDLERS = {"SoundHandler", "Sound Media Handler", "Core Media Audio", "AudioHandler", ""}
_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"}


@dataclass(frozen=True)
class VideoInfo:
    index: int
    codec: str
    width: int
    height: int
    fps: Fraction
    pix_fmt: str | None
    profile: str | None = None

    @property
    def frame_s(self) -> float:
        return float(1 / self.fps) if self.fps else 0.04


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int
    sample_rate: int
    title: str = ""
    language: str = ""

    @property
    def labels(self) -> str:
        return self.title


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    duration_s: float
    size_bytes: int
    video: VideoInfo | None
    audio: list[AudioInfo] = field(default_factory=list)
    subtitle_streams: int = 0
    start_timecode: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    stream_tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def audio_channels(self) -> int:
        return sum(stream.channels for stream in self.audio)

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.video is not None:
            data["video"]["fps"] = f"{self.video.fps.numerator}/{self.video.fps.denominator}"
            data["video"]["fps_float"] = round(float(self.video.fps), 4)
        return data


def sniff_container(path: Path) -> str:
    """The container by its magic bytes; anything not on the allowlist is a MediaError."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as error:
        raise MediaError(path, f"cannot be read ({error.strerror})", "check the file's permissions")
    if not head:
        raise MediaError(path, "is empty (0 bytes)", "export the master again from the edit suite")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"\x06\x0e\x2b\x34":
        return "mxf"
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mov"
    looks_like = "a playlist or text file" if head.lstrip()[:1] in (b"#", b"f", b"[") else "not a video container we accept"
    raise MediaError(path, f"is {looks_like}; only MOV/MP4, Matroska and MXF masters are accepted",
                     "deliver the master itself as .mov, .mp4, .mkv or .mxf (playlists, concat "
                     "lists, images and text are refused)")


def probe(path: str | Path, allowed: list[str] | None = None) -> MediaInfo:
    """Read the container, streams and tags of a media file."""
    path = Path(path)
    kind = sniff_container(path)
    demuxer = DEMUXERS[kind]
    if allowed is not None and demuxer not in allowed:
        raise MediaError(path, f"is {kind}, which the configuration does not allow",
                         f"deliver one of: {', '.join(allowed)}")
    try:
        with av.open(str(path), format=demuxer.split(",")[0],
                     options={"protocol_whitelist": "file"}) as container:
            return _describe(path, container)
    except av.FFmpegError as error:
        raise MediaError(path, f"cannot be read as {kind}: {error.strerror or error}",
                         "the file is damaged or truncated; export the master again") from None


def _describe(path: Path, container) -> MediaInfo:
    video = next((_video_info(s) for s in container.streams.video), None)
    audio = [_audio_info(s) for s in container.streams.audio]
    tags = {k: str(v) for k, v in container.metadata.items()}
    stream_tags = [{k: str(v) for k, v in s.metadata.items()} for s in container.streams]
    duration = container.duration / av.time_base if container.duration else 0.0
    if not duration and video is not None:
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
    timecode = tags.get("timecode") or next((t["timecode"] for t in stream_tags if "timecode" in t), None)
    return MediaInfo(path=str(path), container=container.format.name, duration_s=float(duration),
                     size_bytes=path.stat().st_size, video=video, audio=audio,
                     subtitle_streams=len(container.streams.subtitles), start_timecode=timecode,
                     tags=tags, stream_tags=stream_tags)


def _video_info(stream) -> VideoInfo:
    ctx = stream.codec_context
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
    return VideoInfo(index=stream.index, codec=ctx.name, width=ctx.width, height=ctx.height,
                     fps=Fraction(rate), pix_fmt=ctx.pix_fmt, profile=ctx.profile)


def _audio_info(stream) -> AudioInfo:
    ctx = stream.codec_context
    tags = stream.metadata
    # MOV keeps a track title as `name`; `handler_name` is often just the muxer's default.
    handler = tags.get("handler_name", "")
    if handler in _GENERIC_HANDLERS:
        handler = ""
    title = tags.get("title") or tags.get("name") or handler or ""
    channels = getattr(ctx, "channels", None) or ctx.layout.nb_channels
    return AudioInfo(index=stream.index, codec=ctx.name, channels=int(channels),
                     sample_rate=int(ctx.sample_rate or 0), title=str(title).strip(),
                     language=str(tags.get("language", "")))

"""What a media file is, read with PyAV (no `ffprobe` needed on the machine).

Untrusted files are sniffed before any demuxer sees them: only the containers on the allowlist
(by their magic bytes) are opened, and then with that demuxer forced, so a playlist or concat
list named `master.mov` never gets the chance to make ffmpeg open other files.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from pipeline.errors import MediaError

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
    def picture(self) -> VideoInfo:
        """The video stream. A master without one is refused at intake (check_master), so past
        it this is never missing."""
        if self.video is None:
            raise MediaError(self.path, "has no video stream", "deliver the edited master with its picture")
        return self.video

    @property
    def audio_channels(self) -> int:
        return sum(stream.channels for stream in self.audio)

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.video is not None:
            data["video"]["fps"] = f"{self.video.fps.numerator}/{self.video.fps.denominator}"
            data["video"]["fps_float"] = round(float(self.video.fps), 4)
        return data


_REFUSED_SIGNATURES = [
    (b"#EXTM3U", "an HLS playlist"), (b"ffconcat", "an ffmpeg concat list"), (b"[playlist]", "a playlist"),
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WAV or AVI)"), (b"<", "an XML or HTML file"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"),
]


def _refused_kind(head: bytes) -> str:
    """What a refused file looks like, for the message; its content is never quoted."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    for signature, kind in _REFUSED_SIGNATURES:
        if start.startswith(signature):
            return kind
    if all(byte >= 0x20 or byte in b"\t\r\n" for byte in start[:64]):
        return "a text file (a playlist, a list of files or notes?)"
    return "not a video container we accept"


def sniff_container(path: Path) -> str:
    """The container by its magic bytes; anything not on the allowlist is a MediaError."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as error:
        raise MediaError(path, f"cannot be read ({error.strerror})", "check the file's permissions") from None
    if not head:
        raise MediaError(path, "is empty (0 bytes)", "export the master again from the edit suite")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"\x06\x0e\x2b\x34":
        return "mxf"
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mov"
    raise MediaError(path, f"is {_refused_kind(head)}; only MOV/MP4, Matroska and MXF masters are accepted",
                     "deliver the master itself as .mov, .mp4, .mkv or .mxf (playlists, concat "
                     "lists, images and text are refused)")


def _is_allowed(demuxer: str, allowed: list[str]) -> bool:
    """`allowed` holds demuxer names as FFmpeg spells them ("mov,mp4,m4a,3gp,3g2,mj2", "mxf"...);
    naming one alias ("mp4") allows that demuxer. The sniffer stays the outer bound: a name it
    does not recognise (say "hls") can never let such a file through."""
    names = {name.strip().lower() for entry in allowed for name in entry.split(",")}
    return bool(names & set(demuxer.split(",")))


def _box_header(handle, offset: int) -> tuple[bytes, int]:
    handle.seek(offset)
    header = handle.read(16)
    if len(header) < 8:
        return b"", 0
    size, kind = int.from_bytes(header[:4], "big"), header[4:8]
    if size == 1 and len(header) == 16:
        size = int.from_bytes(header[8:16], "big")
    return kind, size


def check_mov_structure(path: Path, max_boxes: int = 100_000) -> None:
    """Walk the top-level boxes of a MOV/MP4 (a few seeks, whatever the size) and refuse a file
    that ends before its boxes say it should: the copy or the export stopped early."""
    file_size = path.stat().st_size
    offset, found = 0, set[bytes]()
    with path.open("rb") as handle:
        for _ in range(max_boxes):
            if offset >= file_size or {b"moov", b"mdat"} <= found:
                break  # past the index and the media: trailing bytes are not ours to judge
            kind, size = _box_header(handle, offset)
            if not kind:  # fewer than 8 bytes of padding after the last box
                break
            if size == 0:  # "extends to the end of the file"
                size = file_size - offset
            if size < 8:
                raise MediaError(path, f"is damaged: no valid MOV/MP4 box at byte {offset}",
                                 "export the master again from the edit suite")
            if offset + size > file_size:
                raise MediaError(path, f"is truncated: it ends at byte {file_size} but its "
                                 f"'{kind.decode('latin-1')}' box runs to byte {offset + size}",
                                 "copy or export the master again; the transfer stopped early")
            found.add(kind)
            offset += size
    if b"moov" not in found:
        raise MediaError(path, "has no 'moov' index: the export or the copy did not finish",
                         "export the master again from the edit suite")


def probe(path: str | Path, allowed: list[str] | None = None) -> MediaInfo:
    """Read the container, streams and tags of a media file."""
    path = Path(path)
    kind = sniff_container(path)
    demuxer = DEMUXERS[kind]
    if allowed is not None and not _is_allowed(demuxer, allowed):
        raise MediaError(path, f"is {kind}, which the configuration does not allow "
                         f"(media.allowed_containers: {', '.join(allowed)})",
                         "deliver the master in one of the allowed containers")
    if kind == "mov":
        check_mov_structure(path)
    try:
        # "file:" + an absolute path: a master named "concat:x.mov" or "-i.mov" is only ever a file.
        with av.open(f"file:{path.absolute()}", format=demuxer.split(",")[0],
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

def sound_digest(path: Path) -> str | None:
    """sha256 of the packets of a file's first audio stream (None without one): equal digests,
    the same encoded sound bit for bit. Reads packets only, decodes nothing."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        for packet in container.demux(container.streams.audio[0]):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()

"""What a media file is, read with PyAV (no `ffprobe` needed on the machine).

Untrusted files are sniffed before any demuxer sees them: only the containers on the allowlist
(by their magic bytes) are opened, and then with that demuxer forced, so a playlist or concat
list named `master.mov` never gets the chance to make ffmpeg open other files.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av

from pipeline.errors import FFmpegError, MediaError
from pipeline.media.fields import FieldOrder, FieldOrderSource, measure_fields

log = logging.getLogger(__name__)

# Demuxer names as FFmpeg spells them, keyed by what `sniff_container` recognises.
DEMUXERS = {"mov": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm", "mxf": "mxf"}
_GENERIC_HANDLERS = {"SoundHandler", "Sound Media Handler", "Core Media Audio", "AudioHandler", ""}
_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"}



# AVFieldOrder as the stream's codec parameters carry it. The mixed codes (TB, BT) mean one
# thing in QuickTime and another in MXF, measured by writing interlaced MPEG-2 and ProRes with
# ffmpeg and reading them back: MOV/MP4 read a top-field-first picture as TB and a
# bottom-field-first one as BT (the first letter is the field shown first, as ffmpeg's encoders
# flag them, fftools/ffmpeg_enc.c), while MXF reads top field first as TT and bottom field
# first as TB (ffmpeg's documented sense: the second letter is the field shown first).
_FIELD_ORDERS: dict[int, FieldOrder] = {1: "progressive", 2: "tff", 3: "bff", 4: "tff", 5: "bff"}
_MXF_FIELD_ORDERS: dict[int, FieldOrder] = {**_FIELD_ORDERS, 4: "bff", 5: "tff"}


def field_order_of(code: int, container_format: str) -> FieldOrder:
    """The field shown first, from a stream's AVFieldOrder code in a container of that format."""
    table = _MXF_FIELD_ORDERS if "mxf" in container_format.split(",") else _FIELD_ORDERS
    return table.get(code, "unknown")
_STANDARD_RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                   Fraction(50), Fraction(60000, 1001), Fraction(60)]
RATE_SAMPLE_S = 5.0
"""Seconds of packet timestamps read to tell a constant frame rate from a variable one."""


@dataclass(frozen=True)
class VideoInfo:
    index: int
    codec: str
    width: int
    height: int
    fps: Fraction
    """The frame rate: the average one, or for a variable rate the nominal rate it is made
    constant at (`variable_rate`)."""
    pix_fmt: str | None
    profile: str | None = None
    sar: Fraction = Fraction(1)
    """Sample (pixel) aspect ratio: 4/3 for HDV 1440x1080, 64/45 for PAL 16:9."""
    field_order: FieldOrder = "progressive"
    field_order_source: FieldOrderSource = "stream"
    """"stream": from the stream's flags; "measured": unflagged, measured with idet."""
    rotation: int = 0
    """The display matrix's rotation, degrees counter-clockwise (0, 90, 180, 270)."""
    variable_rate: bool = False
    average_fps: Fraction | None = None
    alpha: bool = False
    start_s: float = 0.0
    """Where the stream starts, seconds after the file's earliest stream."""

    @property
    def frame_s(self) -> float:
        return float(1 / self.fps) if self.fps else 0.04

    @property
    def interlaced(self) -> bool:
        return self.field_order in ("tff", "bff")

    @property
    def display_size(self) -> tuple[int, int]:
        """The upright picture in square pixels: the width stretched (or narrowed) by the
        pixel aspect, the height kept, then turned when the display matrix turns it."""
        width = round(self.width * self.sar) if self.sar > 0 else self.width
        width += width % 2
        return (self.height, width) if self.rotation in (90, 270) else (width, self.height)

    @property
    def display_aspect(self) -> Fraction:
        """Width over height of the picture as it is meant to be seen."""
        sar = self.sar if self.sar > 0 else Fraction(1)
        aspect = Fraction(self.width, self.height) * sar
        return 1 / aspect if self.rotation in (90, 270) else aspect


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int
    sample_rate: int
    title: str = ""
    language: str = ""
    start_s: float = 0.0
    """Where the stream starts, seconds after the file's earliest stream (a late sound > 0)."""

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

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.video is not None:
            video = self.video
            data["video"]["fps"] = f"{video.fps.numerator}/{video.fps.denominator}"
            data["video"]["fps_float"] = round(float(video.fps), 4)
            data["video"]["sar"] = f"{video.sar.numerator}:{video.sar.denominator}"
            data["video"]["average_fps"] = (None if video.average_fps is None
                                            else round(float(video.average_fps), 4))
            aspect = video.display_aspect
            data["video"]["display_aspect"] = f"{aspect.numerator}:{aspect.denominator}"
            data["video"]["display_aspect_float"] = round(float(aspect), 4)
            data["video"]["display_size"] = list(video.display_size)
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
            info = _describe(path, container)
    except av.FFmpegError as error:
        raise MediaError(path, f"cannot be read as {kind}: {error.strerror or error}",
                         "the file is damaged or truncated; export the master again") from None
    return _with_measured_fields(info, demuxer)


def _with_measured_fields(info: MediaInfo, demuxer: str) -> MediaInfo:
    """A picture whose stream does not say how its fields are ordered (common in ProRes and
    MXF masters) is measured with idet on a sample of frames (pipeline/media/fields.py)."""
    if info.video is None or info.video.field_order != "unknown":
        return info
    try:
        counted = measure_fields(info.path, demuxer=demuxer)
    except FFmpegError as error:
        log.warning("%s: field order unflagged and not measurable (%s)", info.path, error)
        return info
    order = counted.field_order()
    log.info("%s: field order unflagged; idet measured %s (%s)", info.path, order, counted)
    source: FieldOrderSource = "measured" if order != "unknown" else "unknown"
    return replace(info, video=replace(info.video, field_order=order, field_order_source=source))


def _describe(path: Path, container) -> MediaInfo:
    origin = _file_start(container)
    video = next((_video_info(s, container, origin) for s in container.streams.video), None)
    audio = [_audio_info(s, origin) for s in container.streams.audio]
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


def _file_start(container) -> float:
    """The earliest stream start: ffmpeg counts every stream's time from there."""
    starts = [float(s.start_time * s.time_base) for s in container.streams
              if s.start_time is not None and s.time_base and s.type in ("video", "audio")]
    return min(starts, default=0.0)


def _stream_start(stream, origin: float) -> float:
    if stream.start_time is None or not stream.time_base:
        return 0.0
    return round(float(stream.start_time * stream.time_base) - origin, 6)


def _video_info(stream, container, origin: float) -> VideoInfo:
    ctx = stream.codec_context
    average = Fraction(stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25))
    intervals = _frame_intervals(container, stream)
    variable, nominal = _rate_of(intervals, average)
    sar = Fraction(ctx.sample_aspect_ratio or stream.sample_aspect_ratio or 1)
    alpha = bool(ctx.pix_fmt) and any(c.is_alpha for c in av.VideoFormat(ctx.pix_fmt).components)
    return VideoInfo(index=stream.index, codec=ctx.name, width=ctx.width, height=ctx.height,
                     fps=nominal if variable else average, pix_fmt=ctx.pix_fmt, profile=ctx.profile,
                     sar=sar if sar > 0 else Fraction(1),
                     field_order=field_order_of(int(ctx.field_order or 0), container.format.name),
                     rotation=_rotation(container, stream), variable_rate=variable,
                     average_fps=average, alpha=alpha, start_s=_stream_start(stream, origin))


def _frame_intervals(container, stream) -> list[float]:
    """Seconds between the first frames' presentation times (packets only, nothing decoded)."""
    times: list[float] = []
    limit = None
    try:
        container.seek(0)
        for packet in container.demux(stream):
            if packet.pts is None or not packet.time_base:
                continue
            time = float(packet.pts * packet.time_base)
            limit = time + RATE_SAMPLE_S if limit is None else limit
            if time > limit or len(times) > 1000:
                break
            times.append(time)
    except av.FFmpegError as error:
        log.warning("%s: frame timestamps unreadable after %d frames (%s); the frame rate is judged on those "
                    "alone, so a variable rate may be taken for a constant one", container.name, len(times), error)
    finally:
        container.seek(0)
    times.sort()
    return [later - earlier for earlier, later in zip(times, times[1:]) if later > earlier]


def _rate_of(intervals: list[float], average: Fraction) -> tuple[bool, Fraction]:
    """Whether the frames come at a variable rate, and the nominal rate: the standard rate
    nearest the commonest interval (a phone's 30 fps that slows in low light stays 30)."""
    if len(intervals) < 3:
        return False, average
    ordered = sorted(intervals)
    typical = ordered[len(ordered) // 2]
    variable = ordered[-1] - ordered[0] > typical * 0.25
    if not variable:
        return False, average
    nominal = min(_STANDARD_RATES, key=lambda rate: abs(float(rate) - 1 / typical))
    if abs(float(nominal) * typical - 1) > 0.02:
        nominal = Fraction(round(1 / typical * 1000), 1000)
    return True, nominal


def _rotation(container, stream) -> int:
    """The display matrix of the first decoded frame, as ffmpeg reads it (PyAV has no stream
    side data): a phone's portrait video stored landscape says 90 or 270."""
    try:
        container.seek(0)
        for packet in container.demux(stream):
            for frame in packet.decode():
                return round(frame.rotation / 90) % 4 * 90
    except av.FFmpegError as error:
        log.warning("%s: rotation unreadable, the first frame does not decode (%s); taken as 0: "
                    "a portrait video would go out sideways", container.name, error)
        return 0
    finally:
        container.seek(0)
    return 0


def _audio_info(stream, origin: float = 0.0) -> AudioInfo:
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
                     language=str(tags.get("language", "")), start_s=_stream_start(stream, origin))

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

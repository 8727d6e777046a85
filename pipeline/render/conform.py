"""Conform: the master's picture brought to what the delivery profile asks, as one stage of
the render's filter graph. Pure builders: no I/O.

What a master can need, in the order the filters run:
- interlaced -> `bwdif`, its field order honoured, one frame per field (50i -> 50p, the
  default, which keeps the motion) or per frame (`[delivery] deinterlace = "same-rate"`).
  It runs first: scaling or any other filter would blend the two fields of a frame.
- variable frame rate -> `fps` at the nominal rate (a phone's 30 fps that dips in low light).
- alpha -> flattened onto `[delivery] alpha_background` (black by default): the picture is
  laid over a copy of itself filled with the colour, so the stage needs no second input.
- anamorphic -> square pixels at the true display aspect, and only then the profile's size
  limit (1440x1080 at 4:3 pixels -> 1920x1080; 720x576 16:9 -> 1024x576).
- rotated (a display matrix) -> upright. ffmpeg already turns the picture upright when it
  decodes (`autorotate`, on by default) and then drops the matrix from what it encodes, so the
  stage adds no `transpose` of its own (it would turn the picture a second time). What it must
  do is compute every size from the upright picture: a 2160x3840 portrait stored landscape
  with a 90 degree matrix is 1080x1920 at most in a 1920x1080 profile, never squeezed.

A progressive square-pixel master gets exactly what it always got: `setsar=1`, a `scale`
when it is larger than the profile, and the pixel format. No pass is added over the picture.
"""

from __future__ import annotations

from fractions import Fraction

from pipeline.config import DeliveryProfile
from pipeline.media.probe import VideoInfo


def decoded_size(video: VideoInfo) -> tuple[int, int]:
    """The size of the frames the filter graph receives: stored size, turned by autorotate."""
    if video.rotation in (90, 270):
        return video.height, video.width
    return video.width, video.height


def delivery_size(video: VideoInfo, profile: DeliveryProfile) -> tuple[int, int]:
    """The delivered picture: the upright display size in square pixels, brought within the
    profile's limits with its aspect kept, even on both sides (4:2:0 needs it)."""
    width, height = video.display_size
    ratio = min(profile.max_width / width, profile.max_height / height, 1.0)
    if ratio < 1.0:
        width, height = int(width * ratio), int(height * ratio)
    return width - width % 2, height - height % 2


def scaled_size(video: VideoInfo, profile: DeliveryProfile) -> tuple[int, int] | None:
    """The delivery size when it differs from the decoded frames' size (else None: no scale)."""
    size = delivery_size(video, profile)
    return None if size == decoded_size(video) else size


def output_rate(video: VideoInfo, profile: DeliveryProfile) -> Fraction:
    """The delivered frame rate: twice the master's for a double-rate de-interlace."""
    doubled = video.interlaced and profile.deinterlace == "double-rate"
    return video.fps * 2 if doubled else video.fps


def _colour(name: str) -> str:
    """A config colour as ffmpeg spells it ("#102030" -> "0x102030"; names unchanged)."""
    return "0x" + name[1:] if name.startswith("#") else name


def conform_filters(video: VideoInfo, profile: DeliveryProfile) -> str:
    """The conform stage as a filter chain from the master's picture to the profile's (one
    chain segment: the alpha flattening has labels of its own inside it)."""
    filters: list[str] = []
    if video.interlaced:
        mode = "send_field" if profile.deinterlace == "double-rate" else "send_frame"
        filters.append(f"bwdif=mode={mode}:parity={video.field_order}:deint=all")
    if video.variable_rate:
        rate = output_rate(video, profile)
        filters.append(f"fps={rate.numerator}/{rate.denominator}")
    if video.alpha:
        filters.append("format=yuva444p,split[alpha_fg][alpha_fill];"
                       f"[alpha_fill]drawbox=c={_colour(profile.alpha_background)}:t=fill:replace=1,"
                       "format=yuv444p[alpha_bg];[alpha_bg][alpha_fg]overlay=format=yuv444")
    size = scaled_size(video, profile)
    if size:
        filters.append(f"scale={size[0]}:{size[1]}:flags=lanczos")
    filters += ["setsar=1", f"format={profile.pix_fmt}"]
    return ",".join(filters)


def conform_notes(video: VideoInfo, profile: DeliveryProfile) -> list[str]:
    """What the conform stage does to this master, in words for the log."""
    notes = []
    if video.interlaced:
        rate = output_rate(video, profile)
        notes.append(f"interlaced ({video.field_order}, {video.field_order_source}): de-interlaced "
                     f"with bwdif to {float(rate):g} fps progressive")
    if video.variable_rate:
        notes.append(f"variable frame rate (average {float(video.average_fps or 0):.3f} fps): "
                     f"made constant at {float(video.fps):g} fps")
    if video.alpha:
        notes.append(f"alpha channel ({video.pix_fmt}): flattened onto {profile.alpha_background}")
    if video.sar != 1:
        notes.append(f"anamorphic {video.width}x{video.height} (pixel aspect {video.sar.numerator}:"
                     f"{video.sar.denominator}): square pixels at {video.display_size[0]}x{video.display_size[1]}")
    if video.rotation:
        notes.append(f"display matrix rotation {video.rotation} degrees: upright (autorotate), "
                     f"delivered at {'x'.join(map(str, delivery_size(video, profile)))}")
    return notes

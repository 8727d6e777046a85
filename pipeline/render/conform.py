"""Conform: the master's picture brought to what a delivery profile asks, as one stage of
the render's filter graph; the same function for every profile (web, broadcast, mezzanine).
Pure builders: no I/O.

What a master can need, in the order the filters run:
- interlaced, in a progressive profile -> `bwdif`, its field order honoured, one frame per
  field (50i -> 50p, the default, which keeps the motion) or per frame (`deinterlace =
  "same-rate"`). It runs first: scaling or any other filter would blend the two fields of a
  frame. In an interlaced profile the fields are kept (scaled field by field, `interl=1`) and
  the field order made the profile's; a progressive master there goes out as PsF (`setfield`).
- variable frame rate -> `fps` at the nominal rate (a phone's 30 fps that dips in low light).
- alpha -> flattened onto `[conform] alpha_background` (black by default, one colour for every
  profile): the picture is
  laid over a copy of itself filled with the colour, so the stage needs no second input.
- anamorphic -> square pixels at the true display aspect, and only then the profile's size
  limit (1440x1080 at 4:3 pixels -> 1920x1080; 720x576 16:9 -> 1024x576), or fitted into the
  profile's exact frame (`width`, `height`) with black bars.
- rotated (a display matrix) -> upright. ffmpeg already turns the picture upright when it
  decodes (`autorotate`, on by default) and then drops the matrix from what it encodes, so the
  stage adds no `transpose` of its own (it would turn the picture a second time). What it must
  do is compute every size from the upright picture: a 2160x3840 portrait stored landscape
  with a 90 degree matrix is 1080x1920 at most in a 1920x1080 profile, never squeezed.

- another frame rate than the profile's (`frame_rate`) -> converted as the profile's
  `frame_rate_conversion` says, at the delivered size (after scaling): `speed` keeps every
  frame and retimes it at the profile's rate (`setpts`, 23.976 -> 25 plays 4.3 % faster; the
  sound is time-stretched to match, `speed_factor`); `blend` keeps the duration and blends
  neighbouring frames (`framerate`); `motion` keeps it with motion-compensated frames
  (`minterpolate`, far slower). An interlaced master is de-interlaced first (one frame per
  field), and an interlaced profile gets its fields from the converted progressive picture:
  converted to twice its rate and woven into fields (`interlace`, top field first), or, from a
  progressive master, flagged as PsF as without a conversion.

A progressive square-pixel master gets exactly what it always got: `setsar=1`, a `scale`
when it is larger than the profile, and the pixel format. No pass is added over the picture.
"""

from __future__ import annotations

from fractions import Fraction

from pipeline.config import OutputProfile
from pipeline.media.probe import VideoInfo


def decoded_size(video: VideoInfo) -> tuple[int, int]:
    """The size of the frames the filter graph receives: stored size, turned by autorotate."""
    if video.rotation in (90, 270):
        return video.height, video.width
    return video.width, video.height


def frame_size(video: VideoInfo, profile: OutputProfile) -> tuple[int, int]:
    """The delivered frame: the profile's exact size, else the upright display size in square
    pixels within the profile's limits, aspect kept, even on both sides (4:2:0 needs it)."""
    if profile.width and profile.height:
        return profile.width, profile.height
    width, height = video.display_size
    ratio = min(profile.max_width / width, profile.max_height / height, 1.0)
    if ratio < 1.0:
        width, height = int(width * ratio), int(height * ratio)
    return width - width % 2, height - height % 2


def picture_size(video: VideoInfo, profile: OutputProfile) -> tuple[int, int]:
    """The picture inside the frame: the frame itself, or, in a profile of an exact size, the
    display size fitted into it with its aspect kept (scaled up to fill it; black bars fill
    the rest)."""
    if not (profile.width and profile.height):
        return frame_size(video, profile)
    width, height = video.display_size
    ratio = min(profile.width / width, profile.height / height)
    size = (round(width * ratio), round(height * ratio))
    return size[0] - size[0] % 2, size[1] - size[1] % 2


def rate_conversion(video: VideoInfo, profile: OutputProfile) -> str | None:
    """How the master's picture reaches the profile's frame rate (`OutputProfile.rate_conversion`)."""
    return profile.rate_conversion(video.fps)


def speed_factor(video: VideoInfo, profile: OutputProfile) -> Fraction:
    """How much faster the profile's file plays the programme than the master (1: same speed)."""
    return profile.speed_factor(video.fps)


def keeps_fields(video: VideoInfo, profile: OutputProfile) -> bool:
    """An interlaced master goes out with its own fields (never de-interlaced) in an interlaced
    profile, unless its rate is converted (that takes whole frames)."""
    return video.interlaced and profile.scan in ("interlaced", "as-master") and rate_conversion(video, profile) is None


def out_interlaced(video: VideoInfo, profile: OutputProfile) -> bool:
    return profile.scan == "interlaced" or (profile.scan == "as-master" and video.interlaced)


def out_field_order(video: VideoInfo, profile: OutputProfile) -> str:
    return video.field_order if profile.scan == "as-master" else profile.field_order


def _double_rate(video: VideoInfo, profile: OutputProfile) -> bool:
    """An interlaced master de-interlaced to one frame per field: as the profile asks, and always
    before a blend or motion conversion (which then has every field's moment to work from)."""
    if not video.interlaced or keeps_fields(video, profile):
        return False
    method = rate_conversion(video, profile)
    return method in ("blend", "motion") or (method is None and profile.deinterlace == "double-rate")


def output_rate(video: VideoInfo, profile: OutputProfile) -> Fraction:
    """The delivered frame rate: the profile's own where it has one, else the master's, twice it
    for a double-rate de-interlace."""
    if rate_conversion(video, profile) is not None:
        return profile.fixed_rate  # type: ignore[return-value]
    return video.fps * 2 if _double_rate(video, profile) else video.fps


def _rate_filters(video: VideoInfo, profile: OutputProfile) -> list[str]:
    """The frame rate conversion, at the delivered size (empty: none). An interlaced profile
    converted to from fields of their own gets twice its rate, woven into fields top first."""
    method = rate_conversion(video, profile)
    if method in (None, "refuse"):  # a refused profile has no file to make
        return []
    target = profile.fixed_rate
    assert target is not None
    woven = out_interlaced(video, profile) and video.interlaced and method != "speed"
    rate = target * 2 if woven else target
    spelled = f"{rate.numerator}/{rate.denominator}"
    if method == "speed":  # every frame kept, each at its place on the profile's clock
        filters = [f"setpts=N*{rate.denominator}/({rate.numerator}*TB)", f"fps={spelled}"]
    elif method == "motion":
        filters = [f"minterpolate=fps={spelled}:mi_mode=mci"]
    else:
        filters = [f"framerate=fps={spelled}"]
    return filters + ([f"interlace=scan={out_field_order(video, profile)}:lowpass=linear"] if woven else [])


def _colour(name: str) -> str:
    """A config colour as ffmpeg spells it ("#102030" -> "0x102030"; names unchanged)."""
    return "0x" + name[1:] if name.startswith("#") else name


def conform_filters(video: VideoInfo, profile: OutputProfile, background: str = "black") -> str:
    """The conform stage as a filter chain from the master's picture to the profile's (one
    chain segment: the alpha flattening has labels of its own inside it). `background`: the
    colour alpha is flattened onto ([conform] alpha_background)."""
    filters: list[str] = []
    fields = keeps_fields(video, profile)
    if video.interlaced and not fields:
        mode = "send_field" if _double_rate(video, profile) else "send_frame"
        filters.append(f"bwdif=mode={mode}:parity={video.field_order}:deint=all")
    if fields and video.field_order != out_field_order(video, profile):
        filters.append(f"fieldorder={out_field_order(video, profile)}")  # moves the picture one line
    if video.variable_rate:
        rate = video.fps * 2 if _double_rate(video, profile) else video.fps
        filters.append(f"fps={rate.numerator}/{rate.denominator}")
    if video.alpha:
        filters.append("format=yuva444p,split[alpha_fg][alpha_fill];"
                       f"[alpha_fill]drawbox=c={_colour(background)}:t=fill:replace=1,"
                       "format=yuv444p[alpha_bg];[alpha_bg][alpha_fg]overlay=format=yuv444")
    picture, frame = picture_size(video, profile), frame_size(video, profile)
    if picture != decoded_size(video):
        filters.append(f"scale={picture[0]}:{picture[1]}:flags=lanczos" + (":interl=1" if fields else ""))
    if frame != picture:
        filters.append(f"pad={frame[0]}:{frame[1]}:(ow-iw)/2:(oh-ih)/2:black")
    filters += _rate_filters(video, profile)
    filters += ["setsar=1", f"format={profile.pix_fmt}"]
    if out_interlaced(video, profile):
        filters.append(f"setfield={out_field_order(video, profile)}")
    return ",".join(filters)


def conform_notes(video: VideoInfo, profile: OutputProfile, background: str = "black") -> list[str]:
    """What the conform stage does to this master, in words for the log."""
    notes = []
    if video.interlaced and keeps_fields(video, profile):
        notes.append(f"interlaced ({video.field_order}, {video.field_order_source}): fields kept, "
                     f"{out_field_order(video, profile)} out")
    elif video.interlaced:
        rate = output_rate(video, profile)
        notes.append(f"interlaced ({video.field_order}, {video.field_order_source}): de-interlaced "
                     f"with bwdif to {float(rate):g} fps progressive")
    method = rate_conversion(video, profile)
    if method not in (None, "refuse"):
        notes.append(f"{float(video.fps):g} fps converted to {profile.frame_rate} by {method}"
                     + (f" (played {float(speed_factor(video, profile)):.4f} times as fast, the sound "
                        "time-stretched with its pitch kept)" if method == "speed" else " (duration kept)"))
    if video.variable_rate:
        notes.append(f"variable frame rate (average {float(video.average_fps or 0):.3f} fps): "
                     f"made constant at {float(video.fps):g} fps")
    if video.alpha:
        notes.append(f"alpha channel ({video.pix_fmt}): flattened onto {background}")
    if video.sar != 1:
        notes.append(f"anamorphic {video.width}x{video.height} (pixel aspect {video.sar.numerator}:"
                     f"{video.sar.denominator}): square pixels at {video.display_size[0]}x{video.display_size[1]}")
    if video.rotation:
        notes.append(f"display matrix rotation {video.rotation} degrees: upright (autorotate), "
                     f"delivered at {'x'.join(map(str, frame_size(video, profile)))}")
    return notes

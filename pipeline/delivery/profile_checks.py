"""A delivered file read back (PyAV) and held to its profile: every stream checked against
what the profile asks, and the loudness of each delivered track pair.

What a playout house's ingest checks: the container, the picture's codec, profile and level,
its measured bit rate (CBR within 5 %), pixel format, frame size and field order flag, and the
sound's track count, format and rate. Each problem is a sentence with the figure read and the
figure asked; any problem fails the deliverable.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from pipeline.audio import loudness
from pipeline.audio.signals import base_signal
from pipeline.audio.sounds import Sound
from pipeline.config import OutputProfile, bit_rate_of, rate_family
from pipeline.deliverables import Deliverable
from pipeline.delivery import qc
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.probe import VideoInfo
from pipeline.render.conform import frame_size, out_field_order, out_interlaced, output_rate
from pipeline.render.outputs import MPEG2_LEVELS

BIT_RATE_TOLERANCE = 0.05
CONTAINER_NAMES = {"mxf": "mxf", "mov": "mov", "mp4": "mp4"}
CODEC_NAMES = {"mpeg2video": "mpeg2video", "prores_ks": "prores", "libx264": "h264"}
PROFILE_NAMES = {("mpeg2video", "422"): "4:2:2", ("mpeg2video", "high"): "High", ("mpeg2video", "main"): "Main",
                 ("prores_ks", "proxy"): "Proxy", ("prores_ks", "lt"): "LT", ("prores_ks", "standard"): "Standard",
                 ("prores_ks", "hq"): "HQ", ("prores_ks", "4444"): "4444", ("prores_ks", "4444xq"): "XQ"}
"""The profile name PyAV reads back for each profile a config names."""


@dataclass(frozen=True)
class ReadBack:
    """What a file of a profile is, read from its streams."""

    container: str
    codec: str
    profile: str | None
    level: int
    pix_fmt: str | None
    size: tuple[int, int]
    video_bit_rate: float
    """Measured: the picture's packets in bits over its duration."""
    audio: list[tuple[str, int, int]]
    """(codec, channels, sample rate) of each audio stream."""
    frame_rate: Fraction | None = None


def read_back(path: Path) -> ReadBack:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        audio = [(track.codec_context.name, track.codec_context.channels, track.codec_context.sample_rate)
                 for track in container.streams.audio]
        size = 0
        times: list[float] = []
        for packet in container.demux(stream):
            if packet.size:
                size += packet.size
                if packet.pts is not None and packet.time_base:
                    times.append(float(packet.pts * packet.time_base))
        frame_s = 1 / float(stream.average_rate or 25)
        duration = (max(times) - min(times) + frame_s) if times else 0.0
        return ReadBack(container.format.name, context.name, context.profile, int(context.level or 0),
                        context.pix_fmt, (context.width, context.height), size * 8 / duration if duration else 0.0, audio,
                        Fraction(stream.average_rate) if stream.average_rate else None)


def profile_problems(name: str, profile: OutputProfile, deliverable: Deliverable, path: Path,
                     master: VideoInfo, output: VideoInfo | None) -> list[str]:
    """Every way the file breaks its profile, in words. `output`: the file's picture as the probe
    read it (its field order; a progressive file's flags are checked with every delivered file,
    pipeline.delivery.measure)."""
    read = read_back(path)
    problems = []
    codec = profile.video_codec
    if CONTAINER_NAMES[profile.container] not in read.container.split(","):
        problems.append(f"container {read.container}, not the {name} profile's {profile.container}")
    if read.codec != CODEC_NAMES[codec]:
        problems.append(f"picture {read.codec}, not {CODEC_NAMES[codec]}")
    wanted_profile = PROFILE_NAMES.get((codec, profile.video_profile))
    if wanted_profile and (read.profile or "") != wanted_profile:
        problems.append(f"picture profile {read.profile}, not {wanted_profile}")
    if codec == "mpeg2video":
        level = MPEG2_LEVELS[(profile.video_profile, profile.level or "high")]
        if read.level != level:
            problems.append(f"MPEG-2 level {read.level}, not {level} ({profile.level or 'high'})")
    if read.pix_fmt != profile.pix_fmt:
        problems.append(f"pixel format {read.pix_fmt}, not {profile.pix_fmt}")
    frame = frame_size(master, profile)
    if read.size != frame:
        problems.append(f"frame {read.size[0]}x{read.size[1]}, not {frame[0]}x{frame[1]}")
    problems += _rate_and_fields(profile, read, master, output)
    problems += _track_problems(profile, deliverable, read)
    return problems


def _rate_and_fields(profile: OutputProfile, read: ReadBack, master: VideoInfo,
                     output: VideoInfo | None) -> list[str]:
    problems = []
    rate = output_rate(master, profile)
    if profile.fixed_rate is not None and read.frame_rate is not None and rate_family(read.frame_rate) != rate:
        problems.append(f"{float(read.frame_rate):g} frames/s, not the {profile.frame_rate} its profile asks")
    if profile.bit_rate:
        wanted = bit_rate_of(profile.bit_rate)
        if abs(read.video_bit_rate / wanted - 1) > BIT_RATE_TOLERANCE:
            problems.append(f"picture at {read.video_bit_rate / 1e6:.2f} Mb/s, not {wanted / 1e6:g} Mb/s "
                            f"(+/- {BIT_RATE_TOLERANCE:.0%}, constant bit rate)")
    if out_interlaced(master, profile):
        order = out_field_order(master, profile)
        flagged = output.field_order if output is not None else "unknown"
        if flagged != order:
            problems.append(f"field order flag {flagged}, not {order} (interlaced profile)")
    return problems


def delivered_tracks(profile: OutputProfile, deliverable: Deliverable) -> list[tuple[Sound | None, int]]:
    """Each sound of the file with its first audio stream: a sound takes one stream (stereo
    tracks: a pair or a 6-channel 5.1), or one per channel (mono tracks)."""
    placed, stream = [], 0
    for sound in deliverable.tracks:
        placed.append((sound, stream))
        channels = 2 if sound is None else sound.channels
        stream += channels if profile.audio.tracks == "mono" else 1
    return placed


def _track_problems(profile: OutputProfile, deliverable: Deliverable, read: ReadBack) -> list[str]:
    mono = profile.audio.tracks == "mono"
    wanted = [(profile.audio.codec, 1 if mono else 2 if sound is None else sound.channels, profile.audio.sample_rate)
              for sound in deliverable.tracks
              for _ in range((2 if sound is None else sound.channels) if mono else 1)]
    problems = []
    if len(read.audio) != len(wanted):
        problems.append(f"{len(read.audio)} audio tracks, not {len(wanted)}")
    for index, (track, asked) in enumerate(zip(read.audio, wanted)):
        if track != asked:
            problems.append(f"audio track {index + 1} is {track[0]} {track[1]} ch {track[2]} Hz, not "
                            f"{asked[0]} {asked[1]} ch {asked[2]} Hz")
    return problems


def pair_loudness(path: Path, profile: OutputProfile, deliverable: Deliverable,
                  limit: TimeLimit) -> dict[str, loudness.Loudness]:
    """The loudness of each sound of the file (signal -> measured; silent pairs left out),
    measured in one audio-only run; a 5.1 sound as 5.1 (BS.1770: the LFE left out, the
    surrounds weighted)."""
    graph, labels, signals = [], [], {}
    for position, (sound, first) in enumerate(delivered_tracks(profile, deliverable)):
        if sound is None:
            continue
        label = f"pair{position}"  # a plain name: a meter's label is part of its instance name
        signals[label] = sound.signal
        layout = "5.1" if sound.channels == 6 else "stereo"
        relabel = f"pan={layout}|" + "|".join(f"c{index}=c{index}" for index in range(sound.channels))
        if profile.audio.tracks == "mono":
            inputs = "".join(f"[0:a:{first + index}]" for index in range(sound.channels))
            graph.append(f"{inputs}amerge=inputs={sound.channels}" + (f",{relabel}" if sound.channels == 6 else "")
                         + f"[{label}]")
        else:
            graph.append(f"[0:a:{first}]" + (relabel if sound.channels == 6 else "anull") + f"[{label}]")
        labels.append(label)
    measured = loudness.measure_signals(loudness.measure_signals_command(path, graph, labels), labels, limit)
    return {signals[label]: value for label, value in measured.items()}


def track_findings(deliverable: Deliverable, result_loudness: dict, analysis, target) -> list:
    """The findings of the sounds a profile file carries beside its first (the M&E on 3-4): each
    pair's loudness held as that sound is (to `target`, the profile's own), and an M&E checked
    like the international version's."""
    findings = []
    measured = result_loudness.get("tracks", {})  # by the sound as routed ("mix", "me"), whatever its gain
    for sound in deliverable.carried:
        if sound.signal == deliverable.sound.signal:
            continue
        routed = base_signal(sound.signal)
        findings += qc.sound_findings(analysis.sound_report, routed)
        if routed in measured:
            findings += qc.loudness_findings(sound, measured[routed], target)
        if routed == "me" and deliverable.version != "international":
            findings += qc.me_findings(analysis.me_report)  # the international version has its own
    return findings


def track_roles(deliverable: Deliverable, profile: OutputProfile) -> list[list[str]]:
    """The channel roles of each audio stream of a profile file, for the sidecar: a mono track
    each channel of a sound (mix_l, then mix_r...; a 5.1 in L R C LFE Ls Rs order), a stereo
    or 6-channel track its sound's; silence is `mute`."""
    pairs = [list(sound.roles) if sound is not None else ["mute", "mute"] for sound in deliverable.tracks]
    if profile.audio.tracks == "mono":
        return [[role] for pair in pairs for role in pair]
    return pairs

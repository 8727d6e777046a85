"""The render: one ffmpeg process decodes the master once and encodes the picture once for the
clean master and once per burned-in language, through a split filter graph (docs/design.md
section 9). The international version then takes the clean master's encoded picture by stream
copy. Python never touches a video frame here; the builders below are pure.

Nothing is encoded twice: a master whose picture already meets the delivery profile is copied
as it is (when `delivery.allow_stream_copy` says so), the sound the loudness trial encoded is
copied into every deliverable, and the encodes that run side by side share the cores
(`encoder_threads`). benchmarks/bench_render.py measures the result against the floor.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

from pipeline.audio.layouts import merged_audio
from pipeline.audio.loudness import GainPlan
from pipeline.config import Config, DeliveryProfile
from pipeline.deliverables import Deliverable, Sound, clean_picture_of
from pipeline.media import ffmpeg, work
from pipeline.media.probe import VideoInfo
from pipeline.render import conform
from pipeline.render.profile_graph import (
    borrowed_pictures,
    profile_conforms,
    profile_outputs,
    profile_sounds,
    profile_video_graph,
)
from pipeline.subtitles.fonts import font_files as burn_font_files

log = logging.getLogger(__name__)

FONTS_LINK = "fonts"
"""Name of the link to the font folder inside the work dir: filter arguments stay plain names."""


def fonts_dir() -> Path:
    """DejaVu fonts shipped inside matplotlib (Latin, Cyrillic, Arabic...): no system font needed."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def scaled_size(video: VideoInfo, profile: DeliveryProfile) -> tuple[int, int] | None:
    """The delivery size when the conformed picture (square pixels, upright, within the
    profile's limits) differs from the decoded frames; see pipeline/render/conform.py."""
    return conform.scaled_size(video, profile)


@dataclass(frozen=True)
class RenderInputs:
    master: Path
    video: VideoInfo
    roles: list[str]
    audio_streams: list
    start_s: float
    duration_s: float
    demuxer: str | None = None
    """The master's container as probe found it: ffmpeg is held to that demuxer."""
    master_duration_s: float | None = None
    """The whole master's length: with `start_s` and `duration_s` it tells whether the programme
    is trimmed (a trimmed long-GOP picture cannot be stream-copied). None: unknown, so encoded."""

    @classmethod
    def of(cls, submission) -> RenderInputs:
        """The render's view of a checked submission (pipeline.intake.submission.Submission)."""
        return cls(submission.package.master, submission.media.video, submission.layout.roles,
                   submission.media.audio, submission.programme.start_s, submission.programme.duration_s,
                   demuxer=submission.media.container, master_duration_s=submission.media.duration_s)


@dataclass
class RenderPlan:
    command: list[str]
    outputs: dict[str, Path]
    """Deliverable key -> file written by `command` (international comes from `mux_command`)."""
    sound_files: dict[str, Path] = field(default_factory=dict)
    """Signal -> its sound, encoded, for the stream-copy versions whose sound is not the clean
    master's (muxed outside this command by `build_copy_command`)."""
    mux_commands: dict[str, list[str]] = field(default_factory=dict)
    """Key -> the stream-copy command making a profile's file whose picture another profile's
    file has (run after `command`; the file is the command's last argument)."""
    video_encodes: int = 0
    scratch_files: list[Path] = field(default_factory=list)
    """Files `command` writes for the muxes only, removed once they ran."""
    detects_shots: bool = False
    """The command also finds the shots, on a branch of its own decode (`ShotBranch`)."""

    @property
    def me_audio(self) -> Path | None:
        """The M&E's file for the international version's mux, when it is made outside."""
        return self.sound_files.get("me")


@dataclass(frozen=True)
class ShotBranch:
    """Shot detection on the render's own decode (pipeline.media.shots): one more branch of the
    conformed picture's split, scaled down, its cuts' times written by the `metadata` filter and
    their frames as thumbnails. The picture is decoded once for the deliverables and the shots."""

    filters: str
    """The branch's filter chain, ending in the metadata filter that writes the times."""
    thumbnails: Path
    """The image2 output pattern of the thumbnails."""


SHOT_LABEL = "shotpics"


def _video_graph(inputs: RenderInputs, profile: DeliveryProfile, burns: list[tuple[str, str]],
                 with_clean: bool = True, source: str = "0:v",
                 shot_filters: str | None = None) -> tuple[list[str], dict[str, str]]:
    """Chains from [0:v] to one label per picture: "clean" (unless the master's own picture is
    copied) and one per burned language; `burns` is (language, ass file name). With
    `shot_filters`, one more branch to SHOT_LABEL (not a picture of a deliverable)."""
    count = int(with_clean) + len(burns)
    if count == 0:
        return [], {}  # nothing decodes the picture: it is only copied
    labels = [f"v{i}" for i in range(count + bool(shot_filters))]
    chains = [f"[{source}]{conform.conform_filters(inputs.video, profile)},split={len(labels)}"
              f"{''.join(f'[{label}]' for label in labels)}"]
    if shot_filters:
        chains.append(f"[{labels[-1]}]{shot_filters}[{SHOT_LABEL}]")
    pictures = {"clean": labels[0]} if with_clean else {}
    for (language, ass_name), label in zip(burns, labels[int(with_clean):]):
        chains.append(f"[{label}]ass=filename={ass_name}:fontsdir={FONTS_LINK}:shaping=complex[burn_{label}]")
        pictures[language] = f"burn_{label}"
    return chains, pictures


def _audio_graph(inputs: RenderInputs, gain: GainPlan, copies: dict[Sound, int],
                 sample_rate: int) -> tuple[list[str], dict[str, list[str]]]:
    """Each sound (the mix, the M&E...) routed from the master's channels with the same gain (a
    profile's own sounds, "mix@mezzanine", with that profile's), and split into as many copies
    as outputs take. Returns the chains and signal -> copy labels."""
    chains, merged = merged_audio(inputs.audio_streams, sample_rate=sample_rate)
    signals = [sound.signal for sound in copies]
    chains.append(f"[{merged}]asplit={len(signals)}" + "".join(f"[pre_{signal}]" for signal in signals))
    labels: dict[str, list[str]] = {}
    for sound, count in copies.items():
        labels[sound.signal] = [f"{sound.signal}{i}" for i in range(count)]
        gain_chain = ",".join(gain.for_signal(sound.signal).filters())
        chains.append(f"[pre_{sound.signal}]pan={sound.pan(inputs.roles)},{gain_chain},"
                      f"asplit={count}{''.join(f'[{label}]' for label in labels[sound.signal])}")
    return chains, labels


def _video_codec_args(profile: DeliveryProfile, threads: int) -> list[str]:
    args = ["-c:v", profile.video_codec, "-threads", str(threads)]
    if profile.video_codec == "libx264":
        args += ["-profile:v", profile.video_profile, "-crf", str(profile.crf), "-preset", profile.preset]
    return args


def _audio_codec_args(profile: DeliveryProfile) -> list[str]:
    args = ["-c:a", profile.audio_codec, "-ar", str(profile.sample_rate), "-ac", "2"]
    if profile.audio_codec == "aac":
        args += ["-b:a", profile.audio_bitrate]
    return args


def _container_args(profile: DeliveryProfile) -> list[str]:
    # use_metadata_tags keeps custom keys (asset_id, usage_rights...) in MP4/MOV.
    return ["-movflags", "+faststart+use_metadata_tags"]


def encoder_threads(cores: int, video_encodes: int) -> int:
    """x264 threads for each of `video_encodes` picture encodes running side by side in one
    ffmpeg process on `cores` cores.

    ffmpeg runs every encoder in a thread of its own, so with at least as many encodes as cores
    the encodes alone keep every core busy: frame threads inside each (x264's default is 1.5 per
    core, for every encode) only queue behind the other encodes. Measured with three 1080p
    encodes on a two-core machine: the same wall time within the noise at 1, 2 or x264's own threads, but
    the peak memory of the process 25 % higher at 2 threads and 36 % at x264's default, and twice
    the context switches. So one thread each. With fewer encodes than cores, each frame-threads
    over its share, 1.5 threads per core as x264 itself does, to cover the waits between
    dependent frames. (The filter graph's own slice threads, `-filter_complex_threads`, made no
    measurable difference either way and are left to ffmpeg.)"""
    cores = max(1, cores)
    if video_encodes >= cores:
        return 1
    return math.ceil(cores * 1.5 / max(1, video_encodes))


def available_cores() -> int:
    """The cores this process may run on (a CPU affinity mask or cpuset counts, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


CODEC_OF_ENCODER = {"libx264": "h264"}
"""The decoder name of each delivery encoder whose output a master's own picture can stand in
for. ProRes is left out: its profiles (proxy to 4444 XQ) are not named like the H.264 ones."""


def picture_copy_blockers(inputs: RenderInputs, profile: DeliveryProfile) -> list[str]:
    """Why the master's picture cannot go out as it is, by stream copy; empty when it can.

    Besides the codec, profile, pixel format and size, the programme must be the whole master:
    a stream copy can only start on a keyframe, and the programme start of a long-GOP master
    rarely is one (ffmpeg would start at the keyframe before, showing line-up), nor can the end
    be cut cleanly among B-frames. So a trimmed programme is encoded. The master's bit rate is
    kept as it is."""
    video = inputs.video
    blockers = [] if profile.allow_stream_copy else ["delivery.allow_stream_copy is false"]
    wanted = CODEC_OF_ENCODER.get(profile.video_codec)
    if wanted is None:
        blockers.append(f"the delivery codec {profile.video_codec} is always encoded")
    elif video.codec != wanted:
        blockers.append(f"the master's picture is {video.codec}, not {wanted}")
    if (video.profile or "").lower() != profile.video_profile.lower():
        blockers.append(f"its profile is {video.profile}, not {profile.video_profile}")
    if video.pix_fmt != profile.pix_fmt:
        blockers.append(f"its pixel format is {video.pix_fmt}, not {profile.pix_fmt}")
    if video.interlaced or video.variable_rate:
        blockers.append("its picture is interlaced or at a variable frame rate (see conform)")
    if scaled_size(video, profile):
        blockers.append(f"its size {video.width}x{video.height} needs scaling")
    if _trimmed(inputs):
        blockers.append("the programme is a part of the master (programme_start/programme_end)")
    return blockers


def _trimmed(inputs: RenderInputs) -> bool:
    if inputs.master_duration_s is None:
        return True
    half_frame = inputs.video.frame_s / 2
    return (inputs.start_s > half_frame
            or inputs.start_s + inputs.duration_s < inputs.master_duration_s - half_frame)


def build_render_command(inputs: RenderInputs, specs: list[Deliverable], gain: GainPlan,
                         config: Config, work_dir: Path, asset_id: str,
                         metadata: dict[str, list[str]],
                         subtitle_files: dict[str, Path] | None = None,
                         cores: int | None = None,
                         keyframes: dict[str, list[float]] | None = None,
                         encoded_sound: dict[str, Path] | None = None,
                         shots: ShotBranch | None = None) -> RenderPlan:
    """The single ffmpeg command making every encoded deliverable. Pure: no I/O.

    When the master's picture already meets the delivery profile (and stream copy is allowed,
    see `picture_copy_blockers`), the clean master and every other unburned version take that
    picture by stream copy in this same command, and only the burned languages are encoded.
    Otherwise the unburned versions other than the clean master are muxed afterwards from the
    clean master's file and, where their sound differs from its sound, that sound's file
    (`RenderPlan.sound_files`, `build_copy_command`).

    `subtitle_files`: language -> the frame-snapped SRT (programme time) of each deliverable with
    a soft subtitle track; each is one more input, muxed as mov_text. `cores`: how many the
    encodes share (default: those this process may use). `keyframes`: deliverable key -> times
    (programme seconds) whose frames must be keyframes in its encoded picture. `encoded_sound`:
    signal -> the sound already encoded for delivery (the loudness trial's files), copied into
    every output instead of encoded again for each. `shots`: find the shots on this decode too
    (only where the web picture is decoded; `RenderPlan.detects_shots` says whether it was)."""
    profile = config.delivery
    copy_master = not picture_copy_blockers(inputs, profile)
    others = [spec for spec in specs if spec.profile != "web" and spec.picture in ("encode", "burn")]
    specs = [spec for spec in specs if spec.profile == "web"]
    written = [spec for spec in specs if copy_master or spec.picture in ("encode", "burn")]
    burns = [(spec.burns, f"subtitles-{spec.burns}.ass") for spec in written if spec.burns]
    borrowed = borrowed_pictures(inputs.video, others, config.profiles)
    encoded_others = [spec for spec in others if spec.key not in borrowed]
    conforms = profile_conforms(inputs.video, encoded_others, config.profiles)
    web_clean = not copy_master and any(spec.picture == "encode" or not spec.burns for spec in written)
    web_source, sources, decode_chains = _decode_split(bool(burns) or web_clean, len(conforms))
    video_chains, pictures = _video_graph(inputs, profile, burns, with_clean=web_clean, source=web_source,
                                          shot_filters=shots.filters if shots else None)
    detects_shots = shots is not None and bool(video_chains)
    profile_chains, profile_pictures = profile_video_graph(inputs.video, encoded_others, config.profiles, sources)
    outside = _sounds_muxed_outside(specs, written)
    threads = encoder_threads(cores or available_cores(), len(pictures) + len(profile_pictures))
    command = ffmpeg.base_args() + ffmpeg.input_args(inputs.master, seek_s=inputs.start_s,
                                                     duration_s=inputs.duration_s, demuxer=inputs.demuxer)
    soft_inputs, soft_args = _soft_subtitle_inputs(written + others, subtitle_files or {})
    sound = _sound_plan(inputs, gain, profile, written, outside, 1 + len(soft_inputs), encoded_sound or {},
                        extra=profile_sounds(others))
    made = profile_outputs(others, config, inputs, profile_pictures, sound.pcm_sources, soft_inputs, metadata,
                           threads, work_dir, asset_id, borrowed)
    command += soft_args + sound.input_args
    all_chains = decode_chains + video_chains + profile_chains + sound.chains + made.chains
    if all_chains:
        command += ["-filter_complex", ";".join(all_chains)]
    outputs: dict[str, Path] = {}
    for spec in written:
        path = work_dir / spec.filename(asset_id, profile.container)
        command += (_picture_args(spec, pictures, inputs, profile, threads,
                                  (keyframes or {}).get(spec.key))
                    + ["-map", next(sound.sources[spec.sound.signal])]
                    + _soft_subtitle_args(soft_inputs.get(spec.key))
                    + sound.codec_args + metadata.get(spec.key, []) + _container_args(profile) + [str(path)])
        outputs[spec.key] = path
    command += made.args
    outputs |= made.files
    if detects_shots and shots is not None:
        command += ["-map", f"[{SHOT_LABEL}]", "-fps_mode", "passthrough", "-q:v", "4", "-f", "image2",
                    str(shots.thumbnails)]
    plan = RenderPlan(command=command, outputs=outputs, video_encodes=len(pictures) + len(profile_pictures),
                      sound_files=dict(sound.files_outside), mux_commands=made.muxes, scratch_files=made.scratch,
                      detects_shots=detects_shots)
    suffix = ".m4a" if profile.audio_codec == "aac" else ".mov"
    for signal in outside:
        if signal not in plan.sound_files:
            plan.sound_files[signal] = work_dir / f"{signal}-audio{suffix}"
            command += ["-map", next(sound.sources[signal])] + sound.codec_args + [str(plan.sound_files[signal])]
    return plan


def _decode_split(web_decodes: bool, conforms: int) -> tuple[str, list[str], list[str]]:
    """The one decode of the master, split between the web profile's conform (when it decodes)
    and each distinct conform of the other profiles. Returns the web's source label, the other
    conforms' source labels and the split chain (none when one conform takes the decode whole)."""
    labels = (["vweb"] if web_decodes else []) + [f"vsrc{index}" for index in range(conforms)]
    if len(labels) <= 1:
        return "0:v", ["0:v"] * conforms, []
    chain = f"[0:v]split={len(labels)}" + "".join(f"[{label}]" for label in labels)
    return "vweb", labels[int(web_decodes):], [chain]


def _sounds_muxed_outside(specs: list[Deliverable], written: list[Deliverable]) -> dict[str, Sound]:
    """Signal -> sound of the stream-copy versions not written by the render command whose sound
    is not the clean master's (those take the clean master's file whole)."""
    clean = clean_picture_of(specs)
    return {spec.sound.signal: spec.sound for spec in specs
            if spec not in written and (clean is None or spec.sound.signal != clean.sound.signal)}


@dataclass
class _SoundPlan:
    """Where the outputs of a render take their sound from."""

    chains: list[str]
    """Filter chains making the sound (none when it is copied from encoded files)."""
    input_args: list[str]
    sources: dict[str, Iterator[str]]
    """Signal -> what each next output maps: a graph label or an input's stream."""
    codec_args: list[str]
    files_outside: dict[str, Path] = field(default_factory=dict)
    """Signal -> its sound, already encoded, for a mux outside this command."""
    pcm_sources: dict[str, Iterator[str]] = field(default_factory=dict)
    """Signal -> graph labels of the routed, gained sound (not encoded) for the PCM profiles."""


def _sound_plan(inputs: RenderInputs, gain: GainPlan, profile: DeliveryProfile, written: list[Deliverable],
                outside: dict[str, Sound], first_input: int, encoded: dict[str, Path],
                extra: dict[Sound, int] | None = None) -> _SoundPlan:
    """The sound already encoded for delivery, copied into every output (each sound encoded
    once, not once per deliverable), when there is a file for every sound needed; else each
    sound made by the filter graph and encoded for each output."""
    sounds: dict[str, Sound] = {}
    counts: dict[str, int] = {}
    for sound in [spec.sound for spec in written] + list(outside.values()):
        sounds.setdefault(sound.signal, sound)
        counts[sound.signal] = counts.get(sound.signal, 0) + 1
    copies = {sounds[signal]: count for signal, count in counts.items()}
    if copies and all(sound.signal in encoded for sound in copies):
        mapped = list(dict.fromkeys(spec.sound.signal for spec in written))
        input_args = [arg for signal in mapped for arg in ffmpeg.input_args(encoded[signal])]
        sources: dict[str, Iterator[str]] = {
            signal: itertools.repeat(f"{first_input + offset}:a:0") for offset, signal in enumerate(mapped)}
        pcm_chains, pcm_labels = _audio_graph(inputs, gain, extra, profile.sample_rate) if extra else ([], {})
        return _SoundPlan(pcm_chains, input_args, sources, ["-c:a", "copy"],
                          files_outside={signal: encoded[signal] for signal in outside},
                          pcm_sources={signal: iter(names) for signal, names in pcm_labels.items()})
    for sound, count in (extra or {}).items():  # one graph makes the web's and the PCM profiles' copies
        known = next((each for each in copies if each.signal == sound.signal), sound)
        copies[known] = copies.get(known, 0) + count
    chains, labels = _audio_graph(inputs, gain, copies, profile.sample_rate)
    web_counts = {sound.signal: count for sound, count in copies.items()}
    for sound, count in (extra or {}).items():
        web_counts[sound.signal] -= count
    sources = {signal: iter(f"[{label}]" for label in names[:web_counts[signal]]) for signal, names in labels.items()}
    pcm = {signal: iter(names[web_counts[signal]:]) for signal, names in labels.items()}
    return _SoundPlan(chains, [], sources, _audio_codec_args(profile), pcm_sources=pcm)


def _picture_args(spec: Deliverable, pictures: dict[str, str], inputs: RenderInputs,
                  profile: DeliveryProfile, threads: int, keyframes: list[float] | None = None) -> list[str]:
    """The picture of one output: its label of the filter graph, encoded, or the master's own
    picture stream, copied (when the graph has no "clean" picture)."""
    label = pictures.get(spec.burns) if spec.burns else pictures.get("clean")
    if label is None:
        return ["-map", f"0:{inputs.video.index}", "-c:v", "copy"]
    return (["-map", f"[{label}]"] + _video_codec_args(profile, threads) + ["-pix_fmt", profile.pix_fmt]
            + _keyframe_args(keyframes, inputs.video.fps))


def _keyframe_args(times: list[float] | None, fps) -> list[str]:
    """Make the frame shown at each time a keyframe. ffmpeg forces the first frame whose time is
    at or after the given one, so each time is moved back to the start of its frame (less a
    thousandth of a frame, against rounding at 29.97 fps): a seek to the time then lands on that
    keyframe and decodes one frame, not everything since the keyframe before."""
    if not times:
        return []
    starts = sorted({max(0.0, (math.floor(time * fps + 1e-6) - 0.001) / fps) for time in times})
    return ["-force_key_frames:v", ",".join(f"{start:.6f}" for start in starts)]


def build_copy_command(picture_source: Path, audio_source: Path, output: Path,
                       metadata: list[str], subtitle_source: Path | None = None) -> list[str]:
    """A deliverable made by stream copy: the picture of one file, the sound of another, and
    optionally a soft subtitle track from an SRT file."""
    subtitle_input = ffmpeg.input_args(subtitle_source) if subtitle_source else []
    return (ffmpeg.base_args() + ffmpeg.input_args(picture_source) + ffmpeg.input_args(audio_source)
            + subtitle_input + ["-map", "0:v:0", "-map", "1:a:0", "-c", "copy"]
            + (_soft_subtitle_args(2) if subtitle_source else []) + ["-map_metadata", "-1"]
            + metadata + ["-movflags", "+faststart+use_metadata_tags", str(output)])


def _soft_subtitle_inputs(encoded: list[Deliverable],
                          subtitle_files: dict[str, Path]) -> tuple[dict[str, int], list[str]]:
    """Input index of each deliverable's SRT (the master is input 0), and the input arguments."""
    indexes: dict[str, int] = {}
    args: list[str] = []
    for spec in encoded:
        if spec.soft_subtitles and spec.subtitle_language in subtitle_files:
            indexes[spec.key] = 1 + len(indexes)
            args += ffmpeg.input_args(subtitle_files[spec.subtitle_language])
    return indexes, args


def _soft_subtitle_args(input_index: int | None) -> list[str]:
    """Map an SRT input as the output's subtitle track. MP4 and MOV carry text subtitles as
    mov_text (3GPP timed text); its language and title come with the deliverable's metadata."""
    if input_index is None:
        return []
    return ["-map", f"{input_index}:s:0", "-c:s", "mov_text"]


def render_timeout(inputs: RenderInputs, config: Config, encodes: list[Deliverable] | None = None,
                   reads: int = 1) -> ffmpeg.TimeLimit:
    """The limits of a run over the programme that reads the master's picture `reads` times (a
    pass over its sound reads every picture packet too) and encodes the picture of each of
    `encodes` (at the larger of the master's size and the profile's exact size: a bound)."""
    video = inputs.video
    size = (video.width, video.height) if video is not None else (1920, 1080)
    pictures = [work.Picture("decode", *size)] * reads
    for spec in encodes or []:
        if spec.picture == "copy-clean":
            continue
        profile = config.delivery if spec.profile == "web" else config.profiles[spec.profile]
        exact = (getattr(profile, "width", None) or 0, getattr(profile, "height", None) or 0)
        pictures.append(work.Picture(profile.video_codec, *max(size, exact, key=lambda wh: wh[0] * wh[1])))
    frames = inputs.duration_s * (float(video.fps) if video is not None and video.fps else 25.0)
    return work.time_limit(config.limits, frames, pictures)


def prepare_work_dir(work_dir: Path) -> None:
    """The work dir holds the ASS files and a `fonts/` folder of links to the burn-in fonts, so
    the filter graph names only plain relative paths (nothing there needs escaping)."""
    fonts = work_dir / FONTS_LINK
    fonts.mkdir(parents=True, exist_ok=True)
    for font in burn_font_files():  # DejaVu, and Noto for the scripts it lacks
        link = fonts / font.name
        if not link.exists():
            link.symlink_to(font)

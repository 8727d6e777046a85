"""The render: one ffmpeg process decodes the master once and encodes the picture once for the
clean master and once per burned-in language, in every delivery profile, through a split
filter graph (docs/design.md sections 9 and 12). The stream-copy versions (the international
version) then take their profile's clean picture by stream copy. Python never touches a video
frame here; the builders below are pure.

Every profile goes through the same code: web, broadcast and mezzanine differ only by the data
of their [profiles.NAME] tables, read by the one builder of each concern
(pipeline/render/conform.py, pipeline/render/outputs.py, pipeline/audio/encoding.py).

Nothing is encoded twice: a master whose picture already meets a profile is copied as it is
(when the profile's `allow_stream_copy` says so), two profiles whose pictures are the same
share one encode, the sound the loudness trial encoded is copied into every file of a lossy
profile, and the encodes that run side by side share the cores (`encoder_threads`).
benchmarks/bench_render.py measures the result against the floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from pipeline.audio.encoding import audio_codec_args, same_encoding, sound_file_suffix
from pipeline.audio.layouts import SURROUND_ORDER, merged_audio
from pipeline.audio.loudness import GainPlan
from pipeline.audio.signals import signal_profile
from pipeline.config import Config, OutputProfile
from pipeline.deliverables import Deliverable, Sound, copied_picture_of, full_mix
from pipeline.intake.textless import TextlessMaterial
from pipeline.media import ffmpeg, work
from pipeline.media.probe import VideoInfo
from pipeline.parallel import available_cores
from pipeline.render.conform import conform_filters, decoded_size, frame_size, output_rate, picture_size
from pipeline.render.outputs import (
    FONTS_LINK,
    build_copy_command,
    burn_in_filter,
    container_args,
    soft_subtitle_args,
    soft_subtitle_key,
    subtitle_script_name,
    video_codec_args,
)
from pipeline.render.patches import CONCAT_SUFFIX, INTRA_ENCODERS, Patch, concat_list, select_chain, text_frames
from pipeline.render.sheet_frames import frame_at, poster_chain, sheet_chain, sheet_frames
from pipeline.render.textless import TextlessComposition, composition
from pipeline.subtitles.fonts import font_files as burn_font_files


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
    textless: TextlessMaterial | None = None
    """The package's textless inserts (or whole textless programme), for the textless picture."""

    @classmethod
    def of(cls, submission) -> RenderInputs:
        """The render's view of a checked submission (pipeline.intake.submission.Submission)."""
        return cls(submission.package.master, submission.media.video, submission.layout.roles,
                   submission.media.audio, submission.programme.start_s, submission.programme.duration_s,
                   demuxer=submission.media.container, master_duration_s=submission.media.duration_s,
                   textless=submission.textless)


@dataclass
class RenderPlan:
    command: list[str]
    outputs: dict[str, Path]
    """Deliverable key -> its file, whether `command` writes it or one of `mux_commands`."""
    mux_commands: dict[str, list[str]] = field(default_factory=dict)
    """Key -> the stream-copy command making that deliverable's file (a stream-copy version from
    its profile's clean file, or a profile's file whose picture another profile's file has),
    in the order they must run, after `command` and `assemblies`."""
    assemblies: dict[str, list[str]] = field(default_factory=dict)
    """Key -> the stream-copy command putting together a burned picture encoded only where its
    text is (pipeline/render/patches.py) from its patch and its profile's clean file, with its
    tracks; after `command`, before `mux_commands` (which may take its picture)."""
    concat_lists: dict[Path, str] = field(default_factory=dict)
    """The concat lists `assemblies` read (path -> text), to be written before they run."""
    patches: dict[str, Patch] = field(default_factory=dict)
    """Key -> the frames `command` encodes of that deliverable's burned picture."""
    video_encodes: int = 0
    scratch_files: list[Path] = field(default_factory=list)
    """Files `command` writes for the muxes only, removed once they ran."""
    detects_shots: bool = False
    """The command also finds the shots, on a branch of its own decode (`ShotBranch`)."""
    sheets: dict[str, RenderedSheet] = field(default_factory=dict)
    """Deliverable key -> the contact sheet the command cuts from the picture its file carries."""
    posters: dict[str, Path] = field(default_factory=dict)
    """Deliverable key -> the poster frame (JPEG) of its player, cut from that picture too."""


@dataclass(frozen=True)
class RenderedSheet:
    """A contact sheet the render cuts from its own decode (pipeline.render.sheet_frames): the frames
    shown at `times` (seconds of the delivered file) of a picture it encodes, as its encoder
    takes them, tiled as the QC report shows them."""

    times: tuple[float, ...]
    png: Path


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


CODEC_OF_ENCODER = {"libx264": "h264"}
"""The decoder name of each delivery encoder whose output a master's own picture can stand in
for. ProRes is left out: its profiles (proxy to 4444 XQ) are not named like the H.264 ones."""


def picture_copy_blockers(inputs: RenderInputs, profile: OutputProfile) -> list[str]:
    """Why the master's picture cannot go out as it is in `profile`, by stream copy; empty when it can.

    Besides the codec, profile, pixel format and size, the programme must be the whole master:
    a stream copy can only start on a keyframe, and the programme start of a long-GOP master
    rarely is one (ffmpeg would start at the keyframe before, showing line-up), nor can the end
    be cut cleanly among B-frames. So a trimmed programme is encoded. The master's bit rate is
    kept as it is."""
    video = inputs.video
    blockers = [] if profile.allow_stream_copy else ["allow_stream_copy is false"]
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
    if picture_size(video, profile) != decoded_size(video) or frame_size(video, profile) != decoded_size(video):
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


def tracks_of(spec: Deliverable) -> tuple[Sound | None, ...]:
    """The sounds of a deliverable's file, in order: stereo pairs or 5.1 (None: a silent pair)."""
    return spec.tracks or (spec.sound,)


@dataclass
class _Outputs:
    """What the render command is to write, decided before any argument is built."""

    written: list[Deliverable]
    """Deliverables whose file the command writes with their picture."""
    copied_master: set[str]
    """Profiles taking the master's own picture by stream copy."""
    borrowed: dict[str, str]
    """Key -> key of the deliverable whose encoded picture it takes (same conform, settings, burn)."""
    muxed: list[Deliverable]
    """Stream-copy versions made after the command from their profile's clean file."""
    outside: list[Deliverable]
    """One of `muxed` per sound file needed: those whose tracks differ from their clean file's
    take their sound from a file of its own (one per tracks and encoding, `_sound_file_key`)."""


def _plan_outputs(inputs: RenderInputs, specs: list[Deliverable], config: Config) -> _Outputs:
    profiles = config.profiles
    copied = {name for name in dict.fromkeys(spec.profile for spec in specs)
              if not picture_copy_blockers(inputs, profiles[name])}
    written = [spec for spec in specs if (spec.profile in copied and spec.picture != "copy-textless")
               or spec.picture in ("encode", "burn", "textless")]
    encoded = [spec for spec in written if spec.burns or spec.textless or spec.profile not in copied]
    owners: dict[tuple, str] = {}
    borrowed: dict[str, str] = {}
    for spec in encoded:
        profile = profiles[spec.profile]
        picture = (conform_filters(inputs.video, profile, config.conform.alpha_background),
                   tuple(video_codec_args(profile, inputs.video, 1)),
                   spec.burns, spec.textless)
        if picture in owners:
            borrowed[spec.key] = owners[picture]
        else:
            owners[picture] = spec.key
    muxed = [spec for spec in specs if spec not in written and copied_picture_of(specs, spec) is not None]
    outside: dict[tuple, Deliverable] = {}
    for spec in muxed:
        if tracks_of(spec) != tracks_of(copied_picture_of(specs, spec)):  # type: ignore[arg-type]
            outside.setdefault(_sound_file_key(spec, profiles[spec.profile]), spec)
    return _Outputs(written, copied, borrowed, muxed, list(outside.values()))


def _sound_file_key(spec: Deliverable, profile: OutputProfile) -> tuple[str, ...]:
    """What a file of a deliverable's sound alone holds: its tracks, as encoded by its profile."""
    signals = ["silent" if track is None else track.signal for track in tracks_of(spec)]
    return (*signals, profile.audio.tracks, *audio_codec_args(profile))


PictureKey = tuple[str, str | None, bool]
"""An encoded picture: (profile, burned language or None, textless)."""


def _picture_of(spec: Deliverable) -> PictureKey:
    return spec.profile, spec.burns, spec.textless


def _fan_out(source: str, count: int, prefix: str) -> tuple[list[str], list[str]]:
    """`source` to `count` users: itself for one, a split for more. Returns the chains and labels."""
    if count <= 1:
        return [], [source] * count
    labels = [f"{prefix}{index}" for index in range(count)]
    return [f"[{source}]split={count}" + "".join(f"[{label}]" for label in labels)], labels


def _video_graph(inputs: RenderInputs, pictures: list[PictureKey], config: Config, shot_filters: str | None,
                 textless: TextlessComposition | None = None) -> tuple[list[str], dict[PictureKey, str], bool]:
    """From the one decode of the master to one label per encoded picture: (profile, None, False)
    for a profile's clean picture, (profile, language, False) per burned language, (profile, None,
    True) for its textless picture, composed from that same decode (`textless`,
    pipeline/render/textless.py) and conformed like the others. Profiles whose conform is the same
    share it; each distinct conform runs once (once more for the textless picture) and is split.
    With `shot_filters`, one more branch of the first texted conform that keeps the master's frame
    rate to SHOT_LABEL (none when every profile converts it). Returns the chains, the labels and
    whether the shot branch is in them."""
    groups: dict[tuple[str, bool], list[PictureKey]] = {}
    for key in pictures:
        chain = conform_filters(inputs.video, config.profiles[key[0]], config.conform.alpha_background)
        groups.setdefault((chain, key[2]), []).append(key)
    if not groups:
        return [], {}, False
    # the shots are found on a picture with the master's own frames and times: not a converted one
    shot_index = next((index for index, (group, needed) in enumerate(groups.items()) if not group[1] and not any(
        config.profiles[key[0]].rate_conversion(inputs.video.fps) for key in needed)), None)
    shot_filters = shot_filters if shot_index is not None else None
    texted = [group for group in groups if not group[1]]
    textless_groups = [group for group in groups if group[1]]
    composes = bool(textless_groups) and textless is not None and textless.needs_base
    chains, bases = _fan_out("0:v", len(texted) + composes, "vsrc")
    sources = dict(zip(texted, bases))
    if textless_groups and textless is not None:
        chains += textless.chains(bases[-1] if composes else "")
        more, labels = _fan_out(textless.label, len(textless_groups), "tsrc")
        chains += more
        sources |= dict(zip(textless_groups, labels))
    labels_of: dict[PictureKey, str] = {}
    for index, (group, needed) in enumerate(groups.items()):
        prefix = "v" if index == 0 else f"p{index}v"
        branches = len(needed) + (1 if shot_filters and index == shot_index else 0)
        labels = [f"{prefix}{count}" for count in range(branches)]
        chains.append(f"[{sources[group]}]{group[0]},split={branches}" + "".join(f"[{label}]" for label in labels))
        if shot_filters and index == shot_index:
            chains.append(f"[{labels[-1]}]{shot_filters}[{SHOT_LABEL}]")
        for key, label in zip(needed, labels):
            if key[1] is None:
                labels_of[key] = label
            else:
                speed = config.profiles[key[0]].speed_factor(inputs.video.fps)
                chains.append(f"[{label}]{burn_in_filter(key[1], speed)}[burn_{label}]")
                labels_of[key] = f"burn_{label}"
    return chains, labels_of, bool(shot_filters)


def _textless_composition(inputs: RenderInputs, pictures: list[PictureKey],
                          first_input: int) -> TextlessComposition | None:
    """The textless picture's inputs and chains, when some output takes it."""
    if not any(textless for _, _, textless in pictures):
        return None
    if inputs.textless is None:
        raise ValueError("a textless picture is planned, and the package has no textless material")
    fps = float(inputs.video.fps)
    return composition(inputs.textless, inputs.master, inputs.demuxer, fps, round(inputs.start_s * fps),
                       (inputs.start_s, inputs.duration_s), first_input)


def _audio_graph(inputs: RenderInputs, gain: GainPlan, copies: dict[Sound, int], sample_rate: int,
                 speeds: Mapping[str, Fraction]) -> tuple[list[str], dict[str, Iterator[str]]]:
    """Each sound (the mix, the M&E...) routed from the master's channels with the same gain (a
    profile's own sounds, "mix@mezzanine", with that profile's), time-stretched where its
    profile speeds the programme up (`speeds`: signal -> factor), and split into as many copies
    as outputs take. Returns the chains and signal -> its copies' labels, in the order taken."""
    if not copies:
        return [], {}
    chains, merged = merged_audio(inputs.audio_streams, sample_rate=sample_rate)
    signals = [sound.signal for sound in copies]
    chains.append(f"[{merged}]asplit={len(signals)}" + "".join(f"[pre_{signal}]" for signal in signals))
    labels: dict[str, Iterator[str]] = {}
    for sound, count in copies.items():
        names = [f"{sound.signal}{i}" for i in range(count)]
        gain_chain = ",".join(gain.for_signal(sound.signal).filters() + tempo_filters(speeds.get(sound.signal, 1)))
        chains.append(f"[pre_{sound.signal}]pan={sound.pan(inputs.roles)},{gain_chain},"
                      f"asplit={count}{''.join(f'[{label}]' for label in names)}")
        labels[sound.signal] = iter(names)
    return chains, labels


def tempo_filters(speed: Fraction | int) -> list[str]:
    """The sound of a programme played `speed` times as fast, its pitch kept. `atempo` (WSOLA)
    rather than `rubberband`: on a 1 kHz tone stretched 23.976 -> 25 atempo keeps the tone at
    1000 Hz with its noise and distortion 70 dB down; rubberband's defaults moved it to 997 Hz
    with them 19 dB down, and its best settings (smooth transients, long window) reached 57 dB
    (benchmarks/bench_rate_conversion.py measures both again)."""
    return [] if speed == 1 else [f"atempo={float(speed):.8f}"]


def _silence_of(tracks: tuple[Sound | None, ...]) -> Sound:
    """What a silent pair is made of: the file's first sound at zero gain, exactly as long (and
    as stretched) as the file's other sounds."""
    return next((sound for sound in tracks if sound is not None), full_mix(None))


@dataclass
class _Sound:
    """Where each output of the command takes its sound from."""

    copied: dict[str, int]
    """Signal -> input index of the trial's encoded file, copied into a lossy profile's files."""
    graph: dict[str, Iterator[str]] = field(default_factory=dict)
    chains: list[str] = field(default_factory=list)


def _copies_trial(profile: OutputProfile, config: Config, sounds: tuple[Sound | None, ...],
                  encoded: dict[str, Path]) -> bool:
    """Whether a file of `profile` takes the loudness trial's encoded sound by copy: the trial
    encoded exactly as this profile would, and made every sound the file carries."""
    trial = config.lossy_profile()
    return (trial is not None and profile.audio.lossy and same_encoding(profile, config.profiles[trial])
            and all(sound is not None and sound.signal in encoded for sound in sounds))


def _sound_sources(inputs: RenderInputs, gain: GainPlan, config: Config, plan: _Outputs,
                   encoded: dict[str, Path], first_input: int) -> tuple[_Sound, list[str]]:
    """The trial's files each lossy output copies (one input each, in order of first use), and the
    graph making every other output's sound (the written files', and the sound files of the
    stream-copy versions that the trial has not made); returns them and the input arguments."""
    copied: dict[str, int] = {}
    counts: dict[str, int] = {}
    sounds: dict[str, Sound] = {}
    for spec in plan.written + plan.outside:
        tracks = tracks_of(spec)
        if _copies_trial(config.profiles[spec.profile], config, tracks, encoded):
            if spec in plan.written:
                for sound in tracks:
                    copied.setdefault(sound.signal, first_input + len(copied))  # type: ignore[union-attr]
            continue
        for sound in tracks:
            source = sound or _silence_of(tracks)
            sounds.setdefault(source.signal, source)
            counts[source.signal] = counts.get(source.signal, 0) + 1
    speeds = {signal: config.profiles[name].speed_factor(inputs.video.fps)
              for signal in sounds if (name := signal_profile(signal)) is not None}
    chains, labels = _audio_graph(inputs, gain, {sounds[signal]: count for signal, count in counts.items()},
                                  config.sample_rate, speeds)
    input_args = [arg for signal in copied for arg in ffmpeg.input_args(encoded[signal])]
    return _Sound(copied, labels, chains), input_args


def _track_args(spec: Deliverable, profile: OutputProfile, sound: _Sound, copies: bool,
                name: str) -> tuple[list[str], list[str]]:
    """The maps of one output's tracks, and the chains that make them: a stereo (or 6-channel)
    track maps its copy of the sound; a mono allocation splits each sound into its channels
    (channelsplit: a pair, or a 5.1 in L R C LFE Ls Rs order); silence is a sound at zero gain."""
    maps: list[str] = []
    chains: list[str] = []
    for position, track in enumerate(tracks_of(spec)):
        if copies:
            maps += ["-map", f"{sound.copied[track.signal]}:a:0"]  # type: ignore[union-attr]
            continue
        label = next(sound.graph[(track or _silence_of(tracks_of(spec))).signal])
        pair = f"{name}_p{position}"
        chain = f"[{label}]" + ("volume=0," if track is None else "")
        if profile.audio.tracks == "mono":  # one track per channel: l r, or l r c lfe ls rs
            names = SURROUND_ORDER if track is not None and track.channels == 6 else SURROUND_ORDER[:2]
            layout = "5.1" if len(names) == 6 else "stereo"
            chains.append(f"{chain}channelsplit=channel_layout={layout}" + "".join(f"[{pair}{n}]" for n in names))
            maps += [arg for n in names for arg in ("-map", f"[{pair}{n}]")]
        elif track is None:
            chains.append(f"{chain}anull[{pair}]")
            maps += ["-map", f"[{pair}]"]
        else:
            maps += ["-map", f"[{label}]"]
    return maps, chains


def build_render_command(inputs: RenderInputs, specs: list[Deliverable], gain: GainPlan,
                         config: Config, work_dir: Path, asset_id: str,
                         metadata: dict[str, list[str]],
                         subtitle_files: dict[str, Path] | None = None,
                         cores: int | None = None,
                         sheet_times: dict[str, list[float]] | None = None,
                         encoded_sound: dict[str, Path] | None = None,
                         shots: ShotBranch | None = None, sheet_folder: Path | None = None,
                         poster_times: dict[str, float] | None = None,
                         burned_cues: Mapping[str, Sequence[tuple[int, int]]] | None = None) -> RenderPlan:
    """The single ffmpeg command making every encoded deliverable in every profile, and the
    stream-copy commands that follow it. Pure: no I/O.

    A profile whose conditions allow it (`picture_copy_blockers`) takes the master's own picture
    in its unburned versions, in this same command. Otherwise a stream-copy version (the
    international version) is muxed afterwards from its profile's clean file and, where its
    sound differs from that file's, a file of its own sound (`RenderPlan.mux_commands`).

    `subtitle_files`: language (`soft_subtitle_key`) -> the frame-snapped SRT (programme time) of
    each deliverable with a soft subtitle track; each is one more input, muxed as mov_text. `cores`: how many the
    encodes share (default: those this process may use). `encoded_sound`:
    signal -> the sound the loudness trial encoded, copied into every file of a profile that
    encodes its sound the same way. `shots`: find the shots on this decode too
    (`RenderPlan.detects_shots` says whether it was). `sheet_folder`: cut there the contact sheet
    of every deliverable whose file carries a picture this command encodes, at its `sheet_times`
    (deliverable key -> seconds of its file), from this decode (`RenderPlan.sheets`), and there too
    the poster frame of each deliverable in `poster_times` (key -> seconds of its file;
    `RenderPlan.posters`). `burned_cues`: ASS script name (`subtitle_script_name`) -> the (start_ms,
    end_ms) of each cue it burns: a burned picture in an intra-only codec is then encoded only
    around them and put together with its clean file's picture (`RenderPlan.assemblies`)."""
    profiles, encoded = config.profiles, encoded_sound or {}
    plan = _plan_outputs(inputs, specs, config)
    pictures = list(dict.fromkeys(_picture_of(spec) for spec in plan.written if spec.key not in plan.borrowed
                                  and (spec.burns or spec.textless or spec.profile not in plan.copied_master)))
    threads = encoder_threads(cores or available_cores(), len(pictures))
    soft_inputs: dict[str, int] = {}
    soft_args: list[str] = []
    for spec in plan.written:
        soft_key = _soft_key(spec, inputs, config)
        if spec.soft_subtitles and soft_key in (subtitle_files or {}):
            soft_inputs[spec.key] = 1 + len(soft_inputs)
            soft_args += ffmpeg.input_args((subtitle_files or {})[soft_key])
    sound, sound_inputs = _sound_sources(inputs, gain, config, plan, encoded, 1 + len(soft_inputs))
    textless = _textless_composition(inputs, pictures, 1 + len(soft_inputs) + len(sound.copied))
    video_chains, labels, detects_shots = _video_graph(inputs, pictures, config, shots.filters if shots else None,
                                                       textless)
    command = ffmpeg.base_args() + ffmpeg.input_args(inputs.master, seek_s=inputs.start_s,
                                                     duration_s=inputs.duration_s, demuxer=inputs.demuxer)
    sheets = _SheetBranches(inputs, plan, specs, config, sheet_times or {}, sheet_folder,
                            poster_times) if sheet_folder else None
    if sheets:
        labels = sheets.branch(labels, video_chains)
    command += soft_args + sound_inputs + (textless.input_args if textless else [])
    output_args: list[str] = []
    track_chains: list[str] = []
    paths = {spec.key: work_dir / spec.filename(asset_id) for spec in specs}
    render = RenderPlan(command=command, outputs={}, video_encodes=len(pictures), detects_shots=detects_shots,
                        sheets=sheets.sheets if sheets else {}, posters=sheets.posters if sheets else {})
    patched = _patched(inputs, plan, config, labels, burned_cues or {})
    for index, spec in enumerate(plan.written):
        profile = profiles[spec.profile]
        copies = _copies_trial(profile, config, tracks_of(spec), encoded)
        maps, chains = _track_args(spec, profile, sound, copies, f"t{index}")
        track_chains += chains
        audio = maps + soft_subtitle_args(soft_inputs.get(spec.key)) + (
            ["-c:a", "copy"] if copies else audio_codec_args(profile))
        if spec.key in plan.borrowed:  # its tracks alone, muxed with the picture of the file it borrows
            scratch = work_dir / f".{spec.key}-tracks.mov"
            output_args += audio + ["-f", "mov", str(scratch)]
            render.mux_commands[spec.key] = build_copy_command(paths[plan.borrowed[spec.key]], paths[spec.key],
                                                               metadata.get(spec.key, []), profile, tracks_file=scratch)
            render.scratch_files.append(scratch)
        elif spec.key in patched:  # its tracks, and its picture where the text is, put together after
            patch, clean = patched[spec.key]
            tracks, patch_file = work_dir / f".{spec.key}-tracks.mov", work_dir / f".{spec.key}-patch.mov"
            listing = work_dir / f".{spec.key}-picture{CONCAT_SUFFIX}"
            video_chains.append(select_chain(labels[_picture_of(spec)], patch, f"patch{index}"))
            output_args += audio + ["-f", "mov", str(tracks)]
            output_args += (["-map", f"[patch{index}]"] + video_codec_args(profile, inputs.video, threads)
                            + ["-fps_mode", "passthrough", "-f", "mov", str(patch_file)])
            render.concat_lists[listing] = concat_list(paths[clean], patch_file, patch)
            render.assemblies[spec.key] = build_copy_command(listing, paths[spec.key], metadata.get(spec.key, []),
                                                             profile, tracks_file=tracks)
            render.scratch_files += [tracks, patch_file, listing]
            render.patches[spec.key] = patch
        else:
            picture = (["-map", f"0:{inputs.video.index}", "-c:v", "copy"] if _picture_of(spec) not in labels
                       else ["-map", f"[{labels[_picture_of(spec)]}]"]
                       + video_codec_args(profile, inputs.video, threads))
            output_args += (picture + audio + metadata.get(spec.key, []) + container_args(profile)
                            + [str(paths[spec.key])])
        render.outputs[spec.key] = paths[spec.key]
    if detects_shots and shots is not None:
        output_args += ["-map", f"[{SHOT_LABEL}]", "-fps_mode", "passthrough", "-q:v", "4", "-f", "image2",
                        str(shots.thumbnails)]
    if sheets:
        output_args += sheets.output_args
    output_args += _muxed_versions(inputs, plan, specs, config, sound, encoded, paths, metadata,
                                   subtitle_files or {}, render, work_dir)
    all_chains = video_chains + sound.chains + track_chains
    if all_chains:
        command += ["-filter_complex", ";".join(all_chains)]
    command += output_args  # the runner adds its own -progress pipe
    return render


def _patched(inputs: RenderInputs, plan: _Outputs, config: Config, labels: Mapping[PictureKey, str],
             burned_cues: Mapping[str, Sequence[tuple[int, int]]]) -> dict[str, tuple[Patch, str]]:
    """Key -> (its patch, the key of its clean file) of each burned picture this command encodes
    only around its cues (pipeline/render/patches.py): an intra-only encoder's, whose clean
    picture the command writes into its profile's clean file, with cues known."""
    clean_files = {_picture_of(spec): spec.key for spec in plan.written
                   if spec.key not in plan.borrowed and not spec.burns and not spec.textless
                   and _picture_of(spec) in labels}
    patched: dict[str, tuple[Patch, str]] = {}
    for spec in plan.written:
        profile = config.profiles[spec.profile]
        clean = clean_files.get((spec.profile, None, False))
        if (not spec.burns or spec.key in plan.borrowed or profile.video_codec not in INTRA_ENCODERS
                or clean is None or _picture_of(spec) not in labels):
            continue
        speed = profile.speed_factor(inputs.video.fps)
        cues = burned_cues.get(subtitle_script_name(spec.burns, speed))
        if cues is None:
            continue
        fps = output_rate(inputs.video, profile)
        patch = text_frames(cues, fps, round(Fraction(inputs.duration_s) / speed * fps))
        if patch.worth_it:
            patched[spec.key] = (patch, clean)
    return patched


def _muxed_versions(inputs: RenderInputs, plan: _Outputs, specs: list[Deliverable], config: Config, sound: _Sound,
                    encoded: dict[str, Path], paths: dict[str, Path], metadata: dict[str, list[str]],
                    subtitle_files: dict[str, Path], render: RenderPlan, work_dir: Path) -> list[str]:
    """The stream-copy versions' commands (into `render.mux_commands`), and the render command's
    outputs writing the sound files of those whose sound is not their clean file's: the trial's
    file where it is the profile's encoding, else one file per sound and encoding."""
    output_args: list[str] = []
    sound_files: dict[tuple[str, ...], Path] = {}
    for spec in plan.outside:
        profile = config.profiles[spec.profile]
        tracks = tracks_of(spec)
        key = _sound_file_key(spec, profile)
        if _copies_trial(profile, config, tracks, encoded) and len(tracks) == 1:
            sound_files[key] = encoded[tracks[0].signal]  # type: ignore[union-attr]
            continue
        name = "-".join("silent" if track is None else track.signal for track in tracks)
        sound_files[key] = work_dir / f"{name}-audio{sound_file_suffix(profile)}"
        if any(path == sound_files[key] for other, path in sound_files.items() if other != key):
            sound_files[key] = work_dir / f"{name}-audio-{spec.profile}{sound_file_suffix(profile)}"
        maps, chains = _track_args(spec, profile, sound, False, f"s{len(sound_files)}")
        sound.chains += chains
        output_args += maps + audio_codec_args(profile) + [str(sound_files[key])]
        render.scratch_files.append(sound_files[key])
    for spec in plan.muxed:
        profile = config.profiles[spec.profile]
        clean = copied_picture_of(specs, spec)
        tracks_file = None
        if tracks_of(spec) != tracks_of(clean):  # type: ignore[arg-type]
            tracks_file = sound_files[_sound_file_key(spec, profile)]
        subtitle = subtitle_files.get(_soft_key(spec, inputs, config)) if spec.soft_subtitles else None
        render.mux_commands[spec.key] = build_copy_command(
            paths[clean.key], paths[spec.key], metadata.get(spec.key, []), profile,  # type: ignore[union-attr]
            tracks_file=tracks_file, subtitle_source=subtitle)
        render.outputs[spec.key] = paths[spec.key]
    return output_args


class _SheetBranches:
    """The contact sheets of a render command, cut from its own decode: one branch per encoded
    picture and set of times (a subtitled version's frames sit inside its cues, so a version with
    a soft subtitle track and its clean master need two sheets of one picture), tapped where
    the picture goes to its encoder. The deliverables whose files carry that picture by stream
    copy (the international version) share its sheet when they show the same times, and its
    poster frame (`posters`: key -> seconds of its file, for the files a browser plays)."""

    def __init__(self, inputs: RenderInputs, plan: _Outputs, specs: list[Deliverable], config: Config,
                 times: Mapping[str, list[float]], folder: Path, posters: Mapping[str, float] | None = None):
        self.inputs, self.config, self.folder = inputs, config, folder
        self.groups: dict[tuple[PictureKey, tuple[float, ...]], list[str]] = {}
        self.poster_groups: dict[tuple[PictureKey, int], list[str]] = {}
        by_key = {spec.key: spec for spec in specs}
        poster_times = posters or {}
        for spec in specs:
            if spec in plan.written:
                owner = by_key[plan.borrowed[spec.key]] if spec.key in plan.borrowed else spec
            elif spec in plan.muxed:
                owner = copied_picture_of(specs, spec)  # type: ignore[assignment]
            else:
                continue
            if owner is None:
                continue
            picture = _picture_of(owner)
            if times.get(spec.key):
                self.groups.setdefault((picture, tuple(times[spec.key])), []).append(spec.key)
            if spec.key in poster_times:
                frame = frame_at(poster_times[spec.key], self._fps(picture))
                self.poster_groups.setdefault((picture, frame), []).append(spec.key)
        self.sheets: dict[str, RenderedSheet] = {}
        self.posters: dict[str, Path] = {}
        self.output_args: list[str] = []

    def _fps(self, picture: PictureKey) -> float:
        return float(output_rate(self.inputs.video, self.config.profiles[picture[0]]))

    def branch(self, labels: dict[PictureKey, str], chains: list[str]) -> dict[PictureKey, str]:
        """Tap every encoded picture that has sheets or posters (chains appended to `chains`);
        returns the labels the encoders now take."""
        taps: dict[PictureKey, list[tuple[float, ...]]] = {}
        poster_taps: dict[PictureKey, list[int]] = {}
        for picture, times in self.groups:
            if picture in labels:
                taps.setdefault(picture, []).append(times)
        for picture, frame in self.poster_groups:
            if picture in labels:
                poster_taps.setdefault(picture, []).append(frame)
        tapped = dict(labels)
        for picture in dict.fromkeys([*taps, *poster_taps]):
            label, all_times, frames = labels[picture], taps.get(picture, []), poster_taps.get(picture, [])
            names = [f"{label}_sheet{index}" for index in range(len(all_times))]
            posters = [f"{label}_poster{index}" for index in range(len(frames))]
            chains.append(f"[{label}]split={1 + len(names) + len(posters)}[{label}_enc]"
                          + "".join(f"[{name}]" for name in names + posters))
            tapped[picture] = f"{label}_enc"
            for name, times in zip(names, all_times):
                shown, numbers = sheet_frames(list(times), self._fps(picture))
                keys = self.groups[(picture, times)]
                png = self.folder / f"{keys[0]}.png"
                chains.append(sheet_chain(name, numbers, f"{name}_tiled"))
                self.output_args += ["-map", f"[{name}_tiled]", "-fps_mode", "passthrough", "-update", "1",
                                     str(png)]
                self.sheets |= {key: RenderedSheet(tuple(shown), png) for key in keys}
            for name, frame in zip(posters, frames):
                keys = self.poster_groups[(picture, frame)]
                jpg = self.folder / f"{keys[0]}-poster.jpg"
                chains.append(poster_chain(name, frame, f"{name}_scaled"))
                self.output_args += ["-map", f"[{name}_scaled]", "-fps_mode", "passthrough", "-q:v", "4",
                                     "-update", "1", str(jpg)]  # JPEG as the shot thumbnails
                self.posters |= dict.fromkeys(keys, jpg)
        return tapped


def _soft_key(spec: Deliverable, inputs: RenderInputs, config: Config) -> str:
    """The SRT (`subtitle_files` key) of a deliverable's soft subtitle track, at its profile's speed."""
    speed = config.profiles[spec.profile].speed_factor(inputs.video.fps)
    return soft_subtitle_key(spec.subtitle_language or "", speed)


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
        profile = config.profiles[spec.profile]
        exact = (profile.width or 0, profile.height or 0)
        pictures.append(work.Picture(profile.video_codec, *max(size, exact, key=lambda wh: wh[0] * wh[1])))
    frames = inputs.duration_s * (float(video.fps) if video is not None and video.fps else 25.0)
    return work.time_limit(config.limits, frames, pictures)


def prepare_work_dir(work_dir: Path, font_dirs: Sequence[Path] = ()) -> None:
    """The work dir holds the ASS files and a `fonts/` folder of links to the burn-in fonts, so
    the filter graph names only plain relative paths (nothing there needs escaping)."""
    fonts = work_dir / FONTS_LINK
    fonts.mkdir(parents=True, exist_ok=True)
    for font in burn_font_files(font_dirs):  # DejaVu, Noto for the scripts it lacks, the desk's
        link = fonts / font.name
        if not link.exists():
            link.symlink_to(font)

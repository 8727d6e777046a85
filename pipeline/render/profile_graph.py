"""The parts of the one render command (pipeline/render/commands.py) that make the outputs of
the profiles beside `web`: their picture chains from the shared decode, the copies of the
sound they take, and their outputs. Pure builders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Config, OutputProfile
from pipeline.deliverables import Deliverable, Sound, full_mix
from pipeline.media.probe import VideoInfo
from pipeline.render import profiles as render_profiles
from pipeline.render.tags import stream_language

FONTS = "fonts"
"""The work dir's link to the burn-in fonts (commands.FONTS_LINK)."""


def profile_conforms(video: VideoInfo, specs: list[Deliverable], profiles: dict[str, OutputProfile]) -> list[str]:
    """The distinct conform chains the profiles' pictures need, in order: profiles with the same
    geometry and scan share one."""
    chains = [render_profiles.conform_filters(video, profiles[spec.profile]) for spec in specs]
    return list(dict.fromkeys(chains))


def _pictures_of(specs: list[Deliverable]) -> list[tuple[str, str | None]]:
    """(profile, burned language or None for the clean picture) of every encoded picture."""
    return list(dict.fromkeys((spec.profile, spec.burns) for spec in specs))


def profile_video_graph(video: VideoInfo, specs: list[Deliverable], profiles: dict[str, OutputProfile],
                        sources: list[str]) -> tuple[list[str], dict[tuple[str, str | None], str]]:
    """From each conform's source label (`sources`, one per `profile_conforms`) to one label per
    picture: (profile, None) for its clean picture, (profile, language) per burned language."""
    conforms = profile_conforms(video, specs, profiles)
    wanted: dict[str, list[tuple[str, str | None]]] = {chain: [] for chain in conforms}
    for name, language in _pictures_of(specs):
        wanted[render_profiles.conform_filters(video, profiles[name])].append((name, language))
    chains: list[str] = []
    pictures: dict[tuple[str, str | None], str] = {}
    for index, (chain, needed) in enumerate(wanted.items()):
        labels = [f"p{index}v{count}" for count in range(len(needed))]
        chains.append(f"[{sources[index]}]{chain},split={len(labels)}" + "".join(f"[{label}]" for label in labels))
        for (name, language), label in zip(needed, labels):
            if language is None:
                pictures[(name, None)] = label
            else:
                chains.append(f"[{label}]ass=filename=subtitles-{language}.ass:fontsdir={FONTS}:"
                              f"shaping=complex[burn_{label}]")
                pictures[(name, language)] = f"burn_{label}"
    return chains, pictures


def profile_sounds(specs: list[Deliverable]) -> dict[Sound, int]:
    """Each sound the profiles' outputs take, with how many copies (a silent pair takes the mix's)."""
    counts = render_profiles.sound_copies(specs)
    sounds = {"mix": full_mix(None)}  # the mix's copies make the silent pairs even where no mix is carried
    sounds |= {sound.signal: sound for spec in specs for sound in spec.tracks if sound is not None}
    return {sounds[signal]: count for signal, count in counts.items()}


def borrowed_pictures(video: VideoInfo, specs: list[Deliverable], profiles: dict[str, OutputProfile]) -> dict[str, str]:
    """Key of each profile deliverable whose encoded picture another profile's deliverable makes
    already (the same conform, encoder settings and burned language) -> that deliverable's key:
    it takes that picture by stream copy instead of encoding it again."""
    owners: dict[tuple, str] = {}
    borrowed: dict[str, str] = {}
    for spec in specs:
        profile = profiles[spec.profile]
        picture = (render_profiles.conform_filters(video, profile),
                   tuple(render_profiles.video_codec_args(profile, video, 1)), spec.burns)
        if picture in owners:
            borrowed[spec.key] = owners[picture]
        else:
            owners[picture] = spec.key
    return borrowed


@dataclass
class ProfileOutputs:
    """What the render command writes for the profiles beside web."""

    args: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    """Key -> the file the command writes."""
    muxes: dict[str, list[str]] = field(default_factory=dict)
    """Key -> the stream-copy command making a deliverable whose picture another profile's file has."""
    scratch: list[Path] = field(default_factory=list)
    """The track files those muxes take their sound from, removed once muxed."""


def profile_outputs(specs: list[Deliverable], config: Config, inputs, pictures: dict[tuple[str, str | None], str],
                    sound_sources: dict[str, Iterator[str]], soft_inputs: dict[str, int],
                    metadata: dict[str, list[str]], threads: int, work_dir: Path, asset_id: str,
                    borrowed: dict[str, str] | None = None) -> ProfileOutputs:
    """The output arguments of every profile deliverable written by the render command and the
    chains making their tracks. A deliverable in `borrowed` gets its tracks (and soft subtitle
    track) written alone, then muxed with the picture of the file it borrows from."""
    made = ProfileOutputs()
    paths = {spec.key: work_dir / spec.filename(asset_id, config.profiles[spec.profile].container) for spec in specs}
    for index, spec in enumerate(specs):
        profile = config.profiles[spec.profile]
        tracks = render_profiles.track_plan(spec, profile, sound_sources, f"t{index}")
        made.chains += tracks.chains
        languages = [stream_language(language) for language in track_languages(spec, profile)]
        soft = soft_inputs.get(spec.key)
        sound = (render_profiles.audio_args(profile, tracks, languages)
                 + (["-map", f"{soft}:s:0", "-c:s", "mov_text"] if soft is not None else []))
        owner = (borrowed or {}).get(spec.key)
        if owner is not None:
            scratch = work_dir / f".{spec.key}-tracks.mov"
            made.args += sound + ["-f", "mov", str(scratch)]
            made.muxes[spec.key] = render_profiles.build_borrowed_picture_command(
                paths[owner], scratch, paths[spec.key], metadata.get(spec.key, []), profile)
            made.scratch.append(scratch)
            continue
        made.args += (["-map", f"[{pictures[(spec.profile, spec.burns)]}]"]
                      + render_profiles.video_codec_args(profile, inputs.video, threads)
                      + metadata.get(spec.key, []) + sound + render_profiles.container_args(profile)
                      + [str(paths[spec.key])])
        made.files[spec.key] = paths[spec.key]
    return made


def track_languages(spec: Deliverable, profile: OutputProfile) -> list[str]:
    """The language of each audio stream of a profile output ('zxx' for M&E and silence)."""
    per_pair = [sound.language if sound is not None else "zxx" for sound in spec.tracks]
    return [language for language in per_pair for _ in range(2 if profile.audio.tracks == "mono" else 1)]

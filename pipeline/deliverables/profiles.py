"""Every version in every profile the config gives it (`[outputs]`, docs/configuration.md "Delivery profiles").

The versions' modules plan each version once; here each is turned into one deliverable per
profile, web included. A profile carries the sounds of its track allocation (web: the version's
own sound; broadcast: the full mix on 1-2, the M&E on 3-4...), and the same picture kind as the
version (the clean picture, a burned language, or the clean picture of that same profile by
stream copy).
"""

from __future__ import annotations

import dataclasses

from pipeline.audio.layouts import me_source
from pipeline.audio.signals import profile_signal
from pipeline.audio.sounds import MUSIC_AND_EFFECTS, Sound, full_mix
from pipeline.config import Config, OutputProfile
from pipeline.deliverables.model import Deliverable


def in_profiles(planned: list[Deliverable], version_failures: dict[str, str], submission,
                config: Config) -> tuple[list[Deliverable], dict[str, str]]:
    """Each planned (web) deliverable in each profile of its version; a version that could not
    be planned fails in each of its profiles."""
    deliverables: list[Deliverable] = []
    failures: dict[str, str] = {}
    for version, reason in version_failures.items():
        for name in config.outputs.profiles_for(version):
            failures[key_in(version, name, config.profiles[name])] = reason
    for deliverable in planned:
        for name in config.outputs.profiles_for(deliverable.version):
            profile = config.profiles[name]
            made = in_profile(deliverable, name, profile, submission, config.has_own_gain(name))
            if isinstance(made, str):
                failures[key_in(deliverable.version, name, profile)] = made
            elif made is not None:
                deliverables.append(made)
    return deliverables, failures


def key_in(version: str, name: str, profile: OutputProfile) -> str:
    """The key of `version` in the profile `name` (Deliverable.key), for one that is not made."""
    return f"{version}_{name}" if profile.profile_in_names else version


def in_profile(deliverable: Deliverable, name: str, profile: OutputProfile,
               submission, own_gain: bool = False) -> Deliverable | str | None:
    """`deliverable` in the profile `name`; a reason when it cannot be made; None when it would be
    another deliverable of the profile again (a soft-subtitle-only version in a container
    without soft subtitles is the clean master). `own_gain`: the profile has a loudness target
    of its own, so its sounds are its own signals ("mix@mezzanine"), gained apart. A profile that
    speeds the programme up (a speed frame rate conversion) has its own signals too: its sound
    is time-stretched (pipeline/render/commands.py)."""
    video = submission.media.video
    refusal = profile.conversion_refusal(video.fps, name)
    if refusal is not None:
        return f"{refusal}, or leave {deliverable.version} out of {name} ([outputs])"
    soft = deliverable.soft_subtitles and profile.soft_subtitles
    if deliverable.picture == "copy-clean" and deliverable.soft_subtitles and not soft:
        return None
    tracks = track_sounds(profile, submission.descriptive.language, me_source(submission.layout.roles) is not None,
                          own=deliverable.sound)
    if isinstance(tracks, str):
        return f"{tracks} ({name} profile)"
    if own_gain or profile.speed_factor(video.fps) != 1:  # a time-stretched sound is the profile's own
        tracks = tuple(None if sound is None else dataclasses.replace(sound, signal=profile_signal(sound.signal, name))
                       for sound in tracks)
    first = next(sound for sound in tracks if sound is not None)
    return dataclasses.replace(deliverable, profile=name, sound=first, tracks=tracks, soft_subtitles=soft,
                               profile_in_key=profile.profile_in_names, container=profile.container)


def track_sounds(profile: OutputProfile, language: str | None, has_me: bool,
                 own: Sound | None = None) -> tuple[Sound | None, ...] | str:
    """The sound of each stereo pair of the profile's allocation (None: silent; "version": `own`,
    the version's own sound), or why the master cannot fill it."""
    allocation = list(profile.audio.allocation)
    if "me" in allocation and not has_me:
        if profile.audio.without_me == "fail":
            return ("the track allocation puts the M&E on tracks "
                    f"{2 * allocation.index('me') + 1}-{2 * allocation.index('me') + 2} and the master "
                    "has none; deliver a master with an M&E, or set audio.without_me = \"drop\"")
        allocation = [sound for sound in allocation if sound != "me"]
    sounds = {"mix": full_mix(language), "me": MUSIC_AND_EFFECTS, "silent": None, "version": own or full_mix(language)}
    return tuple(sounds[sound] for sound in allocation)

"""Every version in every profile the config gives it (`[outputs]`, docs/configuration.md "Delivery profiles").

The versions' modules plan each version once; here each is turned into one deliverable per
profile, web included. A profile carries the sounds of its track allocation (web: the version's
own sound; broadcast: the full mix on 1-2, the M&E on 3-4...), and the same picture kind as the
version (the clean picture, a burned language, or the clean picture of that same profile by
stream copy).
"""

from __future__ import annotations

import dataclasses

from pipeline.audio.layouts import me51_pan, me_source, mix51_pan
from pipeline.audio.signals import profile_signal
from pipeline.audio.sounds import MUSIC_AND_EFFECTS, SURROUND_MUSIC_AND_EFFECTS, Sound, full_mix, surround_mix
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
    roles = list(submission.layout.roles)
    tracks = track_sounds(profile, submission.descriptive.language, me_source(roles) is not None,
                          own=deliverable.sound, roles=roles)
    if isinstance(tracks, str):
        return f"{tracks} ({name} profile)"
    if own_gain or profile.speed_factor(video.fps) != 1:  # a time-stretched sound is the profile's own
        tracks = tuple(None if sound is None else dataclasses.replace(sound, signal=profile_signal(sound.signal, name))
                       for sound in tracks)
    first = next(sound for sound in tracks if sound is not None)
    return dataclasses.replace(deliverable, profile=name, sound=first, tracks=tracks, soft_subtitles=soft,
                               profile_in_key=profile.profile_in_names, container=profile.container)


ELEMENT_NAMES = {"me": "the M&E", "mix51": "the 5.1 mix", "me51": "the 5.1 M&E"}
"""The allocation's elements a master may lack, as a sentence names them."""


def track_sounds(profile: OutputProfile, language: str | None, has_me: bool,
                 own: Sound | None = None, roles: list[str] | None = None) -> tuple[Sound | None, ...] | str:
    """The sound of each element of the profile's allocation, in track order (None: a silent
    pair; "version": `own`, the version's own sound; "mix51", "me51": the master's 5.1, from
    its channel `roles`), or why the master cannot fill it. An element the master lacks (an
    M&E, a 5.1) fails the deliverable or is left out, as `without_me` says."""
    sounds = {"mix": full_mix(language), "me": MUSIC_AND_EFFECTS, "mix51": surround_mix(language),
              "me51": SURROUND_MUSIC_AND_EFFECTS, "silent": None, "version": own or full_mix(language)}
    lacking = {"me": not has_me, "mix51": roles is None or mix51_pan(roles) is None,
               "me51": roles is None or me51_pan(roles) is None}
    allocation = list(profile.audio.allocation)
    for element in dict.fromkeys(allocation):
        if not lacking.get(element):
            continue
        if profile.audio.without_me == "fail":
            first = sum(_channels(sounds[each]) for each in allocation[:allocation.index(element)]) + 1
            last = first + _channels(sounds[element]) - 1
            name = ELEMENT_NAMES[element]
            return (f"the track allocation puts {name} on tracks {first}-{last} and the master has none; "
                    f"deliver a master with {name.replace('the ', 'an ' if element == 'me' else 'a ', 1)}, "
                    "or set audio.without_me = \"drop\"")
        allocation = [each for each in allocation if each != element]
    return tuple(sounds[element] for element in allocation)


def _channels(sound: Sound | None) -> int:
    """The tracks a sound takes in a mono allocation (a silent pair: two)."""
    return 2 if sound is None else sound.channels

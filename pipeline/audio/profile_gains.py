"""The gains of the delivery profiles whose loudness target differs from [loudness].

Such a profile's sounds are signals of their own ("mix@mezzanine", pipeline/audio/signals.py).
They come from the same routing of the master as the others, so the one measurement pass of
the analysis measures them already (as "mix", "me"); only the gain differs: one linear gain
from the measured full mix to the profile's target, the same gain (and limiter, if any) for
its M&E, as docs/design.md section 2 requires of every M&E. The profiles write PCM, which keeps
the gained samples exactly, so the gain needs no trial encode; only a limiter (which takes
loudness away) is confirmed on a PCM trial, as the web profile's is on AAC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipeline.audio import loudness
from pipeline.audio.loudness import GainPlan, Loudness
from pipeline.audio.signals import base_signal, signal_profile
from pipeline.audio.sounds import Sound, stereo_sibling
from pipeline.config import Config, LoudnessConfig


def gain_groups(sounds: list[Sound]) -> dict[str | None, dict[str, Sound]]:
    """The sounds by whose gain they carry (None: [loudness]'s; else a profile's own), each
    group by the signal as routed from the master ("mix", "me")."""
    groups: dict[str | None, dict[str, Sound]] = {}
    for sound in sounds:
        groups.setdefault(signal_profile(sound.signal), {}).setdefault(base_signal(sound.signal), sound)
    for group in groups.values():  # a 5.1 sound takes its stereo sibling's gain: measured even if no file carries it
        for sound in list(group.values()):
            sibling = stereo_sibling(sound)
            if sibling is not None:
                group.setdefault(base_signal(sibling.signal), sibling)
    return groups


def reference_of(group: Mapping[str, Sound]) -> str:
    """The one signal of a group held to the target (the full mix)."""
    targeted = [signal for signal, sound in group.items() if sound.held_to_target]
    if len(targeted) != 1:
        raise ValueError(f"exactly one sound must be held to the loudness target, not {targeted}")
    return targeted[0]


def ordered(group: Mapping[str, Sound], reference: str) -> dict[str, Sound]:
    """The group's signals, the one held to the target first (the order of the graphs)."""
    return dict(sorted(group.items(), key=lambda item: item[0] != reference))


Settle = Callable[[str, GainPlan, LoudnessConfig, dict[str, Sound]], GainPlan]
"""(profile, plan, its target, its signals) -> the plan confirmed where it needs a trial."""


def profile_plans(groups: Mapping[str | None, Mapping[str, Sound]], measured: Mapping[str, Loudness],
                  config: Config, settle: Settle) -> dict[str, GainPlan]:
    """Profile -> its own gain plan, from the master's measurement (`measured`: routed signal ->
    loudness before any gain), for every profile group of `groups`."""
    plans = {}
    for profile, group in groups.items():
        if profile is None:
            continue
        target = config.loudness_for(profile)
        reference = reference_of(group)
        others = {signal: measured[signal] for signal in group if signal != reference}
        plan = loudness.plan_gain(measured[reference], target, others, config.sample_rate, reference)
        plans[profile] = settle(profile, plan, target, ordered(group, reference))
    return plans

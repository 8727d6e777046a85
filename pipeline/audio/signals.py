"""Names of the sounds in the audio graph and the loudness plan.

A sound is named by its signal: "mix", "me". A delivery profile whose loudness target differs
from [loudness] (docs/configuration.md "Delivery profiles") gets its own gain, so its sounds are other signals
of the same routing: "mix@mezzanine" is the full mix gained to the mezzanine's target. The
part before the separator says where the sound comes from in the master (its routing, its
checks); the part after, whose gain it carries.
"""

from __future__ import annotations

SEPARATOR = "@"


def profile_signal(signal: str, profile: str) -> str:
    """The signal of `signal` gained to `profile`'s own loudness target."""
    return f"{base_signal(signal)}{SEPARATOR}{profile}"


def base_signal(signal: str) -> str:
    """The sound as routed from the master, whatever its gain: "mix@mezzanine" -> "mix"."""
    return signal.split(SEPARATOR, 1)[0]


def signal_profile(signal: str) -> str | None:
    """The profile whose own gain the signal carries; None: the gain of [loudness]."""
    _, separator, profile = signal.partition(SEPARATOR)
    return profile if separator else None

"""The sounds a delivered file carries (the full mix, the M&E...): which signal of the master's
layout, its title and language, and whether it is held to the loudness target. An audio type,
so the loudness plan, the render and the deliverables all take it from here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.audio.layouts import me_pan, mix_pan


@dataclass(frozen=True)
class Sound:
    """The stereo sound one deliverable carries."""

    signal: str
    """Its name in the audio graph and the loudness plan ("mix", "me"): deliverables with the same
    signal share one routed, gained and encoded sound."""
    title: str
    """The track title written into the file ("Full mix")."""
    language: str
    """BCP 47 tag of what is spoken; 'zxx' (no linguistic content) for music and effects."""
    held_to_target: bool
    """True: brought to the loudness target (the full mix). False: keeps the full mix's gain and
    is measured, never targeted (an M&E must match the mix's level, docs/design.md section 2)."""
    roles: tuple[str, ...]
    """The channel roles of the delivered pair, for the sidecar."""
    pan: Callable[[list[str]], str | None]
    """`pan` filter arguments making this sound from the master's channel roles (None: the
    layout cannot make it)."""


def full_mix(language: str | None) -> Sound:
    return Sound("mix", "Full mix", language or "und", True, ("mix_l", "mix_r"), mix_pan)


MUSIC_AND_EFFECTS = Sound("me", "Music and effects", "zxx", False, ("me_l", "me_r"), me_pan)

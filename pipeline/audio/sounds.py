"""The sounds a delivered file carries (the full mix, the M&E...): which signal of the master's
layout, its title and language, and whether it is held to the loudness target. An audio type,
so the loudness plan, the render and the deliverables all take it from here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pipeline.audio.layouts import SURROUND_ORDER, me51_pan, me_pan, mix51_pan, mix_pan
from pipeline.audio.signals import SEPARATOR


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

    @property
    def channels(self) -> int:
        """2 for a stereo sound, 6 for a 5.1 one (L R C LFE Ls Rs)."""
        return len(self.roles)


def full_mix(language: str | None) -> Sound:
    return Sound("mix", "Full mix", language or "und", True, ("mix_l", "mix_r"), mix_pan)


MUSIC_AND_EFFECTS = Sound("me", "Music and effects", "zxx", False, ("me_l", "me_r"), me_pan)


def surround_mix(language: str | None) -> Sound:
    """The master's 5.1 mix as it is: not held to the target itself, it takes the stereo mix's
    gain (its loudness is measured, BS.1770 with the LFE left out)."""
    return Sound("mix51", "Full mix 5.1", language or "und", False,
                 tuple(f"mix_{name}" for name in SURROUND_ORDER), mix51_pan)


SURROUND_MUSIC_AND_EFFECTS = Sound("me51", "Music and effects 5.1", "zxx", False,
                                   tuple(f"me_{name}" for name in SURROUND_ORDER), me51_pan)


def stereo_sibling(sound: Sound) -> Sound | None:
    """The stereo sound whose gain a 5.1 sound takes (the mix for "mix51", the M&E for
    "me51"), with the same gain owner ("mix51@mezzanine" -> "mix@mezzanine"); None for a stereo sound."""
    base, separator, owner = sound.signal.partition(SEPARATOR)
    sibling = {"mix51": full_mix(sound.language), "me51": MUSIC_AND_EFFECTS}.get(base)
    if sibling is None:
        return None
    return replace(sibling, signal=f"{sibling.signal}{separator}{owner}")

"""Audio layouts: which role each channel of a master plays, and how the full mix and the M&E
are routed out of them as ffmpeg filter graphs.

Channels are counted across all audio streams in order (DESIGN.md section 4). Detection order:
the package's `audio_layout`, then stream titles as editing tools write them, then the channel
count. Ambiguity is an error listing the candidates, never a guess.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .config import Layout
from .errors import LayoutError
from .probe import AudioInfo

log = logging.getLogger(__name__)

# A mono stem goes to both sides of the stereo output at -3 dB, so its power (and so its
# BS.1770 loudness) is the same as the stem's own.
CENTRE_GAIN = 0.7071

# Keywords that editing tools write into stream titles, and the roles they point at.
_TITLE_ROLES: list[tuple[str, set[str]]] = [
    (r"\bm\s*&\s*e\b|\bm\+e\b|\bme\b|international|music\s*(and|&)\s*effects|\bint\b", {"me_l", "me_r"}),
    (r"dialog|dialogue|narrat|\bvo\b|voice|speech", {"dialogue"}),
    (r"\bmusic\b|\bmus\b", {"music"}),
    (r"effects|\bfx\b|\bsfx\b|\bsfx\b", {"effects"}),
    (r"audio\s*desc|\bad\b", {"ad"}),
    (r"\bmix\b|full|main|programme|program|\bpgm\b|stereo", {"mix_l", "mix_r"}),
]


@dataclass(frozen=True)
class ResolvedLayout:
    name: str
    layout: Layout
    how: str
    """How it was chosen: "metadata", "stream titles" or "channel count"."""

    @property
    def roles(self) -> list[str]:
        return list(self.layout.channels)


def title_roles(title: str) -> set[str] | None:
    """The roles a stream title points at, or None when it says nothing we recognise."""
    lowered = title.lower()
    for pattern, roles in _TITLE_ROLES:
        if re.search(pattern, lowered):
            return roles
    return None


def _consistent_with_titles(layout: Layout, streams: list[AudioInfo]) -> bool:
    position = 0
    for stream in streams:
        roles = set(layout.channels[position:position + stream.channels])
        position += stream.channels
        wanted = title_roles(stream.title)
        if wanted is not None and not roles <= wanted | {"mute"}:
            return False
    return True


def detect_layout(streams: list[AudioInfo], layouts: dict[str, Layout], requested: str | None,
                  master_name: str) -> ResolvedLayout:
    channels = sum(stream.channels for stream in streams)
    if channels == 0:
        raise LayoutError(master_name, "has no audio stream",
                          "deliver the master with its full mix (and M&E or stems)")
    if requested:
        return _requested_layout(requested, layouts, channels, master_name)
    by_count = {name: layout for name, layout in layouts.items() if len(layout.channels) == channels}
    titled = any(title_roles(stream.title) is not None for stream in streams)
    if titled:
        by_title = [name for name, layout in by_count.items() if _consistent_with_titles(layout, streams)]
        if len(by_title) == 1:
            return ResolvedLayout(by_title[0], layouts[by_title[0]], "stream titles")
        if by_title:
            by_count = {name: layouts[name] for name in by_title}
    if len(by_count) == 1:
        name = next(iter(by_count))
        return ResolvedLayout(name, by_count[name], "channel count")
    _raise_ambiguous(by_count, layouts, streams, channels, master_name)


def _requested_layout(requested: str, layouts: dict[str, Layout], channels: int,
                      master_name: str) -> ResolvedLayout:
    if requested not in layouts:
        raise LayoutError(master_name, f"audio_layout '{requested}' is not a known layout",
                          f"set audio_layout in metadata.yaml to one of: {', '.join(sorted(layouts))}")
    layout = layouts[requested]
    if len(layout.channels) != channels:
        raise LayoutError(master_name, f"has {channels} audio channels but audio_layout "
                          f"'{requested}' maps {len(layout.channels)}",
                          "choose a layout with as many channels as the master, or add one to your config")
    return ResolvedLayout(requested, layout, "metadata")


def _raise_ambiguous(candidates: dict[str, Layout], layouts: dict[str, Layout],
                     streams: list[AudioInfo], channels: int, master_name: str):
    described = ", ".join(f"{stream.channels} ch '{stream.title or 'untitled'}'" for stream in streams)
    if not candidates:
        raise LayoutError(master_name, f"has {channels} audio channels ({described}) and no "
                          "configured layout maps that many",
                          f"add a layout under [layouts.NAME] in your config (known: {', '.join(sorted(layouts))})")
    names = ", ".join(f"{name} ({candidates[name].description})" for name in sorted(candidates))
    raise LayoutError(master_name, f"audio layout is ambiguous: {channels} channels ({described}) fit "
                      f"{names}", "set audio_layout in metadata.yaml to one of: "
                      + ", ".join(sorted(candidates)) + " (or title the audio tracks, e.g. 'Mix', 'M&E')")


# ---- routing: pure functions that turn roles into ffmpeg pan expressions -------------------

def _role_channels(roles: list[str], role: str) -> list[int]:
    return [index for index, name in enumerate(roles) if name == role]


def _stereo_terms(roles: list[str], pair: tuple[str, str] | str) -> tuple[list[str], list[str]] | None:
    """Terms for the left and right outputs carrying a role (a named pair or a stem)."""
    if isinstance(pair, tuple):
        left, right = _role_channels(roles, pair[0]), _role_channels(roles, pair[1])
        if not left or not right:
            return None
        return [f"c{index}" for index in left], [f"c{index}" for index in right]
    channels = _role_channels(roles, pair)
    if not channels:
        return None
    if len(channels) == 1:
        term = f"{CENTRE_GAIN}*c{channels[0]}"
        return [term], [term]
    if len(channels) == 2:
        return [f"c{channels[0]}"], [f"c{channels[1]}"]
    raise LayoutError(None, f"role '{pair}' has {len(channels)} channels; stems must be mono or stereo",
                      "map the extra channels to 'mute' in the layout")


def _sum_terms(parts: list[tuple[list[str], list[str]]], sign: str = "+") -> tuple[str, str]:
    left = "+".join(term for part in parts for term in part[0])
    right = "+".join(term for part in parts for term in part[1])
    return left, right


def mix_pan(roles: list[str]) -> str | None:
    """`pan` arguments making the stereo full mix: the mix channels, or D + M + E."""
    mix = _stereo_terms(roles, ("mix_l", "mix_r"))
    if mix is not None:
        return "stereo|c0={}|c1={}".format(*_sum_terms([mix]))
    stems = [_stereo_terms(roles, role) for role in ("dialogue", "music", "effects")]
    stems = [stem for stem in stems if stem is not None]
    if not stems:
        return None
    return "stereo|c0={}|c1={}".format(*_sum_terms(stems))


def me_source(roles: list[str]) -> str | None:
    """Where the M&E comes from in this layout: 'channels', 'stems', 'derived' or None."""
    if _role_channels(roles, "me_l") and _role_channels(roles, "me_r"):
        return "channels"
    if _role_channels(roles, "music") or _role_channels(roles, "effects"):
        return "stems"
    if _role_channels(roles, "mix_l") and _role_channels(roles, "dialogue"):
        return "derived"
    return None


def me_pan(roles: list[str]) -> str | None:
    """`pan` arguments making the stereo M&E: the M&E channels, M + E, or mix - D."""
    source = me_source(roles)
    if source == "channels":
        return "stereo|c0={}|c1={}".format(*_sum_terms([_stereo_terms(roles, ("me_l", "me_r"))]))
    if source == "stems":
        stems = [_stereo_terms(roles, role) for role in ("music", "effects")]
        return "stereo|c0={}|c1={}".format(*_sum_terms([stem for stem in stems if stem]))
    if source == "derived":
        mix_l, mix_r = _stereo_terms(roles, ("mix_l", "mix_r"))
        dia_l, dia_r = _stereo_terms(roles, "dialogue")
        left = "+".join(mix_l) + "".join(f"-{term}" for term in dia_l)
        right = "+".join(mix_r) + "".join(f"-{term}" for term in dia_r)
        return f"stereo|c0={left}|c1={right}"
    return None


def dialogue_pan(roles: list[str]) -> str | None:
    terms = _stereo_terms(roles, "dialogue")
    return None if terms is None else "stereo|c0={}|c1={}".format(*_sum_terms([terms]))


def merged_audio(streams: list[AudioInfo], input_index: int = 0, sample_rate: int = 48000) -> tuple[list[str], str]:
    """Filter chains joining every audio stream into one multichannel stream, in channel order.

    Returns (chains, label). Each stream is first brought to one sample rate and format, since
    `amerge` needs its inputs to agree."""
    chains = []
    labels = []
    for position, _stream in enumerate(streams):
        label = f"ain{position}"
        chains.append(f"[{input_index}:a:{position}]aformat=sample_fmts=fltp:sample_rates={sample_rate}[{label}]")
        labels.append(f"[{label}]")
    if len(streams) == 1:
        return chains, "ain0"
    chains.append(f"{''.join(labels)}amerge=inputs={len(streams)}[amerged]")
    return chains, "amerged"

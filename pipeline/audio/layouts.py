"""Audio layouts: which role each channel of a master plays, and how the full mix, the M&E and
the dialogue are routed out of them as ffmpeg filter graphs.

Channels are counted across all audio streams in order (DESIGN.md section 4), so one layout
covers every form a master comes in: two stereo streams, four mono streams or one 4-channel
stream are all `mix-me`. Detection order: the package's `audio_layout`, then the stream titles
as editing tools write them ("Stereo Mix", "M&E", "DX", "Narration"...), then the channel count.
Ambiguity is an error listing the candidates and how to choose, never a guess.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.config import Layout
from pipeline.errors import LayoutError
from pipeline.media.probe import AudioInfo

log = logging.getLogger(__name__)

CENTRE_GAIN = 1 / math.sqrt(2)
"""A mono stem goes to both sides of the stereo output at -3 dB: its power, and so its BS.1770
loudness, stays what it was (the constant-power pan law most mixing desks use)."""

# ---- titles: what editing tools call their tracks --------------------------------------------

# Phrases naming music + effects together, rewritten to the single word "me" before the words
# are read: "M&E", "M + E", "Music & Effects", "MX/FX", "Mix minus VO", "No narration"...
_ME_PHRASES = re.compile(
    r"\bm\s*(?:&|\+|/|and|n)\s*e\b"
    r"|\bmusic\s*(?:&|\+|/|and)\s*(?:sound\s*)?(?:effects?|fx|sfx)\b"
    r"|\bmx\s*(?:&|\+|/|and)\s*(?:s?fx)\b"
    r"|\bmix\s*-?\s*minus\b"
    r"|\b(?:no|without|minus|sans)\s+(?:vo|voice|narration|dialog(?:ue)?|dx|commentary)\b")
# Where a title lists several things ("Mix + M&E", "Stereo Mix / Dialogue").
_PART_SEPARATORS = re.compile(r"\s*(?:\+|/|,|;|&|\band\b|\bwith\b)\s*")
_GROUP_WORDS: dict[str, set[str]] = {
    "me": {"me", "mne", "international", "intl", "int"},
    "dialogue": {"dialog", "dialogue", "dialogues", "dial", "dia", "dlg", "dx", "vo", "voice", "voices",
                 "voiceover", "narration", "narrator", "narr", "speech", "interview", "interviews",
                 "commentary"},
    "music": {"music", "mus", "mx", "score"},
    "effects": {"effects", "effect", "fx", "sfx", "efx", "foley", "ambience", "ambiences", "amb"},
    "ad": {"ad", "description", "described"},
    # Not "stereo": it says how many channels, not what is on them ("Stereo" M&E, "Stereo" stems).
    "mix": {"mix", "mixdown", "full", "main", "programme", "program", "pgm", "final", "composite",
            "printmaster", "ltrt", "loro"},
}
_STEMS = ("dialogue", "music", "effects", "ad")
_ROLE_GROUP = {"mix_l": "mix", "mix_r": "mix", "me_l": "me", "me_r": "me", "dialogue": "dialogue",
               "music": "music", "effects": "effects", "ad": "ad"}


def _words(text: str) -> list[str]:
    # Digits and underscores separate words too: "DX1", "ME_L", "A3-Music".
    return re.findall(r"[a-z]+", text)


def _part_groups(part: str) -> set[str]:
    found = {group for group, words in _GROUP_WORDS.items() if words & set(_words(part))}
    if "me" in found:
        return {"me"}  # "Stereo M&E", "M&E mix", "International stereo"
    stems = found & set(_STEMS)
    return stems or found  # a stem word wins over a mix word: "Dialogue mix" is a dialogue premix


def title_roles(title: str) -> set[str] | None:
    """The role groups a stream title names ('mix', 'me', 'dialogue', 'music', 'effects', 'ad'),
    or None when it names none (an empty title, "Audio 1", a muxer's handler name...)."""
    text = _ME_PHRASES.sub(" me ", title.lower())
    groups: set[str] = set()
    for part in _PART_SEPARATORS.split(text):
        groups |= _part_groups(part)
    return groups or None


def _words_of_name(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


def _names_layout(layout: Layout, streams: Sequence[AudioInfo]) -> bool:
    """A stream title equals one of the layout's own `titles` (words compared, case ignored)."""
    names = {_words_of_name(name) for name in layout.titles}
    return any(_words_of_name(stream.title) in names for stream in streams if stream.title)


def _consistent_with_titles(layout: Layout, streams: Sequence[AudioInfo]) -> bool:
    """Every titled stream carries only roles its title names (a silent 'mute' fits anything)."""
    position = 0
    for stream in streams:
        roles = layout.channels[position:position + stream.channels]
        position += stream.channels
        named = title_roles(stream.title)
        if named is None:
            continue
        carried = {_ROLE_GROUP[role] for role in roles if role != "mute"}
        if not carried <= named:
            return False
    return True


# ---- detection -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvedLayout:
    name: str
    layout: Layout
    how: str
    """How it was chosen: "metadata", "stream titles" or "channel count"."""

    @property
    def roles(self) -> list[str]:
        return list(self.layout.channels)


def detect_layout(streams: list[AudioInfo], layouts: dict[str, Layout], requested: str | None,
                  master_name: str) -> ResolvedLayout:
    channels = sum(stream.channels for stream in streams)
    if channels == 0:
        raise LayoutError(master_name, "has no audio stream",
                          "deliver the master with its full mix (and M&E or stems)")
    if requested:
        return _requested_layout(requested, layouts, channels, master_name)
    candidates = {name: layout for name, layout in layouts.items() if len(layout.channels) == channels}
    if any(title_roles(stream.title) for stream in streams):
        fitting = {name: layout for name, layout in candidates.items() if _consistent_with_titles(layout, streams)}
        if len(fitting) == 1:
            return _chosen(fitting, "stream titles")
        if not fitting and candidates:
            _raise_contradicted(candidates, streams, channels, master_name)
        candidates = fitting
    named = {name: layout for name, layout in candidates.items() if _names_layout(layout, streams)}
    if len(named) == 1:
        return _chosen(named, "stream titles")
    if len(candidates) == 1:
        return _chosen(candidates, "channel count")
    _raise_ambiguous(candidates, layouts, streams, channels, master_name)


def _chosen(candidates: dict[str, Layout], how: str) -> ResolvedLayout:
    name = next(iter(candidates))
    return ResolvedLayout(name, candidates[name], how)


def _requested_layout(requested: str, layouts: dict[str, Layout], channels: int,
                      master_name: str) -> ResolvedLayout:
    if requested not in layouts:
        raise LayoutError(master_name, f"audio_layout '{requested}' is not a known layout",
                          f"set audio_layout in metadata.yaml to one of: {', '.join(sorted(layouts))}")
    layout = layouts[requested]
    if len(layout.channels) != channels:
        fitting = sorted(name for name, other in layouts.items() if len(other.channels) == channels)
        raise LayoutError(master_name, f"has {channels} audio channels but audio_layout "
                          f"'{requested}' maps {len(layout.channels)}",
                          "set audio_layout to a layout with as many channels as the master"
                          + (f" ({', '.join(fitting)})" if fitting else "")
                          + ", or add one under [layouts.NAME] in your config")
    return ResolvedLayout(requested, layout, "metadata")


def _describe(streams: Sequence[AudioInfo]) -> str:
    return ", ".join(f"stream {position + 1}: {stream.channels} ch "
                     + (f"'{stream.title}'" if stream.title else "untitled")
                     for position, stream in enumerate(streams))


def _raise_contradicted(candidates: dict[str, Layout], streams: list[AudioInfo], channels: int,
                        master_name: str):
    """Titles that name roles no layout of this size has where they stand: a guess by channel
    count could route the narration into the M&E, so the package is refused."""
    names = sorted(candidates)
    listed = "; ".join(f"{name} ({candidates[name].description})" for name in names)
    raise LayoutError(master_name, f"the audio stream titles ({_describe(streams)}) fit none of the "
                      f"layouts of {channels} channels: {listed}",
                      f"if the master is in one of them all the same, set `audio_layout: {names[0]}` (or "
                      f"{', '.join(names)}) in metadata.yaml; otherwise retitle the tracks, or add a layout "
                      "with the channels in this order under [layouts.NAME] in a --config file")


def _raise_ambiguous(candidates: dict[str, Layout], layouts: dict[str, Layout],
                     streams: list[AudioInfo], channels: int, master_name: str):
    described = _describe(streams)
    if not candidates:
        raise LayoutError(master_name, f"has {channels} audio channels ({described}) and no "
                          "configured layout maps that many",
                          "add a layout under [layouts.NAME] in a --config file, mapping each channel "
                          f"to a role (layouts known: {', '.join(sorted(layouts))})")
    names = sorted(candidates)
    listed = "; ".join(f"{name} ({candidates[name].description})" for name in names)
    raise LayoutError(master_name, f"audio layout is ambiguous: {channels} channels ({described}) fit "
                      f"{len(names)} layouts: {listed}",
                      f"add `audio_layout: {names[0]}` (or one of {', '.join(names)}) to metadata.yaml, "
                      "or title the audio tracks in the edit suite (e.g. 'Mix' and 'M&E', or 'Mix' "
                      "and 'Dialogue')")


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
        term = f"{CENTRE_GAIN:.6f}*c{channels[0]}"
        return [term], [term]
    if len(channels) == 2:
        return [f"c{channels[0]}"], [f"c{channels[1]}"]
    raise LayoutError(None, f"role '{pair}' has {len(channels)} channels; stems must be mono or stereo",
                      "map the extra channels to 'mute' in the layout")


def _sum_terms(parts: list[tuple[list[str], list[str]]]) -> tuple[str, str]:
    left = "+".join(term for part in parts for term in part[0])
    right = "+".join(term for part in parts for term in part[1])
    return left, right


def _stereo_pan(parts: list[tuple[list[str], list[str]]]) -> str:
    return "stereo|c0={}|c1={}".format(*_sum_terms(parts))


def mix_pan(roles: list[str]) -> str | None:
    """`pan` arguments making the stereo full mix: the mix channels, or D + M + E."""
    mix = _stereo_terms(roles, ("mix_l", "mix_r"))
    if mix is not None:
        return _stereo_pan([mix])
    stems = [_stereo_terms(roles, role) for role in ("dialogue", "music", "effects")]
    stems = [stem for stem in stems if stem is not None]
    return _stereo_pan(stems) if stems else None


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
        return _stereo_pan([_stereo_terms(roles, ("me_l", "me_r"))])
    if source == "stems":
        stems = [_stereo_terms(roles, role) for role in ("music", "effects")]
        return _stereo_pan([stem for stem in stems if stem])
    if source == "derived":
        mix_l, mix_r = _stereo_terms(roles, ("mix_l", "mix_r"))
        dia_l, dia_r = _stereo_terms(roles, "dialogue")
        left = "+".join(mix_l) + "".join(f"-{term}" for term in dia_l)
        right = "+".join(mix_r) + "".join(f"-{term}" for term in dia_r)
        return f"stereo|c0={left}|c1={right}"
    return None


def dialogue_pan(roles: list[str]) -> str | None:
    terms = _stereo_terms(roles, "dialogue")
    return None if terms is None else _stereo_pan([terms])


# Channel names in FFmpeg's native order, every list starting with FL (see merged_audio).
_NATIVE_NAMES = ("FL", "FR", "FC", "LFE", "BL", "BR", "FLC", "FRC", "BC", "SL", "SR", "TC", "TFL", "TFC",
                 "TFR", "TBL", "TBC", "TBR", "DL", "DR", "WL", "WR", "SDL", "SDR", "LFE2", "TSL", "TSR",
                 "BFC", "BFL", "BFR")


def _overlapping_layout(channels: int) -> str:
    if channels > len(_NATIVE_NAMES):
        raise LayoutError(None, f"an audio stream has {channels} channels, more than the "
                          f"{len(_NATIVE_NAMES)} this pipeline routes per stream",
                          "deliver the master with its channels spread over several streams")
    return "+".join(_NATIVE_NAMES[:channels])


def merged_audio(streams: list[AudioInfo], input_index: int = 0, sample_rate: int = 48000) -> tuple[list[str], str]:
    """Filter chains joining every audio stream into one multichannel stream, in channel order.

    Returns (chains, label). Each stream is first brought to one sample rate and format, since
    `amerge` needs its inputs to agree. `amerge` keeps the inputs' channel order only when their
    channel layouts overlap: given disjoint ones (a mono stream, FC, before a stereo one, FL+FR)
    it reorders the channels by position (FL FR FC) and the roles would land on the wrong
    channels. So every stream is first relabelled (`channelmap`, a plain copy) to a layout that
    starts with FL: the layouts then always overlap, and the channels stay in stream order."""
    chains = []
    labels = []
    for position, stream in enumerate(streams):
        label = f"ain{position}"
        relabel = ""
        if len(streams) > 1:
            order = "|".join(str(channel) for channel in range(stream.channels))
            relabel = f",channelmap=map={order}:channel_layout={_overlapping_layout(stream.channels)}"
        chains.append(f"[{input_index}:a:{position}]aformat=sample_fmts=fltp:sample_rates={sample_rate}"
                      f"{_late_start_padding(stream)}{relabel}[{label}]")
        labels.append(f"[{label}]")
    if len(streams) == 1:
        return chains, "ain0"
    chains.append(f"{''.join(labels)}amerge=inputs={len(streams)}[amerged]")
    return chains, "amerged"


def _late_start_padding(stream: AudioInfo) -> str:
    """A sound that starts after the picture keeps its place: silence fills the start, so every
    file made from it (the loudness trial's, copied into the deliverables, included) starts
    with the picture and the sound stays where the master has it, to the sample. Without it the
    trial's file would start at its first sample and be muxed in 0.5 s early."""
    return ",aresample=first_pts=0" if getattr(stream, "start_s", 0.0) > 0.0005 else ""


_PANS = {"mix": mix_pan, "me": me_pan, "dialogue": dialogue_pan}


def routing_graph(streams: list[AudioInfo], roles: list[str], outputs: Mapping[str, str],
                  sample_rate: int = 48000, input_index: int = 0) -> list[str]:
    """Chains from the master's audio streams to one stereo label per wanted signal.

    `outputs` maps a label to the signal it carries: "mix", "me" or "dialogue". Raises
    LayoutError when the layout cannot make one of them."""
    chains, merged = merged_audio(streams, input_index, sample_rate)
    pans = {}
    for label, signal in outputs.items():
        pan = _PANS[signal](roles)
        if pan is None:
            raise LayoutError(None, f"the audio layout has no {signal} channels", "choose another layout")
        pans[label] = pan
    if len(pans) == 1:
        label, pan = next(iter(pans.items()))
        return chains + [f"[{merged}]pan={pan}[{label}]"]
    chains.append(f"[{merged}]asplit={len(pans)}" + "".join(f"[pre_{label}]" for label in pans))
    return chains + [f"[pre_{label}]pan={pan}[{label}]" for label, pan in pans.items()]

"""Audio layouts: which role each channel of a master plays, and how the full mix, the M&E and
the dialogue are routed out of them as ffmpeg filter graphs.

Channels are counted across all audio streams in order (docs/design.md section 4), so one layout
covers every form a master comes in: two stereo streams, four mono streams or one 4-channel
stream are all `mix-me`. Detection order: the package's `audio_layout`, then the stream titles
as editing tools write them ("Stereo Mix", "M&E", "DX", "Narration"...), then the channel count.
Where several layouts remain, `detect_layout` raises AmbiguousLayoutError with the candidates and
pipeline/audio/evidence.py reads the sound to choose; what stays unclear is an error listing the
candidates and how to choose, never a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from pipeline.config import Layout
from pipeline.errors import AmbiguousLayoutError, LayoutError
from pipeline.media.probe import AudioInfo

CENTRE_GAIN = DOWNMIX_GAIN = 1 / math.sqrt(2)
"""A mono stem goes to both sides of the stereo output at -3 dB: its power, and so its BS.1770
loudness, stays what it was (the constant-power pan law most mixing desks use). The ITU-R
BS.775 downmix of 5.1 to stereo uses the same factor (0.707) for the centre and surrounds."""

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
    # A spare track (R 48 and R 123 leave the last tracks of 8 or 16 free).
    "unused": {"spare", "unused", "empty", "blank", "nc"},
}
_STEMS = ("dialogue", "music", "effects", "ad")
IGNORED_ROLES = ("mute", "unused")
"""Channels no sound is taken from: a silent one, and a spare track whatever it carries."""


def _role_group(role: str) -> str:
    """'mix_c' -> 'mix', 'me_lo' -> 'me', 'dialogue' -> 'dialogue'."""
    return role.split("_")[0]


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
        carried = {_role_group(role) for role in roles if role not in IGNORED_ROLES}
        if not carried <= named:
            return False
    return True


# ---- detection -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvedLayout:
    name: str
    layout: Layout
    how: str
    """How it was chosen: "metadata", "stream titles", "channel count", "signals" or "house
    convention" (the last two read by pipeline/audio/evidence.py)."""
    evidence: str = ""
    """What the signals showed, in one line, where they were read."""

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
                     streams: list[AudioInfo], channels: int, master_name: str) -> NoReturn:
    described = _describe(streams)
    if not candidates:
        raise LayoutError(master_name, f"has {channels} audio channels ({described}) and no "
                          "configured layout maps that many",
                          "add a layout under [layouts.NAME] in a --config file, mapping each channel "
                          f"to a role (layouts known: {', '.join(sorted(layouts))})")
    names = sorted(candidates)
    listed = "; ".join(f"{name} ({candidates[name].description})" for name in names)
    raise AmbiguousLayoutError(master_name, f"audio layout is ambiguous: {channels} channels ({described}) fit "
                      f"{len(names)} layouts: {listed}",
                      f"add `audio_layout: {names[0]}` (or one of {', '.join(names)}) to metadata.yaml, "
                      "or title the audio tracks in the edit suite (e.g. 'Mix' and 'M&E', or 'Mix' "
                      "and 'Dialogue')", candidates=tuple(names))


# ---- routing: pure functions that turn roles into ffmpeg pan expressions -------------------

def _role_channels(roles: list[str], role: str) -> list[int]:
    return [index for index, name in enumerate(roles) if name == role]


Terms = tuple[list[str], list[str]]
"""The `pan` terms of a stereo signal: those summed into the left output, and into the right."""

SURROUND_ORDER = ("l", "r", "c", "lfe", "ls", "rs")
"""The channel order of a 5.1 sound (SMPTE / ITU, as R 123 and DPP allocate it)."""


def _term(index: int, gain: float = 1.0) -> str:
    return f"c{index}" if gain == 1.0 else f"{gain:.6f}*c{index}"


def downmix_terms(channels: Mapping[str, int]) -> Terms:
    """ITU-R BS.775 Lo/Ro of a 5.1 sound (`channels`: 'l', 'r', 'c', 'ls', 'rs' -> channel index):
    Lo = L + 0.707 C + 0.707 Ls, Ro = R + 0.707 C + 0.707 Rs. The LFE is dropped, as BS.775 does
    by default: what it carries is below what a stereo listener's speakers reproduce, and adding it
    would change the balance the mixer made."""
    gain = DOWNMIX_GAIN
    return ([_term(channels["l"]), _term(channels["c"], gain), _term(channels["ls"], gain)],
            [_term(channels["r"]), _term(channels["c"], gain), _term(channels["rs"], gain)])


def _sound_channels(roles: list[str], sound: str) -> dict[str, int]:
    """'mix' or 'me' -> {'l': index, 'r': ..., 'c': ..., 'lo': ...} for the channels present."""
    found = {}
    for name in (*SURROUND_ORDER, "lo", "ro"):
        indices = _role_channels(roles, f"{sound}_{name}")
        if indices:
            found[name] = indices[0]
    return found


def surround_pan(roles: list[str], sound: str) -> str | None:
    """`pan` arguments of the master's 5.1 mix or M&E ('mix', 'me') as it is, six channels L R C
    LFE Ls Rs; None when the master has no 5.1 of it."""
    channels = _sound_channels(roles, sound)
    if not all(name in channels for name in SURROUND_ORDER):
        return None
    return "5.1|" + "|".join(f"c{out}=c{channels[name]}" for out, name in enumerate(SURROUND_ORDER))


def mix51_pan(roles: list[str]) -> str | None:
    return surround_pan(roles, "mix")


def me51_pan(roles: list[str]) -> str | None:
    return surround_pan(roles, "me")


def sound_terms(roles: list[str], sound: str) -> Terms | None:
    """The stereo mix or M&E ('mix', 'me'): the stereo pair where the master has one (lo/ro
    beside a 5.1, or l/r alone), else the BS.775 downmix of the 5.1; None without either."""
    channels = _sound_channels(roles, sound)
    if "lo" in channels:
        return [_term(channels["lo"])], [_term(channels["ro"])]
    if "c" in channels:
        return downmix_terms(channels)
    if "l" in channels:
        return [_term(channels["l"])], [_term(channels["r"])]
    return None


def _stereo_terms(roles: list[str], stem: str) -> Terms | None:
    """Terms for the left and right outputs carrying a stem: mono in the centre, stereo as it
    is, 5.1 (six channels, L R C LFE Ls Rs) by the BS.775 downmix."""
    channels = _role_channels(roles, stem)
    if not channels:
        return None
    if len(channels) == 1:
        term = _term(channels[0], CENTRE_GAIN)
        return [term], [term]
    if len(channels) == 2:
        return [_term(channels[0])], [_term(channels[1])]
    if len(channels) == 6:
        return downmix_terms(dict(zip(SURROUND_ORDER, channels)))
    raise LayoutError(None, f"role '{stem}' has {len(channels)} channels; stems must be mono or stereo "
                      "(or 5.1: six channels)", "map the extra channels to 'unused' in the layout")


def _sum_terms(parts: list[Terms]) -> tuple[str, str]:
    left = "+".join(term for part in parts for term in part[0])
    right = "+".join(term for part in parts for term in part[1])
    return left, right


def _stereo_pan(parts: list[Terms]) -> str:
    return "stereo|c0={}|c1={}".format(*_sum_terms(parts))


def _mix_terms(roles: list[str]) -> list[Terms]:
    mix = sound_terms(roles, "mix")
    if mix is not None:
        return [mix]
    stems = [_stereo_terms(roles, role) for role in ("dialogue", "music", "effects")]
    return [stem for stem in stems if stem is not None]


def mix_pan(roles: list[str]) -> str | None:
    """`pan` arguments making the stereo full mix: the mix channels (a stereo mix where there is
    one, else the 5.1 downmix), or D + M + E."""
    parts = _mix_terms(roles)
    return _stereo_pan(parts) if parts else None


def me_source(roles: list[str]) -> str | None:
    """Where the M&E comes from in this layout: 'channels', 'stems', 'derived' or None."""
    if sound_terms(roles, "me") is not None:
        return "channels"
    if _role_channels(roles, "music") or _role_channels(roles, "effects"):
        return "stems"
    if sound_terms(roles, "mix") is not None and _role_channels(roles, "dialogue"):
        return "derived"
    return None


def me_pan(roles: list[str]) -> str | None:
    """`pan` arguments making the stereo M&E: the M&E channels (stereo, else the 5.1 downmix,
    with the mix's coefficients so the balance stays the mixer's), M + E, or mix - D."""
    source = me_source(roles)
    if source == "channels":
        terms = sound_terms(roles, "me")
        return _stereo_pan([terms]) if terms else None
    if source == "stems":
        stems = [_stereo_terms(roles, role) for role in ("music", "effects")]
        return _stereo_pan([stem for stem in stems if stem])
    if source == "derived":
        mix, dialogue = sound_terms(roles, "mix"), _stereo_terms(roles, "dialogue")
        if mix is None or dialogue is None:
            return None
        (mix_l, mix_r), (dia_l, dia_r) = mix, dialogue
        left = "+".join(mix_l) + "".join(f"-{term}" for term in dia_l)
        right = "+".join(mix_r) + "".join(f"-{term}" for term in dia_r)
        return f"stereo|c0={left}|c1={right}"
    return None


def dialogue_pan(roles: list[str]) -> str | None:
    terms = _stereo_terms(roles, "dialogue")
    return None if terms is None else _stereo_pan([terms])


def channel_span(indices: Sequence[int]) -> str:
    """0-based channel indices as a person counts them: 'ch1-2', 'ch5', 'ch1, ch4'."""
    numbers = sorted(index + 1 for index in indices)
    if not numbers:
        return "no channel"
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"ch{numbers[0]}-{numbers[-1]}"
    return ", ".join(f"ch{number}" for number in numbers)


def _sound_origin(roles: list[str], sound: str, name: str) -> str | None:
    channels = _sound_channels(roles, sound)
    if "lo" in channels:
        return f"{channel_span([channels['lo'], channels['ro']])} (stereo {name}), no downmix"
    if "c" in channels:
        return (f"{channel_span(list(channels.values()))} (5.1 {name}), ITU-R BS.775 Lo/Ro downmix "
                "(L + 0.707 C + 0.707 Ls, R + 0.707 C + 0.707 Rs), LFE dropped")
    if "l" in channels:
        return f"{channel_span([channels['l'], channels['r']])} (stereo {name}), no downmix"
    return None


def _stem_origin(roles: list[str], stem: str) -> str:
    channels = _role_channels(roles, stem)
    shape = {1: "mono, centred", 2: "stereo", 6: "5.1, BS.775 downmix"}.get(len(channels), "")
    return f"{stem} {channel_span(channels)} ({shape})"


def sound_origin(roles: list[str], signal: str) -> str | None:
    """Where a delivered stereo sound ('mix' or 'me') comes from, in words for the sidecar and
    the QC report: the channels, and whether it is a downmix, a sum of stems or a difference."""
    if signal == "mix":
        origin = _sound_origin(roles, "mix", "mix")
        stems = [stem for stem in ("dialogue", "music", "effects") if _role_channels(roles, stem)]
        return origin or (" + ".join(_stem_origin(roles, stem) for stem in stems) if stems else None)
    source = me_source(roles)
    if source == "channels":
        return _sound_origin(roles, "me", "M&E")
    if source == "stems":
        return " + ".join(_stem_origin(roles, stem) for stem in ("music", "effects") if _role_channels(roles, stem))
    if source == "derived":
        return f"mix {_sound_origin(roles, 'mix', 'mix')} minus {_stem_origin(roles, 'dialogue')}"
    return None


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


Pan = Callable[[list[str]], "str | None"]
"""Makes a stereo signal's `pan` arguments from the channel roles (None: the layout cannot)."""

_PANS: dict[str, Pan] = {"mix": mix_pan, "me": me_pan, "dialogue": dialogue_pan}


def routing_graph(streams: list[AudioInfo], roles: list[str], outputs: Mapping[str, str | Pan],
                  sample_rate: int = 48000, input_index: int = 0) -> list[str]:
    """Chains from the master's audio streams to one stereo label per wanted signal.

    `outputs` maps a label to the signal it carries: "mix", "me" or "dialogue", or to the pan
    function that makes it from the roles (a deliverable's `Sound.pan`). Raises LayoutError when
    the layout cannot make one of them."""
    chains, merged = merged_audio(streams, input_index, sample_rate)
    pans = {}
    for label, signal in outputs.items():
        pan = (_PANS[signal] if isinstance(signal, str) else signal)(roles)
        if pan is None:
            raise LayoutError(None, f"the audio layout has no {signal if isinstance(signal, str) else label} channels",
                              "choose another layout")
        pans[label] = pan
    if len(pans) == 1:
        label, pan = next(iter(pans.items()))
        return chains + [f"[{merged}]pan={pan}[{label}]"]
    chains.append(f"[{merged}]asplit={len(pans)}" + "".join(f"[pre_{label}]" for label in pans))
    return chains + [f"[pre_{label}]pan={pan}[{label}]" for label, pan in pans.items()]

"""Reading a master's audio layout from its sound, when neither metadata nor titles say it.

Most broadcast masters follow a standard track allocation (EBU R 48: stereo mix on 1-2, M&E on
3-4, the rest spare; EBU R 123: 5.1 and stereo on up to 16 tracks) without a title on any track,
so the channel count alone cannot tell an 8-track "mix + M&E + 4 spare" from "mix + D, M, E
stems" or "5.1 mix + stereo M&E". A short window of every channel is decoded at a low rate and
each candidate layout is judged against what the sound shows:

- a channel a layout takes a sound from must not be silent (an LFE may be), a `mute` one must;
- an LFE channel carries only low frequencies;
- an M&E is inside the mix at the mix's level (least-squares factor near 1), and what the mix
  has on top of it is speech (more speech-like than the M&E itself): mix = M&E + speech;
- a dialogue stem is inside the mix, and is more speech-like than the rest of the mix;
- D, M and E stems: the dialogue is the speech-like one, and a mix beside them is their sum;
- a stereo mix beside a 5.1 one is (close to) its downmix.

"Speech-like" is the spread (90th minus 10th percentile) of the speech-band (300-3400 Hz) level
over 20 ms frames: speech comes in syllables and pauses, 20 dB and more apart, where music and
effects beds hold a steadier level. It is only ever compared between two signals of the same
master, never against an absolute figure.

A layout is used when it is the only one the sound does not contradict and something positive
speaks for it, or when it is the house convention for that track count (`[house_layouts]`) and
the sound does not contradict it. Anything else is a LayoutError listing the candidates with
what the sound showed against each, and the fix.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np

from pipeline.audio.layouts import (
    IGNORED_ROLES,
    ResolvedLayout,
    channel_span,
    dialogue_pan,
    me_source,
    merged_audio,
    mix_pan,
    sound_terms,
)
from pipeline.config import Config, Layout
from pipeline.errors import AmbiguousLayoutError, LayoutError
from pipeline.media import ffmpeg, work
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.probe import AudioInfo

log = logging.getLogger(__name__)

ANALYSIS_RATE = 8000
"""Speech, music and effects are told apart well below 4 kHz; the LFE test needs only 200 Hz."""
WINDOW_S = 30.0
"""Seconds of programme read: enough for several phrases of speech, short to decode."""
FRAME = 160
"""Samples per speech-level frame: 20 ms at ANALYSIS_RATE."""
SPEECH_BAND_HZ = (300.0, 3400.0)
SPEECH_MARGIN_DB = 6.0
"""How much more speech-like one signal must be than another for the difference to count."""
INSIDE_FACTOR = (0.8, 1.25)
"""An M&E (or dialogue stem) is inside the mix when its least-squares factor there is within
this range: at the mix's level, give or take 2 dB."""
SAME_DB = -30.0
"""A difference this far under the mix is no difference: the two pairs are copies."""
SUM_RESIDUAL_DB = -10.0
"""A mix beside its stems is their sum when what is left after subtracting them is this low
(lossy stems leave -13 dB at 20 kb/s a channel; stems of another mix leave 0 dB or more)."""
LFE_TOP_HZ = 200.0
LFE_MAX_SHARE = 0.1
DOWNMIX_CORRELATION = 0.9


# ---- the decode -----------------------------------------------------------------------------

def window_command(master: Path, streams: list[AudioInfo], start_s: float, duration_s: float,
                   demuxer: str | None = None) -> list[str]:
    """Every audio channel, in layout order, as float PCM at ANALYSIS_RATE on stdout."""
    chains, label = merged_audio(streams, sample_rate=ANALYSIS_RATE)
    chains.append(f"[{label}]anull[pcm]")
    return (ffmpeg.base_args() + ffmpeg.input_args(master, seek_s=start_s, duration_s=duration_s, demuxer=demuxer)
            + ["-vn", "-sn", "-dn", "-filter_complex", ";".join(chains), "-map", "[pcm]",
               "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"])


def read_window(command: list[str], channels: int, limit: TimeLimit) -> np.ndarray:
    """The decoded window, frames x channels (a few MB: WINDOW_S at 8 kHz)."""
    chunks = list(ffmpeg.stream_pcm(command, channels=channels, chunk_frames=ANALYSIS_RATE * 10,
                                    limit=limit, what="audio layout analysis"))
    return np.concatenate(chunks).astype(np.float64) if chunks else np.zeros((0, channels))


# ---- measures -------------------------------------------------------------------------------

_PAN_TERM = re.compile(r"([+-]?)(?:([0-9.]+)\*)?c(\d+)")


def pan_matrix(pan: str | None, channels: int) -> np.ndarray:
    """The `pan` expression of pipeline.audio.layouts ("stereo|c0=c0+0.707107*c2|c1=...") as a
    channels x 2 matrix, so numpy routes the window exactly as ffmpeg routes the master."""
    if pan is None:
        raise ValueError("the layout cannot make this sound")  # callers ask only for sounds it has
    matrix = np.zeros((channels, 2))
    for output, expression in enumerate(pan.split("|")[1:]):
        for sign, gain, index in _PAN_TERM.findall(expression.split("=", 1)[1]):
            matrix[int(index), output] += (-1 if sign == "-" else 1) * float(gain or 1)
    return matrix


def level_db(signal: np.ndarray) -> float:
    power = float(np.mean(signal ** 2)) if signal.size else 0.0
    return 10 * math.log10(power) if power > 0 else -math.inf


def speech_spread_db(signal: np.ndarray, rate: int = ANALYSIS_RATE) -> float:
    """How speech-like a signal is: the spread of its speech-band level over 20 ms frames (see
    the module docstring). Frames more than 60 dB under the loudest count as 60 dB under."""
    mono = signal.mean(axis=1) if signal.ndim == 2 else signal
    frames = len(mono) // FRAME
    if frames < 10:
        return 0.0
    spectrum = np.abs(np.fft.rfft(mono[:frames * FRAME].reshape(frames, FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME, 1 / rate)
    band = spectrum[:, (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])].sum(axis=1)
    levels = 10 * np.log10(band + 1e-20)
    levels = np.maximum(levels, levels.max() - 60)
    low, high = np.percentile(levels, [10, 90])
    return float(high - low)


def low_frequency_share(signal: np.ndarray, rate: int = ANALYSIS_RATE) -> float:
    """The part of a channel's energy above LFE_TOP_HZ (0 for a true LFE channel)."""
    spectrum = np.abs(np.fft.rfft(signal)) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    total = spectrum.sum()
    return float(spectrum[freqs > LFE_TOP_HZ].sum() / total) if total > 0 else 0.0


def inside_factor(whole: np.ndarray, part: np.ndarray) -> float:
    """How much of `part` is in `whole` (least squares, left with left, right with right)."""
    power = float(np.sum(part * part))
    return float(np.sum(whole * part)) / power if power > 0 else 0.0


# ---- judging one layout ---------------------------------------------------------------------

@dataclass
class Judgement:
    name: str
    layout: Layout
    support: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.against


def _sound_span(roles: list[str], signal: str) -> str:
    """The channels a stereo signal is made of, as a person counts them."""
    if signal in ("mix", "me"):
        stereo = [i for i, role in enumerate(roles) if role in (f"{signal}_lo", f"{signal}_ro")]
        group = stereo or [i for i, role in enumerate(roles) if role.split("_")[0] == signal]
        return channel_span(group)
    return channel_span([i for i, role in enumerate(roles) if role == signal])


def judge_channels(pcm: np.ndarray, roles: list[str], silence_dbfs: float, judgement: Judgement) -> list[int]:
    """Silence where a layout needs sound (or sound where it says mute), and LFE channels.
    Returns the spare channels that are silent (evidence for the layout, told last)."""
    spare_silent = []
    for index, role in enumerate(roles):
        silent = level_db(pcm[:, index]) <= silence_dbfs
        if role == "unused":
            spare_silent += [index] if silent else []
        elif role == "mute" and not silent:
            judgement.against.append(f"ch{index + 1} is not silent")
        elif role.endswith("_lfe") and not silent:
            if low_frequency_share(pcm[:, index]) > LFE_MAX_SHARE:
                judgement.against.append(f"ch{index + 1} (LFE) carries more than low frequencies")
        elif silent and role not in IGNORED_ROLES and not role.endswith("_lfe"):
            judgement.against.append(f"ch{index + 1} ({role}) is silent")
    return spare_silent


def _compare_speech(speech: np.ndarray, rest: np.ndarray) -> int:
    """+1: `speech` is clearly the more speech-like, -1: `rest` clearly is, 0: neither."""
    difference = speech_spread_db(speech) - speech_spread_db(rest)
    return 0 if abs(difference) < SPEECH_MARGIN_DB else int(math.copysign(1, difference))


def judge_inside(whole: np.ndarray, part: np.ndarray, part_is_speech: bool, names: tuple[str, str],
                 judgement: Judgement) -> None:
    """`part` (an M&E, or a dialogue stem) is inside `whole` (the mix) at its level, and the
    speech is where the layout says: on top of the M&E, or in the dialogue stem."""
    whole_span, part_span = names
    factor = inside_factor(whole, part)
    if not INSIDE_FACTOR[0] <= factor <= INSIDE_FACTOR[1]:
        judgement.against.append(f"{part_span} is not inside {whole_span} at its level (factor {factor:.2f})")
        return
    rest = whole - factor * part
    if level_db(rest) - level_db(whole) < SAME_DB:
        judgement.against.append(f"{part_span} = {whole_span} (a copy: nothing taken out)")
        return
    speech, other = (part, rest) if part_is_speech else (rest, part)
    verdict = _compare_speech(speech, other)
    if verdict < 0:
        judgement.against.append(f"{part_span} carries the speech, not what {whole_span} adds to it"
                                 if not part_is_speech else f"{part_span} is not the speech in {whole_span}")
    elif verdict > 0:
        judgement.support.append(f"{whole_span} carry speech, {part_span} = {whole_span} without it"
                                 if not part_is_speech else
                                 f"{part_span} carry speech, {whole_span} = {part_span} + sound without speech")


def judge_stems(pcm: np.ndarray, roles: list[str], judgement: Judgement) -> None:
    """D, M, E stems: the dialogue is the speech-like one; a mix beside them is their sum."""
    stems = {stem: pcm @ pan_matrix(pan, pcm.shape[1]) for stem, pan in
             (("dialogue", dialogue_pan(roles)), ("music", _stem_pan(roles, "music")),
              ("effects", _stem_pan(roles, "effects"))) if pan}
    if "dialogue" in stems:
        for other in ("music", "effects"):
            if other in stems:
                verdict = _compare_speech(stems["dialogue"], stems[other])
                if verdict < 0:
                    judgement.against.append(f"{_sound_span(roles, other)} ({other}) is more speech-like "
                                             f"than {_sound_span(roles, 'dialogue')} (dialogue)")
                elif verdict > 0:
                    judgement.support.append(f"{_sound_span(roles, 'dialogue')} carry speech, "
                                             f"{_sound_span(roles, other)} do not")
    terms = sound_terms(roles, "mix")
    if terms is not None and stems:
        mix = pcm @ pan_matrix(mix_pan(roles), pcm.shape[1])
        rest = level_db(mix - sum(stems.values())) - level_db(mix)
        span = _sound_span(roles, "mix")
        if rest <= SUM_RESIDUAL_DB:
            judgement.support.append(f"{span} = the sum of the stems")
        else:
            judgement.against.append(f"{span} is not the sum of the stems ({rest:.0f} dB left)")


def _stem_pan(roles: list[str], stem: str) -> str | None:
    """A stem's stereo `pan`, routed the way the dialogue stem is."""
    return dialogue_pan(["dialogue" if role == stem else "unused" for role in roles])


def judge_downmix(pcm: np.ndarray, roles: list[str], judgement: Judgement) -> None:
    """A stereo mix (or M&E) beside a 5.1 one is close to its downmix."""
    for sound in ("mix", "me"):
        if f"{sound}_lo" not in roles:
            continue
        surround = [role if role not in (f"{sound}_lo", f"{sound}_ro") else "unused" for role in roles]
        downmix = pcm @ pan_matrix(_pan_of(surround, sound), pcm.shape[1])
        stereo = pcm @ pan_matrix(_pan_of(roles, sound), pcm.shape[1])
        denominator = math.sqrt(float(np.sum(downmix ** 2) * np.sum(stereo ** 2)))
        correlation = float(np.sum(downmix * stereo)) / denominator if denominator else 0.0
        stereo_span = _sound_span(roles, sound)
        surround_span = channel_span([i for i, role in enumerate(surround) if role.startswith(f"{sound}_")])
        if correlation >= DOWNMIX_CORRELATION:
            judgement.support.append(f"{stereo_span} = the stereo version of {surround_span}")
        else:
            judgement.against.append(f"{stereo_span} is not a stereo version of {surround_span} "
                                     f"(correlation {correlation:.2f})")


def _pan_of(roles: list[str], sound: str) -> str:
    terms = sound_terms(roles, sound)
    if terms is None:
        raise ValueError(f"the layout has no {sound} channels")  # callers ask only for sounds it has
    left, right = terms
    return f"stereo|c0={'+'.join(left)}|c1={'+'.join(right)}"


def judge_layout(pcm: np.ndarray, name: str, layout: Layout, silence_dbfs: float) -> Judgement:
    roles: list[str] = list(layout.channels)
    judgement = Judgement(name, layout)
    spare_silent = judge_channels(pcm, roles, silence_dbfs, judgement)
    source = me_source(roles)
    channels = pcm.shape[1]
    if source == "channels" and mix_pan(roles) and sound_terms(roles, "mix") is not None:
        mix = pcm @ pan_matrix(mix_pan(roles), channels)
        me = pcm @ pan_matrix(_pan_of(roles, "me"), channels)
        judge_inside(mix, me, False, (_sound_span(roles, "mix"), _sound_span(roles, "me")), judgement)
    elif source == "derived":
        mix = pcm @ pan_matrix(mix_pan(roles), channels)
        dialogue = pcm @ pan_matrix(dialogue_pan(roles), channels)
        judge_inside(mix, dialogue, True, (_sound_span(roles, "mix"), _sound_span(roles, "dialogue")), judgement)
    elif source == "stems":
        judge_stems(pcm, roles, judgement)
    judge_downmix(pcm, roles, judgement)
    if spare_silent:
        judgement.support.append(f"{channel_span(spare_silent)} silent")
    return judgement


# ---- choosing -------------------------------------------------------------------------------

def _evidence_line(judgement: Judgement, how: str) -> str:
    return f"layout {judgement.name}, {how}: {', '.join(judgement.support)}"


def _why_not(judgement: Judgement) -> str:
    if judgement.against:
        return f"{judgement.name}: {'; '.join(judgement.against)}"
    return f"{judgement.name}: nothing against it" + (f" ({', '.join(judgement.support)})" if judgement.support else "")


def choose_layout(judgements: list[Judgement], house: str | None, ambiguous: AmbiguousLayoutError,
                  channels: int) -> ResolvedLayout:
    """The layout the evidence points to (see the module docstring), or a LayoutError."""
    consistent = [judgement for judgement in judgements if judgement.consistent]
    by_name = {judgement.name: judgement for judgement in judgements}
    house_judgement = by_name.get(house) if house else None
    if house_judgement is not None and house_judgement.consistent:
        alone = len(consistent) == 1
        how = "from the signals" if alone else f"the house convention for {channels} tracks, which the signals agree with"
        return ResolvedLayout(house_judgement.name, house_judgement.layout, "signals" if alone else "house convention",
                              _evidence_line(house_judgement, how))
    if len(consistent) == 1 and consistent[0].support:
        winner = consistent[0]
        if house_judgement is not None:
            _raise_disagreement(winner, house_judgement, ambiguous, channels)
        return ResolvedLayout(winner.name, winner.layout, "signals", _evidence_line(winner, "from the signals"))
    _raise_unclear(judgements, house_judgement, ambiguous)


def _raise_disagreement(winner: Judgement, house: Judgement, ambiguous: AmbiguousLayoutError,
                        channels: int) -> NoReturn:
    raise LayoutError(ambiguous.path, (
        f"the sound says layout {winner.name} ({', '.join(winner.support)}), but the house convention "
        f"for {channels} untitled tracks is {house.name}, which it contradicts ({'; '.join(house.against)})"),
        f"if the master is in {winner.name}, add `audio_layout: {winner.name}` to metadata.yaml (or change "
        f"[house_layouts] {channels} in the config); otherwise export it again in the {house.name} allocation "
        f"({house.layout.description})")


def _raise_unclear(judgements: list[Judgement], house: Judgement | None, ambiguous: AmbiguousLayoutError) -> NoReturn:
    listed = "; ".join(_why_not(judgement) for judgement in judgements)
    house_note = f" (the house convention, {house.name}, is contradicted)" if house is not None else ""
    raise LayoutError(ambiguous.path, f"{ambiguous.problem}; the sound does not decide{house_note}: {listed}",
                      ambiguous.fix)


def layout_from_signals(master: Path, streams: list[AudioInfo], ambiguous: AmbiguousLayoutError, config: Config,
                        *, start_s: float, duration_s: float, demuxer: str | None = None) -> ResolvedLayout:
    """Read a window of the master's sound and choose among `ambiguous.candidates`."""
    channels = sum(stream.channels for stream in streams)
    window = min(WINDOW_S, duration_s)
    command = window_command(master, streams, start_s, window, demuxer)
    # The master's picture is not known here: the read of a UHD picture at 60 fps bounds it.
    pcm = read_window(command, channels, work.time_limit(config.limits, window * 60, [work.Picture("decode", 3840, 2160)]))
    judgements = [judge_layout(pcm, name, config.layouts[name], config.audio_checks.silence_dbfs)
                  for name in ambiguous.candidates]
    for judgement in judgements:
        log.info("%s: layout %s: for %s; against %s", master.name, judgement.name,
                 judgement.support or "-", judgement.against or "-")
    return choose_layout(judgements, house_layout(streams, config), ambiguous, channels)


def house_layout(streams: list[AudioInfo], config: Config) -> str | None:
    """The house convention for this master, if any. It concerns track allocations (R 48 and
    R 123 count mono tracks and stereo pairs), so a master carrying its sound as separate mono
    or stereo tracks; one interleaved multichannel stream (a DAW's stem bundle, a 7.1) is read
    from its sound alone."""
    if any(stream.channels > 2 for stream in streams):
        return None
    return config.house_layouts.get(sum(stream.channels for stream in streams)) or None

"""A delivered 5.1 sound read back channel by channel against the master's own 5.1: each of its
six channels must be the master's channel of the same place (L R C LFE Ls Rs). A swapped pair
(L/R, C/LFE: the classic SMPTE against film-order mistake) plays the programme wrong in every
home cinema and passes every loudness meter, so it is measured, not trusted to the routing."""

from __future__ import annotations

import numpy as np

from pipeline.audio.layouts import SURROUND_ORDER, routing_graph
from pipeline.config import OutputProfile
from pipeline.deliverables import Deliverable
from pipeline.delivery.measure import MasterFacts
from pipeline.delivery.profile_checks import delivered_tracks
from pipeline.media import ffmpeg
from pipeline.media.ffmpeg import DEFAULT_LIMIT, TimeLimit

RATE = 8000
"""Samples a second compared: enough for an LFE and for the speech and music on the others."""
WINDOW_S = 10.0
SILENT_RMS = 1e-4
"""A channel quieter than this (-80 dBFS) carries nothing to place: it is not compared."""
CHANNEL_NAMES = ("L", "R", "C", "LFE", "Ls", "Rs")


def _read(command: list[str], limit: TimeLimit) -> np.ndarray:
    chunks = list(ffmpeg.stream_pcm(command, channels=6, chunk_frames=RATE, limit=limit,
                                    what="5.1 channel check"))
    return np.concatenate(chunks).astype(np.float64) if chunks else np.zeros((0, 6))


def _pcm_args(label: str) -> list[str]:
    return ["-map", f"[{label}]", "-ar", str(RATE), "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"]


def master_channels(master: MasterFacts, streams: list, roles: list[str], pan, limit: TimeLimit) -> np.ndarray:
    """The master's 5.1 as the sound's routing (`pan`) takes it, six columns."""
    graph = routing_graph(streams, roles, {"surround": pan})
    command = (ffmpeg.base_args() + ffmpeg.input_args(master.path, seek_s=master.start_s or None,
                                                      duration_s=min(WINDOW_S, master.duration_s),
                                                      demuxer=master.demuxer)
               + ["-filter_complex", ";".join(graph)] + _pcm_args("surround"))
    return _read(command, limit)


def delivered_channels(path, first: int, mono: bool, duration_s: float, limit: TimeLimit) -> np.ndarray:
    """The file's 5.1 sound starting at audio stream `first`: six mono tracks, or one 6-channel track."""
    source = ("".join(f"[0:a:{first + index}]" for index in range(6)) + "amerge=inputs=6" if mono
              else f"[0:a:{first}]anull")
    command = (ffmpeg.base_args() + ffmpeg.input_args(path, duration_s=min(WINDOW_S, duration_s))
               + ["-filter_complex", f"{source}[surround]"] + _pcm_args("surround"))
    return _read(command, limit)


def order_problems(delivered: np.ndarray, master: np.ndarray, title: str) -> list[str]:
    """Each delivered channel that resembles another of the master's channels more than its own."""
    length = min(len(delivered), len(master))
    if length == 0:
        return [f"the {title} could not be read back"]
    delivered = delivered[:length] - delivered[:length].mean(axis=0)
    master = master[:length] - master[:length].mean(axis=0)
    delivered_rms, master_rms = np.sqrt((delivered ** 2).mean(axis=0)), np.sqrt((master ** 2).mean(axis=0))
    problems = []
    for channel in range(6):
        if delivered_rms[channel] < SILENT_RMS:
            continue
        likeness = [float(np.mean(delivered[:, channel] * master[:, other]) / (delivered_rms[channel] * master_rms[other]))
                    if master_rms[other] >= SILENT_RMS else 0.0 for other in range(6)]
        best = int(np.argmax(likeness))
        if best != channel:
            problems.append(f"the {title}'s {CHANNEL_NAMES[channel]} channel carries the master's "
                            f"{CHANNEL_NAMES[best]} (correlation {likeness[best]:.2f}, "
                            f"{likeness[channel]:.2f} with its own {CHANNEL_NAMES[channel]})")
    return problems


def surround_problems(master: MasterFacts, path, profile: OutputProfile, deliverable: Deliverable,
                      streams: list, roles: list[str], *, limit: TimeLimit = DEFAULT_LIMIT) -> list[str]:
    """Every 5.1 sound of the file checked channel by channel against the master's. A
    time-stretched sound (a speed conversion) is not sample for sample the master's, and is
    left to the loudness and sync checks."""
    problems: list[str] = []
    if master.speed != 1:
        return problems
    for sound, first in delivered_tracks(profile, deliverable):
        if sound is None or sound.channels != len(SURROUND_ORDER):
            continue
        reference = master_channels(master, streams, roles, sound.pan, limit)
        delivered = delivered_channels(path, first, profile.audio.tracks == "mono", master.duration_s, limit)
        problems += order_problems(delivered, reference, sound.title)
    return problems

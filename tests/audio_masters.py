"""Masters built inside the audio tests: a tiny moving picture and any arrangement of audio
streams, so each layout can be delivered in each of its forms (several mono or stereo streams,
or one multichannel stream) with stems whose content the test knows exactly.

The stems are independent band-limited noises (speech-band bursts for the dialogue, a wide-band
bed for the music, sparse bursts for the effects): any two of them correlate at about 0, so the
correlation of a deliverable with each stem says which stems it carries.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import yaml

from pipeline.media.ffmpeg import ffmpeg_binary

RATE = 48_000
CENTRE = 10 ** (-3 / 20)
"""A mono stem placed in the centre of a stereo pair: -3 dB each side."""


@dataclass(frozen=True)
class Stems:
    """Dialogue is mono (it is centred in a stereo mix); music and effects are stereo."""

    dialogue: np.ndarray
    music: np.ndarray
    effects: np.ndarray

    @property
    def dialogue_stereo(self) -> np.ndarray:
        return np.stack([self.dialogue * CENTRE] * 2, axis=1)

    @property
    def me(self) -> np.ndarray:
        return self.music + self.effects

    @property
    def mix(self) -> np.ndarray:
        return self.dialogue_stereo + self.me

    def scaled(self, gain_db: float) -> Stems:
        factor = 10 ** (gain_db / 20)
        return Stems(self.dialogue * factor, self.music * factor, self.effects * factor)


def _band_noise(rng: np.random.Generator, shape: tuple[int, ...], low_hz: float, high_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(shape), axis=0)
    freqs = np.fft.rfftfreq(shape[0], 1 / RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    noise = np.fft.irfft(spectrum, shape[0], axis=0)
    return noise / np.sqrt(np.mean(noise ** 2))


def make_stems(seconds: float = 3.0, seed: int = 3) -> Stems:
    """Dialogue in syllable-like bursts about 8 dB over a bed of music and effects, as a mix has it."""
    rng = np.random.default_rng(seed)
    length = int(seconds * RATE)
    t = np.arange(length) / RATE
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5 * (np.sin(2 * np.pi * 0.5 * t) > -0.6)
    dialogue = 0.1 * _band_noise(rng, (length,), 200, 3500) * syllables
    music = 0.016 * _band_noise(rng, (length, 2), 60, 6000)
    bursts = (rng.random(length // 2400 + 1) > 0.6).repeat(2400)[:length]
    effects = 0.025 * _band_noise(rng, (length, 2), 500, 7000) * bursts[:, None]
    return Stems(dialogue, music, effects)


@dataclass(frozen=True)
class Stream:
    """One audio stream of a master: its samples (frames x channels) and its title."""

    samples: np.ndarray
    title: str = ""
    channel_layout: str | None = None
    """Force the stream's channel layout (e.g. '4.0', '7.1', '8c'); default: ffmpeg's guess."""


def write_master(path: Path, streams: list[Stream], seconds: float = 3.0, audio_codec: str = "pcm_s24le") -> Path:
    """A MOV (or MKV) master: 320x180 25 fps test picture and the given audio streams, in order."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    with tempfile.TemporaryDirectory() as tmp:
        filters, maps = [], ["-map", "0:v"]
        for index, stream in enumerate(streams):
            wav = Path(tmp) / f"stream{index}.wav"
            soundfile.write(wav, np.asarray(stream.samples, dtype=np.float32).reshape(len(stream.samples), -1),
                            RATE, subtype="FLOAT")
            command += ["-i", str(wav)]
            if stream.channel_layout:
                channels = np.asarray(stream.samples).reshape(len(stream.samples), -1).shape[1]
                order = "|".join(str(channel) for channel in range(channels))
                filters.append(f"[{index + 1}:a]channelmap=map={order}:channel_layout={stream.channel_layout}[a{index}]")
                maps += ["-map", f"[a{index}]"]
            else:
                maps += ["-map", f"{index + 1}:a"]
        if filters:
            command += ["-filter_complex", ";".join(filters)]
        command += maps + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                           "-c:a", audio_codec, "-t", str(seconds)]
        for index, stream in enumerate(streams):
            if stream.title:
                command += [f"-metadata:s:a:{index}", f"title={stream.title}"]
        subprocess.run(command + [str(path)], check=True, capture_output=True, timeout=120)
    return path


def write_package(folder: Path, streams: list[Stream], *, seconds: float = 3.0, audio_layout: str | None = None,
                  title: str = "Audio layout test", audio_codec: str = "pcm_s24le") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_master(folder / "master.mov", streams, seconds, audio_codec)
    metadata = {"title": title, "asset_id": folder.name, "language": "en"}
    if audio_layout:
        metadata["audio_layout"] = audio_layout
    (folder / "metadata.yaml").write_text(yaml.safe_dump(metadata), encoding="utf-8")
    return folder


def columns(*signals: np.ndarray) -> np.ndarray:
    """Mono and stereo signals side by side, as the channels of one stream."""
    return np.concatenate([np.asarray(s).reshape(len(s), -1) for s in signals], axis=1)


def mono_of(signal: np.ndarray) -> np.ndarray:
    signal = np.asarray(signal)
    return signal if signal.ndim == 1 else signal.mean(axis=1)


def render_sound(package: Path, out: Path, config):
    """The library's steps up to the render of the clean master and the international version
    (no verification, report or publishing: what the audio tests look at is the sound).
    Returns (outputs: key -> file, failures: key -> reason, analysis)."""
    from pipeline.analysis import analyse_audio
    from pipeline.intake.submission import check_submission
    from pipeline.render.run import render_deliverables
    from pipeline.sequence import plan

    submission = check_submission(package, config)
    analysis = analyse_audio(submission, config)
    specs, failures = plan(submission, analysis, config)
    specs = [spec for spec in specs if spec.key in ("master-clean", "international")]
    (out / "deliver").mkdir(parents=True, exist_ok=True)
    outputs = render_deliverables(submission, analysis, specs, out / "work", out / "deliver", config).files
    return outputs, failures, analysis

"""Generate the bundled sample package used by the tests and the docs.

Run from the repository root:

    .venv/bin/python media_samples/make_samples.py [--out DIR]

It writes, under DIR (default: the folder this script is in):

    news-sample/                    a submission package (docs/design.md section 3)
        news-sample.mov             master: 24 s, 1280x720, 25 fps, H.264; audio stream 0 is the
                                    full mix (title "Full mix"), stream 1 the M&E (title "M&E")
        news-sample.en.srt          one cue per narration phrase
        news-sample.fr.srt          the same cues, in French
        metadata.yaml               every descriptive field of docs/design.md section 3
    reference/                      ground truth for the tests, not part of the package
        news-sample.json            phrase and effect times, cue-free intervals, stream layout
        news-sample-narration.flac  the narration alone, mono 16 kHz, for correlation tests
    layouts/<name>/                 one small package (5.5 s, 320x180) per audio layout of
                                    configs/default.toml, in the forms masters come in: a stream
                                    per stem, titled ("Stereo Mix", "M&E", "DX"...), or one
                                    multichannel stream (the *-one-stream folders)

Narration is espeak-ng speech when `espeak-ng` is on PATH (`apt-get install espeak-ng`). Without
it, a speech-like synthetic signal stands in and the cue times follow that signal instead; the
reference JSON records which engine spoke. Everything else is deterministic (fixed seeds, fixed
phrase start times), so re-running on the same machine gives the same files.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import yaml
from moviepy import VideoClip

PACKAGE_NAME = "news-sample"
SAMPLE_RATE = 48_000
FPS = 25
WIDTH, HEIGHT = 1280, 720
DURATION_S = 24.0
SCENE_S = 6.0
CRF = 29
AUDIO_BITRATE = "128k"
REFERENCE_RATE = 16_000
PROCESS_TIMEOUT_S = 600

ESPEAK_VOICE = "en"
# 130 words/min rather than espeak's default 175 (or 150): at 150 the English phrases read at
# 17-18 characters/s, above the 17 cps subtitle rule the samples must pass.
ESPEAK_WORDS_PER_MINUTE = 130
FALLBACK_CHARS_PER_SECOND = 16.0
SILENCE_THRESHOLD = 0.01  # -40 dBFS: below this, espeak's head and tail are silence

# Stem levels, chosen so the full mix reads about -23 LUFS with peaks well under -3 dBFS even
# after AAC encoding, and narration sits clearly on top of the music.
NARRATION_RMS = 10 ** (-26.0 / 20)  # per phrase; espeak peaks then land near -8 dBFS
MUSIC_GAIN = 10 ** (-23.0 / 20)
EFFECTS_GAIN = 10 ** (-15.0 / 20)
PEAK_LIMIT_DBFS = -4.0
MIN_PHRASE_GAP_S = 0.5

SEED_MUSIC = 20261120
SEED_EFFECTS = 20261121
SEED_NARRATION = 20261122

# Subtitle rules of docs/design.md section 5; a generated cue that breaks one stops the script.
MAX_CHARS_PER_LINE = 42
MAX_LINES = 2
MAX_CHARS_PER_SECOND = 17.0
MIN_CUE_S, MAX_CUE_S = 1.0, 7.0


@dataclass(frozen=True)
class Phrase:
    """A narration phrase as scripted: where it starts and what it says."""

    start_s: float
    english: str
    french: str


@dataclass(frozen=True)
class PlacedPhrase:
    """A phrase as it sits in the narration track, to the sample."""

    index: int
    start_s: float
    end_s: float
    english: str
    french: str


# The gaps 0-2 s, ~14.3-16 s and ~21.7-24 s carry no cue: tests pick frames there.
PHRASES = (
    Phrase(2.0, "The harbour bridge reopened this morning,", "Le pont du port a rouvert ce matin,"),
    Phrase(5.2, "after eighteen months of repairs.", "après dix-huit mois de travaux."),
    Phrase(8.6, "Engineers replaced every cable.", "Chaque câble a été remplacé."),
    Phrase(12.0, "Cyclists now have their own lane.", "Les cyclistes ont enfin leur voie."),
    Phrase(16.0, "A ferry passed beneath it at noon.", "Un ferry est passé dessous à midi."),
    Phrase(19.6, "Residents welcomed the news.", "La nouvelle a reçu un bel accueil."),
)

# (kind, start in seconds); each kind has a fixed length, see EFFECT_LENGTHS_S.
EFFECTS = (
    ("whoosh", 0.2),
    ("click", 6.0),
    ("whoosh", 11.0),
    ("click", 12.0),
    ("horn", 14.4),
    ("click", 18.0),
    ("noise_burst", 22.3),
)
EFFECT_LENGTHS_S = {"whoosh": 1.2, "click": 0.08, "horn": 1.2, "noise_burst": 0.5}


# --- processes -------------------------------------------------------------------------------

def run_tool(args: list[str]) -> str:
    """Run one external tool; raise with the command and the end of stderr if it fails."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"timed out after {PROCESS_TIMEOUT_S} s: {shlex.join(args)}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-30:])
        raise RuntimeError(f"exit {done.returncode}: {shlex.join(args)}\n{tail}")
    return done.stdout


def ffmpeg_args(*args: str) -> list[str]:
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]


# --- audio helpers ---------------------------------------------------------------------------

def seconds_to_samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


def time_axis(length_s: float) -> np.ndarray:
    return np.arange(seconds_to_samples(length_s)) / SAMPLE_RATE


def midi_to_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def read_wav_mono(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        frames = wav.readframes(wav.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
        samples = samples.reshape(-1, wav.getnchannels()).mean(axis=1)
        return wav.getframerate(), samples


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write float samples (n,) or (n, channels) in [-1, 1] as 16-bit PCM."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    pcm = np.round(np.clip(frames, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by zero-padding the spectrum (fine for short, silent-edged clips)."""
    length_out = int(round(len(samples) * rate_out / rate_in))
    return np.fft.irfft(np.fft.rfft(samples), length_out) * (length_out / len(samples))


def trim_silence(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > SILENCE_THRESHOLD)
    if loud.size == 0:
        raise ValueError("phrase is silent")
    return samples[loud[0]:loud[-1] + 1]


def band_noise(rng: np.random.Generator, length: int, low_hz: float, high_hz: float) -> np.ndarray:
    """White noise limited to [low_hz, high_hz] by masking its spectrum, normalised to peak 1."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    noise = np.fft.irfft(spectrum, length)
    return noise / np.max(np.abs(noise))


def pan(mono: np.ndarray, position: float | np.ndarray) -> np.ndarray:
    """Constant-power pan; position 0 is left, 0.5 centre, 1 right."""
    angle = np.asarray(position) * np.pi / 2
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)], axis=-1)


# --- narration -------------------------------------------------------------------------------

def speak_with_espeak(espeak: str, text: str, workdir: Path) -> np.ndarray:
    wav_path = workdir / "phrase.wav"
    run_tool([espeak, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_WORDS_PER_MINUTE),
              "-w", str(wav_path), "--", text])
    rate, samples = read_wav_mono(wav_path)
    return trim_silence(resample(samples, rate, SAMPLE_RATE))


def synthesise_speech_like(text: str, length_s: float, rng: np.random.Generator) -> np.ndarray:
    """A stand-in for speech lasting about length_s: voiced syllables (harmonics shaped by two
    formants), short pauses between words and a falling pitch over the phrase."""
    words = [max(1, len(re.findall(r"[aeiouy]+", word.lower()))) for word in text.split()]
    units = sum(words) + 0.4 * (len(words) - 1)
    syllable_s = length_s / units
    pieces = []
    for word_index, syllables in enumerate(words):
        for _ in range(syllables):
            t = time_axis(syllable_s)
            f0 = 130.0 - 25.0 * (len(pieces) / units) + 8.0 * np.sin(2 * np.pi * 3 * t)
            phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
            formant_1, formant_2 = rng.uniform(300, 800), rng.uniform(900, 2400)
            voiced = np.zeros_like(t)
            for harmonic in range(1, 30):
                freq = harmonic * f0.mean()
                weight = (np.exp(-((freq - formant_1) / 150) ** 2)
                          + 0.5 * np.exp(-((freq - formant_2) / 250) ** 2) + 0.05 / harmonic)
                voiced += weight * np.sin(harmonic * phase)
            pieces.append(voiced * np.hanning(len(t)) ** 0.5)
        if word_index < len(words) - 1:
            pieces.append(np.zeros(seconds_to_samples(0.4 * syllable_s)))
    return trim_silence(np.concatenate(pieces))


def make_narration(workdir: Path) -> tuple[np.ndarray, list[PlacedPhrase], str]:
    """The narration track (mono, full length), where each phrase landed, and the engine used."""
    espeak = shutil.which("espeak-ng")
    rng = np.random.default_rng(SEED_NARRATION)
    track = np.zeros(seconds_to_samples(DURATION_S))
    placed = []
    for index, phrase in enumerate(PHRASES, start=1):
        if espeak:
            voice = speak_with_espeak(espeak, phrase.english, workdir)
        else:
            # Long enough for the longer of the two subtitles to stay under the reading speed.
            length_s = max(len(phrase.english), len(phrase.french)) / FALLBACK_CHARS_PER_SECOND
            voice = synthesise_speech_like(phrase.english, length_s, rng)
        voice *= NARRATION_RMS / np.sqrt(np.mean(voice ** 2))
        start = seconds_to_samples(phrase.start_s)
        track[start:start + len(voice)] += voice
        placed.append(PlacedPhrase(index, start / SAMPLE_RATE, (start + len(voice)) / SAMPLE_RATE,
                                   phrase.english, phrase.french))
    check_phrase_spacing(placed)
    return track, placed, espeak_version(espeak) if espeak else "synthetic speech-like signal"


def check_phrase_spacing(placed: list[PlacedPhrase]) -> None:
    """Phrases must not run into each other or past the end; tests rely on the gaps."""
    limits = [phrase.start_s for phrase in placed[1:]] + [DURATION_S - 1.0]
    for phrase, limit in zip(placed, limits):
        if phrase.end_s > limit - MIN_PHRASE_GAP_S:
            raise ValueError(f"phrase {phrase.index} ends at {phrase.end_s:.2f} s, too close to "
                             f"{limit:.2f} s: move the later start times in PHRASES")


def espeak_version(espeak: str) -> str:
    return " ".join(run_tool([espeak, "--version"]).split()[:4])


# --- music and effects -----------------------------------------------------------------------

def make_music() -> np.ndarray:
    """A stereo chord pad (D - Bm - G - A, 3 s a chord) with a plucked arpeggio on top."""
    chords = ((50, 57, 62, 66), (47, 54, 59, 62), (43, 55, 59, 62), (45, 52, 57, 61))
    chord_s = 3.0
    t = time_axis(DURATION_S)
    music = np.zeros((len(t), 2))
    for chord_index in range(int(DURATION_S / chord_s)):
        notes = chords[chord_index % len(chords)]
        start = chord_index * chord_s
        # Raised-cosine fades that overlap the next chord, so the pad never drops out.
        envelope = (np.clip((t - start) / 0.4, 0, 1)
                    * np.clip((start + chord_s + 0.4 - t) / 0.4, 0, 1))
        envelope = np.sin(envelope * np.pi / 2) ** 2
        for note in notes:
            for channel, detune in enumerate((0.999, 1.001)):
                freq = midi_to_hz(note) * detune
                tone = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)
                music[:, channel] += 0.12 * envelope * tone
        music += make_arpeggio(t, notes, start, chord_s)
    fade = np.clip(t / 1.0, 0, 1) * np.clip((DURATION_S - t) / 2.0, 0, 1)
    return music * fade[:, None] * MUSIC_GAIN / np.max(np.abs(music))


def make_arpeggio(t: np.ndarray, notes: tuple[int, ...], start: float, length: float) -> np.ndarray:
    """Eighth notes at 120 bpm climbing the chord an octave up, alternating left and right."""
    step_s = 0.25
    out = np.zeros((len(t), 2))
    for step in range(int(length / step_s)):
        onset = start + step * step_s
        local = t - onset
        active = (local >= 0) & (local < 0.9)
        freq = midi_to_hz(notes[step % len(notes)] + 12 + 12 * (step // len(notes) % 2))
        tone = np.sin(2 * np.pi * freq * local[active]) * np.exp(-local[active] / 0.18)
        out[active] += 0.35 * pan(tone, 0.3 if step % 2 else 0.7)
    return out


def make_effect(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One stereo effect, peak about 1."""
    t = time_axis(EFFECT_LENGTHS_S[kind])
    progress = t / t[-1]
    if kind == "whoosh":
        noise = band_noise(rng, len(t), 400, 4000) * np.sin(np.pi * progress) ** 3
        return pan(noise, 0.1 + 0.8 * progress)
    if kind == "click":
        clicks = np.zeros(len(t))
        for offset_s in (0.0, 0.05):  # a shutter: two clicks 50 ms apart
            first = seconds_to_samples(offset_s)
            burst = band_noise(rng, 240, 1500, 12000) * np.exp(-np.arange(240) / 40)
            clicks[first:first + 240] += burst
        return pan(clicks, 0.5)
    if kind == "horn":
        envelope = np.clip(t / 0.15, 0, 1) * np.clip((t[-1] - t) / 0.3, 0, 1)
        tone = sum(np.sin(2 * np.pi * 116.5 * k * t) / k for k in range(1, 6))
        return pan(0.6 * envelope * tone / np.max(np.abs(tone)), 0.3)
    if kind == "noise_burst":
        return pan(band_noise(rng, len(t), 100, 8000) * np.exp(-t / 0.12), 0.75)
    raise ValueError(f"unknown effect kind {kind!r}")


def make_effects() -> tuple[np.ndarray, list[dict]]:
    """The effects stem and, for the reference file, what sits where."""
    rng = np.random.default_rng(SEED_EFFECTS)
    track = np.zeros((seconds_to_samples(DURATION_S), 2))
    events = []
    for kind, start_s in EFFECTS:
        effect = make_effect(kind, rng) * EFFECTS_GAIN
        start = seconds_to_samples(start_s)
        track[start:start + len(effect)] += effect
        events.append({"kind": kind, "start": start_s,
                       "end": round(start_s + EFFECT_LENGTHS_S[kind], 3)})
    return track, events


def peak_dbfs(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(samples))))


# --- picture ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scene:
    """One 6-second shot: colours and where the camera puts the horizon and the bridge."""

    sky_top: tuple[int, int, int]
    sky_horizon: tuple[int, int, int]
    water_top: tuple[int, int, int]
    water_deep: tuple[int, int, int]
    bridge: tuple[int, int, int]
    sun: tuple[int, int, int]
    horizon: float  # fractions of the picture height / width
    deck: float
    pylons: tuple[float, float]
    lights: bool = False


SCENES = (  # dawn wide shot, midday close, dusk from an angle, night with deck lights
    Scene((40, 50, 110), (250, 150, 90), (200, 120, 100), (20, 40, 70), (30, 25, 40),
          (255, 220, 150), 0.62, 0.52, (0.28, 0.72)),
    Scene((40, 110, 210), (170, 210, 240), (60, 120, 170), (10, 50, 100), (70, 70, 80),
          (255, 255, 230), 0.70, 0.45, (0.12, 0.88)),
    Scene((60, 30, 90), (240, 90, 70), (150, 60, 80), (30, 20, 50), (20, 15, 25),
          (255, 140, 60), 0.58, 0.50, (0.42, 0.97)),
    Scene((5, 10, 35), (30, 50, 100), (20, 40, 80), (0, 5, 20), (12, 12, 18),
          (230, 230, 255), 0.65, 0.55, (0.25, 0.75), lights=True),
)
CAR_COLOURS = ((200, 40, 40), (240, 240, 240), (40, 90, 200), (240, 190, 30), (30, 150, 80))


def vertical_gradient(top: tuple, bottom: tuple, rows: int) -> np.ndarray:
    weight = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None, None]
    return (1 - weight) * np.array(top, np.float32) + weight * np.array(bottom, np.float32)


def bridge_mask(scene: Scene) -> np.ndarray:
    """Deck, two pylons, the sagging main cable and its hangers, as a boolean picture."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    deck_y, horizon_y = int(scene.deck * HEIGHT), int(scene.horizon * HEIGHT)
    left, right = (int(p * WIDTH) for p in scene.pylons)
    top_y = int(deck_y - 0.3 * HEIGHT)
    mask = (ys >= deck_y) & (ys < deck_y + 14)
    for pylon_x in (left, right):
        mask |= (abs(xs - pylon_x) < 12) & (ys >= top_y) & (ys < horizon_y + 30)
    middle, half_span = (left + right) / 2, (right - left) / 2
    sag = np.clip(((xs[0] - middle) / half_span) ** 2, 0, 1)
    cable_y = deck_y - 8 - (deck_y - 8 - top_y) * sag  # one row per column: a parabola
    mask |= (abs(ys - cable_y) < 2.5) & (xs > left) & (xs < right)
    hangers = (xs % 40 < 2) & (ys > cable_y) & (ys < deck_y) & (xs > left) & (xs < right)
    return mask | hangers


class HarbourPicture:
    """Frame function for moviepy: a stylised harbour bridge with moving sun, water, traffic and
    a ferry, cut into four differently coloured and framed shots. No text anywhere."""

    def __init__(self) -> None:
        self.masks = [bridge_mask(scene) for scene in SCENES]
        self.xs = np.arange(WIDTH, dtype=np.float32)

    def __call__(self, t: float) -> np.ndarray:
        index = min(int(t // SCENE_S), len(SCENES) - 1)
        scene, local_t = SCENES[index], t - index * SCENE_S
        horizon_y = int(scene.horizon * HEIGHT)
        frame = np.empty((HEIGHT, WIDTH, 3), np.float32)
        self.draw_sky(frame[:horizon_y], scene, t)
        self.draw_sun(frame, scene, local_t)
        self.draw_water(frame[horizon_y:], scene, t)
        frame[self.masks[index]] = scene.bridge
        self.draw_traffic(frame, scene, t)
        self.draw_ferry(frame, scene, local_t)
        return np.clip(frame, 0, 255).astype(np.uint8)

    def draw_sky(self, sky: np.ndarray, scene: Scene, t: float) -> None:
        # A soft light band drifting sideways: every frame differs from the one before.
        shimmer = 1 + 0.08 * np.sin(2 * np.pi * (self.xs / WIDTH * 1.5 - 0.1 * t))
        gradient = vertical_gradient(scene.sky_top, scene.sky_horizon, len(sky))
        sky[:] = gradient * shimmer[None, :, None]

    def draw_sun(self, frame: np.ndarray, scene: Scene, local_t: float) -> None:
        radius = 45
        centre_x = int(WIDTH * (0.1 + 0.8 * local_t / SCENE_S))
        centre_y = int(scene.horizon * HEIGHT * (0.45 - 0.15 * np.sin(np.pi * local_t / SCENE_S)))
        top, left = centre_y - radius, max(centre_x - radius, 0)
        ys, xs = np.ogrid[top:centre_y + radius, left:min(centre_x + radius, WIDTH)]
        disc = (ys - centre_y) ** 2 + (xs - centre_x) ** 2 < radius ** 2
        frame[top:centre_y + radius, left:min(centre_x + radius, WIDTH)][disc] = scene.sun

    def draw_water(self, water: np.ndarray, scene: Scene, t: float) -> None:
        rows = len(water)
        depth = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
        waves = np.sin(self.xs[None, :] * (0.02 + 0.03 * depth) + 40 * depth ** 0.5 - 2.5 * t)
        brightness = 1 + 0.12 * waves * (1 - 0.5 * depth)
        gradient = vertical_gradient(scene.water_top, scene.water_deep, rows)
        water[:] = gradient * brightness[..., None]

    def draw_traffic(self, frame: np.ndarray, scene: Scene, t: float) -> None:
        deck_y = int(scene.deck * HEIGHT)
        for car, colour in enumerate(CAR_COLOURS):
            speed = 140 + 35 * car
            direction = 1 if car % 2 == 0 else -1
            x = int((car * 290 + direction * speed * t) % (WIDTH + 80)) - 40
            frame[deck_y - 12:deck_y, max(x, 0):max(x + 40, 0)] = colour
        if scene.lights:
            lit = (np.arange(0, WIDTH, 64) // 64 + int(t * 2)) % 2 == 0
            for x in np.arange(0, WIDTH, 64)[lit]:
                frame[deck_y + 4:deck_y + 10, x:x + 6] = (255, 230, 140)

    def draw_ferry(self, frame: np.ndarray, scene: Scene, local_t: float) -> None:
        water_y = int(scene.horizon * HEIGHT + 0.4 * (1 - scene.horizon) * HEIGHT)
        x = int(-220 + (WIDTH + 240) * local_t / SCENE_S)
        for top, bottom, start, stop, colour in (
            (water_y - 28, water_y, 0, 200, (150, 30, 30)),     # hull
            (water_y - 56, water_y - 28, 40, 150, (235, 235, 235)),  # cabin
            (water_y - 80, water_y - 56, 90, 110, (230, 180, 20)),   # funnel
        ):
            frame[top:bottom, max(x + start, 0):max(x + stop, 0)] = colour


def make_picture(path: Path) -> None:
    """Render the picture alone (no audio) to an H.264 file with moviepy."""
    clip = VideoClip(frame_function=HarbourPicture(), duration=DURATION_S)
    clip.write_videofile(str(path), fps=FPS, codec="libx264", audio=False, preset="medium",
                         pixel_format="yuv420p", ffmpeg_params=["-crf", str(CRF), "-g", "50"],
                         logger=None)
    clip.close()


# --- package files ---------------------------------------------------------------------------

def srt_timestamp(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def wrap_cue_text(text: str) -> list[str]:
    """One line if it fits, else two lines split at the space nearest the middle."""
    if len(text) <= MAX_CHARS_PER_LINE:
        return [text]
    spaces = [i for i, char in enumerate(text) if char == " "]
    split = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return [text[:split], text[split + 1:]]


def check_cue(phrase: PlacedPhrase, lines: list[str], language: str) -> None:
    duration = phrase.end_s - phrase.start_s
    chars = sum(len(line) for line in lines)
    problems = []
    if len(lines) > MAX_LINES or any(len(line) > MAX_CHARS_PER_LINE for line in lines):
        problems.append(f"lines {lines!r} break the {MAX_LINES} x {MAX_CHARS_PER_LINE} limit")
    if chars / duration > MAX_CHARS_PER_SECOND:
        problems.append(f"{chars / duration:.1f} characters/s > {MAX_CHARS_PER_SECOND}")
    if not MIN_CUE_S <= duration <= MAX_CUE_S:
        problems.append(f"duration {duration:.2f} s outside [{MIN_CUE_S}, {MAX_CUE_S}]")
    if problems:
        raise ValueError(f"{language} cue {phrase.index}: " + "; ".join(problems))


def write_srt(path: Path, phrases: list[PlacedPhrase], language: str) -> None:
    """One cue per phrase, timed to the phrase as placed in the narration track."""
    blocks = []
    for phrase in phrases:
        lines = wrap_cue_text(phrase.english if language == "en" else phrase.french)
        check_cue(phrase, lines, language)
        timing = f"{srt_timestamp(phrase.start_s)} --> {srt_timestamp(phrase.end_s)}"
        blocks.append("\n".join([str(phrase.index), timing, *lines]))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


METADATA_YAML = """\
# Descriptive metadata of the sample package (docs/design.md section 3).
# Generated by media_samples/make_samples.py: change the script, not this file.
title: Harbour bridge reopens after eighteen months of repairs
asset_id: 2026-11-20-harbour-bridge-reopens
description: >-
  The harbour bridge in Port Meridian reopened to traffic this morning after eighteen months
  of repairs. Engineers replaced every suspension cable, cyclists now have a lane of their own,
  and the first ferry passed beneath the new deck at noon.
publication_date: 2026-11-20
filming_date: 2026-11-19
shot_list:
  - "00:00 Wide, dawn: the bridge from the east quay, first cars on the deck"
  - "00:06 Closer, midday: traffic crossing both ways"
  - "00:12 Dusk, from the south bank: the bridge and the evening ferry"
  - "00:18 Night: deck lights, traffic, ferry passing under the main span"
production_notes: >-
  Narration recorded in studio; music from the library (see music_credits). Full mix on the
  first audio stream, music and effects (M&E) on the second. No line-up before the programme.
locations:
  - Harbour Bridge, Port Meridian
  - East Quay, Port Meridian
keywords: [bridge, harbour, infrastructure, transport, cycling, reopening]
music_credits:
  - title: Morning Tide
    composers: [Ana Horvat]
  - title: Harbour Light
    composers: [Jean-Luc Péron, Marta Kovač]
usage_rights: >-
  Free for editorial use by member organisations until 2027-11-20. No archive sales, no
  advertising use. Credit "Harbour City News" on screen.
copyright: "© 2026 Harbour City News"
organisation: Harbour City News
language: en
# Optional fields, left out here so the pipeline detects the layout from the stream titles and
# renders the whole file. Examples of how they are written:
# audio_layout: stereo_mix_me
# programme_start: 0          # seconds, or a timecode such as "00:00:10:00"
# programme_end: "00:00:24:00"
"""


def write_metadata(path: Path) -> None:
    if not isinstance(yaml.safe_load(METADATA_YAML), dict):  # a typo here must not ship
        raise ValueError("METADATA_YAML is not a mapping")
    path.write_text(METADATA_YAML, encoding="utf-8")


def mux_master(video: Path, mix_wav: Path, me_wav: Path, out: Path) -> None:
    """Copy the picture and encode both stereo WAVs to AAC, mix first, each stream titled the
    way editing tools title them (`title` and `handler_name`)."""
    stream_tags = []
    for index, title in enumerate(("Full mix", "M&E")):
        for key in ("title", "handler_name"):
            stream_tags += [f"-metadata:s:a:{index}", f"{key}={title}"]
    run_tool(ffmpeg_args(
        "-i", str(video), "-i", str(mix_wav), "-i", str(me_wav),
        "-map", "0:v:0", "-map", "1:a:0", "-map", "2:a:0",
        "-c:v", "copy", "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(SAMPLE_RATE), "-ac", "2",
        "-map_metadata", "-1", "-metadata:s:v:0", "handler_name=Picture", *stream_tags,
        str(out),
    ))


def write_reference(folder: Path, narration: np.ndarray, phrases: list[PlacedPhrase],
                    effects: list[dict], facts: dict) -> None:
    """Ground truth for the tests: times as JSON, the narration alone as 16 kHz mono FLAC."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "narration.wav"
        write_wav(wav_path, narration)
        run_tool(ffmpeg_args("-i", str(wav_path), "-ar", str(REFERENCE_RATE), "-ac", "1",
                             "-sample_fmt", "s16", "-c:a", "flac", "-map_metadata", "-1",
                             str(folder / f"{PACKAGE_NAME}-narration.flac")))
    ends = [0.0] + [phrase.end_s for phrase in phrases]
    starts = [phrase.start_s for phrase in phrases] + [DURATION_S]
    reference = {
        "master": f"{PACKAGE_NAME}/{PACKAGE_NAME}.mov",
        "duration": DURATION_S, "fps": FPS, "width": WIDTH, "height": HEIGHT,
        "sample_rate": SAMPLE_RATE,
        "audio_streams": [
            {"index": 0, "title": "Full mix", "content": "narration + music + effects"},
            {"index": 1, "title": "M&E", "content": "music + effects"},
        ],
        "narration_flac": {"path": f"{PACKAGE_NAME}-narration.flac", "sample_rate": REFERENCE_RATE,
                           "channels": 1, "note": "same level as in the full mix, centred"},
        "phrases": [{**asdict(phrase), "start_s": round(phrase.start_s, 4),
                     "end_s": round(phrase.end_s, 4)} for phrase in phrases],
        "cue_free_intervals": [[round(end, 4), round(start, 4)]
                               for end, start in zip(ends, starts)],
        "scene_cuts": [SCENE_S * i for i in range(1, len(SCENES))],
        "effects": effects,
        **facts,
    }
    (folder / f"{PACKAGE_NAME}.json").write_text(
        json.dumps(reference, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_sample(out: Path) -> None:
    package = out / PACKAGE_NAME
    package.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        narration, phrases, engine = make_narration(workdir)
        music_and_effects, effects = make_effects()
        music_and_effects += make_music()
        # The M&E is exactly the mix's music and effects: the mix is narration added on top.
        mix = music_and_effects + narration[:, None]
        levels = {"mix_peak_dbfs": round(peak_dbfs(mix), 2),
                  "me_peak_dbfs": round(peak_dbfs(music_and_effects), 2)}
        if max(levels.values()) > PEAK_LIMIT_DBFS:
            raise ValueError(f"stems too hot: {levels}, limit {PEAK_LIMIT_DBFS} dBFS")
        write_wav(workdir / "mix.wav", mix)
        write_wav(workdir / "me.wav", music_and_effects)
        make_picture(workdir / "picture.mp4")
        mux_master(workdir / "picture.mp4", workdir / "mix.wav", workdir / "me.wav",
                   package / f"{PACKAGE_NAME}.mov")
    for language in ("en", "fr"):
        write_srt(package / f"{PACKAGE_NAME}.{language}.srt", phrases, language)
    write_metadata(package / "metadata.yaml")
    write_reference(out / "reference", narration, phrases, effects,
                    {"narration_engine": engine, "pcm_levels": levels})


# --- one package per audio layout ------------------------------------------------------------
# A short package for each layout of configs/default.toml, in the forms masters come in: one
# stream per stem (AAC in MOV, titled as editing tools title them) or every channel in one
# multichannel stream (Opus in Matroska: AAC would code a 5.1 or 7.1 stream's fourth channel as a
# band-limited LFE and ruin the stem on it; a real master carries PCM, too large to commit here).
# The sound is a 5.5 s window of the news sample's narration, music and effects.

LAYOUTS_FOLDER = "layouts"
LAYOUT_WINDOW_S = (10.5, 5.5)  # start, length: one phrase, a whoosh, a click, a horn, a scene cut
LAYOUT_PICTURE = "320:180"
LAYOUT_STEREO_BITRATE, LAYOUT_MONO_BITRATE = "40k", "24k"
LAYOUT_OPUS_KBPS_PER_CHANNEL = 20
# An M&E derived as mix - dialogue passes the null test only if both streams are close to what
# the edit suite mixed: at 48 kb/s the codec's errors follow the voice and leave it at -22 to
# -28 dB in the difference; at these rates it nulls to about -45 dB, the limit of a 5 s clip.
DERIVED_STEREO_BITRATE, DERIVED_MONO_BITRATE, DERIVED_OPUS_KBPS_PER_CHANNEL = "96k", "64k", 48


@dataclass(frozen=True)
class LayoutSample:
    """One package: its folder under layouts/, the layout it shows, and its audio streams as
    (title, signals), each signal one or two channels (see `layout_signals`)."""

    folder: str
    layout: str
    streams: tuple[tuple[str, tuple[str, ...]], ...]
    one_stream: bool = False
    named_in_metadata: bool = False
    """The channel count fits several layouts and the stream has no title: metadata names it."""

    @property
    def derives_me(self) -> bool:
        return self.layout.startswith("mix-dialogue")


LAYOUT_SAMPLES = (
    LayoutSample("mix-me", "mix-me", (("Stereo Mix", ("mix",)), ("M&E", ("me",)))),
    LayoutSample("mix-me-one-stream", "mix-me", (("", ("mix", "me")),), one_stream=True, named_in_metadata=True),
    LayoutSample("mix-dme", "mix-dme", (("Stereo Mix", ("mix",)), ("Dialogue", ("dialogue",)),
                                        ("Music", ("music",)), ("Effects", ("effects",)))),
    LayoutSample("mix-dme-one-stream", "mix-dme", (("", ("mix", "dialogue", "music", "effects")),), one_stream=True),
    LayoutSample("dme", "dme", (("DX", ("dialogue",)), ("MX", ("music",)), ("FX", ("effects",)))),
    LayoutSample("dme-one-stream", "dme", (("", ("dialogue", "music", "effects")),), one_stream=True),
    LayoutSample("mix-dialogue", "mix-dialogue", (("Full mix", ("mix",)), ("Narration", ("dialogue",)))),
    LayoutSample("mix-dialogue-one-stream", "mix-dialogue", (("", ("mix", "dialogue")),), one_stream=True,
                 named_in_metadata=True),
    LayoutSample("mix-only", "mix-only", (("Stereo Mix", ("mix",)),)),
    LayoutSample("mix-only-two-mono", "mix-only", (("Mix L", ("mix_l",)), ("Mix R", ("mix_r",)))),
    LayoutSample("mix-dialogue-mono", "mix-dialogue-mono", (("Stereo Mix", ("mix",)), ("VO", ("dialogue_mono",)))),
    LayoutSample("dme-mono", "dme-mono", (("Dialog", ("dialogue_mono",)), ("Music", ("music_mono",)),
                                          ("SFX", ("effects_mono",)))),
    LayoutSample("mix-dme-mono", "mix-dme-mono", (("Mix", ("mix_of_mono_stems",)), ("DX", ("dialogue_mono",)),
                                                  ("MX", ("music_mono",)), ("FX", ("effects_mono",)))),
    LayoutSample("dme-dialogue-mono", "dme-dialogue-mono", (("Narration", ("dialogue_mono",)),
                                                            ("Music", ("music",)), ("Effects", ("effects",)))),
    LayoutSample("mix-dme-dialogue-mono", "mix-dme-dialogue-mono", (("Mix", ("mix",)), ("VO", ("dialogue_mono",)),
                                                                    ("Music", ("music",)), ("Effects", ("effects",)))),
    # Broadcast allocations (EBU R 48 / R 123 style). The 8 mono tracks are untitled, as XDCAM
    # masters come: the layout is read from the sound (mix = M&E + speech, tracks 5-8 silent).
    LayoutSample("mix-me-spare", "mix-me-spare", tuple(("", (name,)) for name in (
        "mix_l", "mix_r", "me_l", "me_r", "silence", "silence", "silence", "silence"))),
    LayoutSample("mix51-me", "mix51-me", (("5.1 Mix", ("mix51",)), ("Stereo M&E", ("me",)))),
    LayoutSample("mix51-mix-me", "mix51-mix-me", (("5.1 Mix", ("mix51",)), ("Stereo Mix", ("mix",)),
                                                  ("M&E", ("me",)))),
    LayoutSample("mix51-me51", "mix51-me51", (("5.1 Mix", ("mix51",)), ("5.1 M&E", ("me51",)))),
    LayoutSample("mix51-mix-me51-me", "mix51-mix-me51-me", (("5.1 Mix", ("mix51",)), ("Stereo Mix", ("mix",)),
                                                            ("5.1 M&E", ("me51",)), ("Stereo M&E", ("me",)))),
)


def layout_signals(narration: np.ndarray, music: np.ndarray, effects: np.ndarray) -> dict[str, np.ndarray]:
    """Every stem as a layout may carry it. A mono stem sits in the centre of a stereo mix at
    -3 dB (each side 1/sqrt(2)), so every mix here is exactly the sum of its stems as placed."""
    centre = 1 / np.sqrt(2)
    music_mono, effects_mono = music.mean(axis=1), effects.mean(axis=1)
    dialogue = np.stack([narration * centre] * 2, axis=1)
    mix = dialogue + music + effects
    me51, mix51 = surround_signals(narration, music, effects)
    return {"mix": mix, "me": music + effects, "dialogue": dialogue, "dialogue_mono": narration,
            "music": music, "effects": effects, "music_mono": music_mono, "effects_mono": effects_mono,
            "mix_l": mix[:, 0], "mix_r": mix[:, 1], "me_l": music[:, 0] + effects[:, 0],
            "me_r": music[:, 1] + effects[:, 1], "silence": np.zeros(len(narration)),
            "mix_of_mono_stems": np.stack([(narration + music_mono + effects_mono) * centre] * 2, axis=1),
            "me51": me51, "mix51": mix51}


def surround_signals(narration: np.ndarray, music: np.ndarray, effects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 5.1 M&E and mix (L R C LFE Ls Rs) whose BS.775 downmix (L + 0.707 C + 0.707 Ls...) is
    the stereo M&E and mix above: music and effects on the fronts, the narration in the centre,
    the music's lows on the LFE (dropped by the downmix, as it is from a real mix)."""
    centre = 1 / np.sqrt(2)
    spectrum = np.fft.rfft(music.mean(axis=1))
    spectrum[np.fft.rfftfreq(len(music), 1 / SAMPLE_RATE) > 120] = 0
    lfe = np.fft.irfft(spectrum, len(music))
    silent = np.zeros(len(narration))
    me51 = np.stack([music[:, 0] + effects[:, 0], music[:, 1] + effects[:, 1], silent, lfe, silent, silent], axis=1)
    mix51 = me51.copy()
    mix51[:, 2] = narration
    assert np.allclose(mix51[:, 0] + centre * mix51[:, 2], narration * centre + me51[:, 0])
    return me51, mix51


def make_layout_picture(path: Path) -> None:
    """The harbour picture over the window, scaled down to 320x180."""
    start, length = LAYOUT_WINDOW_S
    picture = HarbourPicture()
    clip = VideoClip(frame_function=lambda t: picture(start + t), duration=length)
    clip.write_videofile(str(path), fps=FPS, codec="libx264", audio=False, preset="medium",
                         pixel_format="yuv420p", logger=None,
                         ffmpeg_params=["-vf", f"scale={LAYOUT_PICTURE}:flags=lanczos", "-crf", "36", "-g", "50"])
    clip.close()


def mux_layout_master(sample: LayoutSample, picture: Path, signals: dict[str, np.ndarray], workdir: Path,
                      out: Path) -> None:
    inputs, maps, codecs = ["-i", str(picture)], ["-map", "0:v:0"], []
    for index, (title, names) in enumerate(sample.streams):
        channels = np.concatenate([signals[name].reshape(len(signals[name]), -1) for name in names], axis=1)
        wav = workdir / f"stream{index}.wav"
        write_wav(wav, channels)
        inputs += ["-i", str(wav)]
        maps += ["-map", f"{index + 1}:a:0"]
        codecs += layout_codec_args(sample, index, channels.shape[1])
        if title:
            codecs += [f"-metadata:s:a:{index}", f"title={title}", f"-metadata:s:a:{index}", f"handler_name={title}"]
    run_tool(ffmpeg_args(*inputs, *maps, "-c:v", "copy", *codecs, "-map_metadata", "-1",
                         "-metadata:s:v:0", "handler_name=Picture", str(out)))


def layout_codec_args(sample: LayoutSample, index: int, channels: int) -> list[str]:
    if sample.one_stream:
        per_channel = DERIVED_OPUS_KBPS_PER_CHANNEL if sample.derives_me else LAYOUT_OPUS_KBPS_PER_CHANNEL
        return ["-c:a", "libopus", "-mapping_family", "255", "-b:a", f"{per_channel * channels}k"]
    stereo, mono = ((DERIVED_STEREO_BITRATE, DERIVED_MONO_BITRATE) if sample.derives_me
                    else (LAYOUT_STEREO_BITRATE, LAYOUT_MONO_BITRATE))
    return [f"-c:a:{index}", "aac", f"-b:a:{index}", stereo if channels == 2 else mono]


def layout_metadata(sample: LayoutSample) -> str:
    streams = ", ".join(f"'{title}'" if title else "untitled" for title, _ in sample.streams)
    lines = {
        "title": f"Audio layout sample: {sample.layout}",
        "asset_id": f"layout-{sample.folder}",
        "description": (f"Five seconds of the harbour bridge report, delivered in the '{sample.layout}' "
                        f"audio layout: {len(sample.streams)} audio stream(s) ({streams})."),
        "publication_date": "2026-11-20",
        "copyright": "© 2026 Harbour City News",
        "organisation": "Harbour City News",
        "language": "en",
    }
    if sample.named_in_metadata:
        lines["audio_layout"] = sample.layout
    header = ("# Generated by media_samples/make_samples.py: change the script, not this file.\n"
              + ("# The channel count fits several layouts and the stream is untitled: audio_layout names it.\n"
                 if sample.named_in_metadata else "# audio_layout is left out: the layout is detected.\n"))
    return header + yaml.safe_dump(lines, allow_unicode=True, sort_keys=False)


def build_layout_samples(out: Path, only: set[str] | None = None) -> list[Path]:
    """One package per entry of LAYOUT_SAMPLES under out/layouts/ (those named in `only`, when
    given); returns the package folders."""
    start, length = (seconds_to_samples(value) for value in LAYOUT_WINDOW_S)
    folders = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        narration, _phrases, _engine = make_narration(workdir)
        effects, _events = make_effects()
        window = slice(start, start + length)
        signals = layout_signals(narration[window], make_music()[window], effects[window])
        make_layout_picture(workdir / "picture.mp4")
        for sample in LAYOUT_SAMPLES:
            if only and sample.folder not in only:
                continue
            folder = out / LAYOUTS_FOLDER / sample.folder
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            suffix = ".mkv" if sample.one_stream else ".mov"
            mux_layout_master(sample, workdir / "picture.mp4", signals, workdir, folder / f"{sample.folder}{suffix}")
            (folder / "metadata.yaml").write_text(layout_metadata(sample), encoding="utf-8")
            folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write news-sample/ and reference/ into "
                             "(default: the folder of this script)")
    parser.add_argument("--layout", action="append", metavar="FOLDER",
                        help="only (re)build this layout package (repeatable); the news sample is left as it is")
    args = parser.parse_args(argv)
    if args.layout:
        layout_packages = build_layout_samples(args.out, set(args.layout))
        folders = layout_packages
    else:
        build_sample(args.out)
        layout_packages = build_layout_samples(args.out)
        folders = [args.out / PACKAGE_NAME, args.out / "reference", *layout_packages]
    for folder in folders:
        for path in sorted(folder.iterdir()):
            print(f"{path.stat().st_size:>10,d}  {path}")


if __name__ == "__main__":
    main()

"""Audio layouts: every channel of a master, counted across its audio streams, has a role, and
the full mix, the M&E and the dialogue come out of the right channels whatever form the master
takes: several mono or stereo streams, or one multichannel stream (4.0, quad, 5.1, 7.1, or
8 channels with no layout at all).

Three tiers: how titles and channel counts choose a layout (no ffmpeg); which channel lands
where, with a distinct tone on every channel of a master (real ffmpeg, audio only); and whole
renders, where the international version must carry the music and the effects and not the
narration (correlation of its decoded sound with each stem put in).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipeline.audio.layouts import CENTRE_GAIN, detect_layout, me_source, routing_graph, title_roles
from pipeline.config import Layout, load_config
from pipeline.errors import LayoutError
from pipeline.intake.submission import check_submission
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.media.probe import AudioInfo, probe
from tests.audio_masters import (
    RATE,
    Stems,
    Stream,
    columns,
    make_stems,
    mono_of,
    render_sound,
    write_master,
    write_package,
)
from tests.conftest import ROOT
from tests.media import audio_of, correlation

CONFIG = load_config()
LAYOUTS = CONFIG.layouts


def streams_of(*spec: tuple[int, str]) -> list[AudioInfo]:
    return [AudioInfo(index, "pcm_s24le", channels, 48000, title) for index, (channels, title) in enumerate(spec, 1)]


# ---------------------------------------------------------------------------------------------
# Titles as editing tools write them (Premiere, Resolve, Avid, Pro Tools exports)

@pytest.mark.parametrize("title, roles", [
    ("Stereo Mix", {"mix"}), ("Full mix", {"mix"}), ("Programme", {"mix"}), ("Mix L", {"mix"}),
    ("M&E", {"me"}), ("ME", {"me"}), ("M & E", {"me"}), ("M+E", {"me"}), ("ME_R", {"me"}),
    ("Music & Effects", {"me"}), ("Music and Effects", {"me"}), ("International", {"me"}),
    ("Mix minus VO", {"me"}), ("MX/FX", {"me"}),
    ("Dialog", {"dialogue"}), ("Dialogue", {"dialogue"}), ("DX", {"dialogue"}), ("DX1", {"dialogue"}),
    ("VO", {"dialogue"}), ("Narration", {"dialogue"}), ("Interview", {"dialogue"}),
    ("Dialogue mix", {"dialogue"}),
    ("MX", {"music"}), ("Music", {"music"}), ("FX", {"effects"}), ("SFX", {"effects"}),
    ("Foley", {"effects"}), ("Audio Description", {"ad"}),
    ("Mix + M&E", {"mix", "me"}), ("Stereo Mix / Dialogue", {"mix", "dialogue"}),
])
def test_titles_editing_tools_write_name_their_roles(title, roles):
    assert title_roles(title) == roles


@pytest.mark.parametrize("title", ["", "Audio 1", "A3", "Track 2", "Stereo", "SoundHandler", "Core Media Audio",
                                   "Mainconcept MP4 Sound Media Handler", "GPAC ISO Audio Handler",
                                   "ISO Media file produced by Google Inc."])
def test_generic_track_names_and_handler_names_say_nothing(title):
    assert title_roles(title) is None


@pytest.mark.ffmpeg
def test_probe_reads_a_title_from_the_handler_name(tmp_path):
    """Some tools write the track name only as the MOV handler name."""
    master = tmp_path / "handler.mov"
    silence = np.zeros((RATE, 2))
    write_master(master, [Stream(silence), Stream(silence)], seconds=1.0)
    tagged = tmp_path / "tagged.mov"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(master),
                    "-map", "0", "-c", "copy", "-metadata:s:a:0", "handler_name=Stereo Mix",
                    "-metadata:s:a:1", "handler_name=M&E", str(tagged)], check=True, timeout=60)
    audio = probe(tagged).audio
    assert [stream.title for stream in audio] == ["Stereo Mix", "M&E"]
    assert detect_layout(audio, LAYOUTS, None, "tagged.mov").name == "mix-me"


# ---------------------------------------------------------------------------------------------
# Detection: metadata, then titles, then channel count; ambiguity is an error naming the way out

@pytest.mark.parametrize("streams, expected", [
    (streams_of((2, "Stereo Mix"), (2, "M&E")), "mix-me"),
    (streams_of((2, "Full mix"), (2, "Narration")), "mix-dialogue"),
    (streams_of((1, "Mix L"), (1, "Mix R"), (1, "M&E L"), (1, "M&E R")), "mix-me"),
    (streams_of((1, "Mix L"), (1, "Mix R"), (1, "Dialog"), (1, "Dialog")), "mix-dialogue"),
    (streams_of((4, "Mix + M&E")), "mix-me"),
    (streams_of((2, "Mix"), (1, "VO")), "mix-dialogue-mono"),
    (streams_of((1, "DX"), (1, "MX"), (1, "FX")), "dme-mono"),
    (streams_of((2, "Mix"), (1, "DX"), (1, "MX"), (1, "FX")), "mix-dme-mono"),
    (streams_of((1, "Dialogue"), (2, "Music"), (2, "Effects")), "dme-dialogue-mono"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_stream_titles_choose_between_layouts_of_the_same_size(streams, expected):
    chosen = detect_layout(streams, LAYOUTS, None, "master.mov")
    assert (chosen.name, chosen.how) == (expected, "stream titles")


@pytest.mark.parametrize("streams, expected", [
    (streams_of((6, "")), "dme"),
    (streams_of((7, "")), "mix-dme-dialogue-mono"),
    (streams_of((2, ""),), "mix-only"),
])
def test_a_channel_count_only_one_layout_has_decides_alone(streams, expected):
    chosen = detect_layout(streams, LAYOUTS, None, "master.mov")
    assert (chosen.name, chosen.how) == (expected, "channel count")


def test_metadata_names_the_layout_over_titles_and_count():
    chosen = detect_layout(streams_of((4, "")), LAYOUTS, "mix-dialogue", "master.mov")
    assert (chosen.name, chosen.how) == ("mix-dialogue", "metadata")


@pytest.mark.parametrize("streams, candidates", [
    (streams_of((4, "")), ["mix-dialogue", "mix-me"]),
    (streams_of((2, "Audio 1"), (2, "Audio 2")), ["mix-dialogue", "mix-me"]),
    (streams_of((2, "Stereo Mix"), (2, "")), ["mix-dialogue", "mix-me"]),
    (streams_of((3, "")), ["dme-mono", "mix-dialogue-mono"]),
    (streams_of((5, "")), ["dme-dialogue-mono", "mix-dme-mono"]),
    # Eight untitled tracks: mix + stems, mix + M&E + 4 spare, or 5.1 mix + M&E (the sound decides:
    # tests/test_broadcast_sound.py).
    (streams_of((2, ""), (2, ""), (2, ""), (2, "")), ["mix-dme", "mix-me-spare", "mix51-me"]),
    (streams_of((8, "")), ["mix-dme", "mix-me-spare", "mix51-me"]),
])
def test_an_ambiguous_master_is_an_error_listing_the_candidates_and_how_to_choose(streams, candidates):
    with pytest.raises(LayoutError) as raised:
        detect_layout(streams, LAYOUTS, None, "master.mov")
    message = str(raised.value)
    assert message.startswith("master.mov: audio layout is ambiguous")
    for name in candidates:
        assert f"{name} (" in message, message
    assert f"audio_layout: {candidates[0]}" in raised.value.fix
    assert "title the audio tracks" in raised.value.fix


@pytest.mark.parametrize("streams", [
    streams_of((2, "M&E"), (2, "Stereo Mix")),  # the M&E first: no built-in layout has it there
    streams_of((2, "Mix"), (2, "Music"), (2, "DX"), (2, "FX")),
], ids=["M&E before the mix", "music where the dialogue belongs"])
def test_titles_that_contradict_every_layout_of_that_size_are_an_error_not_a_guess(streams):
    with pytest.raises(LayoutError, match="the audio stream titles .* fit none of the layouts") as raised:
        detect_layout(streams, LAYOUTS, None, "master.mov")
    assert "set `audio_layout:" in raised.value.fix and "[layouts.NAME]" in raised.value.fix


def test_a_layout_of_the_wrong_size_or_unknown_name_is_refused_with_the_choices():
    with pytest.raises(LayoutError, match="has 4 audio channels but audio_layout 'mix-dme' maps 8") as raised:
        detect_layout(streams_of((4, "")), LAYOUTS, "mix-dme", "master.mov")
    assert "mix-dialogue, mix-me" in raised.value.fix
    with pytest.raises(LayoutError, match="not a known layout"):
        detect_layout(streams_of((4, "")), LAYOUTS, "stereo_mix_me", "master.mov")
    with pytest.raises(LayoutError, match="no configured layout maps that many"):
        detect_layout(streams_of((9, "")), LAYOUTS, None, "master.mov")


def test_a_user_layout_that_cannot_be_routed_is_refused_at_load(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[layouts.broken]\nchannels = ["mix_l", "me_l", "me_r"]\n')
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[layouts.broken\].*'mix_l' and 'mix_r'"):
        load_config(config)


# ---------------------------------------------------------------------------------------------
# Routing with real ffmpeg: a distinct tone on every channel, then which tone lands where

def _model(roles: list[str], signal: str) -> tuple[dict[int, float], dict[int, float]]:
    """What a mixing engineer expects: input channel -> gain on the left and right outputs."""
    def place(role: str, left: dict, right: dict, sign: float = 1.0) -> None:
        where = [index for index, name in enumerate(roles) if name == role]
        if len(where) == 1:
            left[where[0]] = right[where[0]] = sign * CENTRE_GAIN
        elif len(where) == 2:
            left[where[0]], right[where[1]] = sign, sign

    left, right = {}, {}
    has = set(roles)
    if signal == "mix" and "mix_l" in has:
        left[roles.index("mix_l")], right[roles.index("mix_r")] = 1.0, 1.0
    elif signal == "mix":
        for stem in ("dialogue", "music", "effects"):
            place(stem, left, right)
    elif signal == "me" and "me_l" in has:
        left[roles.index("me_l")], right[roles.index("me_r")] = 1.0, 1.0
    elif signal == "me" and has & {"music", "effects"}:
        place("music", left, right)
        place("effects", left, right)
    elif signal == "me":  # derived: mix - dialogue
        left[roles.index("mix_l")], right[roles.index("mix_r")] = 1.0, 1.0
        place("dialogue", left, right, -1.0)
    else:
        place("dialogue", left, right)
    return left, right


def _tone_levels(side: np.ndarray, frequencies: list[float]) -> dict[int, float]:
    """Amplitude of each channel's tone in one decoded output side (1 s, bins of 1 Hz)."""
    spectrum = np.abs(np.fft.rfft(side[:RATE])) * 2 / RATE
    return {channel: float(spectrum[int(frequency)]) for channel, frequency in enumerate(frequencies)}


ROUTING_FORMS = {
    # layout: forms, each a list of (channels, channel layout or None) per stream
    "mix-me": [[(2, None), (2, None)], [(1, None)] * 4, [(4, "4.0")]],
    "mix-dme": [[(2, None)] * 4, [(8, "7.1")], [(8, "8c")]],
    "dme": [[(2, None)] * 3, [(6, "5.1")]],
    "mix-dialogue": [[(2, None), (2, None)], [(4, "quad")]],
    "mix-only": [[(2, None)], [(1, None), (1, None)]],
    "mix-dialogue-mono": [[(2, None), (1, None)], [(3, "2.1")]],
    "dme-mono": [[(1, None)] * 3, [(3, "3.0")]],
    "mix-dme-mono": [[(2, None), (1, None), (1, None), (1, None)], [(5, "5.0")]],
    "dme-dialogue-mono": [[(1, None), (2, None), (2, None)], [(5, "5.0(side)")]],
    "mix-dme-dialogue-mono": [[(2, None), (1, None), (2, None), (2, None)], [(7, "6.1")]],
}
ROUTING_CASES = [(name, form) for name, forms in ROUTING_FORMS.items() for form in forms]


def _route_and_decode(master: Path, roles: list[str], folder: Path) -> dict[str, np.ndarray]:
    audio = probe(master).audio
    signals = {"mix": "mix"} | ({"me": "me"} if me_source(roles) else {})
    signals |= {"dialogue": "dialogue"} if "dialogue" in roles else {}
    graph = routing_graph(audio, roles, signals)
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(master),
               "-filter_complex", ";".join(graph)]
    for label in signals:
        command += ["-map", f"[{label}]", "-c:a", "pcm_f32le", str(folder / f"{label}.wav")]
    subprocess.run(command, check=True, timeout=60)
    return {label: soundfile.read(folder / f"{label}.wav")[0] for label in signals}


@pytest.mark.ffmpeg
@pytest.mark.parametrize("layout_name, form", ROUTING_CASES,
                         ids=[f"{name}-" + "+".join(f"{c}ch" + (f"[{lay}]" if lay else "") for c, lay in form)
                              for name, form in ROUTING_CASES])
def test_each_channel_reaches_the_outputs_its_role_says(layout_name, form, tmp_path):
    roles = LAYOUTS[layout_name].channels
    frequencies = [300.0 + 110 * channel for channel in range(len(roles))]
    t = np.arange(RATE) / RATE
    tones = [0.1 * np.sin(2 * np.pi * frequency * t) for frequency in frequencies]
    streams, channel = [], 0
    for count, channel_layout in form:
        streams.append(Stream(columns(*tones[channel:channel + count]), channel_layout=channel_layout))
        channel += count
    master = write_master(tmp_path / "tones.mov", streams, seconds=1.0)
    decoded = _route_and_decode(master, roles, tmp_path)
    for signal, samples in decoded.items():
        for side, expected in zip((0, 1), _model(roles, signal)):
            levels = _tone_levels(samples[:, side], frequencies)
            for channel_index, level in levels.items():
                want = abs(expected.get(channel_index, 0.0)) * 0.1
                assert level == pytest.approx(want, abs=0.003), (
                    f"{signal} {'LR'[side]}: channel {channel_index + 1} ({roles[channel_index]}) "
                    f"at {level:.3f}, expected {want:.3f}")


@pytest.mark.ffmpeg
def test_a_mono_stream_before_a_stereo_one_keeps_its_place(tmp_path):
    """ffmpeg's amerge reorders disjoint channel layouts (mono FC + stereo FL FR -> FL FR FC);
    the routing must not let it move the dialogue onto the mix's channels."""
    roles = Layout(channels=["dialogue", "mix_l", "mix_r"]).channels  # a user's own layout
    t = np.arange(RATE) / RATE
    dialogue, left, right = (0.1 * np.sin(2 * np.pi * f * t) for f in (440, 1000, 2000))
    master = write_master(tmp_path / "mono-first.mov", [Stream(dialogue), Stream(columns(left, right))], seconds=1.0)
    mix = _route_and_decode(master, roles, tmp_path)["mix"]
    assert _tone_levels(mix[:, 0], [440, 1000, 2000]) == pytest.approx({0: 0, 1: 0.1, 2: 0}, abs=0.003)
    assert _tone_levels(mix[:, 1], [440, 1000, 2000]) == pytest.approx({0: 0, 1: 0, 2: 0.1}, abs=0.003)


# ---------------------------------------------------------------------------------------------
# Whole renders: the international version is music and effects, never the narration

def _mono_stems(stems: Stems) -> Stems:
    return Stems(stems.dialogue, stems.music[:, 0], stems.effects[:, 0])


def _centred(mono: np.ndarray) -> np.ndarray:
    return np.stack([mono * CENTRE_GAIN] * 2, axis=1)


def _stereo(signal: np.ndarray) -> np.ndarray:
    return signal if signal.ndim == 2 else _centred(signal)


def arrangement(layout: str, form: str, stems: Stems) -> tuple[list[Stream], str | None]:
    """The streams of a master in one layout and form, and the audio_layout its metadata names
    (None: detected from titles or channel count)."""
    d, m, e = stems.dialogue, stems.music, stems.effects
    dia = _centred(d) if layout in ("mix-dme", "dme", "mix-dialogue") else d
    mix = _centred(d) + _stereo(m) + _stereo(e)
    me = _stereo(m) + _stereo(e)
    forms = {
        ("mix-me", "streams"): ([Stream(mix, "Stereo Mix"), Stream(me, "M&E")], None),
        ("mix-me", "multichannel"): ([Stream(columns(mix, me), channel_layout="4.0")], "mix-me"),
        ("mix-dme", "streams"): ([Stream(mix, "Mix"), Stream(dia, "DX"), Stream(m, "MX"), Stream(e, "FX")], None),
        ("mix-dme", "multichannel"): ([Stream(columns(mix, dia, m, e), channel_layout="7.1")], None),
        ("dme", "streams"): ([Stream(dia, "Dialogue"), Stream(m, "Music"), Stream(e, "Effects")], None),
        ("dme", "multichannel"): ([Stream(columns(dia, m, e), channel_layout="5.1")], None),
        ("mix-dialogue", "streams"): ([Stream(mix, "Full mix"), Stream(dia, "Narration")], None),
        ("mix-dialogue", "multichannel"): ([Stream(columns(mix, dia), channel_layout="quad")], "mix-dialogue"),
        ("mix-dialogue-mono", "streams"): ([Stream(mix, "Mix"), Stream(d, "VO")], None),
        ("dme-mono", "streams"): ([Stream(d, "DX"), Stream(m, "MX"), Stream(e, "FX")], None),
        ("dme-dialogue-mono", "streams"): ([Stream(d, "Narration"), Stream(m, "Music"), Stream(e, "Effects")], None),
    }
    return forms[(layout, form)]


MONO_STEM_LAYOUTS = {"dme-mono"}
# The five layouts of docs/design.md section 4 in both forms (mix-only below), and the mono-stem
# layouts in the form they come in; the routing test above covers every layout in every form.
RENDER_CASES = [
    ("mix-me", "streams"), ("mix-me", "multichannel"), ("mix-dme", "streams"), ("mix-dme", "multichannel"),
    ("dme", "streams"), ("dme", "multichannel"), ("mix-dialogue", "streams"), ("mix-dialogue", "multichannel"),
    ("mix-dialogue-mono", "streams"), ("dme-mono", "streams"), ("dme-dialogue-mono", "streams"),
]


@pytest.fixture(scope="module")
def fast(tmp_path_factory, fast_config):
    return load_config(fast_config)


@pytest.mark.ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("layout, form", RENDER_CASES, ids=[f"{layout}-{form}" for layout, form in RENDER_CASES])
def test_the_international_version_carries_music_and_effects_and_not_the_narration(layout, form, tmp_path, fast):
    stems = make_stems(3.0, seed=11)
    if layout in MONO_STEM_LAYOUTS:
        stems = _mono_stems(stems)
    streams, named = arrangement(layout, form, stems)
    package = write_package(tmp_path / f"{layout}-{form}", streams, seconds=3.0, audio_layout=named)
    outputs, failures, analysis = render_sound(package, tmp_path / "out", fast)
    assert not failures, failures
    international = audio_of(outputs["international"], rate=RATE)
    clean = audio_of(outputs["master-clean"], rate=RATE)
    music, effects, dialogue = (mono_of(_stereo(stem)) for stem in (stems.music, stems.effects, stems.dialogue))
    assert correlation(international, music + effects) > 0.95
    assert correlation(international, music) > 0.4 and correlation(international, effects) > 0.4
    assert abs(correlation(international, dialogue)) < 0.05
    # The same measure finds the narration where it belongs, so the check above can fail.
    assert correlation(clean, dialogue) > 0.4
    assert analysis.me_report.passed, analysis.me_report.to_dict()


@pytest.mark.ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("streams_of_mix", [
    lambda mix: [Stream(mix, "Stereo Mix")],
    lambda mix: [Stream(mix[:, 0], "Mix L"), Stream(mix[:, 1], "Mix R")],
], ids=["one stereo stream", "two mono streams"])
def test_a_mix_only_master_renders_everything_but_the_international_version(streams_of_mix, tmp_path, fast):
    stems = make_stems(2.0)
    package = write_package(tmp_path / "mix-only", streams_of_mix(stems.mix), seconds=2.0)
    outputs, failures, analysis = render_sound(package, tmp_path / "out", fast)
    assert set(outputs) == {"master-clean"}
    assert "'mix-only'" in failures["international"] and "no M&E channels" in failures["international"]
    assert analysis.me_report is None


# ---------------------------------------------------------------------------------------------
# The committed layout samples (media_samples/layouts/, made by make_samples.py)

LAYOUT_SAMPLES = sorted(path for path in (ROOT / "media_samples" / "layouts").iterdir() if path.is_dir())


@pytest.mark.ffmpeg
def test_there_is_a_committed_sample_for_every_layout():
    shown = {check_submission(folder, CONFIG).layout.name for folder in LAYOUT_SAMPLES}
    assert shown == set(LAYOUTS)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("folder", LAYOUT_SAMPLES, ids=[folder.name for folder in LAYOUT_SAMPLES])
def test_each_committed_layout_sample_is_detected_as_its_layout(folder):
    expected = folder.name.removesuffix("-one-stream").removesuffix("-two-mono")
    assert check_submission(folder, CONFIG).layout.name == expected

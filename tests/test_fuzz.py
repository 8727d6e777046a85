"""Fuzzing: whatever a package holds ends in a result or in the project's own input error, never in
another exception, a traceback or a hang.

The SRT reader and the metadata loader have their property tests beside their other tests
(tests/test_subtitles.py, tests/test_metadata.py). Here: the audio layout detection, and a
mutation fuzz of the committed sample master through `versioner check` as a user runs it.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.audio.layouts import detect_layout, dialogue_pan, me_pan, mix_pan
from pipeline.config import Layout, load_config
from pipeline.errors import LayoutError
from pipeline.media.probe import AudioInfo
from tests import fuzz_worker
from tests.conftest import SAMPLE, run_versioner

CONFIGURED = load_config().layouts
ROLES = ["mix_l", "mix_r", "me_l", "me_r", "dialogue", "music", "effects", "ad", "mute", "unused",
         "mix_c", "mix_lfe", "mix_ls", "mix_rs", "mix_lo", "mix_ro", "me_c", "me_lfe", "me_ls", "me_rs"]
TITLE_WORDS = ["Full mix", "Mix", "M&E", "ME", "international", "Music and effects", "Dialogue", "VO",
               "narration", "music", "FX", "effects", "AD", "stereo", "main", "Track 1", "", "SoundHandler"]

titles = st.sampled_from(TITLE_WORDS) | st.text(max_size=40)
streams = st.lists(st.builds(AudioInfo, index=st.integers(0, 16), codec=st.sampled_from(["aac", "pcm_s24le"]),
                             channels=st.integers(0, 10), sample_rate=st.sampled_from([0, 44100, 48000]),
                             title=titles, language=st.sampled_from(["", "eng", "und"])),
                   max_size=8)


@st.composite
def user_layout(draw) -> Layout | None:
    """A layout a user might write; None when the config loader would refuse it anyway."""
    try:
        return Layout(description=draw(st.text(max_size=20)),
                      channels=draw(st.lists(st.sampled_from(ROLES), max_size=10)),
                      titles=draw(st.lists(st.sampled_from(TITLE_WORDS), max_size=3)))
    except ValidationError:
        return None


user_layouts = st.dictionaries(st.text(min_size=1, max_size=12), user_layout(), max_size=4)
requested = st.none() | st.sampled_from(sorted(CONFIGURED)) | st.text(max_size=20)


@settings(max_examples=200, deadline=None)
@given(audio=streams, extra=user_layouts, wanted=requested)
def test_layout_detection_ends_in_a_layout_or_a_layout_error(audio, extra, wanted):
    layouts = {**CONFIGURED, **{name: layout for name, layout in extra.items() if layout}}
    try:
        resolved = detect_layout(audio, layouts, wanted, "master.mov")
    except LayoutError as error:
        assert error.problem and error.fix and str(error).startswith("master.mov: ")
        return
    assert len(resolved.roles) == sum(stream.channels for stream in audio)
    assert resolved.name in layouts
    try:  # the routing built from it is text for ffmpeg, or a layout error naming the problem
        for route in (mix_pan, me_pan, dialogue_pan):
            assert route(resolved.roles) is None or route(resolved.roles).startswith("stereo|c0=")
    except LayoutError as error:
        assert "stems must be mono or stereo" in error.problem


# --- mutation fuzz of the sample master through `versioner check` --------------------------------

MUTANTS = 30
SEED = 8
TIMEOUT_S = 60


def _mutants(master: bytes) -> dict[str, bytes]:
    """Byte flips (half of them aimed at the index at the end of the file, where a flip changes
    what the demuxer believes) and truncations at telling places."""
    rng = random.Random(SEED)
    index_at = master.rfind(b"moov") - 4
    made = {}
    for number in range(MUTANTS):
        data = bytearray(master)
        low = index_at if number % 2 else 0
        for _ in range(rng.choice([1, 4, 32, 256])):
            data[rng.randrange(low, len(data))] ^= 1 << rng.randrange(8)
        made[f"flip-{number:02d}"] = bytes(data)
    for cut in (8, 100, 5000, len(master) // 2, index_at, index_at + 200, len(master) - 1):
        made[f"cut-{cut}"] = master[:cut]
    return made


def _run_cli(package: Path) -> subprocess.CompletedProcess | None:
    try:
        return run_versioner("check", str(package), timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None


@pytest.fixture(scope="module")
def mutant_packages(tmp_path_factory) -> dict[str, Path]:
    master = SAMPLE / "news-sample.mov"
    packages = {}
    for name, data in _mutants(master.read_bytes()).items():
        package = tmp_path_factory.mktemp(name)
        shutil.copytree(SAMPLE, package, dirs_exist_ok=True)
        (package / master.name).write_bytes(data)
        packages[name] = package
    return packages


@pytest.mark.slow
def test_mutated_masters_never_hang_or_crash_the_check(mutant_packages):
    """Every mutant through the CLI's entry point, two at a time in worker processes (a crash
    of the interpreter itself would break the pool and fail the test too)."""
    pool = multiprocessing.get_context("spawn").Pool(2)
    try:
        pending = {name: pool.apply_async(fuzz_worker.check, (str(package),))
                   for name, package in mutant_packages.items()}
        results, hung = {}, []
        for name, result in pending.items():
            try:
                results[name] = result.get(timeout=TIMEOUT_S)
            except multiprocessing.TimeoutError:
                hung.append(name)
    finally:
        pool.terminate()
        pool.join()
    assert not hung, f"`versioner check` hung (> {TIMEOUT_S} s) on {hung}"
    crashed = {name: stderr[-1500:] for name, (code, stderr) in results.items()
               if code not in (0, 2) or "Traceback" in stderr}
    assert not crashed, crashed
    for name, (code, stderr) in results.items():
        if code == 2:
            assert "news-sample.mov: " in stderr and "fix: " in stderr, (name, stderr)
    # The fuzz reaches both outcomes: flips in the picture data pass the check, a broken
    # structure and every truncation are refused.
    assert all(results[name][0] == 2 for name in results if name.startswith("cut-"))
    assert any(code == 0 for code, _ in results.values())


@pytest.mark.ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("name", ["flip-00", "flip-01", "cut-100", "cut-8"])
def test_mutants_through_the_command_line(mutant_packages, name):
    """A few of the same mutants as a user meets them: a separate `versioner check` process."""
    result = _run_cli(mutant_packages[name])
    assert result is not None, f"`versioner check` hung on {name}"
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr, result.stderr

"""The M&E checks: an international version with the narration in it, or with no sound at all,
must not go out. Each failing check fails only the international version, with a reason a
producer understands; the clean master still renders and `versioner render` exits 1.

First the judgement on signals made here (numpy, no ffmpeg), then masters with each classic
fault. One goes through `versioner render` end to end (a Prefect run costs tens of seconds on a
busy machine); the others stop where the verdict is reached, in the plan made before any picture
is encoded, which is the same reason the CLI prints (pipeline.sequence.plan).
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.analysis import analyse_audio
from pipeline.audio.me_checks import DIALOGUE, ME, MIX, RunningStats, judge_me, null_test_residuals
from pipeline.config import load_config
from pipeline.intake.submission import check_submission
from pipeline.sequence import plan
from tests.audio_masters import CENTRE, Stream, make_stems, write_package
from tests.conftest import run_versioner

LIMITS = load_config().audio_checks
RATE = 16000


def stats_of(mix: np.ndarray, me: np.ndarray, dialogue: np.ndarray | None = None, chunk: int | None = None) -> RunningStats:
    """The running sums the checks keep, fed chunk by chunk as ffmpeg would stream them."""
    signals = [mix, me] + ([dialogue] if dialogue is not None else [])
    data = np.concatenate([np.asarray(s).reshape(len(s), 2) for s in signals], axis=1).astype(np.float32)
    stats = RunningStats()
    step = chunk or len(data)
    for start in range(0, len(data), step):
        stats.add(data[start:start + step])
    return stats


def stems(seconds: float = 10.0):
    rng = np.random.default_rng(7)
    n = int(seconds * RATE)
    dialogue = 0.1 * rng.standard_normal(n) * (np.sin(np.arange(n) / RATE * 2 * np.pi * 3) > 0)
    dialogue = np.stack([dialogue * CENTRE] * 2, axis=1)
    me = 0.05 * rng.standard_normal((n, 2))
    return dialogue, me, dialogue + me


def failed(report) -> dict[str, str]:
    return {check.name: check.message for check in report.failures()}


# ---------------------------------------------------------------------------------------------
# The judgement

def test_streaming_in_chunks_gives_the_same_figures_as_the_whole_signal():
    dialogue, me, mix = stems()
    whole, chunked = stats_of(mix, me, dialogue), stats_of(mix, me, dialogue, chunk=1234)
    for a, b in ((MIX, ME), (ME, DIALOGUE), (MIX, DIALOGUE)):
        assert chunked.correlation(a, b) == pytest.approx(whole.correlation(a, b), abs=1e-9)
    assert chunked.level_dbfs(ME) == pytest.approx(whole.level_dbfs(ME), abs=1e-9)


def test_a_proper_m_and_e_passes_every_check():
    dialogue, me, mix = stems()
    report = judge_me(stats_of(mix, me, dialogue), "stems", LIMITS, has_dialogue=True)
    assert report.passed, report.to_dict()
    assert [check.name for check in report.checks] == ["me_not_silent", "me_differs_from_mix", "me_without_dialogue"]


def test_a_silent_m_and_e_fails_and_says_so():
    dialogue, me, mix = stems()
    report = judge_me(stats_of(mix, me * 0, dialogue), "channels", LIMITS, has_dialogue=True)
    assert list(failed(report)) == ["me_not_silent"]  # the other checks mean nothing on silence
    assert "the M&E tracks are silent (digital silence)" in failed(report)["me_not_silent"]


def test_an_m_and_e_in_opposite_phase_is_not_silent():
    """Summed to mono it would vanish; left and right are compared channel by channel."""
    _dialogue, me, mix = stems()
    opposite = np.stack([me[:, 0], -me[:, 0]], axis=1)
    report = judge_me(stats_of(mix, opposite), "channels", LIMITS, has_dialogue=False)
    assert "me_not_silent" not in failed(report)


@pytest.mark.parametrize("level_db", [0.0, -6.0])
def test_an_m_and_e_that_is_the_full_mix_fails_at_any_level(level_db):
    _dialogue, _me, mix = stems()
    report = judge_me(stats_of(mix, mix * 10 ** (level_db / 20)), "channels", LIMITS, has_dialogue=False)
    assert list(failed(report)) == ["me_differs_from_mix"]
    assert "the same as the full mix" in failed(report)["me_differs_from_mix"]
    assert "the narration would stay in the international version" in failed(report)["me_differs_from_mix"]


def test_an_m_and_e_carrying_the_dialogue_fails():
    dialogue, me, mix = stems()
    leaky = me + 0.5 * dialogue
    report = judge_me(stats_of(mix, leaky, dialogue), "stems", LIMITS, has_dialogue=True)
    assert list(failed(report)) == ["me_without_dialogue"]
    assert "the M&E carries the narration" in failed(report)["me_without_dialogue"]


def test_the_null_test_passes_when_the_dialogue_stem_is_the_one_in_the_mix():
    dialogue, _me, mix = stems()
    derived = mix - dialogue
    stats = stats_of(mix, derived.astype(np.float32), dialogue)
    versus_stem, versus_me = null_test_residuals(stats)
    assert max(versus_stem, versus_me) < LIMITS.null_test_db
    report = judge_me(stats, "derived", LIMITS, has_dialogue=True)
    assert report.passed, report.to_dict()
    assert "null_test" in [check.name for check in report.checks]


@pytest.mark.parametrize("fault, expected_db", [
    ("stem 1 dB hotter than in the mix", -19.3),
    ("stem 3 samples late", None),
    ("stem of another take", -0.0),
])
def test_the_null_test_fails_when_the_dialogue_stem_does_not_cancel_the_narration(fault, expected_db):
    dialogue, me, mix = stems()
    if fault.startswith("stem 1 dB"):
        stem = dialogue * 10 ** (1 / 20)
    elif fault.startswith("stem 3 samples"):
        stem = np.roll(dialogue, 3, axis=0)
    else:
        stem = np.roll(dialogue, RATE, axis=0)  # the same voice a second later: another take
    stats = stats_of(mix, mix - stem, stem)
    versus_stem, _versus_me = null_test_residuals(stats)
    if expected_db is not None:
        assert versus_stem == pytest.approx(expected_db, abs=0.5)
    report = judge_me(stats, "derived", LIMITS, has_dialogue=True)
    assert "null_test" in failed(report), report.to_dict()
    assert "mix minus dialogue does not cancel the narration" in failed(report)["null_test"]
    assert "dB re dialogue stem" in failed(report)["null_test"]


def test_a_silent_dialogue_stem_cannot_make_an_m_and_e():
    _dialogue, _me, mix = stems()
    silence = np.zeros_like(mix)
    report = judge_me(stats_of(mix, mix, silence), "derived", LIMITS, has_dialogue=True)
    assert list(failed(report)) == ["dialogue_not_silent"]
    assert "the dialogue stem is silent" in failed(report)["dialogue_not_silent"]


# ---------------------------------------------------------------------------------------------
# Masters with the classic faults

@pytest.fixture(scope="module")
def config(fast_config):
    return load_config(fast_config)


def international_reason(package, config) -> str | None:
    """What the plan says about the international version of a package (None: it will be made)."""
    submission = check_submission(package, config)
    specs, failures = plan(submission, analyse_audio(submission, config), config)
    assert "master-clean" in [spec.key for spec in specs], "the clean master is always made"
    return failures.get("international")


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_versioner_render_delivers_the_rest_and_exits_1_when_the_m_and_e_is_silent(tmp_path, fast_config):
    s = make_stems(2.0)
    package = write_package(tmp_path / "silent-me", [Stream(s.mix, "Stereo Mix"), Stream(s.me * 0, "M&E")],
                            seconds=2.0)
    out = tmp_path / "out"
    result = run_versioner("render", str(package), "--out", str(out), "--config", str(fast_config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert (out / "silent-me" / "silent-me_master-clean.mp4").exists()
    assert not (out / "silent-me" / "silent-me_international.mp4").exists()
    failure = next(line for line in result.stdout.splitlines() if "FAILED" in line)
    assert "international" in failure and "the M&E tracks are silent" in failure, result.stdout


CLASSIC_FAULTS = {
    "M&E is a copy of the mix": (
        lambda s: [Stream(s.mix, "Stereo Mix"), Stream(s.mix, "M&E")],
        "the M&E tracks are the same as the full mix"),
    "narration in the music stem": (
        lambda s: [Stream(s.mix, "Mix"), Stream(s.dialogue_stereo, "DX"), Stream(s.music + s.dialogue_stereo, "MX"),
                   Stream(s.effects, "FX")],
        "the M&E carries the narration"),
    "dialogue stem 2 dB off the mix": (
        lambda s: [Stream(s.mix, "Full mix"), Stream(s.dialogue_stereo * 10 ** (2 / 20), "Dialogue")],
        "mix minus dialogue does not cancel the narration"),
    "stereo mix only": (
        lambda s: [Stream(s.mix, "Stereo Mix")],
        "it has no M&E channels, no music and effects stems and no dialogue stem"),
}


@pytest.mark.ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("fault", list(CLASSIC_FAULTS))
def test_each_classic_fault_fails_the_international_version_with_its_reason(fault, tmp_path, config):
    streams, expected = CLASSIC_FAULTS[fault]
    package = write_package(tmp_path / "fault", streams(make_stems(2.0)), seconds=2.0)
    reason = international_reason(package, config)
    assert reason is not None and expected in reason, reason


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_good_derived_m_and_e_is_accepted(tmp_path, config):
    # 3 s: in shorter programmes the chance correlation of independent music and speech (about
    # -45 dB at 2 s) comes near the -40 dB limit.
    s = make_stems(3.0)
    package = write_package(tmp_path / "derived", [Stream(s.mix, "Full mix"), Stream(s.dialogue, "VO")], seconds=3.0)
    assert international_reason(package, config) is None


@pytest.mark.ffmpeg
def test_versioner_check_refuses_an_ambiguous_master_with_the_candidates(tmp_path):
    # Untitled, and the sound does not decide either: channels 3-4 are another programme's M&E,
    # neither inside the mix nor its speech (a real mix + M&E is read from the signals).
    s, other = make_stems(1.0), make_stems(1.0, seed=9)
    package = write_package(tmp_path / "ambiguous", [Stream(np.concatenate([s.mix, other.me], axis=1))], seconds=1.0)
    result = run_versioner("check", str(package))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "master.mov: audio layout is ambiguous: 4 channels (stream 1: 4 ch untitled)" in result.stderr
    assert "mix-dialogue (" in result.stderr and "mix-me (" in result.stderr
    assert "fix: add `audio_layout: mix-dialogue` (or one of mix-dialogue, mix-me) to metadata.yaml" in result.stderr

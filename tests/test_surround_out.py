"""Surround out: a profile's allocation may carry the master's 5.1 mix and 5.1 M&E ("mix51",
"me51") beside the stereo ones: six mono tracks each in a mono allocation (EBU R 123's 16
tracks), one 6-channel track in a stereo one (a mezzanine). Each delivered 5.1 is read back
channel by channel against the master's, and a swapped pair fails QC."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.deliverables.profiles import track_sounds
from pipeline.delivery.measure import MasterFacts
from pipeline.delivery.report import sound_summary
from pipeline.delivery.surround import order_problems, surround_problems
from pipeline.intake.submission import check_submission
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.sequence import render_package
from tests.audio_masters import Stream, make_stems, write_package
from tests.test_broadcast_sound import surround

CONFIG = load_config()
SECONDS = 2.0
R123 = ["mix", "me", "mix51", "me51"]


def _with_allocation(name: str, allocation: list[str], without_me: str = "fail"):
    profile = CONFIG.profiles[name]
    return profile.model_copy(update={"audio": profile.audio.model_copy(
        update={"allocation": allocation, "without_me": without_me})})


def test_a_16_track_allocation_takes_the_master_s_5_1_and_a_master_without_it_is_refused_or_dropped():
    broadcast = _with_allocation("broadcast", R123)
    sounds = track_sounds(broadcast, "en", True, roles=CONFIG.layouts["mix51-me51"].channels)
    assert [(sound.signal, sound.channels) for sound in sounds] == [  # type: ignore[union-attr]
        ("mix", 2), ("me", 2), ("mix51", 6), ("me51", 6)]
    assert track_sounds(broadcast, "en", True, roles=CONFIG.layouts["mix51-me"].channels) == (
        "the track allocation puts the 5.1 M&E on tracks 11-16 and the master has none; deliver a master "
        "with a 5.1 M&E, or set audio.without_me = \"drop\"")
    dropped = track_sounds(_with_allocation("broadcast", R123, "drop"), "en", True,
                           roles=CONFIG.layouts["mix51-me"].channels)
    assert [sound.signal for sound in dropped] == ["mix", "me", "mix51"]  # type: ignore[union-attr]


def test_an_aac_profile_cannot_carry_a_5_1_element(tmp_path):
    path = tmp_path / "web51.toml"
    path.write_text('[profiles.web.audio]\nallocation = ["mix51"]\n')
    with pytest.raises(Exception, match="a 5.1 sound goes out as PCM"):
        load_config(path)


def test_a_swapped_pair_is_named_with_the_channel_it_carries():
    rng = np.random.default_rng(5)
    master = rng.standard_normal((8000, 6))
    assert order_problems(master.copy(), master, "Full mix 5.1") == []
    swapped = master[:, [0, 1, 3, 2, 4, 5]]  # C and LFE crossed
    problems = order_problems(swapped, master, "Full mix 5.1")
    assert [problem.split(" (")[0] for problem in problems] == [
        "the Full mix 5.1's C channel carries the master's LFE", "the Full mix 5.1's LFE channel carries the master's C"]
    assert "(correlation 1.00, " in problems[0]


def _channels(path: Path) -> np.ndarray:
    """Every audio channel of the file, across its streams, as rows."""
    rows = []
    with av.open(str(path)) as container:
        for stream in container.streams.audio:
            resampler = av.AudioResampler(format="fltp")
            frames = [out.to_ndarray().astype(np.float64) for frame in container.decode(stream)
                      for out in resampler.resample(frame)]
            rows.append(np.concatenate(frames, axis=1))
            container.seek(0)
    length = min(row.shape[1] for row in rows)
    return np.concatenate([row[:, :length] for row in rows])


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    length = min(len(a), len(b))
    a, b = a[:length] - a[:length].mean(), b[:length] - b[:length].mean()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))


def _render(tmp_path: Path, streams: list[Stream], profile: str, allocation: list[str]):
    package = write_package(tmp_path / "surround", streams, seconds=SECONDS)
    config_file = tmp_path / "surround.toml"
    config_file.write_text(f'[profiles.{profile}.audio]\nallocation = {allocation!r}\n'.replace("'", '"')
                           + f'[outputs]\nprofiles = ["{profile}"]\n[shots]\nenabled = false\n')
    config = load_config(config_file)
    report = render_package(package, tmp_path / "out", config)
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    by_key = {item.key: item for item in report.deliverables}
    return package, config, by_key, report


@pytest.mark.ffmpeg
def test_a_mezzanine_carries_the_5_1_mix_as_one_6_channel_track_and_qc_catches_a_swap(tmp_path):
    stems = make_stems(SECONDS, seed=41)
    mix51, _ = surround(stems)
    package, config, by_key, report = _render(
        tmp_path, [Stream(mix51, "5.1 Mix"), Stream(stems.me, "Stereo M&E")], "mezzanine", ["mix51", "me"])
    result = by_key["master-clean_mezzanine"]
    path = report.folder / result.file
    with av.open(str(path)) as container:
        assert [stream.codec_context.channels for stream in container.streams.audio] == [6, 2]
    delivered = _channels(path)
    for channel in range(6):  # L R C LFE Ls Rs, each the master's own
        assert _correlation(delivered[channel], mix51[:, channel]) > 0.95, channel
    for side in (0, 1):
        assert _correlation(delivered[6 + side], stems.me[:, side]) > 0.95
    assert [stream["roles"] for stream in result.technical.audio] == [
        ["mix_l", "mix_r", "mix_c", "mix_lfe", "mix_ls", "mix_rs"], ["me_l", "me_r"]]
    assert np.isfinite(result.loudness["tracks"]["mix51"]["integrated_lufs"])
    swapped = tmp_path / "swapped.mov"  # the same file, its L and R crossed
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                    "-map", "0:v", "-map", "0:a:0", "-map", "0:a:1", "-c:v", "copy", "-c:a", "pcm_s24le",
                    "-filter:a:0", "pan=5.1|c0=c1|c1=c0|c2=c2|c3=c3|c4=c4|c5=c5", str(swapped)],
                   check=True, capture_output=True, timeout=120)
    submission = check_submission(package, config)
    profile = config.profiles["mezzanine"]
    facts = MasterFacts.of(submission, profile)
    roles = list(submission.layout.roles)
    assert surround_problems(facts, path, profile, result.deliverable, submission.media.audio, roles) == []
    problems = surround_problems(facts, swapped, profile, result.deliverable, submission.media.audio, roles)
    assert [problem.split(" (")[0] for problem in problems] == [
        "the Full mix 5.1's L channel carries the master's R", "the Full mix 5.1's R channel carries the master's L"]


@pytest.mark.ffmpeg
def test_a_16_track_broadcast_file_carries_both_stereo_and_both_5_1_sounds_in_order(tmp_path):
    stems = make_stems(SECONDS, seed=42)
    mix51, me51 = surround(stems)
    _, _, by_key, report = _render(tmp_path, [Stream(mix51, "5.1 Mix"), Stream(me51, "5.1 M&E")], "broadcast", R123)
    result = by_key["master-clean_broadcast"]
    delivered = _channels(report.folder / result.file)
    assert delivered.shape[0] == 16
    for channel in range(6):
        assert _correlation(delivered[4 + channel], mix51[:, channel]) > 0.95, channel
        assert _correlation(delivered[10 + channel], me51[:, channel]) > 0.95, channel
    roles = [stream["roles"] for stream in result.technical.audio]
    assert roles[4:10] == [[f"mix_{name}"] for name in ("l", "r", "c", "lfe", "ls", "rs")]
    assert roles[10:] == [[f"me_{name}"] for name in ("l", "r", "c", "lfe", "ls", "rs")]


def test_the_qc_report_names_each_5_1_sound_on_its_one_line_summary():
    def track(roles, layout="mono"):
        return {"codec": "pcm_s24le", "channels": len(roles), "channel_layout": layout, "sample_rate": 48000,
                "roles": roles}

    r123 = [track([role]) for role in ("mix_l", "mix_r", "me_l", "me_r")] + [
        track([f"{sound}_{name}"]) for sound in ("mix", "me") for name in ("l", "r", "c", "lfe", "ls", "rs")]
    assert sound_summary(r123) == "16 x PCM 24-bit mono: 1-2 full mix, 3-4 M&E, 5-10 5.1 full mix, 11-16 5.1 M&E"
    mezzanine = [track(["mix_l", "mix_r", "mix_c", "mix_lfe", "mix_ls", "mix_rs"], "5.1"),
                 track(["me_l", "me_r"], "stereo")]
    assert sound_summary(mezzanine) == "2 tracks (PCM 24-bit 5.1, PCM 24-bit stereo): 1 5.1 full mix, 2 M&E"

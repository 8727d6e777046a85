"""Faults during the night: a killed render, a killed night run, a full disk, damaged masters.

Nothing half-made ever reaches the outbox, a transient fault leaves the package for the next run
(which completes it), a bad master goes to quarantine with its reason, and none of it disturbs
the other packages. Everything here is real: ffmpeg processes killed with SIGKILL, a small tmpfs
that really fills up (mounted in a user namespace of its own, so no privilege is needed), damaged files on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.deliverables import plan_deliverables
from pipeline.errors import DiskFullError, MediaError
from pipeline.intake.submission import check_submission
from pipeline.media import ffmpeg
from pipeline.ops import lifecycle
from pipeline.render.run import estimate_output_bytes
from pipeline.sequence import render_package
from tests.conftest import ROOT, VERSIONER
from tests.fault_media import RENDER_CONFIG, files_under, make_master, make_package, srt_text
from tests.processes import descendants, kill_leftovers, our_ffmpeg_processes, render_processes, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A data root of its own (inbox, work, outbox, quarantine) for this test."""
    root = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(root))
    return root


@pytest.fixture(scope="module")
def render_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "render.toml"
    path.write_text(RENDER_CONFIG)
    return path


def _nightly(config_path) -> dict[str, str]:
    """One night run, in this process; {asset_id: outcome}."""
    from flows.nightly import nightly_render

    summary = nightly_render(config_file=str(config_path), where="here")
    return {row["asset_id"]: row["outcome"] for row in summary["packages"]}


def _submit(package, config_path) -> str:
    return lifecycle.submit_package(package, load_config(config_path))


def _state(folder) -> dict:
    return json.loads((folder / lifecycle.STATE_FILE).read_text(encoding="utf-8"))


def _delivered_whole(folder) -> None:
    """Every file listed in SHA256SUMS is there with its checksum, and nothing else is."""
    sums = dict(reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {p.name for p in folder.iterdir()} - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def _kill_the_render_when_it_runs(ancestor: int, killed: list[int]) -> threading.Thread:
    def kill() -> None:
        found = wait_until(lambda: render_processes(ancestor), timeout_s=300)
        if found:
            os.kill(found[0].pid, signal.SIGKILL)
            killed.append(found[0].pid)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def _no_ffmpeg_left() -> None:
    assert ffmpeg.running_processes() == []
    assert wait_until(lambda: not our_ffmpeg_processes(), timeout_s=10), our_ffmpeg_processes()


# --- a killed render ------------------------------------------------------------------------------

@pytest.mark.ffmpeg
@pytest.mark.prefect_server
def test_a_killed_render_leaves_the_package_pending_and_the_next_run_completes_it(tmp_path, home, render_config):
    package = make_package(tmp_path / "package", asset_id="killed-render", seconds=6, size=(640, 360),
                           srts={"fr": srt_text((0.5, 5.0, "Bonjour"))})
    _submit(package, render_config)
    killed: list[int] = []
    killer = _kill_the_render_when_it_runs(os.getpid(), killed)
    first = _nightly(render_config)
    killer.join(timeout=10)
    assert killed, "the render finished before it could be killed"
    assert first == {"killed-render": "Requeued"}
    assert files_under(home / "outbox") == [], "a partial delivery reached the outbox"
    state = _state(home / "inbox" / "killed-render")
    assert state["attempts"] == 1 and "render was killed by signal 9" in state["failures"][-1]["message"]
    _no_ffmpeg_left()

    assert _nightly(render_config) == {"killed-render": "Delivered"}
    delivered = home / "outbox" / "killed-render"
    assert {p.name for p in delivered.glob("*.mp4")} == {
        "killed-render_master-clean.mp4", "killed-render_international.mp4", "killed-render_subtitled-fr.mp4"}
    _delivered_whole(delivered)
    assert not any((home / "inbox").iterdir()) and not any((home / "work").iterdir())


@pytest.mark.ffmpeg
def test_a_night_run_killed_mid_render_leaves_nothing_in_the_outbox_and_the_next_run_completes_it(
        tmp_path, home, render_config):
    package = make_package(tmp_path / "package", asset_id="killed-night", seconds=6, size=(640, 360))
    master_digest = hashlib.sha256((package / "show.mov").read_bytes()).hexdigest()
    _submit(package, render_config)
    night = subprocess.Popen(VERSIONER + ["nightly", "--config", str(render_config)], cwd=ROOT,
                             env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        render = wait_until(lambda: render_processes(night.pid), timeout_s=300)
        assert render, "the night run never started its render"
        helpers = [info for info in descendants(night.pid) if info.pid != render[0].pid]
        night.kill()  # SIGKILL: the run cannot clean anything up itself
        night.wait()
        assert wait_until(lambda: not our_ffmpeg_processes(), timeout_s=10), "ffmpeg outlived the night run"
    finally:
        night.kill()
        night.wait()
        kill_leftovers(descendants(night.pid))
    kill_leftovers([info for info in helpers if not info.is_ffmpeg])  # e.g. Prefect's temporary server
    assert files_under(home / "outbox") == [], "a partial delivery reached the outbox"
    claims = list((home / "work").iterdir())
    assert [claim.name.split("@")[0] for claim in claims] == ["killed-night"]
    assert hashlib.sha256((claims[0] / "show.mov").read_bytes()).hexdigest() == master_digest

    assert _nightly(render_config) == {"killed-night": "Delivered"}
    _delivered_whole(home / "outbox" / "killed-night")
    assert not any((home / "work").iterdir())


# --- a full disk ----------------------------------------------------------------------------------

SMALL_DISK_MOUNT = 'mount -t tmpfs -o size=24m tmpfs "$1" && echo mounted && exec sleep 3600'


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MB tmpfs: a disk that really fills up, for an ordinary user too. It is mounted in a
    user and mount namespace of its own (`unshare --user --map-root-user --mount`, no privilege
    needed), by a process that then sleeps there; this process and its ffmpeg reach the tmpfs
    through that process's root, /proc/PID/root. Where user namespaces are not allowed, root
    mounts it here directly; where neither can be done the tests are skipped, saying why."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    holder = subprocess.Popen(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", SMALL_DISK_MOUNT,
                               "sh", str(mount_point)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    if holder.stdout is not None and holder.stdout.readline().strip() == "mounted":  # or EOF: it failed
        try:
            yield Path(f"/proc/{holder.pid}/root") / mount_point.relative_to("/")  # unshare execs: same pid
        finally:
            holder.kill()  # the namespace, and the tmpfs with it, ends with its last process
            holder.wait()
        return
    holder.wait()
    in_namespace = holder.stderr.read().strip() if holder.stderr else ""
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here: not in a user namespace of its own "
                    f"({in_namespace or 'unshare failed'}; user namespaces are disabled or forbidden here), "
                    f"nor directly ({result.stderr.strip() or 'mount failed'}; that needs root). The full-disk "
                    "paths are covered by the free-space check test instead")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@pytest.mark.ffmpeg
def test_a_full_disk_fails_that_package_with_its_free_space_and_the_next_package_still_runs(
        tmp_path, small_disk, monkeypatch):
    monkeypatch.setenv("VERSIONER_HOME", str(small_disk))
    config_path = tmp_path / "render.toml"
    config_path.write_text(RENDER_CONFIG)
    big = make_package(tmp_path / "big", asset_id="big-one", seconds=6, size=(640, 360))
    small = make_package(tmp_path / "small", asset_id="small-one")
    _submit(big, config_path)
    _submit(small, config_path)
    # The margin kept free is set so that the small render fits and the big one does not.
    config = load_config(config_path)
    needs = {name: estimate_output_bytes(s, plan_deliverables(s, config)[0], config)
             for name, s in (("big", check_submission(big, config)), ("small", check_submission(small, config)))}
    free = shutil.disk_usage(small_disk).free
    margin = free - (needs["big"] + needs["small"]) // 2
    config_path.write_text(RENDER_CONFIG + f"\n[limits]\nmin_free_bytes = {margin}\n")

    assert _nightly(config_path) == {"big-one": "Requeued", "small-one": "Delivered"}
    failure = _state(small_disk / "inbox" / "big-one")["failures"][-1]["message"]
    figure = re.fullmatch(r"disk full at .*: ([\d.]+) MB free, about ([\d.]+) MB needed", failure)
    assert figure, failure
    assert float(figure.group(1)) == pytest.approx(free / 1e6, abs=1.0)
    assert float(figure.group(2)) == pytest.approx((needs["big"] + margin) / 1e6, abs=0.1)
    _delivered_whole(small_disk / "outbox" / "small-one")
    assert not (small_disk / "outbox" / "big-one").exists()


def _noise_master(path, seconds: float) -> None:
    """A picture of pure noise: it compresses so badly that its render overruns any estimate."""
    make_master(path, seconds=seconds)
    noisy = path.with_name("noise.mov")
    subprocess.run([ffmpeg.ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-i", str(path), "-vf", "noise=alls=100:allf=t", "-map", "0", "-c:v", "libx264",
                    "-preset", "ultrafast", "-qp", "0", "-c:a", "copy", str(noisy)], check=True, timeout=120)
    os.replace(noisy, path)


@pytest.mark.ffmpeg
def test_a_disk_that_fills_up_during_the_render_is_named_and_leaves_nothing(tmp_path, small_disk):
    package = tmp_path / "package"
    package.mkdir()
    _noise_master(package / "show.mov", seconds=4)
    (package / "metadata.yaml").write_text("title: Noise\nasset_id: noise\n", encoding="utf-8")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - 3_000_000))  # leave 3 MB
    config_path = tmp_path / "render.toml"
    config_path.write_text(RENDER_CONFIG + "\n[limits]\nmin_free_bytes = 0\n")
    with pytest.raises(DiskFullError) as caught:
        render_package(package, small_disk / "out", load_config(config_path))
    assert re.match(r"disk full at .*: [\d.]+ MB free", str(caught.value)), str(caught.value)
    assert caught.value.free_bytes < 1_000_000
    assert files_under(small_disk / "out") == [], "a partial render was left on the disk"
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_the_free_space_check_refuses_a_render_that_would_not_fit(tmp_path, render_config):
    """On the real disk, with a margin no disk has: refused before ffmpeg starts."""
    package = make_package(tmp_path / "package", asset_id="too-big")
    config_path = tmp_path / "huge-margin.toml"
    config_path.write_text(RENDER_CONFIG + "\n[limits]\nmin_free_bytes = 1000000000000000\n")
    with pytest.raises(DiskFullError) as caught:
        render_package(package, tmp_path / "out", load_config(config_path))
    free = shutil.disk_usage(tmp_path).free
    assert str(caught.value).startswith(f"disk full at {tmp_path / 'out'}")
    assert f"{free / 1e6:.0f}" in str(caught.value) or caught.value.free_bytes == pytest.approx(free, rel=0.01)
    assert "about 1000000000." in str(caught.value) and "MB needed" in str(caught.value)
    assert files_under(tmp_path / "out") == []


# --- damaged masters ------------------------------------------------------------------------------

def _hand_drop(home, asset_id: str, master_bytes: bytes) -> None:
    """A package put into the inbox by hand (or damaged on the storage after it was submitted)."""
    folder = home / "inbox" / asset_id
    folder.mkdir(parents=True)
    (folder / "show.mov").write_bytes(master_bytes)
    (folder / "metadata.yaml").write_text(f"title: Damaged\nasset_id: {asset_id}\n", encoding="utf-8")


@pytest.mark.ffmpeg
def test_damaged_masters_are_quarantined_with_their_reason_and_disturb_nothing(tmp_path, home, render_config):
    good = make_package(tmp_path / "good", asset_id="good-one")
    master = (good / "show.mov").read_bytes()
    garbled = bytearray(master)
    rng = random.Random(8)
    for offset in range(len(master) * 3 // 10, len(master) * 6 // 10):
        garbled[offset] = rng.randrange(256)
    garbage = make_package(tmp_path / "garbage", asset_id="garbage-inside", master=good / "show.mov")
    (garbage / "show.mov").write_bytes(bytes(garbled))
    _submit(good, render_config)
    _submit(garbage, render_config)  # its structure is intact: the check cannot see the damage
    lifecycle.DataRoot.of(load_config(render_config))
    no_video, no_audio = tmp_path / "no-video.mov", tmp_path / "no-audio.mov"
    make_master(no_video, video=False)
    make_master(no_audio, audio=False)
    with pytest.raises(MediaError, match="has no video stream"):
        _submit(make_package(tmp_path / "refused", asset_id="refused", master=no_video), render_config)
    damaged = {"truncated": master[:len(master) // 2], "no-video": no_video.read_bytes(),
               "no-audio": no_audio.read_bytes(), "zero-bytes": b""}
    for asset_id, content in damaged.items():
        _hand_drop(home, asset_id, content)

    outcomes = _nightly(render_config)
    assert outcomes == {"good-one": "Delivered", "garbage-inside": "Quarantined", "truncated": "Quarantined",
                        "no-video": "Quarantined", "no-audio": "Quarantined", "zero-bytes": "Quarantined"}
    expected = {"garbage-inside": "is damaged: ffmpeg cannot decode it",
                "truncated": f"is truncated: it ends at byte {len(master) // 2}",
                "no-video": "has no video stream", "no-audio": "has no audio stream",
                "zero-bytes": "is empty (0 bytes)"}
    for asset_id, phrase in expected.items():
        reason = json.loads((home / "quarantine" / asset_id / "reason.json").read_text(encoding="utf-8"))
        assert reason["file"] == "show.mov" and reason["problem"].startswith(phrase), reason
        assert reason["fix"], reason
    for asset_id, content in damaged.items():  # the master is kept as it came, for a person to see
        assert (home / "quarantine" / asset_id / "show.mov").read_bytes() == content
    assert [p.name for p in (home / "outbox").iterdir()] == ["good-one"]
    _delivered_whole(home / "outbox" / "good-one")
    assert not any((home / "inbox").iterdir()) and not any((home / "work").iterdir())
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_a_damaged_master_is_refused_by_the_render_command_too(tmp_path, render_config):
    """Without the lifecycle too: the render stops at the first decoding error and names it as
    bad input (never a retry), and leaves nothing."""
    package = make_package(tmp_path / "package", asset_id="garbled")
    data = bytearray((package / "show.mov").read_bytes())
    rng = random.Random(3)
    for offset in range(len(data) * 3 // 10, len(data) * 6 // 10):
        data[offset] = rng.randrange(256)
    (package / "show.mov").write_bytes(bytes(data))
    with pytest.raises(MediaError) as caught:
        render_package(package, tmp_path / "out", load_config(render_config))
    assert str(caught.value).startswith(f"{package / 'show.mov'}: is damaged: ffmpeg cannot decode it (")
    assert "fix: export the master again" in str(caught.value)
    assert files_under(tmp_path / "out") == []

"""Under load: a render on a machine whose every core is busy is slow, and finishes; a render whose
ffmpeg is frozen is stuck, and is ended within `limits.stall_s`, saying so, leaving no process.

The load is real: one CPU-bound Python process per core, started by the test and killed by it,
and checked to have used the CPU meanwhile. The stall is real too: the render's ffmpeg receives
SIGSTOP (or stops itself, behind the CLI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import FFmpegStalled
from pipeline.media import ffmpeg
from pipeline.processes import cpu_ticks
from pipeline.sequence import render_package
from tests.conftest import FAST_CONFIG, run_versioner
from tests.fault_media import RENDER_CONFIG, make_package, srt_text
from tests.inbox_packages import make_master, visible_entries
from tests.inbox_packages import make_package as make_inbox_package
from tests.processes import all_processes, our_ffmpeg_processes, wait_until

STALL_S = 3
LOAD_CONFIG = f"\n[limits]\nstall_s = {STALL_S}\n"
"""A short stall: a busy machine's renders must go on progressing (writing, or using what CPU they
are given) well within it."""
PROFILES = "web,broadcast,mezzanine"


def _cpu_seconds(pid: int) -> float:
    return (cpu_ticks(pid) or 0) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def busy_cores():
    """One CPU-bound process per core for the length of the test; then killed, and checked to
    have competed for the cores all along (each got at least a tenth of one: the rest went to
    the render and to whatever else the machine runs)."""
    cores = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    started = time.monotonic()
    try:
        yield spinners
        elapsed = time.monotonic() - started
        used = [_cpu_seconds(spinner.pid) for spinner in spinners]
        assert all(seconds > elapsed / 10 for seconds in used), f"the load was not there: {used} in {elapsed:.0f} s"
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _config(folder: Path, text: str) -> Path:
    path = folder / "load.toml"
    path.write_text(text)
    return path


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_three_profile_render_on_a_machine_with_every_core_busy_completes(tmp_path, busy_cores):
    package = make_package(tmp_path / "package", seconds=1, size=(640, 360), srts={"fr": srt_text((0.1, 0.9, "Bonjour"))})
    out = tmp_path / "out"
    result = run_versioner("render", str(package), "--out", str(out), "--profiles", PROFILES,
                           "--config", str(_config(tmp_path, RENDER_CONFIG + LOAD_CONFIG)))
    assert result.returncode == 0, result.stdout + result.stderr
    delivered = sorted(path.name for path in (out / "fault-test").iterdir())
    for name in ("fault-test_master-clean.mp4", "fault-test_master-clean_broadcast.mxf",
                 "fault-test_master-clean_mezzanine.mov", "fault-test_subtitled-fr_broadcast.mxf"):
        assert name in delivered, delivered
    assert "no progress" not in result.stderr and "killed" not in result.stderr


@pytest.fixture(scope="module")
def six_seconds(tmp_path_factory) -> Path:
    """Long enough at 640x360 in three profiles that the render is still running when frozen."""
    return make_package(tmp_path_factory.mktemp("frozen") / "package", seconds=6, size=(640, 360),
                        srts={"fr": srt_text((0.5, 5.0, "Bonjour"))})


@pytest.mark.ffmpeg
def test_a_render_whose_ffmpeg_is_frozen_is_ended_within_the_stall_limit(tmp_path, six_seconds):
    config = load_config(_config(tmp_path, RENDER_CONFIG + LOAD_CONFIG), profiles=PROFILES.split(","))
    frozen: list[tuple[int, float, float]] = []

    def freeze(asset_id: str, progress: ffmpeg.Progress) -> None:
        if not frozen:
            (pid,) = ffmpeg.running_processes()
            os.kill(pid, signal.SIGSTOP)  # what a hung NFS read or a debugger does to a process
            frozen.append((pid, time.monotonic(), progress.fraction))

    out = tmp_path / "out"
    with pytest.raises(FFmpegStalled) as caught:
        render_package(six_seconds, out, config, on_progress=freeze)
    ended = time.monotonic()
    assert frozen and frozen[0][2] < 1, "the render had finished before it could be frozen"
    assert STALL_S <= ended - frozen[0][1] < STALL_S + 5
    assert caught.value.reason.startswith(f"render made no progress for {STALL_S} s at 00:00:0")
    assert caught.value.reason.endswith(" of 00:00:06.00 and was killed")
    assert ffmpeg.running_processes() == []
    assert wait_until(lambda: not our_ffmpeg_processes(), timeout_s=5), our_ffmpeg_processes()
    assert not out.exists() or visible_entries(out) == [], "a partial render was left"


FREEZING_WRAPPER = """#!/bin/sh
case "$*" in *" -c:v "*) kill -STOP $$;; esac
exec "{ffmpeg}" "$@"
"""


@pytest.mark.ffmpeg
def test_the_cli_ends_a_frozen_render_with_exit_3_saying_why(tmp_path, six_seconds, monkeypatch):
    """The render's process stops itself before it starts: frozen as surely as a process can be."""
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(FREEZING_WRAPPER.format(ffmpeg=ffmpeg.ffmpeg_binary()))
    wrapper.chmod(0o755)
    monkeypatch.setenv("FFMPEG_BINARY", str(wrapper))
    started = time.monotonic()
    result = run_versioner("render", str(six_seconds), "--out", str(tmp_path / "out"),
                           "--config", str(_config(tmp_path, RENDER_CONFIG + LOAD_CONFIG)))
    assert result.returncode == 3, result.stdout + result.stderr
    assert (f"render made no progress for {STALL_S} s at 00:00:00.00 of 00:00:06.00 and was killed"
            in result.stderr), result.stderr
    assert time.monotonic() - started < 120
    left = [info for info in all_processes() if str(wrapper) in " ".join(info.arguments) and info.alive]
    assert left == [], f"left running: {left}"


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_night_of_three_packages_on_a_busy_machine_delivers_all_three_first_time(tmp_path, monkeypatch,
                                                                                    busy_cores):
    home = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(home))
    master = make_master(tmp_path / "show.mov", seconds=1.0)
    assets = ["busy-a", "busy-b", "busy-c"]
    for asset_id in assets:
        assert run_versioner("submit", str(make_inbox_package(tmp_path / asset_id, asset_id, master))).returncode == 0
    config = _config(tmp_path, FAST_CONFIG + LOAD_CONFIG + "\n[schedule]\nconcurrency = 2\n")
    night = run_versioner("nightly", "--config", str(config))
    assert night.returncode == 0, night.stdout + night.stderr
    assert visible_entries(home / "outbox") == assets
    assert visible_entries(home / "inbox") == [] and visible_entries(home / "work") == []
    assert "Requeued" not in night.stdout
    for asset_id in assets:
        sidecar = json.loads((home / "outbox" / asset_id / f"{asset_id}_metadata.json").read_text())
        assert sidecar["provenance"]["attempts"] == 1

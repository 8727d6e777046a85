"""The watch folder: a producer copies a package onto the share, `versioner watch` takes it once
the copy is over, and the verdict lands beside the drop. The watcher runs in-process here, with a
short stability time and a bounded run, against copies made the slow way (a thread writing
chunks, a process killed half way)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import InputError
from pipeline.intake.submission import check_submission
from pipeline.ops import dropbox
from pipeline.ops.dropbox import Dropbox, next_night, uses_polling, watch_dropbox
from tests.inbox_packages import make_master, make_package, visible_entries

WATCH_CONFIG = """
[watch]
stable_seconds = {stable}
poll_interval_s = 0.1
poll = {poll}
max_drop_bytes = {max_bytes}
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(root))
    return root


def _config(tmp_path: Path, stable: float = 0.5, poll: str = "false", max_bytes: int = 10**12):
    path = tmp_path / "watch.toml"
    path.write_text(WATCH_CONFIG.format(stable=stable, poll=poll, max_bytes=max_bytes))
    return load_config(path)


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> Path:
    return make_master(tmp_path_factory.mktemp("master") / "show.mov", seconds=2.0)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _scan_until_still(box: Dropbox, clock: FakeClock) -> list[dropbox.Verdict]:
    box.scan()
    clock.now += box.config.watch.stable_seconds + 0.1
    return box.scan()


# --- the whole story: slow copies, a killed one, a bad one ---------------------------------------

def _copy_slowly(source: Path, target: Path, chunks: int = 12, pause_s: float = 0.15) -> None:
    """How a share receives a package: the folder first, then each file written bit by bit."""
    target.mkdir()
    for name in ("metadata.yaml", "show.en.srt"):
        shutil.copyfile(source / name, target / name)
        time.sleep(pause_s)
    data = (source / "show.mov").read_bytes()
    size = len(data) // chunks + 1
    with (target / "show.mov").open("wb") as out:
        for start in range(0, len(data), size):
            out.write(data[start:start + size])
            out.flush()
            time.sleep(pause_s)


KILLED_COPY = """
import sys, time
source, target = sys.argv[1], sys.argv[2]
data = open(source, 'rb').read()
with open(target, 'wb') as out:
    for start in range(0, len(data), len(data) // 20 + 1):
        out.write(data[start:start + len(data) // 20 + 1]); out.flush()
        print(start, flush=True)
        time.sleep(0.1)
"""


def _copy_and_kill_half_way(source: Path, target: Path) -> int:
    """A copy process killed when half the master is written (the laptop closed, the VPN dropped)."""
    target.mkdir()
    shutil.copyfile(source / "metadata.yaml", target / "metadata.yaml")
    copier = subprocess.Popen([sys.executable, "-c", KILLED_COPY, str(source / "show.mov"), str(target / "show.mov")],
                              stdout=subprocess.PIPE, text=True)
    for _line in range(10):
        copier.stdout.readline()
    copier.send_signal(signal.SIGKILL)
    copier.wait(timeout=10)
    return (target / "show.mov").stat().st_size


@pytest.mark.ffmpeg
def test_slow_copies_are_taken_once_complete_and_the_killed_one_never(tmp_path, home, master):
    config = _config(tmp_path, stable=0.5)
    sources = tmp_path / "sources"
    make_package(sources / "good", "drop-good", master)
    make_package(sources / "half", "drop-half", master)
    make_package(sources / "bad", "drop-bad", master)
    (sources / "bad" / "metadata.yaml").write_text("description: no title here\n", encoding="utf-8")
    box = home / "dropbox"
    verdicts, accepted_at = [], {}

    def on_verdict(verdict):
        verdicts.append(verdict)
        accepted_at[verdict.name] = time.monotonic()

    watcher = threading.Thread(target=lambda: watch_dropbox(config, on_verdict=on_verdict, max_seconds=7))
    watcher.start()
    time.sleep(0.3)
    shutil.copytree(sources / "bad", box / "bad")
    killed_at_bytes = _copy_and_kill_half_way(sources / "half", box / "half")
    _copy_slowly(sources / "good", box / "good")
    copy_done = time.monotonic()
    watcher.join(timeout=30)
    assert not watcher.is_alive()

    by_name = {verdict.name: verdict for verdict in verdicts}
    assert sorted(verdict.name for verdict in verdicts) == ["bad", "good", "half"]  # each judged once
    assert 0 < killed_at_bytes < (master.stat().st_size * 0.75)
    # The complete copy: accepted once, after its last byte, and now in the inbox.
    assert by_name["good"].accepted and accepted_at["good"] > copy_done
    assert visible_entries(home / "inbox") == ["drop-good"]
    accepted = (box / "good.accepted.txt").read_text(encoding="utf-8")
    assert "asset drop-good" in accepted and "drop-good_master-clean.mp4" in accepted
    assert "drop-good_international.mp4" in accepted and "drop-good_subtitled-en.mp4" in accepted
    assert "next night run, which starts at" in accepted
    # The killed copy is never submitted: its master is cut short, and the verdict says so.
    assert not by_name["half"].accepted
    half = (box / "half.rejected.txt").read_text(encoding="utf-8")
    assert half.startswith("error: half/show.mov: ") and "fix: " in half
    # The bad one: the very message `versioner check` gives, with the producer's names.
    bad = (box / "bad.rejected.txt").read_text(encoding="utf-8")
    with pytest.raises(InputError) as checked:
        check_submission(sources / "bad", config)
    assert f"bad/metadata.yaml: {checked.value.problem}\n  fix: {checked.value.fix}" in bad
    # Nothing is left to judge again; the refused drops wait in quarantine with their reason.
    assert visible_entries(box) == ["bad.rejected.txt", "good.accepted.txt", "half.rejected.txt"]
    quarantined = visible_entries(home / "quarantine")
    assert len(quarantined) == 2 and all(name.startswith("dropbox-") for name in quarantined)
    assert all((home / "quarantine" / name / "reason.json").is_file() for name in quarantined)


@pytest.mark.ffmpeg
def test_a_drop_is_never_taken_while_it_grows(tmp_path, home, master):
    box = Dropbox(_config(tmp_path, stable=5.0), clock=FakeClock())
    make_package(box.path / "growing", "growing", master)
    for _write in range(5):
        with (box.path / "growing" / "show.mov").open("ab") as out:
            out.write(b"\0" * 10)
        box.clock.now += 4.0  # under the 5 s stability time between two writes
        assert box.scan() == []
        assert not (box.path / "growing.accepted.txt").exists()
    box.clock.now += 5.1
    assert [verdict.asset_id for verdict in box.scan()] == ["growing"]
    assert visible_entries(box.path) == ["growing.accepted.txt"]
    assert box.scan() == []


# --- what a drop may not be ----------------------------------------------------------------------

def test_a_link_out_of_the_dropbox_is_refused_and_never_followed(tmp_path, home):
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "passwords.txt").write_text("hunter2")
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    (box.path / "sneaky").symlink_to(outside)
    [verdict] = _scan_until_still(box, box.clock)
    assert not verdict.accepted
    assert "error: sneaky: is a symbolic link; the watcher never follows links" in verdict.message
    assert "fix: copy the package folder itself into the dropbox" in verdict.message
    assert (outside / "passwords.txt").read_text() == "hunter2"  # the target is where it was


def test_a_link_inside_a_drop_is_refused(tmp_path, home):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    (box.path / "pkg").mkdir()
    (box.path / "pkg" / "metadata.yaml").write_text("title: x\n")
    (box.path / "pkg" / "show.mov").symlink_to("/etc/hostname")
    [verdict] = _scan_until_still(box, box.clock)
    assert "error: pkg/show.mov: is a symbolic link" in verdict.message
    assert "fix: copy the file itself into the package folder" in verdict.message


def test_a_loose_file_is_refused_with_how_to_drop_a_package(tmp_path, home):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    (box.path / "show.mov").write_bytes(b"\0" * 100)
    [verdict] = _scan_until_still(box, box.clock)
    assert verdict.verdict_file == box.path / "show.mov.rejected.txt"
    assert "show.mov: is a single file; a package is a folder" in verdict.message


def test_a_drop_over_the_size_limit_is_refused(tmp_path, home):
    box = Dropbox(_config(tmp_path, max_bytes=1000), clock=FakeClock())
    (box.path / "big").mkdir()
    (box.path / "big" / "show.mov").write_bytes(b"\0" * 2000)
    [verdict] = _scan_until_still(box, box.clock)
    assert "big: holds 0.0 GB, over the limit of 0.0 GB" in verdict.message
    assert "watch.max_drop_bytes" in verdict.message


def test_hostile_names_get_a_verdict_file_of_a_safe_name(tmp_path, home):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    names = ["line\nbreak", "x" * 250, "-rf --no-preserve-root", "ünï cødé 📼"]
    for name in names:
        (box.path / name).mkdir()
        (box.path / name / "notes.txt").write_text("no master here")
    verdicts = _scan_until_still(box, box.clock)
    assert len(verdicts) == len(names) and not any(verdict.accepted for verdict in verdicts)
    files = sorted(path.name for path in box.path.iterdir() if path.name.endswith(".rejected.txt"))
    assert "line_break.rejected.txt" in files and "ünï cødé 📼.rejected.txt" in files
    assert "-rf --no-preserve-root.rejected.txt" in files
    assert all(len(os.fsencode(name)) <= 255 and "\n" not in name for name in files)


def test_a_copy_tool_s_temporary_file_holds_the_drop_back(tmp_path, home):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    (box.path / "pkg").mkdir()
    (box.path / "pkg" / "show.mov.part").write_bytes(b"\0" * 10)
    assert _scan_until_still(box, box.clock) == []
    box.clock.now += 100
    assert box.scan() == [] and (box.path / "pkg").is_dir()


def test_a_fixed_drop_replaces_its_old_verdict(tmp_path, home):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    (box.path / "pkg").mkdir()
    (box.path / "pkg" / "notes.txt").write_text("the master comes later")
    _scan_until_still(box, box.clock)
    assert "holds no master video" in (box.path / "pkg.rejected.txt").read_text()
    (box.path / "pkg").mkdir()
    (box.path / "pkg" / "metadata.yaml").write_text("title: x\n")
    (box.path / "pkg" / "show.mov").write_bytes(b"not a movie")
    _scan_until_still(box, box.clock)
    assert "pkg/show.mov: " in (box.path / "pkg.rejected.txt").read_text()


def test_an_empty_folder_waits_for_its_files(tmp_path, home):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    (box.path / "new folder").mkdir()  # made first by the file manager; the files follow
    assert _scan_until_still(box, box.clock) == []
    box.clock.now += 3600
    assert box.scan() == [] and (box.path / "new folder").is_dir()


@pytest.mark.ffmpeg
def test_an_accepted_drop_is_handed_on_once_and_a_judgement_cut_short_is_redone(tmp_path, home, master):
    handed = []
    config = _config(tmp_path)
    box = Dropbox(config, on_accepted=handed.append, clock=FakeClock())
    make_package(box.path / "pkg", "handed-on", master)
    _scan_until_still(box, box.clock)
    box.clock.now += 10
    assert box.scan() == [] and handed == ["handed-on"]
    # A watcher killed while judging a drop leaves it hidden; the next watcher puts it back.
    make_package(box.path / "second", "second-one", master)
    taken = box.path / dropbox.TAKEN_DIR / "0123456789ab"
    taken.with_suffix(".name").write_text("second")
    (box.path / "second").rename(taken)
    again = Dropbox(config, clock=FakeClock())
    assert (box.path / "second").is_dir() and not taken.exists()
    assert [verdict.asset_id for verdict in _scan_until_still(again, again.clock)] == ["second-one"]


@pytest.mark.ffmpeg
def test_a_second_drop_of_a_waiting_asset_is_refused_with_what_a_producer_can_do(tmp_path, home, master):
    box = Dropbox(_config(tmp_path), clock=FakeClock())
    make_package(box.path / "monday", "same-asset", master)
    assert [verdict.accepted for verdict in _scan_until_still(box, box.clock)] == [True]
    make_package(box.path / "tuesday", "same-asset", master)
    [verdict] = _scan_until_still(box, box.clock)
    assert not verdict.accepted and "asset same-asset is already in the inbox, waiting for a run" in verdict.message
    assert "fix: give the package another asset_id in metadata.yaml and drop it again" in verdict.message


@pytest.mark.ffmpeg
def test_the_watch_command_runs_for_the_time_it_is_given(tmp_path, home):
    from tests.conftest import run_versioner

    config = tmp_path / "cli.toml"
    config.write_text("[watch]\nstable_seconds = 0.2\npoll_interval_s = 0.1\n")
    (home / "dropbox" / "pkg").mkdir(parents=True)
    (home / "dropbox" / "pkg" / "metadata.yaml").write_text("title: No master\n")
    result = run_versioner("--config", str(config), "watch", "--max-seconds", "2", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "rejected pkg: error: pkg: holds no master video (pkg.rejected.txt)" in result.stdout
    assert f"watching {home / 'dropbox'}" in result.stderr


def test_polling_mode_takes_a_drop(tmp_path, home):
    config = _config(tmp_path, stable=0.3, poll="true")
    box = home / "dropbox"
    box.mkdir(parents=True)
    (box / "no-master").mkdir()
    (box / "no-master" / "metadata.yaml").write_text("title: x\n")
    verdicts = watch_dropbox(config, max_seconds=1.5)
    assert [verdict.name for verdict in verdicts] == ["no-master"]
    assert "no-master: holds no master video" in (box / "no-master.rejected.txt").read_text()


# --- where the verdict says the night starts, and how the watcher chooses to poll ---------------

def test_next_night_of_a_daily_schedule():
    after = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
    assert next_night("0 2 * * *", "UTC", after) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert next_night("30 14 * * *", "UTC", after) == datetime(2026, 11, 29, 14, 30, tzinfo=UTC)
    paris = next_night("0 2 * * *", "Europe/Paris", after)
    assert paris.utcoffset().total_seconds() == 3600 and paris.hour == 2
    assert next_night("0 2 * * 1-5", "UTC", after) is None


def test_polling_is_chosen_by_the_config_or_the_file_system(tmp_path):
    assert uses_polling(tmp_path, True) and not uses_polling(tmp_path, False)
    assert uses_polling(tmp_path, "auto") == (dropbox.filesystem_type(tmp_path) in dropbox.NETWORK_FILESYSTEMS)


def test_the_watch_config_is_checked(tmp_path):
    from pipeline.errors import ConfigError

    path = tmp_path / "bad.toml"
    path.write_text('[watch]\nrender = "soon"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "[watch.render]" in str(error.value) and "'nightly' or 'now'" in str(error.value)

"""A producer submits: a good package lands in the inbox whole, with its asset id printed; a bad
one is refused at once with the messages of `versioner check`; an asset id already waiting or
delivered is refused unless --replace. No Prefect here: submitting is plain file work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT, VERSIONER, run_versioner
from tests.inbox_packages import SRT_EN, make_master, make_package, visible_entries

pytestmark = [pytest.mark.ffmpeg]


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    return make_master(tmp_path_factory.mktemp("master") / "show.mov")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data root for each test (the CLI reads VERSIONER_HOME)."""
    root = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(root))
    return root


def test_a_good_package_lands_in_the_inbox_whole(tmp_path, home, master):
    package = make_package(tmp_path / "pkg", "submit-good", master)
    result = run_versioner("submit", str(package))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "submit-good"
    assert visible_entries(home / "inbox") == ["submit-good"]
    assert not any(name.startswith(".incoming") for name in os.listdir(home / "inbox")), "staging left behind"
    landed = home / "inbox" / "submit-good"
    assert visible_entries(landed) == ["metadata.yaml", "show.en.srt", "show.mov"]
    assert (landed / "show.mov").read_bytes() == (package / "show.mov").read_bytes()
    state = json.loads((landed / ".state.json").read_text())
    assert state["attempts"] == 0 and state["source"] == str(package)
    assert (package / "show.mov").exists(), "the producer's package is left as it was"


def test_a_bad_package_is_refused_with_the_messages_of_check(tmp_path, home, master):
    package = make_package(tmp_path / "pkg", "submit-bad", master)
    (package / "metadata.yaml").write_text("asset_id: submit-bad\nlanguage: en\n", encoding="utf-8")
    submitted = run_versioner("submit", str(package))
    checked = run_versioner("check", str(package))
    assert submitted.returncode == 2 and checked.returncode == 2
    first_line = checked.stderr.splitlines()[0]
    assert "metadata.yaml" in first_line and "title" in first_line
    assert first_line in submitted.stderr and "fix:" in submitted.stderr
    assert "nothing was submitted" in submitted.stderr
    assert not (home / "inbox").exists() or visible_entries(home / "inbox") == []


def test_an_asset_id_already_waiting_is_refused_unless_replace(tmp_path, home, master):
    package = make_package(tmp_path / "pkg", "submit-twice", master)
    assert run_versioner("submit", str(package)).returncode == 0
    (package / "show.en.srt").write_text(SRT_EN.replace("A short test cue", "A corrected cue"), encoding="utf-8")

    again = run_versioner("submit", str(package))
    assert again.returncode == 2
    assert "already in the inbox" in again.stderr and "--replace" in again.stderr
    waiting = home / "inbox" / "submit-twice"
    assert "A short test cue" in (waiting / "show.en.srt").read_text(encoding="utf-8")

    replaced = run_versioner("submit", str(package), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert "A corrected cue" in (waiting / "show.en.srt").read_text(encoding="utf-8")
    assert visible_entries(home / "inbox") == ["submit-twice"]
    assert [name for name in os.listdir(home / "inbox") if name.startswith(".")] == []


def test_an_asset_id_already_delivered_is_refused_unless_replace(tmp_path, home, master):
    delivered = home / "outbox" / "submit-delivered"
    delivered.mkdir(parents=True)
    package = make_package(tmp_path / "pkg", "submit-delivered", master)
    refused = run_versioner("submit", str(package))
    assert refused.returncode == 2
    assert "has already been delivered" in refused.stderr and str(delivered) in refused.stderr
    accepted = run_versioner("submit", str(package), "--replace")
    assert accepted.returncode == 0, accepted.stderr
    assert visible_entries(home / "inbox") == ["submit-delivered"]


def test_a_master_with_loose_files_becomes_a_package(tmp_path, home, master):
    loose = tmp_path / "desktop"
    loose.mkdir()
    shutil.copyfile(master, loose / "Final cut v3.mov")
    (loose / "english subs.srt").write_text(SRT_EN, encoding="utf-8")
    (loose / "info.yaml").write_text("title: Loose files\nasset_id: submit-loose\n", encoding="utf-8")
    result = run_versioner("submit", str(loose / "Final cut v3.mov"), "--srt", f"en={loose / 'english subs.srt'}",
                           "--metadata", str(loose / "info.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "submit-loose"
    landed = home / "inbox" / "submit-loose"
    assert visible_entries(landed) == ["Final cut v3.en.srt", "Final cut v3.mov", "metadata.yaml"]
    check = run_versioner("check", str(landed))
    assert check.returncode == 0 and "subtitles en: 1 cues" in check.stdout


def test_loose_files_errors_name_the_producers_files(tmp_path, home, master):
    (tmp_path / "info.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    (tmp_path / "subs.srt").write_text(SRT_EN, encoding="utf-8")
    bad_metadata = run_versioner("submit", str(master), "--metadata", str(tmp_path / "info.yaml"))
    assert bad_metadata.returncode == 2
    assert str(tmp_path / "info.yaml") in bad_metadata.stderr and "fix:" in bad_metadata.stderr
    bad_language = run_versioner("submit", str(master), "--srt", f"../x={tmp_path / 'subs.srt'}",
                                 "--metadata", str(tmp_path / "info.yaml"))
    assert bad_language.returncode == 2
    assert str(tmp_path / "subs.srt") in bad_language.stderr and "not a language tag" in bad_language.stderr
    no_metadata = run_versioner("submit", str(master))
    assert no_metadata.returncode == 2 and "--metadata" in no_metadata.stderr
    assert not (home / "inbox").exists() or visible_entries(home / "inbox") == []


def test_a_half_copied_package_is_never_visible(tmp_path, home):
    """A 150 MB master takes a moment to copy: watch the inbox while it does, then kill a second
    submission in the middle of its copy."""
    package = make_package(tmp_path / "pkg", "submit-big", make_master(tmp_path / "big.mov", 80, "rawvideo"))
    size = (package / "show.mov").stat().st_size
    inbox = home / "inbox"

    seen_staging, seen_incomplete = _watch_submit(package, inbox, size)
    assert seen_incomplete == [], f"a partial package was visible: {seen_incomplete}"
    assert seen_staging, "the copy was too quick to watch; the test proves nothing"
    assert visible_entries(inbox) == ["submit-big"]

    shutil.rmtree(inbox / "submit-big")
    process = subprocess.Popen(VERSIONER + ["submit", str(package)], cwd=ROOT, env=os.environ.copy(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert _wait_for_staging(inbox, process), "never saw the copy start"
        os.killpg(process.pid, signal.SIGKILL)  # the producer's machine dies mid-copy
    finally:
        process.wait(timeout=30)
    assert visible_entries(inbox) == [], "a killed submission left a package where a run would take it"


def _watch_submit(package, inbox, size) -> tuple[bool, list[str]]:
    process = subprocess.Popen(VERSIONER + ["submit", str(package)], cwd=ROOT, env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_staging, seen_incomplete = False, []
    while process.poll() is None:
        for name in (os.listdir(inbox) if inbox.exists() else []):
            if name.startswith(".incoming"):
                seen_staging |= _size_of(inbox / name / "show.mov") > 0
            elif not name.startswith(".") and (_size_of(inbox / name / "show.mov") != size
                                               or _size_of(inbox / name / "metadata.yaml") <= 0):
                seen_incomplete.append(name)
        time.sleep(0.001)
    assert process.returncode == 0, process.stderr.read()
    return seen_staging, seen_incomplete


def _wait_for_staging(inbox, process, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        for name in (os.listdir(inbox) if inbox.exists() else []):
            if name.startswith(".incoming") and _size_of(inbox / name / "show.mov") > 0:
                return True
        time.sleep(0.001)
    return False


def _size_of(path) -> int:
    """-1 when the file is not there (or moved away while we looked)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1

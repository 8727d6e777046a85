"""The night, as the operator and the technician see it, through the CLI on the embedded Prefect:
four packages pending (two good, one bad, one whose render is killed the first time), three
nights, and the logs of each read back with `versioner logs`. Then two nights started at the same
moment, which must render each package once.

The failing render is real: FFMPEG_BINARY points at a wrapper that runs the real ffmpeg, records
each render command, and kills itself (SIGKILL) on the first render of one asset."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from pipeline.delivery import report
from tests.conftest import FAST_CONFIG, ROOT, VERSIONER, run_versioner
from tests.inbox_packages import (
    delivered_run_id,
    make_master,
    make_package,
    renders_of,
    visible_entries,
    write_ffmpeg_wrapper,
)

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (\w+)\s+(.*)$")


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    return make_master(tmp_path_factory.mktemp("master") / "show.mov")


@pytest.fixture
def night(tmp_path, monkeypatch):
    """A fresh data root, a config rendering two packages at a time, quiet Prefect telemetry."""
    home = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(home))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    config = tmp_path / "night.toml"
    config.write_text(FAST_CONFIG + "\n[schedule]\nconcurrency = 2\n")
    return home, config


def _nightly(config, timeout: float = 600) -> tuple[subprocess.CompletedProcess, str]:
    result = run_versioner("nightly", "--config", str(config), timeout=timeout)
    match = re.search(r"^night run ([0-9a-f-]{36})", result.stdout, flags=re.MULTILINE)
    assert match, result.stdout + result.stderr
    return result, match.group(1)


def _log_sections(text: str) -> dict[str, list[str]]:
    """`versioner logs` output, by run header: the first line of each log record."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = line
            sections[current] = []
        elif current and (match := LOG_LINE.match(line)):
            sections[current].append(match.group(2))
    return sections


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_a_night_delivers_quarantines_retries_and_never_renders_twice(tmp_path, night, master, monkeypatch):
    home, config = night
    wrapper, renders = write_ffmpeg_wrapper(tmp_path / "ffmpeg", fail_once_for="night-flaky")
    monkeypatch.setenv("FFMPEG_BINARY", str(wrapper))
    for asset_id in ("night-good-a", "night-good-b", "night-flaky"):
        package = make_package(tmp_path / asset_id, asset_id, master)
        assert run_versioner("submit", str(package)).returncode == 0
    # A producer copied this one into the inbox by hand, bypassing `submit`: it has no title.
    bad = make_package(home / "inbox" / "night-bad", "night-bad", master)
    (bad / "metadata.yaml").write_text("asset_id: night-bad\n", encoding="utf-8")

    first, first_id = _nightly(config)
    assert first.returncode == 1, first.stdout + first.stderr
    assert visible_entries(home / "outbox") == ["night-good-a", "night-good-b"]
    for asset_id in ("night-good-a", "night-good-b"):
        assert (home / "outbox" / asset_id / f"{asset_id}_master-clean.mp4").exists()
    reason = json.loads((home / "quarantine" / "night-bad" / "reason.json").read_text(encoding="utf-8"))
    assert reason["file"] == "metadata.yaml" and "title" in reason["problem"] and reason["fix"]
    assert reason["asset_id"] == "night-bad" and reason["when"] and reason["attempts"] == 0
    assert (home / "quarantine" / "night-bad" / "show.mov").exists(), "the package is kept for the producer"
    assert visible_entries(home / "inbox") == ["night-flaky"]
    state = json.loads((home / "inbox" / "night-flaky" / ".state.json").read_text(encoding="utf-8"))
    assert state["attempts"] == 1 and "killed by signal 9" in state["failures"][0]["message"]
    assert visible_entries(home / "work") == [], "no claim is left behind"
    assert "Quarantined" in first.stdout and "Requeued" in first.stdout

    _check_first_night_logs(first_id)

    second, second_id = _nightly(config)
    assert second.returncode == 0, second.stdout + second.stderr
    second_logs = run_versioner("logs", second_id).stdout
    assert "night-flaky: delivered on attempt 2; attempt 1 ended: render was killed by signal 9" in second_logs
    assert visible_entries(home / "outbox") == ["night-flaky", "night-good-a", "night-good-b"]
    assert visible_entries(home / "inbox") == []
    delivered = {asset_id: delivered_run_id(home / "outbox", asset_id) for asset_id in visible_entries(home / "outbox")}
    # The delivery says what it took: two attempts, the first killed.
    provenance = json.loads((home / "outbox" / "night-flaky" / "night-flaky_metadata.json").read_text())["provenance"]
    assert provenance["attempts"] == 2
    assert [attempt["error"] for attempt in provenance["earlier_attempts"]] == ["FFmpegError"]
    assert "killed by signal 9" in provenance["earlier_attempts"][0]["message"]
    qc_page = (home / "outbox" / "night-flaky" / report.filename("night-flaky")).read_text(encoding="utf-8")
    assert "render was killed by signal 9" in qc_page
    good = json.loads((home / "outbox" / "night-good-a" / "night-good-a_metadata.json").read_text())["provenance"]
    assert good["attempts"] == 1 and good["earlier_attempts"] == []

    # The same package submitted again: the third night sees it was delivered with these very
    # bytes and this config, and renders nothing.
    assert run_versioner("submit", str(tmp_path / "night-good-a"), "--replace").returncode == 0
    third, _ = _nightly(config)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "Skipped" in third.stdout and "already delivered" in third.stdout
    assert {asset_id: delivered_run_id(home / "outbox", asset_id) for asset_id in delivered} == delivered
    assert visible_entries(home / "inbox") == []
    assert {asset_id: renders_of(renders, asset_id) for asset_id in delivered} == \
        {"night-good-a": 1, "night-good-b": 1, "night-flaky": 2}
    assert renders_of(renders, "night-bad") == 0



def _check_first_night_logs(night_id: str) -> None:
    result = run_versioner("logs", "--last")  # the night is the last run started
    assert result.returncode == 0, result.stderr
    sections = _log_sections(result.stdout)
    headers = list(sections)
    assert headers[0].startswith("== nightly_render /") and night_id in headers[0]
    package_runs = {header.split(" / render ")[1].split()[0]: lines
                    for header, lines in sections.items() if header.startswith("== render_from_inbox")}
    assert set(package_runs) == {"night-good-a", "night-good-b", "night-flaky", "night-bad"}
    for asset_id, lines in package_runs.items():
        assert lines, f"no logs for {asset_id}"
        unnamed = [line for line in lines if not line.startswith(asset_id)]
        assert unnamed == [], f"lines of {asset_id}'s run that do not name it: {unnamed}"
    good = "\n".join(package_runs["night-good-a"])
    assert "running: " in good and " -filter_complex " in good, "each ffmpeg command is logged"
    assert "render 100 %" in good
    for step in ("check package", "analyse audio", "render deliverables", "verify outputs", "publish"):
        assert f"night-good-a: {step} took " in good, f"a line with the seconds of {step}"
    flaky_header = next(header for header in headers if "render night-flaky" in header)
    flaky = result.stdout.split(flaky_header, 1)[1].split("\n== ", 1)[0]
    assert "last lines of ffmpeg's stderr" in flaky
    assert "simulated encoder line 40" in flaky and "simulated encoder line 11" in flaky
    assert "simulated encoder line 10\n" not in flaky, "only the last 30 lines"
    assert "what to do" in flaky and "attempt 1 of 3" in flaky
    bad = "\n".join(package_runs["night-bad"])
    assert "metadata.yaml" in bad and "title" in bad and "what to do" in bad
    assert "Requeued" in flaky_header
    assert "Quarantined" in next(header for header in headers if "render night-bad" in header)


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_two_nights_started_at_once_render_each_package_once(tmp_path, night, master, monkeypatch):
    home, config = night
    wrapper, renders = write_ffmpeg_wrapper(tmp_path / "ffmpeg")
    monkeypatch.setenv("FFMPEG_BINARY", str(wrapper))
    assets = ["twin-a", "twin-b", "twin-c"]
    for asset_id in assets:
        assert run_versioner("submit", str(make_package(tmp_path / asset_id, asset_id, master))).returncode == 0

    nights = [subprocess.Popen(VERSIONER + ["nightly", "--config", str(config)], cwd=ROOT, env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in nights]
    for process, (stdout, stderr) in zip(nights, outputs):
        assert process.returncode == 0, stdout + stderr

    assert visible_entries(home / "outbox") == assets
    assert visible_entries(home / "inbox") == [] and visible_entries(home / "work") == []
    assert {asset_id: renders_of(renders, asset_id) for asset_id in assets} == {asset_id: 1 for asset_id in assets}
    # Each night reports what it did; together they delivered each package exactly once.
    delivered = [line.split()[1] for stdout, _ in outputs for line in stdout.splitlines()
                 if line.strip().startswith("Delivered")]
    assert sorted(delivered) == assets
    assert len({delivered_run_id(home / "outbox", asset_id) for asset_id in assets}) == 3


def _claim_when_released(home: str, asset_id: str, barrier, results) -> None:
    import os as _os

    from pipeline.config import load_config
    from pipeline.ops import lifecycle

    _os.environ["VERSIONER_HOME"] = home
    root = lifecycle.DataRoot.of(load_config())
    barrier.wait()
    claimed = lifecycle.claim(root, asset_id)
    results.put(None if claimed is None else str(claimed.path))


@pytest.mark.ffmpeg
def test_of_processes_claiming_one_package_at_the_same_instant_exactly_one_wins(tmp_path, master):
    import multiprocessing

    from pipeline.ops import lifecycle

    home = tmp_path / "home"
    make_package(home / "inbox" / "contested", "contested", master)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    racers = [context.Process(target=_claim_when_released, args=(str(home), "contested", barrier, results))
              for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    outcomes = [results.get(timeout=10) for _ in racers]
    winners = [path for path in outcomes if path is not None]
    assert len(winners) == 1, outcomes
    assert visible_entries(home / "inbox") == []
    assert [path.name for path in lifecycle.claims_of(lifecycle.DataRoot(home), "contested")] == \
        [os.path.basename(winners[0])]


@pytest.mark.ffmpeg
def test_a_claim_whose_process_died_goes_back_to_the_inbox_and_a_live_one_stays(tmp_path, master, monkeypatch):
    from pipeline.config import load_config
    from pipeline.ops import lifecycle

    monkeypatch.setenv("VERSIONER_HOME", str(tmp_path / "home"))
    config = load_config()
    root = lifecycle.DataRoot.of(config)
    assert root.path == tmp_path / "home"
    for asset_id in ("orphaned", "rendering"):
        make_package(root.inbox / asset_id, asset_id, master)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphaned = lifecycle.claim(root, "orphaned")
    rendering = lifecycle.claim(root, "rendering")  # by this process, which is alive
    claim_file = orphaned.path / lifecycle.CLAIM_FILE
    claim_file.write_text(claim_file.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {dead.pid}'))

    outcomes = lifecycle.recover_stale_claims(root, config)

    assert [(outcome.state, outcome.path.name, outcome.attempts) for outcome in outcomes] == \
        [("requeued", "orphaned", 1)]
    state = json.loads((root.inbox / "orphaned" / ".state.json").read_text(encoding="utf-8"))
    assert f"process {dead.pid}" in state["failures"][0]["message"]
    assert lifecycle.claims_of(root, "rendering") == [rendering.path]
    assert [item.asset_id for item in lifecycle.pending(root)] == ["orphaned"]

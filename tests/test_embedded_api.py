"""The CLI's embedded Prefect API (flows/embedded_api.py): started as the command's first act when
no Prefect server is configured, left alone when a site configured one, gone with the command
however the command ends."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import uuid

import pytest

from flows.embedded_api import ours_to_start
from tests.conftest import ROOT, VERSIONER, run_versioner
from tests.processes import MARKER, all_processes, descendants, wait_until

CLEAN = {"PATH": "/usr/bin", "PREFECT_HOME": "/nonexistent-prefect-home"}


def test_the_embedded_api_is_started_when_nothing_configures_prefect(tmp_path):
    assert ours_to_start(dict(CLEAN), cwd=tmp_path)


@pytest.mark.parametrize("setting", [
    {"PREFECT_API_URL": "http://render-farm:4200/api"},
    {"PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false"},
    {"PREFECT_SERVER_EPHEMERAL_ENABLED": "0"},
])
def test_a_site_setting_in_the_environment_is_left_to_prefect(tmp_path, setting):
    assert not ours_to_start(CLEAN | setting, cwd=tmp_path)


@pytest.mark.parametrize("name, text", [
    ("prefect.toml", '[api]\nurl = "http://render-farm:4200/api"\n'),
    (".env", "PREFECT_API_URL=http://render-farm:4200/api\n"),
    ("pyproject.toml", '[tool.prefect.api]\nurl = "http://render-farm:4200/api"\n'),
])
def test_a_prefect_settings_file_in_the_working_folder_is_left_to_prefect(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    assert not ours_to_start(dict(CLEAN), cwd=tmp_path)


def test_a_profile_that_names_a_server_is_left_to_prefect_and_one_that_does_not_is_ours(tmp_path):
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "farm"\n\n[profiles.farm]\nPREFECT_API_URL = "http://farm:4200/api"\n\n'
                                        '[profiles.quiet]\nPREFECT_LOGGING_LEVEL = "WARNING"\n')
    environment = CLEAN | {"PREFECT_HOME": str(home)}
    assert not ours_to_start(environment, cwd=tmp_path)
    assert ours_to_start(environment | {"PREFECT_PROFILE": "quiet"}, cwd=tmp_path)


def _is_uvicorn(info) -> bool:
    return any("uvicorn" in argument for argument in info.arguments)


def _uvicorn_below(pid: int):
    return [info for info in descendants(pid) if _is_uvicorn(info)]


def _our_uvicorns(marker: str | None = None):
    """Live API servers carrying `marker` (the session's by default), wherever they are now."""
    tag = f"{MARKER}={marker or os.environ[MARKER]}".encode()
    return [info for info in all_processes()
            if info.alive and _is_uvicorn(info) and tag in info.environment.split(b"\0")]


@pytest.mark.ffmpeg
def test_a_killed_command_takes_its_embedded_api_with_it(tmp_path):
    """The command starts the API before anything else; an ffmpeg that never answers holds it
    there, the command is killed with SIGKILL (no exit handler runs), and the API goes too."""
    stuck = tmp_path / "ffmpeg"
    stuck.write_text("#!/bin/sh\nexec sleep 120\n")
    stuck.chmod(stuck.stat().st_mode | stat.S_IEXEC)
    command = subprocess.Popen(VERSIONER + ["render", "media_samples/news-sample", "--out", str(tmp_path / "out")],
                               cwd=ROOT, env=os.environ | {"FFMPEG_BINARY": str(stuck)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        servers = wait_until(lambda: _uvicorn_below(command.pid), timeout_s=30)
        assert servers, "the command started no embedded API"
        server = servers[0].pid
        command.send_signal(signal.SIGKILL)
        command.wait()
        assert wait_until(lambda: server not in {info.pid for info in _our_uvicorns()}, timeout_s=10), \
            "the embedded API outlived its command"
    finally:
        try:
            os.killpg(command.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.ffmpeg
def test_runs_answers_from_the_embedded_api_and_leaves_no_server_behind(monkeypatch):
    # A marker of this command's own: other workers of the session start API servers meanwhile.
    marker = f"{os.environ[MARKER]}-runs-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(MARKER, marker)
    result = run_versioner("runs", "--limit", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Starting temporary server" not in result.stderr, "Prefect started a second server of its own"
    assert _our_uvicorns(marker) == [], "the command's API outlived it"


def test_an_env_file_of_other_settings_does_not_stop_the_embedded_api(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=postgres://somewhere\n")
    assert ours_to_start(dict(CLEAN), cwd=tmp_path)


@pytest.mark.ffmpeg
def test_an_api_that_cannot_start_is_named_with_what_to_do(tmp_path, monkeypatch):
    """Its database cannot be created: the command exits 3 and says what happened and the fix."""
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL",
                       f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'prefect.db'}")
    result = run_versioner("runs")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "error: the embedded Prefect API on port " in result.stderr
    assert "exited with code 3 while starting (its messages are above)" in result.stderr
    assert "point PREFECT_API_URL at a running Prefect server" in result.stderr



def test_flow_runs_on_the_embedded_api_send_no_heartbeats_and_a_sites_runs_keep_them(monkeypatch):
    """Heartbeats tell a server that outlives the flow's process that it still lives: the embedded
    API ends with the command, so its runs go without (each run's end waited for the thread)."""
    from prefect.settings import get_current_settings

    from flows import embedded_api

    site = get_current_settings().flows.heartbeat_frequency
    assert site is not None  # Prefect's default: the site's runs send them
    with embedded_api.flow_settings():  # no embedded API in this process: the site's settings
        assert get_current_settings().flows.heartbeat_frequency == site
    monkeypatch.setattr(embedded_api, "_running", object())  # as if this command had started one
    with embedded_api.flow_settings():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == site

"""Shared fixtures: the committed sample, a fast test config, an isolated Prefect home, and one
real render of the sample through the `versioner` CLI that several tests then inspect."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "media_samples" / "news-sample"
REFERENCE = ROOT / "media_samples" / "reference"
VERSIONER = [sys.executable, "-m", "flows.cli"]

# Tests check correctness, not picture quality: a fast x264 preset keeps the suite short.
FAST_CONFIG = """
[profiles.web]
preset = "ultrafast"
crf = 23
"""


@pytest.fixture(scope="session")
def fast_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.toml"
    path.write_text(FAST_CONFIG)
    return path


def pytest_configure(config):
    """Every process the suite starts inherits a marker, so a leftover ffmpeg is found even after
    its parent died (see tests/processes.py and `pytest_sessionfinish` below). Under pytest-xdist
    each worker extends the session's (`<session>-gw0`): a test that checks its own processes
    are gone does not see the other worker's renders, and the check at the end sees them all."""
    from tests.processes import MARKER

    if hasattr(config, "workerinput"):
        session = os.environ.get(MARKER) or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.environ[MARKER] = f"{session}-{config.workerinput['workerid']}"
    else:
        os.environ[MARKER] = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


# The files that take longest, started first: with the suite spread over workers (`make test`
# runs pytest-xdist, a file per worker at a time), the last file to start is then a short one.
LONGEST_FIRST = ("test_nightly.py", "test_prefect_server.py", "test_load.py", "test_packaging.py",
                 "test_faults.py", "test_sidecar_schema.py", "test_textless.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(scope="session", autouse=True)
def isolated_prefect(tmp_path_factory):
    """Every test talks to its own embedded Prefect (SQLite under a temporary PREFECT_HOME)."""
    home = tmp_path_factory.mktemp("prefect-home")
    saved = {key: os.environ.get(key) for key in ("PREFECT_HOME", "PREFECT_API_URL", "VERSIONER_HOME",
                                                 "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW")}
    os.environ["PREFECT_HOME"] = str(home)
    # Library calls made outside a flow run (tests that call pipeline functions directly) are
    # logged locally; without this Prefect warns about each once a flow has run in this process.
    os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["VERSIONER_HOME"] = str(tmp_path_factory.mktemp("versioner-home"))
    yield home
    if "prefect.server.api.server" in sys.modules:
        # The embedded API a flow run in this process started: stopped here, while pytest still
        # holds the streams its log line goes to (at exit they are closed and logging complains).
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.server.api.server import SubprocessASGIServer

        APILogWorker.drain_all(timeout=30)  # the last log lines and events reach it first
        EventsWorker.drain_all(timeout=30)
        SubprocessASGIServer().stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run_versioner(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a separate process, its exit code and what it printed."""
    return subprocess.run(VERSIONER + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    """A private copy of the sample package that a test may change."""
    target = tmp_path / "package"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture(scope="session")
def sample_reference() -> dict:
    return json.loads((REFERENCE / "news-sample.json").read_text())


@pytest.fixture(scope="session")
def rendered_sample(tmp_path_factory, fast_config):
    """`versioner render` of the committed sample, once for the whole session: with the suite
    spread over pytest-xdist workers, the first worker to need it renders it (holding a lock in
    the session's own temporary folder) and the others read the same delivery."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _render_sample(tmp_path_factory.mktemp("out"), fast_config)
    shared = tmp_path_factory.getbasetemp().parent / "rendered-sample"  # this session's, shared by its workers
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if the render fails
        if (shared / "result.json").exists():
            saved = json.loads((shared / "result.json").read_text(encoding="utf-8"))
            return Path(saved["folder"]), subprocess.CompletedProcess(saved["args"], 0, saved["stdout"], saved["stderr"])
        folder, result = _render_sample(shared / "out", fast_config)
        (shared / "result.json").write_text(json.dumps({"folder": str(folder), "args": result.args,
                                                        "stdout": result.stdout, "stderr": result.stderr}))
        return folder, result


def _render_sample(out: Path, config: Path) -> tuple[Path, subprocess.CompletedProcess]:
    result = run_versioner("render", str(SAMPLE), "--out", str(out), "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    folders = [path for path in out.iterdir() if path.is_dir() and not path.name.startswith(".")]
    assert len(folders) == 1, folders
    return folders[0], result


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _find_chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless Chromium for the QC report and asset page tests. `make test` installs one from
    the OS packages where it can (`make browser`); the tests never download anything."""
    found = _find_chromium()
    if found is None:
        pytest.skip("headless Chromium is not installed; `make browser` installs it where it can "
                    "(Debian: apt-get install chromium)")
    return found


class _RecordList(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def ffmpeg_commands():
    """A callable giving every ffmpeg command the library logged during the test, as argument
    lists read back from the shell-quoted log line. It has a handler of its own on the library's
    logger, since Prefect's logging set-up in this process may filter the root logger's handlers."""
    logger = logging.getLogger("pipeline.media.ffmpeg")
    handler, saved_level = _RecordList(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def commands() -> list[list[str]]:
        return [shlex.split(record.getMessage()[len("running: "):]) for record in handler.records
                if record.getMessage().startswith("running: ")]

    yield commands
    logger.removeHandler(handler)
    logger.setLevel(saved_level)


def pytest_sessionfinish(session, exitstatus):
    """After the whole suite (every render, timeout, cancel and kill), no ffmpeg process the
    tests started may still be alive, whether a child of this process or left behind by a
    `versioner` process that died. Leftovers are killed, named, and fail the run. Under
    pytest-xdist the controller checks, once every worker is done (a worker would see the
    other workers' renders as its own)."""
    if hasattr(session.config, "workerinput"):
        return
    from pipeline.media import ffmpeg
    from tests.processes import kill_leftovers, our_ffmpeg_processes, wait_until

    tracked = ffmpeg.running_processes()
    # A process killed a moment ago may take a few milliseconds to be reaped.
    gone = wait_until(lambda: not our_ffmpeg_processes(with_workers=True), timeout_s=5)
    leftovers = our_ffmpeg_processes(with_workers=True)
    kill_leftovers(leftovers)  # so they do not run on after the suite either
    if tracked or not gone:
        lines = [f"  pid {info.pid} (parent {info.parent}): {' '.join(info.arguments)[:300]}" for info in leftovers]
        if tracked:
            lines.append(f"  pipeline.media.ffmpeg still tracks running processes: {tracked}")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("ffmpeg processes outlived their tests:\n" + "\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

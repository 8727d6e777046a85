"""The embedded Prefect API of a CLI command, started before the command imports Prefect.

With no Prefect server configured, Prefect starts a temporary API server of its own the first time
the command needs the API: only after the command has imported Prefect and Prefect's server
modules into its own process (about 5 s of CPU) and checked the package, and then it waits for
that server process to boot (about 5 s more). Those two waits came one after the other in every
`versioner render`, `nightly`, `runs` and `logs`.

`start()` starts the same server as the command's first act: the same application
(`prefect.server.api.server:create_app` under uvicorn), ephemeral (no UI, no scheduler), on the
same database under PREFECT_HOME, bound to 127.0.0.1. It boots while the command imports Prefect
and checks the package. `PREFECT_API_URL` is set for this process before Prefect is imported (so
every Prefect thread sees it), and `ready()` waits for the server's health check before the first
call to the API. The server ends with the command, and with its parent if the command is killed.

A site's own Prefect setup is never overridden: if `PREFECT_API_URL` is set, or anything that
could set it or turn the embedded mode off exists (the active Prefect profile naming a server,
`prefect.toml`, a `.env` with Prefect settings, `[tool.prefect]` in `pyproject.toml`), the
command leaves the API to Prefect as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

from pipeline.errors import VersionerError
from pipeline.processes import die_with_parent

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
_running: EmbeddedApi | None = None


class EmbeddedApiError(VersionerError):
    """The embedded Prefect API did not start."""


def ours_to_start(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> bool:
    """True when Prefect would start an embedded API and nothing the site set up says otherwise."""
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    if environ.get("PREFECT_API_URL") or any(key.startswith("PREFECT_TESTING") for key in environ):
        return False
    for key in ("PREFECT_SERVER_EPHEMERAL_ENABLED", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"):
        if environ.get(key, "true").strip().lower() in ("0", "false", "no", "off"):
            return False
    if (cwd / "prefect.toml").exists() or _mentions(cwd / ".env", "PREFECT_") \
            or _mentions(cwd / "pyproject.toml", "[tool.prefect"):
        return False
    return not _profile_configures_api(environ)


def _mentions(path: Path, text: str) -> bool:
    try:
        return path.is_file() and text in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # unreadable: leave it to Prefect, which reads it too


def _profile_configures_api(environ: Mapping[str, str]) -> bool:
    """Whether the active Prefect profile sets an API URL or any ephemeral-mode key."""
    if environ.get("PREFECT_PROFILES_PATH"):
        path = Path(environ["PREFECT_PROFILES_PATH"])
    else:
        path = Path(environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml"
    if not path.is_file():
        return False
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True  # unreadable: Prefect will say what is wrong with it
    active = environ.get("PREFECT_PROFILE") or profiles.get("active")
    settings = profiles.get("profiles", {}).get(active, {})
    return any("API_URL" in key.upper() or "EPHEMERAL" in key.upper() for key in settings)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedApi:
    """One embedded Prefect API server process, started by this command."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.started = time.monotonic()
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        spec = find_spec("prefect")
        if spec is None or spec.origin is None:
            raise EmbeddedApiError("Prefect is not installed in this environment; reinstall versioner")
        app_dir = str(Path(spec.origin).parent.parent)
        env = os.environ | {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                            "PREFECT__SERVER_FINAL": "1"}
        command = [sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory",
                   "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "error", "--lifespan", "on"]
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())

    def ready(self) -> None:
        """Wait until the server answers its health check (or say why it never will)."""
        timeout = float(os.environ.get(STARTUP_TIMEOUT_ENV) or 180)
        while True:
            returncode = self.process.poll()
            if returncode is not None:
                raise EmbeddedApiError(f"the embedded Prefect API on port {self.port} exited with code {returncode} "
                                       "while starting (its messages are above); fix what they name, run the "
                                       "command again, or point PREFECT_API_URL at a running Prefect server")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        log.debug("embedded Prefect API up in %.1f s", time.monotonic() - self.started)
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - self.started > timeout:
                self.stop()
                raise EmbeddedApiError(f"the embedded Prefect API did not answer within {timeout:g} s; on a busy "
                                       f"machine raise {STARTUP_TIMEOUT_ENV}, or point PREFECT_API_URL at a "
                                       "running Prefect server")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start() -> EmbeddedApi | None:
    """Start the embedded API for this command when it is ours to start (see the module's text).
    Only before Prefect is imported: Prefect reads PREFECT_API_URL once, at its import."""
    global _running
    if _running is None and "prefect" not in sys.modules and ours_to_start():
        _running = EmbeddedApi()
        os.environ["PREFECT_API_URL"] = _running.url
        # At exit, after Prefect's own exit handlers (registered later, so run earlier) have sent
        # the last logs and events to it.
        atexit.register(stop)
    return _running


def ready() -> None:
    """Before the first call to the Prefect API: wait for the embedded API, if this command started one."""
    if _running is not None:
        _running.ready()


def running_here() -> bool:
    """Whether the API this process talks to is the embedded one it started."""
    return _running is not None


@contextmanager
def flow_settings() -> Iterator[None]:
    """Around the flow runs of this command: with the embedded API, no flow-run heartbeats. They
    tell a server that outlives the process running a flow that the process still lives; the
    embedded API ends with the command, so they have nobody to tell, and each run waited at its
    end for its heartbeat thread, which looks at its stop once a second (0.5-0.8 s, measured)."""
    if _running is None:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def stop() -> None:
    global _running
    if _running is not None:
        _running.stop()
        os.environ.pop("PREFECT_API_URL", None)
        _running = None

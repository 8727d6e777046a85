"""Scale-out on Prefect itself: a real `prefect server start` on a loopback port, the `process`
work pool, the deployments of flows/deploy.py, two render workers and one for the schedule. The
nightly deployment hands each package to the render deployment; every package is rendered
exactly once and the renders are spread over both workers. Two nightly runs started at the same
moment: the server runs one and cancels the other. `versioner serve` registers the schedule of
the config, with the same guard.

Everything started here runs in its own process group and is stopped at the end, pass or fail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from flows.embedded_api import free_port
from tests.conftest import FAST_CONFIG, ROOT, VERSIONER
from tests.inbox_packages import (
    delivered_run_id,
    make_master,
    make_package,
    renders_of,
    visible_entries,
    write_ffmpeg_wrapper,
)

pytestmark = pytest.mark.slow
PREFECT = [str(Path(sys.executable).parent / "prefect")]
STARTUP_S = 240



class Processes:
    """Processes started by the tests, each in its own group, all stopped by `stop_all`."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, process))
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # and whatever it started (flow-run processes)
        except ProcessLookupError:
            pass
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for _name, process in reversed(self.started):
            self.stop(process)

    def output(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Prefect server on 127.0.0.1 with its own PREFECT_HOME; yields (env, processes)."""
    base = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(base / "prefect-home"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_HEARTBEAT_SECONDS": "5", "VERSIONER_HOME": str(base / "data-root")}
    processes = Processes(base)
    try:
        processes.start("server", PREFECT + ["server", "start", "--host", "127.0.0.1", "--port", str(port),
                                             "--no-ui", "--analytics-off"], env)
        _wait_until(lambda: _healthy(env["PREFECT_API_URL"]), STARTUP_S,
                    lambda: "server did not start:\n" + processes.output("server")[-3000:])
        yield env, processes
    finally:
        processes.stop_all()


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(condition, timeout_s: float, explain=lambda: "timed out") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(explain())


def _api(env: dict, method: str, path: str, body: dict | None = None):
    for _attempt in range(10):
        response = httpx.request(method, env["PREFECT_API_URL"] + path, json=body, timeout=30)
        if response.status_code != 503:
            break
        time.sleep(1)  # SQLite busy under load (a production server runs on PostgreSQL)
    response.raise_for_status()
    return response.json()


def _run(command: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


def _start_run(env: dict, deployment: str, parameters: dict | None = None) -> str:
    found = _api(env, "GET", f"/deployments/name/{deployment}")
    return _api(env, "POST", f"/deployments/{found['id']}/create_flow_run", {"parameters": parameters or {}})["id"]


def _final_state(env: dict, run_id: str, timeout_s: float = 600) -> dict:
    final = {}

    def finished() -> bool:
        state = _api(env, "GET", f"/flow_runs/{run_id}")["state"]
        final.update(state or {})
        return bool(state) and state["type"] in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")

    _wait_until(finished, timeout_s, lambda: f"flow run {run_id} still {final.get('name')}")
    return final


def _children(env: dict, run_id: str) -> list[dict]:
    return _api(env, "POST", "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}})


def _logs(env: dict, run_id: str) -> str:
    lines = _api(env, "POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
    return "\n".join(line["message"] for line in lines)


def _table(env: dict, key: str, run_id: str) -> list[dict]:
    """The table artifact of that key made by that flow run, as rows."""
    found = _api(env, "POST", "/artifacts/filter",
                 {"artifacts": {"key": {"any_": [key]}, "flow_run_id": {"any_": [run_id]}}})
    assert found, f"no artifact {key} from run {run_id}"
    data = found[0]["data"]
    return json.loads(data) if isinstance(data, str) else data


@contextmanager
def _workers(env: dict, processes: Processes, names: list[str], queue: str, limit: int | None = 1):
    started = []
    for name in names:
        command = PREFECT + ["worker", "start", "--pool", "versioner", "--work-queue", queue, "--name", name]
        started.append(processes.start(name, command + (["--limit", str(limit)] if limit else []), env))
    try:
        _wait_until(lambda: _online(env) >= set(names), STARTUP_S,
                    lambda: "workers not online:\n" + "\n".join(processes.output(n)[-2000:] for n in names))
        yield
    finally:
        for process in started:
            processes.stop(process)


def _online(env: dict) -> set[str]:
    workers = _api(env, "POST", "/work_pools/versioner/workers/filter", {})
    return {worker["name"] for worker in workers if worker["status"] == "ONLINE"}


@pytest.mark.ffmpeg
@pytest.mark.prefect_server
def test_the_nightly_deployment_spreads_packages_over_two_workers_and_never_overlaps(server, tmp_path_factory):
    env, processes = server
    scratch = tmp_path_factory.mktemp("scale-out")
    config = scratch / "fast.toml"
    config.write_text(FAST_CONFIG + "\n[limits]\nstall_s = 900\nceiling_floor_s = 900\n")  # a held render is not killed
    hold = scratch / "ffmpeg"
    wrapper, renders = write_ffmpeg_wrapper(hold, hold_for="scale-held")
    env = {**env, "FFMPEG_BINARY": str(wrapper)}
    master = make_master(scratch / "show.mov")
    assets = ["scale-a", "scale-b", "scale-c"]
    for asset_id in assets:
        _run(VERSIONER + ["submit", str(make_package(scratch / asset_id, asset_id, master))], env)

    _run(PREFECT + ["work-pool", "create", "versioner", "--type", "process"], env)
    deployed = _run(VERSIONER + ["deploy", "--config", str(config)], env)
    assert deployed.stdout.count("deployed ") == 2, deployed.stdout
    with _workers(env, processes, ["render-a", "render-b"], "render"), \
            _workers(env, processes, ["night"], "nightly", limit=None):
        night_id = _start_run(env, "nightly_render/nightly")
        assert _final_state(env, night_id)["type"] == "COMPLETED", _logs(env, night_id)
        children = _children(env, night_id)
        # Two nights at once: the first is held while its package renders (the wrapper waits for
        # `release`), so it certainly holds the deployment's one slot when the second starts.
        _run(VERSIONER + ["submit", str(make_package(scratch / "scale-held", "scale-held", master))], env)
        first_twin = _start_run(env, "nightly_render/nightly")
        try:
            _wait_until((hold / "held").exists, STARTUP_S, lambda: f"night {first_twin} never reached its render")
            second_twin = _start_run(env, "nightly_render/nightly")
            twin_states = [_final_state(env, second_twin)]
        finally:
            (hold / "release").touch()
        twin_states.insert(0, _final_state(env, first_twin))

    data_root = Path(env["VERSIONER_HOME"])
    assert visible_entries(data_root / "outbox") == [*assets, "scale-held"]
    assert visible_entries(data_root / "inbox") == [] and visible_entries(data_root / "work") == []
    assert {asset_id: renders_of(renders, asset_id) for asset_id in [*assets, "scale-held"]} == {
        asset_id: 1 for asset_id in [*assets, "scale-held"]}
    assert sorted(child["name"] for child in children) == [f"render {asset_id}" for asset_id in assets]
    assert {child["state"]["name"] for child in children} == {"Delivered"}
    assert {delivered_run_id(data_root / "outbox", asset_id) for asset_id in assets} == {c["id"] for c in children}
    workers_used = {name for child in children for name in ("render-a", "render-b")
                    if f"worker {name}" in _logs(env, child["id"])}
    assert workers_used == {"render-a", "render-b"}, "the renders were not spread over both workers"

    night_table = _table(env, "nightly-summary", night_id)
    assert sorted((row["asset_id"], row["outcome"]) for row in night_table) == [(a, "Delivered") for a in assets]
    for child in children:
        asset_id = child["name"].removeprefix("render ")
        rows = {row["deliverable"]: row for row in _table(env, f"render-{asset_id}", child["id"])}
        assert set(rows) == {"master-clean", "international", "subtitled-en"}
        assert rows["master-clean"]["loudness_lufs"] == pytest.approx(-23, abs=1)
        assert rows["master-clean"]["duration_s"] == pytest.approx(2.0, abs=0.1)
        assert all(row["state"] == "delivered" and Path(row["path"]).is_file() for row in rows.values())

    assert [state["type"] for state in twin_states] == ["COMPLETED", "CANCELLED"], twin_states
    assert "concurrency limit" in twin_states[1]["message"], twin_states[1]

    runs = _run(VERSIONER + ["runs"], env)
    assert night_id in runs.stdout and runs.stdout.count("Delivered") >= 3
    logs = _run(VERSIONER + ["logs", night_id], env)
    assert "fanning out to deployment render_from_inbox/render" in logs.stdout
    for asset_id in assets:
        assert f"== render_from_inbox / render {asset_id}" in logs.stdout
        assert f"{asset_id}: render 100 %" in logs.stdout


@pytest.mark.ffmpeg
@pytest.mark.prefect_server
def test_serve_registers_the_schedule_of_the_config_with_the_same_guard(server, tmp_path_factory):
    env, processes = server
    scratch = tmp_path_factory.mktemp("serve")
    config = scratch / "schedule.toml"
    # The held render below must not reach its time limit while the test holds it.
    config.write_text(FAST_CONFIG + '\n[schedule]\ncron = "30 1 * * *"\ntimezone = "Europe/Paris"\n'
                      "\n[limits]\nstall_s = 900\nceiling_floor_s = 900\n")
    hold = scratch / "ffmpeg"
    wrapper, _renders = write_ffmpeg_wrapper(hold, hold_for="serve-held")
    env = {**env, "FFMPEG_BINARY": str(wrapper), "VERSIONER_HOME": str(scratch / "data-root")}
    _run(VERSIONER + ["submit", str(make_package(scratch / "held", "serve-held", make_master(scratch / "show.mov")))],
         env)
    serving = processes.start("serve", VERSIONER + ["serve", "--name", "nightly-served", "--config", str(config)], env)
    try:
        deployment = {}

        def registered() -> bool:
            try:
                deployment.update(_api(env, "GET", "/deployments/name/nightly_render/nightly-served"))
            except httpx.HTTPStatusError:
                return False
            return True

        _wait_until(registered, STARTUP_S, lambda: "serve did not register:\n" + processes.output("serve")[-3000:])
        schedule = deployment["schedules"][0]["schedule"]
        assert (schedule["cron"], schedule["timezone"]) == ("30 1 * * *", "Europe/Paris")
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert (deployment["concurrency_options"] or {}).get("collision_strategy") == "CANCEL_NEW"
        assert deployment["parameters"]["config_file"] == str(config)

        # The first night is held inside its render (the wrapper waits for `release`), so it is
        # certainly running, holding the deployment's one slot, when the second is started.
        here = {"where": "here"}
        first = _start_run(env, "nightly_render/nightly-served", here)
        _wait_until((hold / "held").exists, STARTUP_S,
                    lambda: "the first night never reached its render:\n" + processes.output("serve")[-3000:])
        second = _start_run(env, "nightly_render/nightly-served", here)
        cancelled = _final_state(env, second)
        (hold / "release").touch()
        completed = _final_state(env, first)
        assert (cancelled["type"], completed["type"]) == ("CANCELLED", "COMPLETED"), processes.output("serve")[-3000:]
        assert "concurrency limit" in cancelled["message"], cancelled
        assert visible_entries(scratch / "data-root" / "outbox") == ["serve-held"]
    finally:
        (hold / "release").touch()
        processes.stop(serving)
    assert serving.poll() is not None

"""Every `versioner` subcommand through its real entry point, in this process: `flows.cli.main`
builds its own parser, parses the command line and runs the handler. Each test gives the
subcommand every option it has, so a handler that reads an option its parser does not define
fails here (the AttributeError escapes `main`) instead of in a user's hands, as `demo` once did.

`watch` ends by its own `--max-seconds`. `deploy` and `serve` register their deployments for
real on the embedded Prefect API, given to them as a server's URL. Two stops are injected, each
once the handler has read all its options: `serve` where its runner would start polling for
runs (until Ctrl-C), and `demo` where its flow would start rendering the sample (that render is
`make demo` in CI, and the `rendered_sample` fixture here)."""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

import pytest

from flows.cli import build_parser, main
from pipeline.media.ffmpeg import REQUIRED_FILTERS
from tests.conftest import SAMPLE, run_versioner
from tests.inbox_packages import SRT_EN, make_master, make_package

SAMPLE_ASSET = "2026-11-20-harbour-bridge-reopens"
TESTED = {"render", "demo", "check", "submit", "watch", "nightly", "serve", "deploy", "runs", "logs"}


def test_every_subcommand_of_versioner_has_a_test_here():
    [subcommands] = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    assert set(subcommands.choices) == TESTED


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> Path:
    return make_master(tmp_path_factory.mktemp("master") / "show.mov")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A data root of its own (the CLI reads VERSIONER_HOME)."""
    root = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(root))
    return root


@pytest.fixture(scope="module")
def api_url():
    """The embedded Prefect API (the one flows of this process use), as a server's URL."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return server.api_url


@pytest.fixture
def on_server(api_url):
    """PREFECT_API_URL set, as on a machine with a Prefect server; deployments made are removed."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield
        with get_client(sync_client=True) as client:
            for deployment in client.read_deployments():
                client.delete_deployment(deployment.id)


# --- render, demo, check: a package and its delivery ---------------------------------------------

def _filters_of(command: list[str]) -> set[str]:
    """The names of the filters in a command's graphs (-filter_complex, -vf, -af)."""
    names = set()
    for option, graph in zip(command, command[1:]):
        if option in ("-filter_complex", "-vf", "-af"):
            graph = re.sub(r"'[^']*'", "", graph)  # quoted arguments hold commas of their own
            for link in re.split(r"(?<!\\)[,;]", graph):
                found = re.match(r"\s*(?:\[[^\]]*\]\s*)*([a-z0-9_]+)", link)
                if found:
                    names.add(found[1])
    return names


def test_filter_names_are_read_from_a_graph():
    graph = "[0:v]bwdif=mode=1,split=2[a][b];[a]select='eq(n\\,0)+gt(scene\\,0.3)',scale=64:-2[s];[b]null"
    assert _filters_of(["ffmpeg", "-filter_complex", graph, "-af", "anull"]) == {
        "bwdif", "split", "select", "scale", "null", "anull"}


@pytest.mark.ffmpeg
@pytest.mark.slow  # a real render; the embedded Prefect API starts for it
def test_render_delivers_the_package_in_the_profiles_given(tmp_path, master, fast_config, capsys, ffmpeg_commands):
    package = make_package(tmp_path / "package", "cli-render", master)
    out = tmp_path / "out"
    code = main(["render", str(package), "--out", str(out), "--profiles", "web", "--config", str(fast_config)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (out / "cli-render" / "cli-render_master-clean.mp4").is_file()
    assert f"made    master-clean           {out / 'cli-render' / 'cli-render_master-clean.mp4'}" in printed
    # ffmpeg's filters are checked once at start-up: every one this render used was on the list
    used = set().union(*(_filters_of(command) for command in ffmpeg_commands()))
    assert {"ass", "ebur128", "scale"} <= used
    assert used - set(REQUIRED_FILTERS) == set()


@pytest.mark.ffmpeg
def test_demo_renders_the_bundled_sample_with_the_options_given(tmp_path, fast_config, monkeypatch):
    import flows.render
    from pipeline.errors import VersionerError

    handed: dict = {}

    def render_master(**parameters):
        handed.update(parameters)
        raise VersionerError("stopped by the test before the render")

    monkeypatch.setattr(flows.render, "render_master", render_master)
    out = tmp_path / "out"
    code = main(["demo", "--out", str(out), "--profiles", "web,broadcast", "--config", str(fast_config)])
    assert code == 3  # the stop above, reported as any error of the pipeline
    assert handed == {"package_dir": str(SAMPLE), "out_dir": str(out), "config_file": str(fast_config),
                      "profiles": ["web", "broadcast"]}


@pytest.mark.ffmpeg
def test_check_names_the_asset_without_rendering(fast_config, capsys):
    assert main(["check", str(SAMPLE), "--config", str(fast_config)]) == 0
    assert f"ok: {SAMPLE} is asset {SAMPLE_ASSET}" in capsys.readouterr().out


# --- submit, watch, nightly: the data root ------------------------------------------------------

@pytest.mark.ffmpeg
def test_submit_of_loose_files_lands_in_the_inbox_with_its_profiles(tmp_path, home, master, fast_config, capsys):
    loose = make_package(tmp_path / "loose", "cli-submit", master)
    (loose / "show.en.srt").rename(tmp_path / "english.srt")
    command = ["submit", str(loose / "show.mov"), "--srt", f"en={tmp_path / 'english.srt'}",
               "--metadata", str(loose / "metadata.yaml"), "--profiles", "web", "--config", str(fast_config)]
    assert main(command) == 0
    assert main([*command, "--replace"]) == 0
    assert capsys.readouterr().out.split() == ["cli-submit", "cli-submit"]
    landed = home / "inbox" / "cli-submit"
    assert (landed / "show.en.srt").read_text(encoding="utf-8") == SRT_EN
    assert json.loads((landed / ".state.json").read_text())["profiles"] == ["web"]


@pytest.mark.ffmpeg
def test_watch_judges_a_drop_and_stops_after_the_time_given(tmp_path, home, capsys):
    config = tmp_path / "watch.toml"
    config.write_text("[watch]\nstable_seconds = 0.2\npoll_interval_s = 0.1\n")
    (home / "dropbox" / "pkg").mkdir(parents=True)
    (home / "dropbox" / "pkg" / "metadata.yaml").write_text("title: No master\n")
    assert main(["--config", str(config), "watch", "--max-seconds", "1.5"]) == 0
    assert "rejected pkg: error: pkg: holds no master video" in capsys.readouterr().out


@pytest.mark.ffmpeg
@pytest.mark.slow  # the embedded Prefect API starts for the night's flow run
def test_nightly_runs_here_with_the_profiles_given(home, fast_config, capsys):
    (home / "inbox").mkdir(parents=True)
    code = main(["nightly", "--where", "here", "--profiles", "web", "--config", str(fast_config)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"0 package(s) in {home}" in printed and "logs: versioner logs " in printed


# --- runs and logs: what ran ---------------------------------------------------------------------

def _a_flow_that_logs(line: str) -> str:
    from prefect import flow, get_run_logger, runtime
    from prefect.logging.handlers import APILogHandler

    @flow(name="cli-test-flow")
    def logs_a_line() -> str:
        get_run_logger().info(line)
        return str(runtime.flow_run.id)

    run_id = logs_a_line()
    APILogHandler().flush()  # the run's log lines are sent in batches: all of them in the API now
    return run_id


@pytest.mark.slow  # the embedded Prefect API starts for the flow run
def test_runs_lists_the_latest_run_and_logs_prints_its_lines(capsys):
    run_id = _a_flow_that_logs("a line for versioner logs")
    capsys.readouterr()
    assert main(["runs", "--limit", "1"]) == 0
    [header, row] = capsys.readouterr().out.splitlines()
    assert header.startswith("STARTED") and "cli-test-flow" in row and row.endswith(run_id)
    for command in (["logs", run_id, "--no-children"], ["logs", "--last"]):
        assert main(command) == 0, command
        printed = capsys.readouterr().out
        assert "== cli-test-flow / " in printed and "a line for versioner logs" in printed, command


@pytest.mark.slow  # the embedded Prefect API answers the unknown run
def test_logs_of_an_unknown_run_says_where_to_find_one(capsys):
    assert main(["logs", "not-a-run"]) == 2
    assert main(["logs", "00000000-0000-4000-8000-000000000000", "--no-children"]) == 2
    errors = capsys.readouterr().err
    assert "'not-a-run' is not a flow run id" in errors and "no flow run 00000000-" in errors
    assert errors.count("fix: copy one from `versioner runs`") == 2


# --- deploy and serve: a Prefect server ---------------------------------------------------------

@pytest.mark.slow  # the embedded Prefect API starts
def test_deploy_registers_both_deployments_on_the_pool_given(tmp_path, on_server, capsys):
    from prefect.client.orchestration import get_client

    config = tmp_path / "night.toml"
    config.write_text('[schedule]\ncron = "15 2 * * *"\ntimezone = "Europe/Paris"\n')
    assert main(["deploy", "--pool", "cli-test-pool", "--config", str(config)]) == 0
    printed = capsys.readouterr()
    assert printed.out.count("deployed ") == 2 and "--pool cli-test-pool" in printed.err
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("cli-test-pool").type == "process"
        render = client.read_deployment_by_name("render_from_inbox/render")
        nightly = client.read_deployment_by_name("nightly_render/nightly")
    assert render.work_pool_name == nightly.work_pool_name == "cli-test-pool"
    assert nightly.schedules[0].schedule.cron == "15 2 * * *"
    assert nightly.parameters == {"config_file": str(config)}


@pytest.mark.slow  # the embedded Prefect API starts
def test_serve_registers_its_deployment_then_would_poll(tmp_path, on_server, monkeypatch, capsys):
    from prefect.client.orchestration import get_client
    from prefect.runner import Runner

    polled = []

    async def start(runner, *args, **kwargs):  # where `serve` would poll until Ctrl-C
        polled.append(runner)

    monkeypatch.setattr(Runner, "start", start)
    config = tmp_path / "night.toml"
    config.write_text('[schedule]\ncron = "45 3 * * *"\ntimezone = "UTC"\n')
    assert main(["serve", "--name", "cli-served", "--config", str(config)]) == 0
    assert "serving nightly_render/cli-served on '45 3 * * *' (UTC)" in capsys.readouterr().err
    assert len(polled) == 1
    with get_client(sync_client=True) as client:
        served = client.read_deployment_by_name("nightly_render/cli-served")
    assert served.schedules[0].schedule.cron == "45 3 * * *"
    assert served.global_concurrency_limit is not None and served.global_concurrency_limit.limit == 1
    assert served.parameters == {"config_file": str(config)}



@pytest.mark.ffmpeg
@pytest.mark.slow  # the embedded Prefect API starts
def test_a_night_on_a_server_without_the_render_deployment_says_it_renders_here(home, fast_config, on_server,
                                                                                 capsys, caplog):
    (home / "inbox").mkdir(parents=True)
    with caplog.at_level(logging.WARNING):
        assert main(["nightly", "--where", "auto", "--config", str(fast_config)]) == 0, capsys.readouterr()
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("no deployment render_from_inbox/render on the server at http" in line and "rendering here" in line
               for line in warnings), warnings


@pytest.mark.ffmpeg
@pytest.mark.slow  # a flow run on the embedded Prefect API
def test_a_head_start_is_taken_by_the_run_with_its_lines_and_its_seconds(tmp_path, fast_config, capsys,
                                                                        ffmpeg_commands):
    """`versioner render` analyses the sound and begins the render while its Prefect API boots
    (flows.render.HeadStartHere): here both end before the run even exists. The run takes them:
    the master's sound is measured once and the render run once; their lines are in the run's
    log, before its beginning; the sidecar's timings hold the work's own seconds, not the steps'
    waits; no work dir is left."""
    from prefect.logging.handlers import APILogHandler

    from flows.render import HeadStartHere, head_starts, render_master
    from pipeline.config import load_config
    from pipeline.intake.submission import check_submission

    config = load_config(fast_config)
    out = tmp_path / "out"
    head = HeadStartHere(check_submission(SAMPLE, config), config, out)
    head.rendered.result()
    head_starts[str(SAMPLE)] = head
    report = render_master(package_dir=str(SAMPLE), out_dir=str(out), config_file=str(fast_config))
    assert report.exit_code == 0 and str(SAMPLE) not in head_starts
    commands = ffmpeg_commands()
    measured_master = [command for command in commands
                       if any("ebur128@mix" in arg for arg in command) and str(SAMPLE) in " ".join(command)]
    assert len(measured_master) == 1, "the run analysed the sound again"
    renders = [command for command in commands  # from the master to the clean file (not a mux, not a read-back)
               if any(arg.endswith("_master-clean.mp4") for arg in command) and str(SAMPLE) in " ".join(command)]
    assert len(renders) == 1, "the run rendered again"
    sync_references = [command for command in commands  # the master's sound the read-backs' sync is held to
                       if str(SAMPLE) in " ".join(command) and any("aresample=8000:first_pts=0" in arg for arg in command)]
    assert len(sync_references) == 1, "the files' read-backs, side by side, each read the master's sound"
    sidecar = json.loads(report.metadata_file.read_text())
    steps = sidecar["provenance"]["timings"]["steps_s"]
    assert (steps["analyse"], steps["render"]) == (head.seconds["analyse"], head.seconds["render"])
    assert steps["render"] > 1.0, steps
    assert not list(out.glob(".work-*")), "a work dir was left"
    APILogHandler().flush()
    capsys.readouterr()
    assert main(["logs", sidecar["provenance"]["flow_run_id"], "--no-children"]) == 0
    printed = capsys.readouterr().out
    assert "loudness trial 1: mix -23.0" in printed and f"{SAMPLE_ASSET}: M&E check me_not_silent" in printed
    assert printed.index("loudness trial 1") < printed.index("Beginning flow run"), "logged before the run began"
    render_line = next(line for line in printed.splitlines()
                       if "running:" in line and "_master-clean.mp4" in line and str(SAMPLE) in line)
    assert printed.index(render_line) < printed.index("Beginning flow run"), "the render began before the run"
    assert "the analysis and the render began before the run" in printed


@pytest.mark.ffmpeg
@pytest.mark.slow  # a flow run on the embedded Prefect API
def test_a_head_start_of_other_work_is_stopped_and_the_run_renders_anew(tmp_path, fast_config, capsys):
    """A head start rendering under another folder than the run's (or of another package or
    config) is not the run's work: the run stops it, removes its work dir, says so in its log,
    and renders the package itself."""
    from prefect.logging.handlers import APILogHandler

    from flows.render import HeadStartHere, head_starts, render_master
    from pipeline.config import load_config
    from pipeline.intake.submission import check_submission

    config = load_config(fast_config)
    elsewhere = tmp_path / "elsewhere"
    head = HeadStartHere(check_submission(SAMPLE, config), config, elsewhere)
    head_starts[str(SAMPLE)] = head
    report = render_master(package_dir=str(SAMPLE), out_dir=str(tmp_path / "out"), config_file=str(fast_config))
    assert report.exit_code == 0 and all(item.delivered for item in report.deliverables)
    assert head.stopped and head.rendered.done()
    assert not elsewhere.exists() or not any(elsewhere.iterdir()), f"left behind: {list(elsewhere.iterdir())}"
    APILogHandler().flush()
    capsys.readouterr()
    run_id = json.loads(report.metadata_file.read_text())["provenance"]["flow_run_id"]
    assert main(["logs", run_id, "--no-children"]) == 0
    assert "the render begun ahead was of another package, config or folder: it was stopped" in capsys.readouterr().out


@pytest.mark.ffmpeg
@pytest.mark.slow  # two commands, each with its embedded Prefect API
def test_a_render_commands_run_log_is_whole_once_the_command_has_ended(tmp_path, master, fast_config):
    """`versioner render` (its own process) leaves without the interpreter's teardown
    (flows.cli.leave), but only once Prefect's log worker has sent what it held while the
    embedded API was still up: the run's log, read back by the next command, ends with the
    flow's final state, and opens with the sound's analysis, made while the API booted."""
    package = make_package(tmp_path / "package", "cli-whole-log", master)
    out = tmp_path / "out"
    rendered = run_versioner("render", str(package), "--out", str(out), "--profiles", "web",
                             "--config", str(fast_config))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    sidecar = json.loads((out / "cli-whole-log" / "cli-whole-log_metadata.json").read_text())
    result = run_versioner("logs", sidecar["provenance"]["flow_run_id"], "--no-children")
    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout.rstrip()
    assert printed.endswith("Finished in state Completed()") and f"published {out / 'cli-whole-log'}" in printed, \
        printed[-800:]
    assert printed.index("loudness trial 1") < printed.index("Beginning flow run"), printed[:2000]

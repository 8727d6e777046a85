"""Notifications, received by a real HTTP server on 127.0.0.1: the webhook POST and the Apprise
message for a delivered and a quarantined package, retries of a failing endpoint, and secrets that
never reach a log line or a notice."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.config import NotifyConfig, load_config
from pipeline.ops.notify import Notice, delivery_notice, quarantine_notice, send_notice
from tests.delivery_packages import make_package, render
from tests.inbox_packages import make_master

TOKEN = "s3cr3t-t0ken-do-not-log"


class Receiver:
    """A local web server that records every POST and answers each path as told."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.failures_left: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0]
                receiver.received.append((path, body))
                failing = receiver.failures_left.get(path, 0)
                if failing:
                    receiver.failures_left[path] = failing - 1
                status = 500 if failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def posts_to(self, path: str) -> list[dict]:
        return [body for where, body in self.received if where == path]


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _settings(**changes) -> NotifyConfig:
    values = {"webhook_env": ["HOOK"], "apprise_env": [], "attempts": 3, "timeout_s": 5.0, "retry_delay_s": 0.05}
    return NotifyConfig(**(values | changes))


@pytest.fixture(scope="module")
def delivered_report(tmp_path_factory, fast_config):
    """A real render's report (the library's RenderReport), two subtitle languages."""
    root = tmp_path_factory.mktemp("notify")
    return render(make_package(root / "package"), root / "out", fast_config)


@pytest.mark.ffmpeg
def test_a_delivery_is_posted_to_the_webhook_and_through_apprise(receiver, delivered_report, caplog):
    environ = {"HOOK": f"http://{receiver.base}/hook?token={TOKEN}",
               "APPRISE": f"json://{receiver.base}/apprise?token={TOKEN}"}
    caplog.set_level(logging.DEBUG)
    sent = send_notice(delivery_notice(delivered_report), _settings(apprise_env=["APPRISE"]), environ)
    assert [(item.endpoint, item.ok) for item in sent] == [("HOOK", True), ("APPRISE", True)]
    [posted] = receiver.posts_to("/hook")
    folder = delivered_report.folder
    assert posted["asset_id"] == "awkward-tags" and posted["state"] == "delivered"
    assert posted["qc_verdict"] == "warning"  # a subtitle cue under 5/6 s
    assert posted["report"] == str(folder / "awkward-tags_qc.html") and Path(posted["report"]).is_file()
    assert [(item["key"], item["state"], item["file"]) for item in posted["deliverables"]] == \
        [(item.key, "delivered", item.file) for item in delivered_report.deliverables]
    [message] = receiver.posts_to("/apprise")
    assert message["title"] == "versioner: awkward-tags delivered (QC warning)"
    assert "- international: delivered" in message["message"] and str(folder) in message["message"]
    assert TOKEN not in json.dumps(posted) and TOKEN not in caplog.text


def test_a_quarantined_package_is_posted_with_its_reason(receiver, tmp_path):
    where = tmp_path / "quarantine" / "bad-one"
    notice = quarantine_notice("bad-one", where, "show.mov: is truncated")
    [sent] = send_notice(notice, _settings(), {"HOOK": f"http://{receiver.base}/hook"})
    assert sent.ok and sent.attempts == 1
    [posted] = receiver.posts_to("/hook")
    assert posted["state"] == "quarantined" and posted["reason"] == "show.mov: is truncated"
    assert posted["report"] == str(where / "reason.json") and posted["deliverables"] == []


def test_a_failing_endpoint_is_retried_then_succeeds(receiver):
    receiver.failures_left["/hook"] = 2
    [sent] = send_notice(Notice("a", "delivered"), _settings(), {"HOOK": f"http://{receiver.base}/hook"})
    assert sent.ok and sent.attempts == 3
    assert len(receiver.posts_to("/hook")) == 3


def test_a_dead_endpoint_is_logged_by_its_variable_and_never_raises(receiver, caplog):
    receiver.failures_left["/down"] = 99
    environ = {"HOOK": f"http://{receiver.base}/down?token={TOKEN}",
               "OTHER": f"http://{receiver.base}/ok", "NOWHERE": f"http://127.0.0.1:9/x?token={TOKEN}"}
    caplog.set_level(logging.INFO, logger="pipeline.ops.notify")
    sent = send_notice(Notice("a", "incomplete"), _settings(webhook_env=["HOOK", "NOWHERE", "MISSING", "OTHER"]),
                       environ)
    assert [(item.endpoint, item.ok, item.attempts) for item in sent] == \
        [("HOOK", False, 3), ("NOWHERE", False, 3), ("MISSING", False, 0), ("OTHER", True, 1)]
    assert "notify: gave up on HOOK after 3 attempts: EndpointError: HTTP 500" in caplog.text
    assert "gave up on NOWHERE after 3 attempts: EndpointError: cannot reach it" in caplog.text
    assert "the environment variable MISSING is not set" in caplog.text
    assert TOKEN not in caplog.text
    assert len(receiver.posts_to("/down")) == 3 and len(receiver.posts_to("/ok")) == 1


def test_only_http_webhooks_are_posted_to(tmp_path):
    target = tmp_path / "written"
    [sent] = send_notice(Notice("a", "delivered"), _settings(attempts=1), {"HOOK": target.as_uri()})
    assert not sent.ok and "not an http:// or https:// URL" in sent.error and not target.exists()


def test_the_config_names_variables_never_addresses(tmp_path):
    path = tmp_path / "notify.toml"
    path.write_text('[notify]\nwebhook_env = ["VERSIONER_WEBHOOK"]\napprise_env = ["VERSIONER_APPRISE"]\n')
    config = load_config(path)
    assert config.notify.webhook_env == ["VERSIONER_WEBHOOK"]
    # Where to send does not change what is rendered: no re-render when a webhook changes.
    assert config.digest() == load_config().digest()


# --- through the flow: a package quarantined by a night's render run ------------------------------

@pytest.mark.slow  # ~30 s alone, nearly all of it the embedded Prefect API starting
@pytest.mark.ffmpeg
def test_the_inbox_flow_notifies_a_quarantined_package(receiver, tmp_path, monkeypatch):
    from flows.inbox import QUARANTINED, render_from_inbox

    home = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(home))
    monkeypatch.setenv("VERSIONER_TEST_HOOK", f"http://{receiver.base}/night")
    config_file = tmp_path / "notify.toml"
    config_file.write_text('[notify]\nwebhook_env = ["VERSIONER_TEST_HOOK"]\nretry_delay_s = 0.05\n')
    package = home / "inbox" / "night-bad"
    package.mkdir(parents=True)
    master = make_master(package / "show.mov")
    master.write_bytes(master.read_bytes()[: master.stat().st_size // 2])  # cut short by a failed copy
    (package / "metadata.yaml").write_text("title: Night bad\nasset_id: night-bad\n", encoding="utf-8")
    state = render_from_inbox("night-bad", str(config_file), return_state=True)
    assert state.name == QUARANTINED
    [posted] = receiver.posts_to("/night")
    assert posted["asset_id"] == "night-bad" and posted["state"] == "quarantined"
    assert "truncated" in posted["reason"] and posted["report"] == str(home / "quarantine" / "night-bad" / "reason.json")


@pytest.mark.slow  # the embedded Prefect API starts for the render
@pytest.mark.ffmpeg
def test_a_drop_rendered_at_once_is_delivered_and_notified(receiver, tmp_path, monkeypatch):
    """The producer's whole path: a drop, `[watch] render = "now"`, the render run of the inbox
    flow, the delivery in the outbox, and the webhook told."""
    import shutil

    from flows.watch import watch
    from tests.inbox_packages import make_package as make_inbox_package

    home = tmp_path / "home"
    monkeypatch.setenv("VERSIONER_HOME", str(home))
    monkeypatch.setenv("VERSIONER_TEST_HOOK", f"http://{receiver.base}/desk")
    config_file = tmp_path / "now.toml"
    config_file.write_text('[profiles.web]\npreset = "ultrafast"\ncrf = 23\n\n'
                           '[watch]\nrender = "now"\nstable_seconds = 0.3\npoll_interval_s = 0.1\n\n'
                           '[notify]\nwebhook_env = ["VERSIONER_TEST_HOOK"]\nretry_delay_s = 0.05\n')
    package = make_inbox_package(tmp_path / "package", "desk-now", make_master(tmp_path / "master.mov"))
    (home / "dropbox").mkdir(parents=True)
    shutil.copytree(package, home / "dropbox" / "desk-now")
    [verdict] = watch(str(config_file), max_seconds=3)
    assert verdict.accepted and "rendering starts now" in verdict.message
    assert (home / "outbox" / "desk-now" / "index.html").is_file()
    [posted] = receiver.posts_to("/desk")
    assert posted["asset_id"] == "desk-now" and posted["state"] == "delivered"
    assert posted["report"] == str(home / "outbox" / "desk-now" / "desk-now_qc.html")

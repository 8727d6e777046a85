"""Telling people a package is done (docs/design.md section 11): when it is delivered, delivered
incomplete or quarantined, a JSON POST to each configured webhook and a message through each
Apprise URL (e-mail, Slack, Teams, Matrix...: https://github.com/caronc/Apprise).

A notice carries the asset id, the state, each deliverable, the QC verdict and where the report
and the folder are: paths and verdicts, never media or credentials. The addresses are secrets (a
webhook URL holds its token, an Apprise URL its password), so `[notify]` names only the
environment variables that hold them; an address is never logged, written to a sidecar or put in
a notice, and a failing endpoint is named by its variable. A failing endpoint is tried
`attempts` times, then logged; sending never raises, so a notice never fails a render.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pipeline.config import Config, NotifyConfig
from pipeline.delivery import qc
from pipeline.delivery import report as delivery_report
from pipeline.delivery.results import RenderReport

log = logging.getLogger(__name__)

State = Literal["delivered", "incomplete", "quarantined"]


@dataclass(frozen=True)
class Notice:
    asset_id: str
    state: State
    deliverables: list[dict] = field(default_factory=list)
    """Each: key, state, file, reason."""
    qc_verdict: str | None = None
    report: str | None = None
    """The QC report of a delivery, or the `reason.json` of a quarantined package."""
    folder: str | None = None
    reason: str | None = None
    when: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def payload(self) -> dict:
        return {"event": "versioner.package", **asdict(self)}

    def title(self) -> str:
        return f"versioner: {self.asset_id} {self.state}" + (f" (QC {self.qc_verdict})" if self.qc_verdict else "")

    def text(self) -> str:
        lines = [f"{self.asset_id}: {self.state}"]
        if self.qc_verdict:
            lines.append(f"QC verdict: {self.qc_verdict}")
        lines += [f"- {item['key']}: {item['state']}" + (f" ({item['reason']})" if item.get("reason") else "")
                  for item in self.deliverables]
        if self.reason:
            lines.append(f"reason: {self.reason}")
        lines += [f"{label}: {value}" for label, value in (("report", self.report), ("folder", self.folder)) if value]
        return "\n".join(lines)


def delivery_notice(report: RenderReport) -> Notice:
    """The notice of a published delivery."""
    deliverables = [item.to_dict() for item in report.deliverables]
    return Notice(report.asset_id, "incomplete" if report.failed else "delivered",
                  [{key: item.get(key) for key in ("key", "state", "file", "reason")} for item in deliverables],
                  qc.verdict_of(deliverables), str(report.folder / delivery_report.filename(report.asset_id)),
                  str(report.folder))


def quarantine_notice(asset_id: str, where: Path, reason: str) -> Notice:
    return Notice(asset_id, "quarantined", [], None, str(Path(where) / "reason.json"), str(where), reason)


# --- sending -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    """What became of one endpoint, named by its environment variable, never by its address."""

    endpoint: str
    ok: bool
    attempts: int
    error: str = ""


def send_notice(notice: Notice, config: Config | NotifyConfig, environ: Mapping[str, str] | None = None) -> list[Sent]:
    """POST to every webhook and message every Apprise URL named in `[notify]`; never raises."""
    settings = config.notify if isinstance(config, Config) else config
    environ = os.environ if environ is None else environ
    sent = []
    try:
        body = json.dumps(notice.payload(), ensure_ascii=False).encode("utf-8")
        for variable in settings.webhook_env:
            sent += _each_address(variable, environ, settings,
                                  lambda url, timeout: _post_json(url, body, timeout))
        for variable in settings.apprise_env:
            sent += _each_address(variable, environ, settings,
                                  lambda urls, timeout: _apprise(urls, notice, timeout), split=False)
    except Exception as error:  # a notice must never fail the run that sends it
        log.error("%s: notifications failed: %s", notice.asset_id, type(error).__name__)
    return sent


def _each_address(variable: str, environ: Mapping[str, str], settings: NotifyConfig,
                  send: Callable[[str, float], None], split: bool = True) -> list[Sent]:
    value = (environ.get(variable) or "").strip()
    if not value:
        log.warning("notify: the environment variable %s is not set; nothing sent there", variable)
        return [Sent(variable, False, 0, "not set")]
    addresses = value.split() if split else [value]
    results = []
    for number, address in enumerate(addresses, 1):
        name = variable if len(addresses) == 1 else f"{variable}[{number}]"
        results.append(_with_retries(name, address, send, settings))
    return results


def _with_retries(name: str, address: str, send: Callable[[str, float], None], settings: NotifyConfig) -> Sent:
    error_text = ""
    for attempt in range(1, settings.attempts + 1):
        try:
            send(address, settings.timeout_s)
            log.info("notify: sent to %s", name)
            return Sent(name, True, attempt)
        except Exception as error:
            error_text = _without(address, f"{type(error).__name__}: {error}")
            log.warning("notify: %s failed (attempt %d of %d): %s", name, attempt, settings.attempts, error_text)
        if attempt < settings.attempts:
            time.sleep(settings.retry_delay_s * attempt)
    log.error("notify: gave up on %s after %d attempts: %s", name, settings.attempts, error_text)
    return Sent(name, False, settings.attempts, error_text)


def _without(address: str, text: str) -> str:
    """An error message with the address (and so its token) taken out."""
    return text.replace(address, "<address>") if address else text


class EndpointError(Exception):
    """The endpoint answered, but not with success."""


def _post_json(url: str, body: bytes, timeout: float) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise EndpointError("not an http:// or https:// URL")  # no file:// or ftp:// from a config
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "versioner"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise EndpointError(f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        raise EndpointError(f"HTTP {error.code}") from None
    except urllib.error.URLError as error:
        raise EndpointError(f"cannot reach it ({error.reason})") from None


def _apprise(urls: str, notice: Notice, timeout: float) -> None:
    import apprise

    asset = apprise.AppriseAsset(async_mode=False)
    notifier = apprise.Apprise(asset=asset)
    if not notifier.add(urls):
        raise EndpointError("holds no URL Apprise understands")
    for service in notifier:
        service.socket_read_timeout = service.socket_connect_timeout = timeout
    if not notifier.notify(title=notice.title(), body=notice.text()):
        raise EndpointError("Apprise could not deliver the message")

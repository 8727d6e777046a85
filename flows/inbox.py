"""The flow `render_from_inbox`: one pending package of the data root through its lifecycle
(docs/design.md section 7), as one flow run named `render <asset_id>`.

claim (one rename; a run that loses the race does nothing) -> already delivered with the same
master and config? done -> render into the outbox -> drop the claimed copy. Bad input goes to
quarantine with `reason.json`; any other failure puts the package back in the inbox with one more
attempt counted, or in quarantine once `limits.max_attempts` is reached.

The run's final state says what happened, by name: Delivered, Incomplete (published, some
deliverables failed), Skipped (already delivered, or claimed by another run), Requeued (back in
the inbox for the next run) or Quarantined. The night's summary reads these states back from the
API, so it works the same whether the run was in-process or on another machine's worker.
"""

from __future__ import annotations

import os
import re
import socket

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_table_artifact
from prefect.states import Completed, Failed, State

from pipeline.config import Config, load_config
from pipeline.delivery.results import RenderReport
from pipeline.errors import DiskFullError, FFmpegError, InputError
from pipeline.media.ffmpeg import quote
from pipeline.ops import lifecycle, notify

from .logs import PACKAGE_RUN_FLOW, PACKAGE_RUN_PREFIX, asset_logging
from .render import render_steps

DELIVERED, INCOMPLETE, SKIPPED, REQUEUED, QUARANTINED = (
    "Delivered", "Incomplete", "Skipped", "Requeued", "Quarantined")


@flow(name=PACKAGE_RUN_FLOW, flow_run_name=PACKAGE_RUN_PREFIX + "{asset_id}")
def render_from_inbox(asset_id: str, config_file: str | None = None, profiles: list[str] | None = None) -> State:
    """Claim `inbox/<asset_id>` and render it into `outbox/<asset_id>/`. `profiles` (the night's
    `--profiles`) wins over those asked at submission, which win over the config's [outputs]."""
    config = load_config(config_file)
    root = lifecycle.DataRoot.of(config)
    run_id = str(runtime.flow_run.id)
    with asset_logging(asset_id):
        logger = get_run_logger()
        worker = os.environ.get("PREFECT__WORKER_NAME")
        logger.info("%s: render run on host %s%s, data root %s", asset_id, socket.gethostname(),
                    f", worker {worker}" if worker else "", root.path)
        claimed = lifecycle.claim(root, asset_id, run_id)
        if claimed is None:
            message = f"{asset_id}: not in the inbox any more (another run claimed it first)"
            logger.info(message)
            return Completed(name=SKIPPED, message=message, data={"asset_id": asset_id, "outcome": SKIPPED})
        if profiles or claimed.state.profiles:
            config = load_config(config_file, profiles=profiles or claimed.state.profiles)
        return _render_claimed(root, claimed, config, run_id)


def _render_claimed(root: lifecycle.DataRoot, claimed: lifecycle.Claim, config: Config, run_id: str) -> State:
    logger = get_run_logger()
    asset_id = claimed.asset_id
    try:
        if lifecycle.already_delivered(root, claimed, config):
            outcome = lifecycle.settle_delivered(root, claimed, "skipped")
            message = f"{asset_id}: already delivered from this master with this config ({outcome.path}); not rendered again"
            logger.info(message)
            return Completed(name=SKIPPED, message=message, data={"asset_id": asset_id, "outcome": SKIPPED})
        if claimed.state.attempts:
            logger.info("%s: attempt %d of %d", asset_id, claimed.state.attempts + 1, config.limits.max_attempts)
        report = render_steps(str(claimed.path), root.outbox, config, scratch_root=claimed.render_dir,
                              earlier_attempts=claimed.state.failures)
    except BaseException as error:  # a cancelled run too: it must not leave its claim behind
        outcome = lifecycle.settle_failure(root, claimed, error, config, run_id)
        if not isinstance(error, Exception):
            raise
        if outcome.state == "quarantined":
            notify.send_notice(notify.quarantine_notice(asset_id, outcome.path, outcome.reason), config)
        return _failed(asset_id, error, outcome, config)
    lifecycle.settle_delivered(root, claimed)
    for number, failure in enumerate(claimed.state.failures, 1):
        logger.info("%s: delivered on attempt %d; attempt %d ended: %s", asset_id, claimed.state.attempts + 1,
                    number, failure["message"])
    notify.send_notice(notify.delivery_notice(report), config)
    return _delivered(asset_id, report)


def _delivered(asset_id: str, report: RenderReport) -> State:
    _package_table(asset_id, _deliverable_rows(report), f"{asset_id}: delivered to {report.folder}")
    outcome = INCOMPLETE if report.failed else DELIVERED
    data = report.to_dict() | {"outcome": outcome}  # a state's data crosses processes: plain JSON
    if report.failed:
        names = ", ".join(f"{item.key} ({item.reason or 'failed'})" for item in report.failed)
        return Completed(name=INCOMPLETE, data=data, message=f"{asset_id}: delivered to {report.folder} without {names}")
    return Completed(name=DELIVERED, data=data, message=f"{asset_id}: delivered to {report.folder}")


def _failed(asset_id: str, error: Exception, outcome: lifecycle.Outcome, config: Config) -> State:
    logger = get_run_logger()
    if isinstance(error, InputError):
        logger.error("%s: the package is bad: %s", asset_id, error)
    elif isinstance(error, FFmpegError):
        logger.error("%s: %s; the command was:\n%s", asset_id, error.reason, quote(error.command))
        logger.error("%s: last lines of ffmpeg's stderr:\n%s", asset_id, _indented(error.stderr_tail))
    elif isinstance(error, DiskFullError):
        logger.error("%s: %s", asset_id, error)
    else:
        logger.error("%s: the render failed: %s: %s", asset_id, type(error).__name__, error, exc_info=error)
    logger.error("%s: what to do: %s", asset_id, _advice(error, outcome, config))
    name = QUARANTINED if outcome.state == "quarantined" else REQUEUED
    row = {"deliverable": "(package)", "state": name, "duration_s": None, "render_s": None,
           "loudness_lufs": None, "path": str(outcome.path), "reason": outcome.reason}
    _package_table(asset_id, [row], f"{asset_id}: {name.lower()}, see {outcome.path}")
    message = f"{asset_id}: {name.lower()} ({outcome.path}): {outcome.reason}"
    return Failed(name=name, message=message,
                  data={"asset_id": asset_id, "outcome": name, "where": str(outcome.path),
                        "attempts": outcome.attempts, "reason": outcome.reason})


def _advice(error: Exception, outcome: lifecycle.Outcome, config: Config) -> str:
    if outcome.state == "quarantined" and isinstance(error, InputError):
        return (f"tell the producer; the package and its reason.json are in {outcome.path}. "
                "Once fixed, submit it again with `versioner submit --replace`.")
    if outcome.state == "quarantined":
        return (f"it failed {outcome.attempts} times and is now in {outcome.path} with reason.json. "
                "Read the logs of the earlier runs (`versioner runs`, `versioner logs RUN_ID`), fix the "
                "cause, then submit it again with `versioner submit --replace`.")
    retry = f"it is back in the inbox (attempt {outcome.attempts} of {config.limits.max_attempts}) and the next run tries again."
    if isinstance(error, DiskFullError):
        return f"free space under {error.path}; {retry}"
    if isinstance(error, FFmpegError):
        return (f"{retry} If it fails again, paste the command above into a shell on this machine to see "
                "the cause (a killed process, a full disk, a broken ffmpeg build).")
    return f"{retry} If it fails again, this is a fault of the pipeline: report it with this log."


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines()) or "    (ffmpeg wrote nothing)"


def _deliverable_rows(report: RenderReport) -> list[dict]:
    rows = []
    for item in report.deliverables:
        rows.append({"deliverable": item.key, "state": str(item.state),
                     "duration_s": item.technical.duration_s if item.technical else None,
                     "render_s": item.seconds,
                     "loudness_lufs": item.loudness.get("integrated_lufs"),
                     "path": str(report.folder / item.file) if item.file else None, "reason": item.reason})
    return rows


def _package_table(asset_id: str, rows: list[dict], description: str) -> None:
    # Keyed by asset: the UI shows each package's latest table and its history.
    key = "render-" + re.sub(r"[^a-z0-9-]+", "-", asset_id.lower()).strip("-")
    create_table_artifact(table=rows, key=key[:100], description=description)

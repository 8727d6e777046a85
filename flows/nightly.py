"""The flow `nightly_render`: every package pending in the inbox, each in its own flow run of
`render_from_inbox`, so one failure never stops the rest; then a summary of the night.

Where the package runs happen:
- under a Prefect server where the render deployment (`render_from_inbox/render`, see
  flows/deploy.py) has a worker online, each package becomes a run of that deployment, and the
  work pool's workers (one per render machine, each with its own `--limit`) share them out;
- otherwise (the embedded default, or a server with no render worker), they run here as subflows,
  `schedule.concurrency` at a time (default one).

Two nights running at once are harmless: a package goes to the run whose claim (one rename)
wins, and the other run's package run ends as Skipped.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, WorkerStatus
from prefect.client.schemas.responses import DeploymentResponse
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from pipeline.config import load_config
from pipeline.errors import VersionerError
from pipeline.ops import lifecycle
from pipeline.parallel import blas_in_calling_thread

from . import embedded_api
from .inbox import DELIVERED, SKIPPED, render_from_inbox
from .logs import keep_library_logs

RENDER_DEPLOYMENT = "render_from_inbox/render"
FAN_OUT_POLL_S = 2.0
GOOD_OUTCOMES = (DELIVERED, SKIPPED)


class NoRenderWorker(VersionerError):
    """The night was told to use the render workers, and none is online."""


@flow(name="nightly_render")
def nightly_render(config_file: str | None = None, where: str = "auto", profiles: list[str] | None = None) -> dict:
    """Render everything pending. `where`: "auto", "here" (in this process) or "workers"."""
    keep_library_logs()
    logger = get_run_logger()
    config = load_config(config_file, profiles=profiles)  # a wrong profile name stops the night at once
    root = lifecycle.DataRoot.of(config)
    run_id = str(runtime.flow_run.id)
    recovered = lifecycle.recover_stale_claims(root, config, run_id)
    for outcome in recovered:
        logger.warning("took back a claim whose run died: %s (%s)", outcome.path.name, outcome.state)
    packages = [item.asset_id for item in lifecycle.pending(root)]
    logger.info("%d package(s) pending in %s: %s", len(packages), root.inbox, ", ".join(packages) or "none")
    deployment = _render_deployment_with_workers(logger) if where != "here" else None
    if where == "workers" and deployment is None:
        raise NoRenderWorker(f"no worker of the deployment {RENDER_DEPLOYMENT} is online; start one with "
                             "`prefect worker start --pool versioner --work-queue render --limit 1`, "
                             "or run the night here (--where here)")
    if deployment is not None:
        logger.info("fanning out to deployment %s on work pool %s", RENDER_DEPLOYMENT, deployment.work_pool_name)
        run_ids = _run_on_workers(packages, config_file, profiles)
    else:
        logger.info("rendering here, %d at a time", config.schedule.concurrency)
        run_ids = _run_here(packages, config_file, config.schedule.concurrency, profiles)
    summary = _summarise(run_id, packages, run_ids, root)
    _report(summary, logger)
    return summary


def _render_deployment_with_workers(logger) -> DeploymentResponse | None:
    """The render deployment, when a server runs it on a pool with a worker online."""
    if not PREFECT_API_URL.value() or embedded_api.running_here():
        return None  # the embedded default: nobody else could pick the runs up
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(RENDER_DEPLOYMENT)
        except ObjectNotFound:
            logger.warning("no deployment %s on the server at %s; rendering here (`versioner deploy` makes it)",
                           RENDER_DEPLOYMENT, PREFECT_API_URL.value())
            return None
        if not deployment.work_pool_name:
            logger.warning("deployment %s is on no work pool; rendering here", RENDER_DEPLOYMENT)
            return None
        workers = client.read_workers_for_work_pool(deployment.work_pool_name)
    if not any(worker.status == WorkerStatus.ONLINE for worker in workers):
        logger.warning("deployment %s exists but no worker of pool %s is online; rendering here",
                       RENDER_DEPLOYMENT, deployment.work_pool_name)
        return None
    return deployment


def _run_here(packages: list[str], config_file: str | None, concurrency: int,
              profiles: list[str] | None = None) -> list[UUID]:
    def render_one(asset_id: str) -> UUID:
        state = render_from_inbox(asset_id, config_file, profiles, return_state=True)
        return cast(UUID, state.state_details.flow_run_id)  # set once the run exists

    if concurrency <= 1 or len(packages) <= 1:
        return [render_one(asset_id) for asset_id in packages]
    blas_in_calling_thread()  # one package's sound analysis beside another's ffmpeg starting
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="package") as pool:
        # Each thread runs in a copy of this context, so its runs are subflows of this night.
        futures = [pool.submit(contextvars.copy_context().run, render_one, asset_id) for asset_id in packages]
        return [future.result() for future in futures]


def _run_on_workers(packages: list[str], config_file: str | None, profiles: list[str] | None = None) -> list[UUID]:
    # Without a config of its own, a package run keeps the one the render deployment was made with.
    extra: dict = {"config_file": config_file} if config_file else {}
    if profiles:
        extra["profiles"] = profiles
    runs = [cast(FlowRun, run_deployment(RENDER_DEPLOYMENT, parameters={"asset_id": asset_id, **extra},
                                         flow_run_name=f"render {asset_id}", timeout=0, as_subflow=True)).id
            for asset_id in packages]
    waiting = set(runs)
    with get_client(sync_client=True) as client:
        while waiting:
            time.sleep(FAN_OUT_POLL_S)
            for run in _read_runs(client, list(waiting)):
                if run.state is not None and run.state.is_final():
                    waiting.discard(run.id)
    return runs


def _read_runs(client, run_ids: list[UUID]) -> list[FlowRun]:
    return client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)),
                                 limit=max(1, len(run_ids)))


def _summarise(run_id: str, packages: list[str], run_ids: list[UUID], root: lifecycle.DataRoot) -> dict:
    with get_client(sync_client=True) as client:
        runs = {run.id: run for run in _read_runs(client, run_ids)} if run_ids else {}
    rows = []
    for asset_id, package_run_id in zip(packages, run_ids):
        run = runs.get(package_run_id)
        rows.append({"asset_id": asset_id, "outcome": run.state_name if run else "Unknown",
                     "duration_s": _seconds(run), "where": _where_now(root, asset_id),
                     "run_id": str(package_run_id), "message": run.state.message if run and run.state else ""})
    counts: dict[str, int] = {}
    for row in rows:
        outcome = str(row["outcome"])
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"run_id": run_id, "data_root": str(root.path), "packages": rows, "counts": counts,
            "all_done": all(row["outcome"] in GOOD_OUTCOMES for row in rows)}


def _seconds(run: FlowRun | None) -> float | None:
    if run is None:
        return None
    if run.start_time and run.end_time:
        return round((run.end_time - run.start_time).total_seconds(), 1)
    total = run.total_run_time
    return round(total.total_seconds(), 1) if isinstance(total, timedelta) else None


def _where_now(root: lifecycle.DataRoot, asset_id: str) -> str:
    for folder in (root.outbox, root.quarantine, root.inbox):
        if (folder / asset_id).is_dir():
            return str(Path(folder.name) / asset_id)
    if lifecycle.claims_of(root, asset_id):
        return "work (claimed by a run)"
    return "-"


def _report(summary: dict, logger) -> None:
    for row in summary["packages"]:
        level = logger.info if row["outcome"] in GOOD_OUTCOMES else logger.warning
        level("%s: %s in %s s, now in %s (run %s)", row["asset_id"], row["outcome"], row["duration_s"],
              row["where"], row["run_id"])
    counts = ", ".join(f"{count} {name.lower()}" for name, count in sorted(summary["counts"].items()))
    logger.info("night summary: %d package(s): %s", len(summary["packages"]), counts or "nothing pending")
    table = [{key: row[key] for key in ("asset_id", "outcome", "duration_s", "where", "run_id")}
             for row in summary["packages"]]
    create_table_artifact(table=table or [{"asset_id": "-", "outcome": "nothing pending"}],
                          key="nightly-summary", description=f"Night run: {counts or 'nothing pending'}")

"""Deployments on a Prefect server: how the night is scheduled and how it grows past one machine.

Two ways, both Prefect's own (no scheduler or queue of ours):

- `versioner serve` (`serve_nightly`): one long-running process serves the nightly flow on the
  cron schedule of the config. Enough for one render machine.
- `versioner deploy` / `python -m flows.deploy` (`deploy_all`): the render and nightly deployments
  on a `process` work pool. Each render machine runs `prefect worker start --pool versioner
  --work-queue render --limit 1`; one machine also runs a worker for the `nightly` queue. The
  nightly run then hands each package to the render deployment, and the workers share them out.

Either way the nightly deployment has a concurrency limit of 1 with the CANCEL_NEW strategy: the
server cancels a nightly run that would start while another one is running, so two nights never
overlap. (They would be harmless anyway: a package goes to whichever run claims it first.)

Deployments use module entrypoints (`flows.inbox.render_from_inbox`), so a worker needs only this
project installed, not a copy of its source at a given path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import cast
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.deployments.runner import deploy as deploy_to_pool
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Schedule
from prefect.settings import PREFECT_API_URL

from pipeline.config import Config, load_config
from pipeline.errors import VersionerError

from .inbox import render_from_inbox
from .nightly import nightly_render

WORK_POOL = "versioner"
RENDER_QUEUE, NIGHTLY_QUEUE = "render", "nightly"
RENDER_NAME, NIGHTLY_NAME = "render", "nightly"
ONE_NIGHT_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


class DeploymentError(VersionerError):
    """Deployments cannot be made here: no server, or a work pool of the wrong type."""


def require_server() -> str:
    """The API URL of a Prefect server; the embedded API lives only as long as one process."""
    url = PREFECT_API_URL.value()
    if not url:
        raise DeploymentError("no Prefect server is configured (PREFECT_API_URL is not set); start one with "
                              "`prefect server start`, then `prefect config set "
                              "PREFECT_API_URL=http://127.0.0.1:4200/api`")
    return url


def nightly_schedule(config: Config) -> Schedule:
    return Cron(config.schedule.cron, timezone=config.schedule.timezone)


def ensure_work_pool(name: str = WORK_POOL) -> None:
    """Create the `process` work pool unless it exists (`prefect work-pool create --type process`)."""
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return
    if pool.type != "process":
        raise DeploymentError(f"work pool {name!r} is of type {pool.type!r}; the deployments need a pool "
                              "of type 'process' (give another name with --pool)")


def deploy_all(config_file: str | None = None, pool: str = WORK_POOL) -> list[UUID]:
    """Register `render_from_inbox/render` and `nightly_render/nightly` on `pool`."""
    require_server()
    config = load_config(config_file)
    config_file = str(Path(config_file).absolute()) if config_file else None
    ensure_work_pool(pool)
    render = render_from_inbox.to_deployment(
        RENDER_NAME, work_queue_name=RENDER_QUEUE, entrypoint_type=EntrypointType.MODULE_PATH,
        parameters={"config_file": config_file},
        description="One package of the inbox through its lifecycle; started by the nightly run.")
    nightly = nightly_render.to_deployment(
        NIGHTLY_NAME, work_queue_name=NIGHTLY_QUEUE, entrypoint_type=EntrypointType.MODULE_PATH,
        schedules=[nightly_schedule(config)], concurrency_limit=ONE_NIGHT_AT_A_TIME,
        parameters={"config_file": config_file},
        description="Every pending package, each as a run of the render deployment.")
    ids = deploy_to_pool(cast(RunnerDeployment, render), cast(RunnerDeployment, nightly), work_pool_name=pool,
                         build=False, push=False, print_next_steps_message=False, ignore_warnings=True)
    return cast(list[UUID], ids)  # called from sync code: the list itself, not a coroutine


def serve_nightly(config_file: str | None = None, name: str = NIGHTLY_NAME) -> None:
    """Serve the nightly flow on the config's schedule until stopped (Ctrl-C, SIGTERM)."""
    require_server()
    config = load_config(config_file)
    config_file = str(Path(config_file).absolute()) if config_file else None
    # No runner `limit`: it would queue a second night behind the first; the deployment's limit
    # has the server cancel it instead, as it does for the work-pool deployment.
    nightly_render.serve(name=name, schedules=[nightly_schedule(config)], global_limit=ONE_NIGHT_AT_A_TIME,
                         parameters={"config_file": config_file}, entrypoint_type=EntrypointType.MODULE_PATH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="a TOML file overriding configs/default.toml")
    parser.add_argument("--pool", default=WORK_POOL, help=f"the process work pool (default {WORK_POOL})")
    args = parser.parse_args(argv)
    for deployment_id in deploy_all(args.config, args.pool):
        print(f"deployed {deployment_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

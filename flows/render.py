"""The `render_master` flow: the pipeline's steps as Prefect tasks, one package per flow run.

Logging: the library logs through `logging.getLogger("pipeline...")`; `flows.logs` sends those
lines (INFO and up) to the flow run's log, where `versioner logs` reads them back.

`render_steps` is the render itself, as tasks of whichever flow calls it: `render_master` here,
`render_from_inbox` (flows/inbox.py) for a package of the data root.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE

from pipeline import sequence as versioning
from pipeline.config import Config, load_config
from pipeline.intake.submission import Submission, check_submission
from pipeline.media.ffmpeg import Progress

from .logs import keep_library_logs

# Whoever runs a flow in this process (the CLI's progress bar) can listen here; the flow itself
# only logs every 10 %.
progress_listeners: list[Callable[[str, Progress], None]] = []


class _ProgressLogger:
    def __init__(self, asset_id: str, logger: logging.Logger | logging.LoggerAdapter):
        self.asset_id = asset_id
        self.logger = logger
        self.next_step = 0.1

    def __call__(self, progress: Progress) -> None:
        for listener in progress_listeners:
            listener(self.asset_id, progress)
        if progress.fraction + 1e-9 >= self.next_step:
            self.logger.info("%s: render %d %% (%.1f of %.1f s)", self.asset_id,
                             int(progress.fraction * 100), progress.done_s, progress.total_s)
            while self.next_step <= progress.fraction + 1e-9:
                self.next_step += 0.1


@task(name="check package", cache_policy=NO_CACHE)
def check_package(package_dir: str, config: Config) -> Submission:
    return check_submission(package_dir, config)


@task(name="analyse audio", cache_policy=NO_CACHE)
def analyse_audio(submission: Submission, config: Config) -> versioning.AudioAnalysis:
    return versioning.analyse_audio(submission, config)


@task(name="render deliverables", cache_policy=NO_CACHE)
def render_deliverables(submission: Submission, analysis: versioning.AudioAnalysis, specs,
                        work_dir: Path, deliver_dir: Path, config: Config) -> dict[str, Path]:
    on_progress = _ProgressLogger(submission.asset_id, get_run_logger())
    return versioning.render_deliverables(submission, analysis, specs, work_dir, deliver_dir, config, on_progress)


@task(name="verify outputs", cache_policy=NO_CACHE)
def verify_outputs(submission: Submission, outputs: dict[str, Path], config: Config,
                   seconds: float, analysis: versioning.AudioAnalysis | None = None) -> list[versioning.DeliverableResult]:
    results = versioning.verify_outputs(submission, outputs, config, analysis)
    for result in results:
        result.seconds = seconds
    return results


@task(name="publish", cache_policy=NO_CACHE)
def publish(submission, analysis, results, deliver_dir: Path, out_dir: Path, config: Config,
            started: datetime) -> versioning.RenderReport:
    return versioning.finish_delivery(submission, analysis, results, deliver_dir, out_dir, config,
                                      started, str(runtime.flow_run.id))


@flow(name="render_master", flow_run_name="render {package_dir}")
def render_master(package_dir: str, out_dir: str, config_file: str | None = None) -> dict:
    """Render every deliverable of one package into `out_dir/<asset_id>/`."""
    keep_library_logs()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return render_steps(package_dir, out, load_config(config_file), scratch_root=out)


def render_steps(package_dir: str, out: Path, config: Config, scratch_root: Path) -> dict:
    """The render as tasks of the calling flow run: check, analyse, render, verify, publish into
    `out/<asset_id>/`. Scratch and staging live in a temporary folder under `scratch_root`, on
    the same filesystem as `out` so the publish is one rename."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    submission = check_package(package_dir, config)
    analysis = analyse_audio(submission, config)
    specs, failures = versioning.plan(submission, analysis, config)
    scratch_root.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".work-{submission.asset_id}-", dir=scratch_root))
    try:
        deliver_dir = work_dir / "deliver"
        deliver_dir.mkdir()
        begun = time.monotonic()
        outputs = render_deliverables(submission, analysis, specs, work_dir / "tmp", deliver_dir, config)
        results = verify_outputs(submission, outputs, config, round(time.monotonic() - begun, 2), analysis)
        results += [versioning.DeliverableResult(key, "failed", reason=reason) for key, reason in failures.items()]
        report = publish(submission, analysis, results, deliver_dir, out, config, started)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    for result in report.deliverables:
        if result.state == "delivered":
            logger.info("%s: %s -> %s", report.asset_id, result.key, report.folder / result.file)
        else:
            logger.error("%s: %s FAILED: %s", report.asset_id, result.key, result.reason)
    return {"asset_id": report.asset_id, "folder": str(report.folder), "exit_code": report.exit_code,
            "deliverables": [result.to_dict() for result in report.deliverables],
            "metadata_file": str(report.metadata_file)}

"""The render sequence, written once: check the package, analyse its sound, plan the
deliverables, render them, verify every file, publish the delivery folder whole.

`render_package` runs the steps in order. Whoever calls it may run each step its own way through
`run_step`: the library runs them inline; the Prefect flows (flows/render.py) run each as a task,
so a technician sees "check package", "analyse audio", "render deliverables", "verify outputs"
and "publish" in the run's timeline. Both get the same `RenderReport`.
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.analysis import AudioAnalysis, analyse_audio
from pipeline.config import Config
from pipeline.deliverables import Deliverable, plan_deliverables
from pipeline.delivery.finish import finish_delivery
from pipeline.delivery.results import STEPS, DeliverableResult, DeliverableState, RenderReport, StepTimings
from pipeline.delivery.verify import verify_outputs
from pipeline.intake.submission import Submission, check_submission
from pipeline.media.ffmpeg import Progress
from pipeline.render.run import render_deliverables

log = logging.getLogger(__name__)


class StepRunner(Protocol):
    """Runs one named step of the sequence: `step(*args)`, however the caller wants it run."""

    def __call__(self, name: str, step: Callable[..., Any], *args: Any) -> Any: ...


def run_inline(name: str, step: Callable[..., Any], *args: Any) -> Any:
    return step(*args)


class TimedSteps:
    """`run_step` with each step timed as it runs (however it is run) and its seconds logged: the
    figures go into the sidecar's provenance (`StepTimings`), the line into the run's log."""

    def __init__(self, run_step: StepRunner, timings: StepTimings):
        self.run_step = run_step
        self.timings = timings
        self.asset_id = ""

    def __call__(self, name: str, step: Callable[..., Any], *args: Any) -> Any:
        begun = time.monotonic()
        try:
            return self.run_step(name, step, *args)
        finally:
            seconds = round(time.monotonic() - begun, 2)
            self.timings.steps.setdefault(STEPS.get(name, name), seconds)  # publish sets its own, earlier
            log.info("%s%s took %.2f s", f"{self.asset_id}: " if self.asset_id else "", name, seconds)


@dataclass
class DeliveryPlan:
    deliverables: list[Deliverable]
    """What will be rendered."""
    failures: dict[str, str]
    """Key -> why that deliverable cannot be made."""
    planned: dict[str, Deliverable]
    """Every deliverable planned, by key, rendered or not."""


def plan_delivery(submission: Submission, analysis: AudioAnalysis, config: Config) -> DeliveryPlan:
    """The deliverables to render: those planned, less those the audio analysis rules out."""
    planned, failures = plan_deliverables(submission, config)
    deliverables = []
    for deliverable in planned:
        reason = deliverable.blocked_by(analysis)
        if reason:
            failures[deliverable.key] = reason
        else:
            deliverables.append(deliverable)
    return DeliveryPlan(deliverables, failures, {deliverable.key: deliverable for deliverable in planned})


def plan(submission: Submission, analysis: AudioAnalysis, config: Config) -> tuple[list[Deliverable], dict[str, str]]:
    """`plan_delivery` as (deliverables to render, key -> reason of those that cannot be made)."""
    delivery_plan = plan_delivery(submission, analysis, config)
    return delivery_plan.deliverables, delivery_plan.failures


def render_package(package_dir: str | Path, out_dir: str | Path, config: Config,
                   on_progress: Callable[[str, Progress], None] | None = None,
                   run_id: str | None = None, scratch_root: Path | None = None,
                   run_step: StepRunner = run_inline, earlier_attempts: list[dict] | None = None,
                   analyse: Callable[[Submission, Config], AudioAnalysis] = analyse_audio) -> RenderReport:
    """Check, analyse, render, verify and publish one package; `out_dir/<asset_id>/` appears whole.

    `on_progress(asset_id, progress)` hears the render's progress. Scratch and staging live in a
    temporary folder under `scratch_root` (default `out_dir`), which must be on the same
    filesystem as `out_dir` so the publish is one rename. `earlier_attempts`: how the earlier
    attempts at this package ended (the night's retries), recorded in the sidecar's provenance.
    `analyse`: the analysis step (a host may hand over there an analysis it began earlier)."""
    started = datetime.now(UTC)
    timings = StepTimings()
    run_step = TimedSteps(run_step, timings)
    submission = run_step("check package", check_submission, package_dir, config)
    run_step.asset_id = submission.asset_id
    config = config.with_rate_conversion(submission.descriptive.frame_rate_conversion)  # the package's own choice
    analysis = run_step("analyse audio", analyse, submission, config)
    delivery_plan = plan_delivery(submission, analysis, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch_root = Path(scratch_root or out_dir)
    scratch_root.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".work-{submission.asset_id}-", dir=scratch_root))
    progress = functools.partial(on_progress, submission.asset_id) if on_progress else None
    try:
        deliver_dir = work_dir / "deliver"
        deliver_dir.mkdir()
        rendered = run_step("render deliverables", render_deliverables, submission, analysis,
                            delivery_plan.deliverables, work_dir / "tmp", deliver_dir, config, progress)
        seconds = timings.steps["render"]
        results = run_step("verify outputs", verify_outputs, submission, delivery_plan.deliverables, rendered.files,
                           config, analysis, rendered.sheets)
        for result in results:
            result.seconds = seconds  # one ffmpeg process renders them all: its wall time is each one's
        results += [DeliverableResult(key, DeliverableState.FAILED, reason=reason,
                                      deliverable=delivery_plan.planned.get(key))
                    for key, reason in delivery_plan.failures.items()]
        report = run_step("publish", finish_delivery, submission, analysis, results, deliver_dir, out_dir,
                          config, started, run_id, earlier_attempts, timings, rendered.posters)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    _log_outcome(report)
    return report


def _log_outcome(report: RenderReport) -> None:
    for result in report.deliverables:
        if result.delivered:
            log.info("%s: %s -> %s", report.asset_id, result.key, report.folder / (result.file or ""))
        else:
            log.error("%s: %s not delivered: %s", report.asset_id, result.key, result.reason)

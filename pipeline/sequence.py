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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
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
from pipeline.render.run import Rendered, render_deliverables

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


def _work_dir(submission: Submission, scratch_root: Path) -> Path:
    """A new work dir under `scratch_root`, with the `deliver` folder the render writes into."""
    scratch_root.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".work-{submission.asset_id}-", dir=scratch_root))
    (work_dir / "deliver").mkdir()
    return work_dir


class HeadStart:
    """A package's analysis and render begun before the run that delivers it exists: `versioner
    render` begins them once it has checked the package, while its embedded Prefect API boots (a
    core idles for about two seconds there, and the run's set-up takes round trips to the API).

    `render_package` takes them over (`take`) when its own check found the same package, with the
    same config, to render under the same scratch root: its analyse and render steps then wait for
    this work instead of doing it. Otherwise it discards them. Whoever begins one runs `work` in a
    thread of its own and, at its end, calls `discard`: a head start no run took is stopped (its
    render killed at its next progress report) and its work dir removed.

    Its progress goes to `on_progress` until a run takes it, then to the run's."""

    def __init__(self, submission: Submission, config: Config, scratch_root: Path,
                 on_progress: Callable[[Progress], None] | None = None,
                 analyse: Callable[[Submission, Config], AudioAnalysis] = analyse_audio):
        self.submission = submission
        self.config = config.with_rate_conversion(submission.descriptive.frame_rate_conversion)  # as the run's
        self.scratch_root = Path(scratch_root)
        self.listener = on_progress
        self._analyse = analyse
        self.analysed: Future[tuple[AudioAnalysis, DeliveryPlan, Path]] = Future()
        self.rendered: Future[Rendered] = Future()
        self.seconds: dict[str, float] = {}
        """Step (as in the sidecar's timings) -> the seconds this work took, wherever it began."""
        self._last: Progress | None = None
        self._lock = threading.Lock()
        self._taken = False
        self.stopped = False
        """Told to stop: no run took it, or the run that took it has ended."""
        self._ended = threading.Event()
        self._work_dir: Path | None = None

    def work(self) -> None:
        """The analysis, the plan, then the render into a work dir of its own."""
        try:
            begun = time.monotonic()
            analysis = self._analyse(self.submission, self.config)
            self.seconds["analyse"] = round(time.monotonic() - begun, 2)
            delivery_plan = plan_delivery(self.submission, analysis, self.config)
            with self._lock:
                if self.stopped:
                    raise _Stopped()
                self._work_dir = _work_dir(self.submission, self.scratch_root)
            self.analysed.set_result((analysis, delivery_plan, self._work_dir))
            begun = time.monotonic()
            rendered = render_deliverables(self.submission, analysis, delivery_plan.deliverables,
                                           self._work_dir / "tmp", self._work_dir / "deliver", self.config,
                                           self._progress)
            self.seconds["render"] = round(time.monotonic() - begun, 2)
            self.rendered.set_result(rendered)
        except BaseException as error:  # the step that waits for it raises it
            for future in (self.analysed, self.rendered):
                if not future.done():
                    future.set_exception(error)
        finally:
            self._ended.set()

    def _progress(self, progress: Progress) -> None:
        if self.stopped:
            raise _Stopped()  # ffmpeg.run kills the render
        self._last = progress
        if self.listener is not None:
            self.listener(progress)

    def take(self, submission: Submission, config: Config, scratch_root: Path) -> bool:
        """Whether this is the work of a run that checked `submission` and will render it with
        `config` under `scratch_root`: then that run owns it, work dir included (and `close`s it
        at its end); if not, it is discarded."""
        if (submission, config, Path(scratch_root)) != (self.submission, self.config, self.scratch_root):
            self.discard()
            return False
        with self._lock:
            self._taken = not self.stopped
        return self._taken

    def analysis(self) -> tuple[AudioAnalysis, DeliveryPlan, Path]:
        """The run's analyse step: the analysis, the plan made of it, the work dir of the render."""
        return self.analysed.result()

    def rendering(self, on_progress: Callable[[Progress], None] | None) -> Rendered:
        """The run's render step: its progress to the run's `on_progress` from now, and the render."""
        self.listener = on_progress
        if on_progress is not None and self._last is not None:
            on_progress(self._last)
        return self.rendered.result()

    def close(self) -> None:
        """The end of the run that took it: stop what still runs, wait for it, remove the work dir."""
        self.stopped = True
        self._ended.wait()
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def discard(self) -> None:
        """Unless a run took it: stop it, wait for it, and remove its work dir."""
        with self._lock:
            if self._taken:
                return
            self.stopped = True
        self.close()


class _Stopped(Exception):
    """A head start stopped: no run took it, or the run that took it has ended."""

    def __init__(self) -> None:
        super().__init__("stopped: no run took this head start, or its run has ended")


def render_package(package_dir: str | Path, out_dir: str | Path, config: Config,
                   on_progress: Callable[[str, Progress], None] | None = None,
                   run_id: str | None = None, scratch_root: Path | None = None,
                   run_step: StepRunner = run_inline, earlier_attempts: list[dict] | None = None,
                   head_start: HeadStart | None = None) -> RenderReport:
    """Check, analyse, render, verify and publish one package; `out_dir/<asset_id>/` appears whole.

    `on_progress(asset_id, progress)` hears the render's progress. Scratch and staging live in a
    temporary folder under `scratch_root` (default `out_dir`), which must be on the same
    filesystem as `out_dir` so the publish is one rename. `earlier_attempts`: how the earlier
    attempts at this package ended (the night's retries), recorded in the sidecar's provenance.
    `head_start`: this package's analysis and render, begun before this call (`HeadStart`)."""
    started = datetime.now(UTC)
    timings = StepTimings()
    run_step = TimedSteps(run_step, timings)
    submission = run_step("check package", check_submission, package_dir, config)
    run_step.asset_id = submission.asset_id
    config = config.with_rate_conversion(submission.descriptive.frame_rate_conversion)  # the package's own choice
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch_root = Path(scratch_root or out_dir)
    begun = head_start if head_start is not None and head_start.take(submission, config, scratch_root) else None
    if head_start is not None and begun is None:
        log.info("%s: the render begun ahead was of another package, config or folder: it was stopped",
                 submission.asset_id)
    work_dir: Path | None = None
    progress = functools.partial(on_progress, submission.asset_id) if on_progress else None
    try:
        if begun is not None:
            analysis, delivery_plan, work_dir = run_step("analyse audio", begun.analysis)
        else:
            analysis = run_step("analyse audio", analyse_audio, submission, config)
            delivery_plan = plan_delivery(submission, analysis, config)
            work_dir = _work_dir(submission, scratch_root)
        deliver_dir = work_dir / "deliver"
        if begun is not None:
            rendered = run_step("render deliverables", begun.rendering, progress)
            timings.steps.update(begun.seconds)  # the work's own seconds, not the steps' waits
            log.info("%s: the analysis and the render began before the run: they took %.2f s and %.2f s",
                     submission.asset_id, begun.seconds["analyse"], begun.seconds["render"])
        else:
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
        if begun is not None:
            begun.close()  # its work dir, even if a step failed before the run had it
        elif work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    _log_outcome(report)
    return report


def _log_outcome(report: RenderReport) -> None:
    for result in report.deliverables:
        if result.delivered:
            log.info("%s: %s -> %s", report.asset_id, result.key, report.folder / (result.file or ""))
        else:
            log.error("%s: %s not delivered: %s", report.asset_id, result.key, result.reason)

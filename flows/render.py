"""The `render_master` flow: the library's render sequence (pipeline/sequence.py), each step run
as a Prefect task, one package per flow run.

Logging: the library logs through `logging.getLogger("pipeline...")`; `flows.logs` sends those
lines (INFO and up) to the flow run's log, where `versioner logs` reads them back.

`render_steps` is the render itself, as tasks of whichever flow calls it: `render_master` here,
`render_from_inbox` (flows/inbox.py) for a package of the data root.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE

from flows.logs import HeldLines, holding_lines, keep_library_logs
from pipeline.analysis import AudioAnalysis
from pipeline.config import Config, load_config
from pipeline.delivery.results import RenderReport
from pipeline.intake.submission import Submission
from pipeline.media.ffmpeg import Progress
from pipeline.render.run import Rendered
from pipeline.sequence import DeliveryPlan, HeadStart, render_package

# Whoever runs a flow in this process (the CLI's progress bar) can listen here; the flow itself
# only logs every 10 %.
progress_listeners: list[Callable[[str, Progress], None]] = []


class _ProgressLogger:
    """Tells the listeners every update and logs every 10 % of the render to the run's log."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter):
        self.logger = logger
        self.next_step = 0.1

    def __call__(self, asset_id: str, progress: Progress) -> None:
        for listener in progress_listeners:
            listener(asset_id, progress)
        if progress.fraction + 1e-9 >= self.next_step:
            self.logger.info("%s: render %d %% (%.1f of %.1f s)", asset_id,
                             int(progress.fraction * 100), progress.done_s, progress.total_s)
            while self.next_step <= progress.fraction + 1e-9:
                self.next_step += 0.1


class HeadStartHere(HeadStart):
    """A package's analysis and render begun before its flow run exists (pipeline.sequence.HeadStart),
    in a thread of this process: `versioner render` begins them once the package is checked,
    while the embedded Prefect API boots (flows/embedded_api.py). Their lines are held back and
    written to the run's log by the run's analyse and render steps, with the times they were
    logged; their progress goes to `progress_listeners` (the CLI's bar) until the run takes it."""

    def __init__(self, submission: Submission, config: Config, out_dir: Path):
        super().__init__(submission, config, out_dir, on_progress=self._tell_listeners)
        self.lines = HeldLines()
        threading.Thread(target=contextvars.copy_context().run, args=(self._work_holding_lines,),
                         name="head-start").start()

    def _tell_listeners(self, progress: Progress) -> None:
        for listener in progress_listeners:
            listener(self.submission.asset_id, progress)

    def _work_holding_lines(self) -> None:
        with holding_lines(self.lines):
            self.work()

    def analysis(self) -> tuple[AudioAnalysis, DeliveryPlan, Path]:
        try:
            return super().analysis()
        finally:
            self.lines.replay()

    def rendering(self, on_progress: Callable[[Progress], None] | None) -> Rendered:
        self.lines.release()  # the render's lines into the run's log as they come
        try:
            return super().rendering(on_progress)
        finally:
            self.lines.replay()


head_starts: dict[str, HeadStart] = {}
"""Package folder (as given to the flow) -> its head start, taken by the flow run."""


def run_as_task(name: str, step: Callable[..., Any], *args: Any) -> Any:
    """One step of the library's sequence as a Prefect task of the calling flow run. Nothing is
    cached: the same package may be submitted again with a new master under the same name."""
    return task(name=name, cache_policy=NO_CACHE)(step)(*args)


@flow(name="render_master", flow_run_name="render {package_dir}")
def render_master(package_dir: str, out_dir: str, config_file: str | None = None,
                  profiles: list[str] | None = None) -> RenderReport:
    """Render every deliverable of one package into `out_dir/<asset_id>/`; `profiles` replaces
    the config's [outputs] (every version in those delivery profiles)."""
    keep_library_logs()
    return render_steps(package_dir, Path(out_dir), load_config(config_file, profiles=profiles),
                        scratch_root=Path(out_dir), head_start=head_starts.pop(package_dir, None))


def render_steps(package_dir: str, out: Path, config: Config, scratch_root: Path,
                 earlier_attempts: list[dict] | None = None, head_start: HeadStart | None = None) -> RenderReport:
    """The render as tasks of the calling flow run, into `out/<asset_id>/`."""
    return render_package(package_dir, out, config, on_progress=_ProgressLogger(get_run_logger()),
                          run_id=str(runtime.flow_run.id), scratch_root=scratch_root, run_step=run_as_task,
                          earlier_attempts=earlier_attempts, head_start=head_start)

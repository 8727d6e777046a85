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
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE

from flows.logs import holding_lines, keep_library_logs, replay
from pipeline.analysis import AudioAnalysis, analyse_audio
from pipeline.config import Config, load_config
from pipeline.delivery.results import RenderReport
from pipeline.intake.submission import Submission
from pipeline.media.ffmpeg import Progress
from pipeline.sequence import render_package

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


class AnalysisAhead:
    """A package's audio analysis begun before its flow run exists: `versioner render` starts it
    once the package is checked, while the embedded Prefect API boots (flows/embedded_api.py),
    and the run's "analyse audio" step takes it, its lines (held back until then) written to the
    run's log there, when the run checked the same package with the same config; otherwise the
    step analyses anew. Its failure is the step's failure, raised there."""

    def __init__(self, submission: Submission, config: Config):
        self.submission = submission
        self.config = config.with_rate_conversion(submission.descriptive.frame_rate_conversion)  # as the run's
        self.analysis: Future[AudioAnalysis] = Future()
        self.lines: dict[int, logging.LogRecord] = {}
        threading.Thread(target=contextvars.copy_context().run, args=(self._analyse,), name="analysis-ahead").start()

    def _analyse(self) -> None:
        with holding_lines() as held:
            self.lines = held
            try:
                self.analysis.set_result(analyse_audio(self.submission, self.config))
            except BaseException as error:
                self.analysis.set_exception(error)

    def analyse(self, submission: Submission, config: Config) -> AudioAnalysis:
        """The step: this analysis if it is of `submission` and `config`, else a new one."""
        if (submission, config) != (self.submission, self.config):
            return analyse_audio(submission, config)
        try:
            return self.analysis.result()
        finally:
            replay(self.lines)


analyses_ahead: dict[str, AnalysisAhead] = {}
"""Package folder (as given to the flow) -> its analysis begun ahead, taken by the flow run."""


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
    ahead = analyses_ahead.pop(package_dir, None)
    return render_steps(package_dir, Path(out_dir), load_config(config_file, profiles=profiles),
                        scratch_root=Path(out_dir), analyse=ahead.analyse if ahead else analyse_audio)


def render_steps(package_dir: str, out: Path, config: Config, scratch_root: Path,
                 earlier_attempts: list[dict] | None = None,
                 analyse: Callable[[Submission, Config], AudioAnalysis] = analyse_audio) -> RenderReport:
    """The render as tasks of the calling flow run, into `out/<asset_id>/`."""
    return render_package(package_dir, out, config, on_progress=_ProgressLogger(get_run_logger()),
                          run_id=str(runtime.flow_run.id), scratch_root=scratch_root, run_step=run_as_task,
                          earlier_attempts=earlier_attempts, analyse=analyse)

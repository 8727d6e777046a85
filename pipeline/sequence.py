"""The steps from a checked package to a published delivery folder, and `render_package`, which
runs them in order for callers without Prefect (the flow runs the same steps as tasks)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pipeline.audio.analysis import AudioAnalysis, analyse_audio
from pipeline.config import Config
from pipeline.deliverables import DeliverableSpec, plan_deliverables
from pipeline.delivery.finish import finish_delivery
from pipeline.delivery.results import DeliverableResult, RenderReport
from pipeline.delivery.verify import verify_outputs
from pipeline.intake.submission import Submission, check_submission
from pipeline.media.ffmpeg import Progress
from pipeline.render.run import render_deliverables

log = logging.getLogger(__name__)



def plan(submission: Submission, analysis: AudioAnalysis, config: Config) -> tuple[list[DeliverableSpec], dict[str, str]]:
    specs, failures = plan_deliverables(submission, config)
    if analysis.me_report is not None and not analysis.me_report.passed:
        reasons = "; ".join(check.message for check in analysis.me_report.failures())
        failures["international"] = reasons
        specs = [spec for spec in specs if spec.audio != "me"]
    return specs, failures



def render_package(package_dir: str | Path, out_dir: str | Path, config: Config,
                   on_progress: Callable[[Progress], None] | None = None,
                   run_id: str | None = None) -> RenderReport:
    """Check, analyse, render, verify and publish one package; `out_dir/<asset_id>/` appears whole."""
    started = datetime.now(UTC)
    submission = check_submission(package_dir, config)
    analysis = analyse_audio(submission, config)
    specs, failures = plan(submission, analysis, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".work-{submission.asset_id}-", dir=out_dir))
    try:
        deliver_dir = work_dir / "deliver"
        deliver_dir.mkdir()
        return _render_and_publish(submission, analysis, specs, failures, work_dir, deliver_dir,
                                   out_dir, config, on_progress, started, run_id)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _render_and_publish(submission, analysis, specs, failures, work_dir, deliver_dir, out_dir, config,
                        on_progress, started, run_id) -> RenderReport:
    begun = time.monotonic()
    outputs = render_deliverables(submission, analysis, specs, work_dir / "tmp", deliver_dir, config, on_progress)
    results = verify_outputs(submission, outputs, config, analysis)
    for result in results:
        result.seconds = round(time.monotonic() - begun, 2)
    results += [DeliverableResult(key, "failed", reason=reason) for key, reason in failures.items()]
    return finish_delivery(submission, analysis, results, deliver_dir, out_dir, config, started, run_id)



"""The steps from a checked package to a published delivery folder, and `render_package`, which
runs them in order for callers without Prefect (the flow runs the same steps as tasks)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, audio_checks, ffmpeg, loudness, subtitles
from .audio_checks import MEReport
from .config import Config
from .deliverables import DeliverableSpec, plan_deliverables
from .errors import DeliverableError
from .ffmpeg import Progress
from .layouts import dialogue_pan, me_pan, me_source, merged_audio, mix_pan
from .loudness import GainPlan
from .probe import probe
from .publish import publish_folder, sha256_of, write_checksums, write_json
from .render import RenderInputs, build_copy_command, build_render_command, prepare_work_dir, render_timeout
from .submission import Submission, check_submission
from .tags import audio_stream_tags, container_tags, metadata_args

log = logging.getLogger(__name__)


@dataclass
class AudioAnalysis:
    gain: GainPlan
    me_report: MEReport | None


@dataclass
class DeliverableResult:
    key: str
    state: str  # "delivered" | "failed"
    file: str | None = None
    reason: str | None = None
    technical: dict = field(default_factory=dict)
    loudness: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, "")}


@dataclass
class RenderReport:
    asset_id: str
    folder: Path
    deliverables: list[DeliverableResult]
    metadata_file: Path

    @property
    def failed(self) -> list[DeliverableResult]:
        return [item for item in self.deliverables if item.state != "delivered"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _inputs(submission: Submission) -> RenderInputs:
    return RenderInputs(submission.package.master, submission.media.video, submission.layout.roles,
                        submission.media.audio, submission.programme.start_s, submission.programme.duration_s)


def analyse_audio(submission: Submission, config: Config) -> AudioAnalysis:
    """Audio-only passes: the mix's loudness (for the gain) and the M&E checks."""
    inputs = _inputs(submission)
    timeout = render_timeout(inputs.duration_s, config)
    chains, merged = merged_audio(inputs.audio_streams, sample_rate=config.delivery.sample_rate)
    mix_graph = chains + [f"[{merged}]pan={mix_pan(inputs.roles)}[mix]"]
    measured = loudness.measure(loudness.measure_command(inputs.master, mix_graph, "mix", inputs.start_s,
                                                         inputs.duration_s), timeout)
    gain = loudness.plan_gain(measured, config.loudness)
    source = me_source(inputs.roles)
    if source is None:
        return AudioAnalysis(gain, None)
    labels = ["mix", "me"] + (["dia"] if dialogue_pan(inputs.roles) else [])
    graph = chains + [f"[{merged}]asplit={len(labels)}" + "".join(f"[pre_{label}]" for label in labels),
                      f"[pre_mix]pan={mix_pan(inputs.roles)}[mix]", f"[pre_me]pan={me_pan(inputs.roles)}[me]"]
    if "dia" in labels:
        graph.append(f"[pre_dia]pan={dialogue_pan(inputs.roles)}[dia]")
    command = audio_checks.analysis_command(inputs.master, graph, labels, inputs.start_s, inputs.duration_s)
    stats = audio_checks.collect_stats(command, len(labels), timeout)
    report = audio_checks.judge_me(stats, source, config.audio_checks, has_dialogue="dia" in labels)
    for check in report.checks:
        (log.info if check.passed else log.warning)("%s: M&E check %s: %s", submission.asset_id, check.name, check.message)
    return AudioAnalysis(gain, report)


def plan(submission: Submission, analysis: AudioAnalysis, config: Config) -> tuple[list[DeliverableSpec], dict[str, str]]:
    specs, failures = plan_deliverables(submission, config)
    if analysis.me_report is not None and not analysis.me_report.passed:
        reasons = "; ".join(check.message for check in analysis.me_report.failures())
        failures["international"] = reasons
        specs = [spec for spec in specs if spec.audio != "me"]
    return specs, failures


def _metadata_for(submission: Submission, spec: DeliverableSpec) -> list[str]:
    tags = container_tags(submission.descriptive, submission.asset_id, spec)
    return metadata_args(tags, audio_stream_tags(spec))


def render_deliverables(submission: Submission, analysis: AudioAnalysis, specs: list[DeliverableSpec],
                        work_dir: Path, deliver_dir: Path, config: Config,
                        on_progress: Callable[[Progress], None] | None = None) -> dict[str, Path]:
    """The one ffmpeg run for every encoded picture, then the stream-copy deliverables."""
    prepare_work_dir(work_dir)
    video = submission.media.video
    for spec in specs:
        if spec.picture == "burn":
            track = submission.subtitles[spec.subtitle_language]
            size = _delivery_size(submission, config)
            subtitles.write_ass(track, work_dir / f"subtitles-{spec.subtitle_language}.ass",
                                config.subtitles.style, size[0], size[1], config.subtitles.rules.max_lines)
    metadata = {spec.key: _metadata_for(submission, spec) for spec in specs}
    render_plan = build_render_command(_inputs(submission), specs, analysis.gain, config, deliver_dir,
                                       submission.asset_id, metadata)
    ffmpeg.run(render_plan.command, timeout_s=render_timeout(submission.programme.duration_s, config),
               total_s=submission.programme.duration_s, on_progress=on_progress, cwd=work_dir, what="render")
    outputs = dict(render_plan.outputs)
    for spec in specs:
        if spec.picture == "copy-clean":
            path = deliver_dir / spec.filename(submission.asset_id, config.delivery.container)
            command = build_copy_command(outputs["master-clean"], render_plan.me_audio, path, metadata[spec.key])
            ffmpeg.run(command, timeout_s=render_timeout(submission.programme.duration_s, config) / 4,
                       what=f"{spec.key} mux")
            outputs[spec.key] = path
    if render_plan.me_audio is not None:
        render_plan.me_audio.unlink(missing_ok=True)
    del video
    return outputs


def _delivery_size(submission: Submission, config: Config) -> tuple[int, int]:
    from .render import scaled_size

    video = submission.media.video
    return scaled_size(video, config.delivery) or (video.width, video.height)


def verify_output(submission: Submission, key: str, path: Path, config: Config) -> DeliverableResult:
    """Read a finished output back: it must have its streams and the programme's duration."""
    info = probe(path)
    frame = submission.media.video.frame_s
    problems = []
    if info.video is None or not info.audio:
        problems.append("missing its video or audio stream")
    if abs(info.duration_s - submission.programme.duration_s) > frame * 1.5:
        problems.append(f"lasts {info.duration_s:.3f} s instead of {submission.programme.duration_s:.3f} s")
    measured = loudness.measure_file(path, timeout_s=render_timeout(info.duration_s, config))
    technical = {"container": path.suffix.lstrip("."), "size_bytes": path.stat().st_size,
                 "duration_s": round(info.duration_s, 3), "sha256": sha256_of(path),
                 "video": info.to_dict()["video"], "audio": [a.__dict__ for a in info.audio]}
    if problems:
        return DeliverableResult(key, "failed", path.name, "; ".join(problems), technical, measured.to_dict())
    return DeliverableResult(key, "delivered", path.name, None, technical, measured.to_dict())


def write_subtitle_sidecars(submission: Submission, deliver_dir: Path) -> list[str]:
    written = []
    for language, track in sorted(submission.subtitles.items()):
        for suffix, writer in ((".srt", subtitles.write_srt), (".vtt", subtitles.write_vtt)):
            path = deliver_dir / f"{submission.asset_id}.{language}{suffix}"
            writer(track, path)
            written.append(path.name)
    return written


def sidecar_document(submission: Submission, analysis: AudioAnalysis, results: list[DeliverableResult],
                     config: Config, started: datetime, run_id: str | None) -> dict:
    return {
        "asset_id": submission.asset_id,
        "descriptive": submission.descriptive.to_json_dict(),
        "source": {"master": submission.package.master.name, "sha256": sha256_of(submission.package.master),
                   "technical": submission.media.to_dict() | {"path": submission.package.master.name},
                   "audio_layout": {"name": submission.layout.name, "detected_by": submission.layout.how,
                                    "channels": submission.layout.roles},
                   "programme": {"start_s": submission.programme.start_s,
                                 "duration_s": submission.programme.duration_s}},
        "deliverables": [result.to_dict() for result in results],
        "qc": {"loudness": {"target_lufs": config.loudness.target_lufs,
                            "tolerance_lu": config.loudness.tolerance_lu,
                            "true_peak_dbtp": config.loudness.true_peak_dbtp,
                            "source": analysis.gain.measured.to_dict(),
                            "gain_db": analysis.gain.gain_db, "limiter": analysis.gain.limit},
               "me_checks": analysis.me_report.to_dict() if analysis.me_report else None,
               "subtitles": [finding.to_dict() for finding in submission.subtitle_findings]},
        "sidecars": {"subtitles": sorted(submission.subtitles)},
        "provenance": {"source_sha256": sha256_of(submission.package.master), "config_hash": config.digest(),
                       "config_files": config.source, "pipeline_version": __version__,
                       "ffmpeg_version": ffmpeg.capabilities().version, "flow_run_id": run_id,
                       "started": started.isoformat(), "finished": datetime.now(timezone.utc).isoformat()},
    }


def render_package(package_dir: str | Path, out_dir: str | Path, config: Config,
                   on_progress: Callable[[Progress], None] | None = None,
                   run_id: str | None = None) -> RenderReport:
    """Check, analyse, render, verify and publish one package; `out_dir/<asset_id>/` appears whole."""
    started = datetime.now(timezone.utc)
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
    results = [verify_output(submission, key, path, config) for key, path in outputs.items()]
    for result in results:
        result.seconds = round(time.monotonic() - begun, 2)
    results += [DeliverableResult(key, "failed", reason=reason) for key, reason in failures.items()]
    return finish_delivery(submission, analysis, results, deliver_dir, out_dir, config, started, run_id)


def finish_delivery(submission, analysis, results, deliver_dir: Path, out_dir: Path, config: Config,
                    started: datetime, run_id: str | None) -> RenderReport:
    """Sidecars, checksums, and the one rename that makes the delivery visible."""
    for result in results:
        if result.state == "delivered" and not (deliver_dir / result.file).exists():
            raise DeliverableError(result.key, "output vanished before publishing")
        if result.state != "delivered" and result.file:
            (deliver_dir / result.file).unlink(missing_ok=True)  # only verified files are published
            result.file = None
    write_subtitle_sidecars(submission, deliver_dir)
    metadata_file = deliver_dir / f"{submission.asset_id}_metadata.json"
    write_json(metadata_file, sidecar_document(submission, analysis, results, config, started, run_id))
    write_checksums(deliver_dir)
    folder = publish_folder(deliver_dir, out_dir / submission.asset_id)
    for result in results:
        if result.state != "delivered":
            log.error("%s: %s not delivered: %s", submission.asset_id, result.key, result.reason)
    return RenderReport(submission.asset_id, folder, results, folder / metadata_file.name)

"""The metadata sidecar document and the subtitle sidecars of a delivery."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from pipeline import __version__, subtitles
from pipeline.analysis import AudioAnalysis
from pipeline.config import Config
from pipeline.delivery import ebucore, qc, report
from pipeline.delivery.results import DeliverableResult, StepTimings
from pipeline.files import sha256_of
from pipeline.intake.submission import Submission
from pipeline.media import ffmpeg


def write_subtitle_sidecars(submission: Submission, deliver_dir: Path,
                            formats: Sequence[str] = ("srt", "vtt"),
                            speeds: Mapping[str, Fraction] | None = None) -> list[str]:
    """Each language's subtitles in each of `formats` (keys of subtitles.SIDECAR_FORMATS), and
    for each profile that plays the programme faster (`speeds`: profile -> speed, a speed frame
    rate conversion) the same with the cue times scaled, `<asset_id>_<profile>.<lang>.srt`."""
    written = []
    timings = {submission.asset_id: 1.0} | {f"{submission.asset_id}_{profile}": float(speed)
                                            for profile, speed in sorted((speeds or {}).items())}
    for stem, speed in timings.items():
        for language, track in sorted(submission.subtitles.items()):
            for name in formats:
                suffix, writer = subtitles.SIDECAR_FORMATS[name]
                path = deliver_dir / f"{stem}.{language}{suffix}"
                writer(track.played_faster(speed), path)
                written.append(path.name)
    return written


def _profile_loudness(analysis: AudioAnalysis, config: Config, results: list[DeliverableResult]) -> dict:
    """The profiles of this delivery whose files are held to a loudness table of their own, each
    with its target and the gain its sound got (none: no key, the sidecar as without profiles)."""
    used = sorted({result.deliverable.profile for result in results if result.deliverable is not None})
    own = {name: config.loudness_for(name) for name in used
           if name in config.profiles and config.profiles[name].loudness is not None}
    if not own:
        return {}
    plans = getattr(analysis.gain, "profiles", {})
    return {"profiles": {name: {"standard": target.standard, "target_lufs": target.target_lufs,
                                "tolerance_lu": target.tolerance_lu, "true_peak_dbtp": target.true_peak_dbtp}
                         | ({"gain_db": plans[name].gain_db, "limiter": plans[name].limit} if name in plans else {})
                         for name, target in own.items()}}


def sidecar_document(submission: Submission, analysis: AudioAnalysis, results: list[DeliverableResult],
                     config: Config, started: datetime, run_id: str | None,
                     earlier_attempts: list[dict] | None = None, timings: StepTimings | None = None) -> dict:
    """`earlier_attempts`: how each earlier attempt at this package ended (the lifecycle's record:
    when, run_id, error, message), so a delivery says what it took."""
    source_sha256 = sha256_of(submission.package.master)  # once: a master can be tens of GB
    deliverables = [_finite(result.to_dict()) for result in results]
    return _finite({
        "asset_id": submission.asset_id,
        "descriptive": submission.descriptive.to_json_dict(),
        "source": {"master": submission.package.master.name, "sha256": source_sha256,
                   "technical": submission.media.to_dict() | {"path": submission.package.master.name},
                   "audio_layout": {"name": submission.layout.name, "detected_by": submission.layout.how,
                                    "channels": submission.layout.roles, "evidence": submission.layout.evidence,
                                    "sounds": analysis.sound_report.origins if analysis.sound_report else {}},
                   "programme": {"start_s": submission.programme.start_s,
                                 "duration_s": submission.programme.duration_s}} | _textless_source(submission, results),
        "deliverables": deliverables,
        "qc": {"verdict": qc.verdict_of(deliverables),
               "loudness": {"standard": config.loudness.standard, "target_lufs": config.loudness.target_lufs,
                            "tolerance_lu": config.loudness.tolerance_lu,
                            "true_peak_dbtp": config.loudness.true_peak_dbtp,
                            "source": analysis.gain.measured.to_dict(),
                            "gain_db": analysis.gain.gain_db, "limiter": analysis.gain.limit}
                           | _profile_loudness(analysis, config, results),
               "me_checks": analysis.me_report.to_dict() if analysis.me_report else None,
               "subtitles": [finding.to_dict() for finding in submission.subtitle_findings],
               "subtitle_sync": [estimate.to_dict() for estimate in analysis.subtitle_sync]},
        "sidecars": {"subtitles": sorted(submission.subtitles),
                     "qc_report": report.filename(submission.asset_id),
                     "ebucore": ebucore.filename(submission.asset_id)},
        "provenance": {"source_sha256": source_sha256, "config_hash": config.digest(),
                       # names only: the folders of the machine that rendered are nobody's business
                       "config_files": [Path(source).name for source in config.source],
                       "pipeline_version": __version__,
                       "ffmpeg_version": ffmpeg.capabilities().version, "flow_run_id": run_id,
                       "started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
                       "attempts": 1 + len(earlier_attempts or []), "earlier_attempts": list(earlier_attempts or []),
                       "timings": (timings or StepTimings()).to_dict(results)},
    })


def _textless_source(submission: Submission, results: list[DeliverableResult]) -> dict:
    """The package's textless material, and the versions delivered on the textless picture."""
    if submission.textless is None:
        return {}
    versions = [result.key for result in results if result.deliverable is not None and result.deliverable.textless]
    return {"textless": submission.textless.to_dict(submission.fps) | {"versions": versions}}


def _finite(data):
    """`data` with -inf / nan (the loudness of silence) as null: JSON has no infinity, and
    `json.dumps` would write `-Infinity`, which strict readers (a browser's JSON.parse) refuse."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data

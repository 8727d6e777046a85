"""Findings per deliverable, sidecars, checksums, and the one rename that makes the delivery visible."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from pipeline.analysis import AudioAnalysis
from pipeline.audio.signals import base_signal
from pipeline.config import Config
from pipeline.deliverables import Deliverable, plan_deliverables
from pipeline.delivery import asset_page, ebucore, qc, report
from pipeline.delivery import schema as sidecar_schema
from pipeline.delivery.profile_checks import track_findings
from pipeline.delivery.publish import publish_folder, write_checksums
from pipeline.delivery.results import DeliverableResult, RenderReport, StepTimings
from pipeline.delivery.sidecar import sidecar_document, write_subtitle_sidecars
from pipeline.errors import DeliverableError
from pipeline.files import write_json
from pipeline.intake.submission import Submission
from pipeline.media import shots
from pipeline.media.faults import disk_full_as_error
from pipeline.parallel import SideBySide


def deliverable_findings(submission: Submission, analysis: AudioAnalysis, result: DeliverableResult,
                         config: Config) -> list[qc.QCFinding]:
    """What a technician must look at for one deliverable (pipeline.delivery.qc explains the
    severities): whether it was delivered, the findings its kind carries (the M&E checks of the
    international version, a language's subtitle QC), and its file's loudness."""
    findings = []
    if not result.delivered:
        findings.append(qc.QCFinding("delivery", "error", f"not delivered: {result.reason}"))
    deliverable = result.deliverable or _planned(submission, config).get(result.key)
    if deliverable is not None:
        findings += deliverable.findings(submission, analysis)
        findings += qc.sound_findings(analysis.sound_report, base_signal(deliverable.sound.signal))
        if result.delivered:  # each file held to its own profile's target
            target = config.loudness_for(deliverable.profile)
            findings += qc.loudness_findings(deliverable.sound, result.loudness, target)
            findings += track_findings(deliverable, result.loudness, analysis, target)
    return findings


def _planned(submission: Submission, config: Config) -> dict[str, Deliverable]:
    return {deliverable.key: deliverable for deliverable in plan_deliverables(submission, config)[0]}


@disk_full_as_error
def finish_delivery(submission, analysis, results, deliver_dir: Path, out_dir: Path, config: Config,
                    started: datetime, run_id: str | None, earlier_attempts: list[dict] | None = None,
                    timings: StepTimings | None = None, posters: Mapping[str, Path] | None = None) -> RenderReport:
    """Sidecars, checksums, and the one rename that makes the delivery visible. `timings`: the
    steps so far; this one adds its own seconds up to the metadata sidecar's making. `posters`:
    the players' poster frames the render cut, by deliverable key (the others are cut here)."""
    begun = time.monotonic()
    timings = timings or StepTimings()
    for result in results:
        if result.delivered and not (deliver_dir / result.file).exists():
            raise DeliverableError(result.key, "output vanished before publishing")
        if not result.delivered and result.file:
            (deliver_dir / result.file).unlink(missing_ok=True)  # only verified files are published
            result.file = None
    sped_up = {profile: speed for profile in {result.deliverable.profile for result in results
                                              if result.delivered and result.deliverable is not None}
               if (speed := config.profiles[profile].speed_factor(submission.fps)) != 1}
    write_subtitle_sidecars(submission, deliver_dir, config.subtitles.sidecar_formats, sped_up)
    for result in results:
        result.qc = [finding.to_dict() for finding in deliverable_findings(submission, analysis, result, config)]
    shot_list = shots.find_shots(submission, deliver_dir, config, results)
    timings.steps["publish"] = round(time.monotonic() - begun, 2)
    document = sidecar_document(submission, analysis, results, config, started, run_id, earlier_attempts, timings)
    document["shots"] = [shot.to_dict() for shot in shot_list]
    sidecar_schema.validate_sidecar(document)  # a violation is a bug: raise before anything is published
    metadata_file = deliver_dir / f"{submission.asset_id}_metadata.json"
    write_json(metadata_file, document)
    # the players' posters the render did not cut are cut (ffmpeg, side by side) while the report
    # is written (its textless pictures, its charts)
    with SideBySide(workers=1, name="posters") as background:
        written = background.submit(asset_page.write_posters, deliver_dir, document, posters)
        ebucore.write_ebucore(deliver_dir / ebucore.filename(submission.asset_id), document)
        report.write_report(deliver_dir / report.filename(submission.asset_id), submission, analysis, results,
                            document, config)
        written.result()
    asset_page.write_asset_page(deliver_dir, document, posters_cut=True)
    write_checksums(deliver_dir)
    folder = publish_folder(deliver_dir, out_dir / submission.asset_id)
    return RenderReport(submission.asset_id, folder, results, folder / metadata_file.name)

"""One subtitled version per SRT language, full mix. The subtitles are burned into the picture
(`subtitles.burn_in`), carried as a soft subtitle track a player can switch on
(`subtitles.soft_track`, mov_text in MP4/MOV), or both. A soft track alone needs no picture of its
own: the version then takes the clean master's encoded picture and mix by stream copy, so it
costs no encode at all."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.audio.sounds import full_mix
from pipeline.deliverables.model import Deliverable
from pipeline.findings import subtitle_findings


@dataclass(frozen=True)
class SubtitledVersion(Deliverable):
    def findings(self, submission, analysis) -> list:
        sync_findings = [estimate.finding for estimate in analysis.subtitle_sync if estimate.finding]
        return subtitle_findings(self.subtitle_language or "", submission.subtitle_findings + sync_findings)


def _version_note(language: str, burn_in: bool, soft_track: bool) -> str:
    if burn_in and soft_track:
        return (f"Subtitled version: {language} subtitles burned into the picture and also carried "
                "as a subtitle track, full mix.")
    if burn_in:
        return f"Subtitled version: {language} subtitles burned into the picture, full mix."
    return (f"Subtitled version: the clean picture with {language} subtitles as a subtitle track "
            "(switch them on in the player), full mix.")


def plan(submission, config) -> list[Deliverable]:
    burn_in, soft_track = config.subtitles.burn_in, config.subtitles.soft_track
    if not (burn_in or soft_track):
        return []  # subtitles go out as the SRT and WebVTT sidecars only
    return [SubtitledVersion(
        version=f"subtitled-{language}", sound=full_mix(submission.descriptive.language),
        picture="burn" if burn_in else "copy-clean", subtitle_language=language, soft_subtitles=soft_track,
        version_note=_version_note(language, burn_in, soft_track))
        for language in sorted(submission.subtitles)]

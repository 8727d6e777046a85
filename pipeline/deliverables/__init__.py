"""The deliverables of a package (DESIGN.md section 1). Each kind is one small module with a
`plan(submission, config)` function; adding a version means one module and one line below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.config import Config
from pipeline.errors import DeliverableError


@dataclass(frozen=True)
class DeliverableSpec:
    key: str
    """Name inside the file name: master-clean, international, subtitled-<lang>."""
    audio: Literal["mix", "me"]
    audio_title: str
    audio_language: str
    """BCP 47 tag of the sound; 'zxx' (no linguistic content) for an M&E."""
    picture: Literal["encode", "burn", "copy-clean"]
    version_note: str
    subtitle_language: str | None = None
    soft_subtitles: bool = False
    """Also carries `subtitle_language` as a soft subtitle track (mov_text) a viewer can switch."""

    def filename(self, asset_id: str, container: str) -> str:
        return f"{asset_id}_{self.key}.{container}"


def plan_deliverables(submission, config: Config) -> tuple[list[DeliverableSpec], dict[str, str]]:
    """Every deliverable this package should get, and those that cannot be made, with why."""
    from pipeline.deliverables import clean_master, international, subtitled

    planners = [clean_master.plan, international.plan, subtitled.plan]
    specs: list[DeliverableSpec] = []
    failures: dict[str, str] = {}
    for planner in planners:
        try:
            specs.extend(planner(submission, config))
        except DeliverableError as error:
            failures[error.deliverable] = error.reason
    for language, reason in submission.subtitle_failures.items():
        failures[f"subtitled-{language}"] = reason
    return specs, failures

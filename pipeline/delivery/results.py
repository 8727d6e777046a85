"""What a render produced: one result per deliverable and the report of the whole package.
Typed inside; `to_dict()` only at the JSON and Prefect edges."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from pipeline.deliverables import Deliverable


class DeliverableState(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class TechnicalFacts:
    """What an output is, read back from the file itself (pipeline.delivery.verify)."""

    container: str
    format: str
    size_bytes: int
    duration_s: float
    sha256: str
    video: dict | None
    audio: list[dict]
    subtitle_streams: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ContactSheet:
    """One file's contact sheet (pipeline.delivery.contact_sheets), for the QC report only: where
    its frames were cut (seconds of the file), which of those are inside a cue, and the PNG as a
    data URI, or why it could not be cut."""

    times: list[float]
    cues: list[float]
    uri: str | None = None
    error: str | None = None


@dataclass
class DeliverableResult:
    key: str
    state: DeliverableState
    file: str | None = None
    reason: str | None = None
    technical: TechnicalFacts | None = None
    loudness: dict = field(default_factory=dict)
    seconds: float = 0.0
    qc: list[dict] = field(default_factory=list)
    """QC findings of this deliverable (pipeline.delivery.qc.QCFinding.to_dict()), set before publishing."""
    short_term: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """The short-term loudness curve, for the QC report only: too long for the JSON sidecar."""
    deliverable: Deliverable | None = field(default=None, repr=False)
    """What was planned (None for a version that could not even be planned)."""
    conversion: dict = field(default_factory=dict)
    """A file at another frame rate than the master: the method, the rates, the speed, and the
    duration and start timecode they give it (empty: the master's rate)."""
    textless_inserts: list[dict] = field(default_factory=list)
    """Each textless insert as measured in this file (pipeline.delivery.textless_check)."""
    verify_s: float = 0.0
    """Wall seconds this file's own read-back took (pipeline.delivery.verify); in the provenance."""
    contact_sheet: ContactSheet | None = field(default=None, repr=False)
    """Cut while the file was read back; for the QC report only."""

    @property
    def delivered(self) -> bool:
        return self.state == DeliverableState.DELIVERED

    def to_dict(self) -> dict:
        data = {"key": self.key, "state": str(self.state), "file": self.file, "reason": self.reason,
                "technical": self.technical.to_dict() if self.technical else None,
                "loudness": self.loudness, "seconds": self.seconds, "qc": self.qc,
                "frame_rate_conversion": self.conversion}
        if self.deliverable is not None and self.deliverable.textless:
            data["picture"] = "textless"
        if self.deliverable is not None and self.deliverable.picture_note:
            data["picture_note"] = self.deliverable.picture_note
        if self.textless_inserts:
            data["textless_inserts"] = self.textless_inserts
        return {key: value for key, value in data.items() if value not in (None, {}, "")}


STEPS = {"check package": "check", "analyse audio": "analyse", "render deliverables": "render",
         "verify outputs": "verify", "publish": "publish"}
"""The sequence's steps (pipeline.sequence) by the names they run under, and as the sidecar names them."""


@dataclass
class StepTimings:
    """Where a package's time went, in wall seconds: each step of the sequence as it ran. Publish
    is counted up to the making of the metadata sidecar that carries these figures (the contact
    sheets, charts and posters are made before it); the run's log has the whole step."""

    steps: dict[str, float] = field(default_factory=dict)

    def to_dict(self, results: list[DeliverableResult]) -> dict:
        """The sidecar's `provenance.timings`: the steps, and inside verify each file's own reads."""
        return {"steps_s": dict(self.steps),
                "verify_s": {result.file: result.verify_s for result in results if result.file}}


@dataclass
class RenderReport:
    asset_id: str
    folder: Path
    deliverables: list[DeliverableResult]
    metadata_file: Path

    @property
    def failed(self) -> list[DeliverableResult]:
        return [item for item in self.deliverables if not item.delivered]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict:
        """For a Prefect state's data and the CLI's JSON output."""
        return {"asset_id": self.asset_id, "folder": str(self.folder), "exit_code": self.exit_code,
                "deliverables": [result.to_dict() for result in self.deliverables],
                "metadata_file": str(self.metadata_file)}

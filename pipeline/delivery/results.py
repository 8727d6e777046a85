"""What a render produced: one result per deliverable and the report of the whole package."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)



@dataclass
class DeliverableResult:
    key: str
    state: str  # "delivered" | "failed"
    file: str | None = None
    reason: str | None = None
    technical: dict = field(default_factory=dict)
    loudness: dict = field(default_factory=dict)
    seconds: float = 0.0
    qc: list[dict] = field(default_factory=list)
    """QC findings of this deliverable (pipeline.delivery.qc.QCFinding.to_dict()), set before publishing."""
    short_term: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """The short-term loudness curve, for the QC report only: too long for the JSON sidecar."""

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, "") and k != "short_term"}


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



"""The international version: the clean master's picture (stream copy) with music and effects
only, so another broadcaster can lay its own narration on top. The M&E checks
(pipeline/audio/me_checks.py) decide whether the sound is fit to go out."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.audio.layouts import me_source
from pipeline.audio.sounds import MUSIC_AND_EFFECTS
from pipeline.deliverables.model import Deliverable
from pipeline.errors import DeliverableError
from pipeline.findings import me_findings


@dataclass(frozen=True)
class InternationalVersion(Deliverable):
    def blocked_by(self, analysis) -> str | None:
        report = analysis.me_report
        if report is None or report.passed:
            return None
        return "; ".join(check.message for check in report.failures())

    def findings(self, submission, analysis) -> list:
        return me_findings(analysis.me_report)


def plan(submission, config) -> list[Deliverable]:
    if me_source(submission.layout.roles) is None:
        raise DeliverableError("international", (
            f"the master's audio layout is '{submission.layout.name}' "
            f"({submission.layout.layout.description}): it has no M&E channels, no music and "
            "effects stems and no dialogue stem to take out of the mix; deliver the master with "
            "a stereo M&E on channels 3-4 (or D, M, E stems)"))
    textless = "international" in config.outputs.textless_picture
    if textless and submission.textless is not None:
        return [InternationalVersion(
            version="international", sound=MUSIC_AND_EFFECTS, picture="copy-textless",
            version_note="International version: music and effects only, on the textless picture (no burned-in "
                         "text). See the clean master for the full mix.")]
    return [InternationalVersion(
        version="international", sound=MUSIC_AND_EFFECTS, picture="copy-clean",
        version_note="International version: music and effects only. See the clean master for the full mix.",
        picture_note=("the package has no textless material: the international version keeps the texted "
                      "picture" if textless else None))]

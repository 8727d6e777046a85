"""The clean master: the programme's picture conformed to the profile, full mix, nothing burned."""

from pipeline.audio.sounds import full_mix
from pipeline.deliverables.model import Deliverable


def plan(submission, config) -> list[Deliverable]:
    return [Deliverable(
        version="master-clean", sound=full_mix(submission.descriptive.language), picture="encode",
        version_note="Clean master: full mix, no burned-in text. Subtitles are delivered as sidecar files.")]

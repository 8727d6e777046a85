"""The clean master: the programme's picture conformed to the profile, full mix, nothing burned."""

from pipeline.deliverables import DeliverableSpec


def plan(submission, config) -> list[DeliverableSpec]:
    return [DeliverableSpec(
        key="master-clean", audio="mix", audio_title="Full mix",
        audio_language=submission.descriptive.language or "und", picture="encode",
        version_note="Clean master: full mix, no burned-in text. Subtitles are delivered as sidecar files.")]

"""One subtitled version per SRT language: the subtitles burned into the picture, full mix."""

from . import DeliverableSpec


def plan(submission, config) -> list[DeliverableSpec]:
    return [DeliverableSpec(
        key=f"subtitled-{language}", audio="mix", audio_title="Full mix",
        audio_language=submission.descriptive.language or "und", picture="burn",
        subtitle_language=language,
        version_note=f"Subtitled version: {language} subtitles burned into the picture, full mix.")
        for language in sorted(submission.subtitles)]

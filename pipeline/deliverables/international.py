"""The international version: the clean master's picture (stream copy) with music and effects
only, so another broadcaster can lay its own narration on top."""

from pipeline.audio.layouts import me_source
from pipeline.deliverables import DeliverableSpec
from pipeline.errors import DeliverableError


def plan(submission, config) -> list[DeliverableSpec]:
    if me_source(submission.layout.roles) is None:
        raise DeliverableError("international", (
            f"the master's audio layout is '{submission.layout.name}' "
            f"({submission.layout.layout.description}): it has no M&E channels, no music and "
            "effects stems and no dialogue stem to take out of the mix; deliver the master with "
            "a stereo M&E on channels 3-4 (or D, M, E stems)"))
    return [DeliverableSpec(
        key="international", audio="me", audio_title="Music and effects", audio_language="zxx",
        picture="copy-clean",
        version_note="International version: music and effects only. See the clean master for the full mix.")]

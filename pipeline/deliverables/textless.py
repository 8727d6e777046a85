"""The textless version: the programme's picture with every texted shot (name supers, captions,
lower thirds) replaced by its textless insert, and the full mix. Made only when the package holds
textless material (pipeline/intake/textless.py) and `[outputs] textless_picture` names it; the
render composes the picture from the same decode as the others (pipeline/render/textless.py)."""

from pipeline.audio.sounds import full_mix
from pipeline.deliverables.model import Deliverable


def plan(submission, config) -> list[Deliverable]:
    if submission.textless is None or "textless" not in config.outputs.textless_picture:
        return []
    return [Deliverable(
        version="textless", sound=full_mix(submission.descriptive.language), picture="textless",
        version_note="Textless version: the picture without its burned-in text (captions, name supers), full mix.")]

"""The deliverables of a package (docs/design.md section 1).

A deliverable is a version (the clean master, the international version, a subtitled version)
delivered in a profile (web: MP4, H.264, AAC; broadcast: MXF XDCAM HD422; mezzanine: ProRes). A
deliverable says what it needs and what it is held to: the sound it carries (`Sound`: which
signal of the master's layout, and whether that sound is brought to the loudness target or
keeps the full mix's gain), its picture (encoded, burned with one language, or the clean
master's picture by stream copy), and the QC findings that belong to it.

Each version is one small module with a `plan(submission, config) -> list[Deliverable]`
function; a version that cannot be made raises DeliverableError with the reason. Adding a
version (say, an audio-described master) means one module and one line in `VERSIONS` below.
"""

from __future__ import annotations

import dataclasses
import importlib

from pipeline.audio.sounds import MUSIC_AND_EFFECTS, Sound, full_mix
from pipeline.config import Config
from pipeline.deliverables.model import AnalysisFacts, Deliverable, Picture, clean_picture_in, copied_picture_of
from pipeline.deliverables.profiles import in_profiles
from pipeline.errors import DeliverableError

__all__ = ["MUSIC_AND_EFFECTS", "AnalysisFacts", "Deliverable", "Picture", "Sound", "clean_picture_in",
           "copied_picture_of", "full_mix", "plan_deliverables"]

VERSIONS = ("clean_master", "textless", "international", "subtitled")
"""The version modules of this package, in the order their deliverables are listed."""


def plan_deliverables(submission, config: Config) -> tuple[list[Deliverable], dict[str, str]]:
    """Every deliverable this package should get, and those that cannot be made, with why."""
    versions = [importlib.import_module(f"{__name__}.{name}") for name in VERSIONS]
    deliverables: list[Deliverable] = []
    failures: dict[str, str] = {}
    for version in versions:
        try:
            deliverables.extend(version.plan(submission, config))
        except DeliverableError as error:
            failures[error.deliverable] = error.reason
    for language, reason in submission.subtitle_failures.items():
        failures[f"subtitled-{language}"] = reason
    deliverables, failures = in_profiles(deliverables, failures, submission, config)
    return _with_textless_pictures(deliverables), failures


def _with_textless_pictures(deliverables: list[Deliverable]) -> list[Deliverable]:
    """A version copying the textless picture in a profile where the textless version is not
    made (left out of it by [outputs]) encodes that picture itself."""
    return [dataclasses.replace(item, picture="textless")
            if item.picture == "copy-textless" and copied_picture_of(deliverables, item) is None else item
            for item in deliverables]

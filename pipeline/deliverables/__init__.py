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

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pipeline.audio.layouts import me_pan, mix_pan
from pipeline.config import Config
from pipeline.errors import DeliverableError

if TYPE_CHECKING:
    from pipeline.audio.analysis import AudioAnalysis
    from pipeline.delivery.qc import QCFinding
    from pipeline.intake.submission import Submission

Picture = Literal["encode", "burn", "copy-clean"]
"""encode: the programme's picture, conformed and encoded (the clean master's picture);
burn: that picture with one language's subtitles burned in; copy-clean: the clean master's
encoded picture, taken by stream copy."""


@dataclass(frozen=True)
class Sound:
    """The stereo sound one deliverable carries."""

    signal: str
    """Its name in the audio graph and the loudness plan ("mix", "me"): deliverables with the same
    signal share one routed, gained and encoded sound."""
    title: str
    """The track title written into the file ("Full mix")."""
    language: str
    """BCP 47 tag of what is spoken; 'zxx' (no linguistic content) for music and effects."""
    held_to_target: bool
    """True: brought to the loudness target (the full mix). False: keeps the full mix's gain and
    is measured, never targeted (an M&E must match the mix's level, docs/design.md section 2)."""
    roles: tuple[str, ...]
    """The channel roles of the delivered pair, for the sidecar."""
    pan: Callable[[list[str]], str | None]
    """`pan` filter arguments making this sound from the master's channel roles (None: the
    layout cannot make it)."""


def full_mix(language: str | None) -> Sound:
    return Sound("mix", "Full mix", language or "und", True, ("mix_l", "mix_r"), mix_pan)


MUSIC_AND_EFFECTS = Sound("me", "Music and effects", "zxx", False, ("me_l", "me_r"), me_pan)


@dataclass(frozen=True)
class Deliverable:
    """One file of a delivery: a version of the programme in a profile."""

    version: str
    """Name inside the file name: master-clean, international, subtitled-<lang>."""
    sound: Sound
    picture: Picture
    version_note: str
    subtitle_language: str | None = None
    """The language this deliverable carries (burned in, or as a soft track)."""
    soft_subtitles: bool = False
    """Also carries `subtitle_language` as a soft subtitle track (mov_text) a viewer can switch."""
    profile: str = "web"
    tracks: tuple[Sound | None, ...] = ()
    """The sounds of the file, a stereo pair each in track order (None: a silent pair), from the
    profile's allocation. Empty: the one stereo sound `sound`."""
    profile_in_key: bool = False
    """The profile's name is part of the key and the file name (`OutputProfile.profile_in_names`)."""
    container: str = "mp4"
    """The profile's container, the file name's extension."""

    @property
    def carried(self) -> list[Sound]:
        """Every sound this deliverable's file carries."""
        return [sound for sound in self.tracks if sound is not None] or [self.sound]

    @property
    def key(self) -> str:
        """The deliverable's name in results, sidecars and reports: the version, and the profile
        where the profile names its files so (every profile but web)."""
        return f"{self.version}_{self.profile}" if self.profile_in_key else self.version

    @property
    def burns(self) -> str | None:
        """The subtitle language burned into the picture, if any."""
        return self.subtitle_language if self.picture == "burn" else None

    def filename(self, asset_id: str) -> str:
        """The file this deliverable is delivered as: the one place output files are named."""
        return f"{asset_id}_{self.key}.{self.container}"

    def blocked_by(self, analysis: AudioAnalysis) -> str | None:
        """Why the audio analysis rules this deliverable out (None: it may be rendered)."""
        return None

    def findings(self, submission: Submission, analysis: AudioAnalysis) -> list[QCFinding]:
        """The QC findings that belong to this deliverable beyond its file's own measurements."""
        return []


VERSIONS = ("clean_master", "international", "subtitled")
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
    from pipeline.deliverables.profiles import in_profiles

    return in_profiles(deliverables, failures, submission, config)


def clean_picture_in(deliverables: list[Deliverable], profile: str) -> Deliverable | None:
    """The deliverable of `profile` whose encoded picture that profile's stream-copy versions take."""
    return next((item for item in deliverables if item.picture == "encode" and item.profile == profile), None)

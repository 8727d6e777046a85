"""The deliverable type: a version of the programme in a delivery profile, with what it needs
(its sound, its picture) and what it is held to (pipeline/deliverables/__init__.py says more)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from pipeline.audio.me_checks import MEReport
from pipeline.audio.sounds import Sound
from pipeline.findings import QCFinding
from pipeline.intake.submission import Submission
from pipeline.subtitles.sync import SyncEstimate


class AnalysisFacts(Protocol):
    """What a deliverable reads of the audio analysis (pipeline.analysis.AudioAnalysis) to know
    whether it can be made and what it must report."""

    me_report: MEReport | None
    subtitle_sync: list[SyncEstimate]


Picture = Literal["encode", "burn", "copy-clean", "textless", "copy-textless"]
"""encode: the programme's picture, conformed and encoded (the clean master's picture);
burn: that picture with one language's subtitles burned in; copy-clean: the clean master's
encoded picture, taken by stream copy; textless: the programme's picture with each texted shot
replaced by its textless insert, conformed and encoded; copy-textless: that encoded textless
picture, taken by stream copy."""


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
    """The sounds of the file in track order, a stereo pair each or a 5.1 (None: a silent pair),
    from the profile's allocation. Empty: the one stereo sound `sound`."""
    profile_in_key: bool = False
    """The profile's name is part of the key and the file name (`OutputProfile.profile_in_names`)."""
    container: str = "mp4"
    """The profile's container, the file name's extension."""
    picture_note: str | None = None
    """Why the picture is not the one the config asked for (a version named in `[outputs]
    textless_picture` in a package without textless material), for the sidecar."""

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

    @property
    def textless(self) -> bool:
        """The deliverable shows the textless picture (pipeline/intake/textless.py)."""
        return self.picture in ("textless", "copy-textless")

    def filename(self, asset_id: str) -> str:
        """The file this deliverable is delivered as: the one place output files are named."""
        return f"{asset_id}_{self.key}.{self.container}"

    def blocked_by(self, analysis: AnalysisFacts) -> str | None:
        """Why the audio analysis rules this deliverable out (None: it may be rendered)."""
        return None

    def findings(self, submission: Submission, analysis: AnalysisFacts) -> list[QCFinding]:
        """The QC findings that belong to this deliverable beyond its file's own measurements."""
        return []


def clean_picture_in(deliverables: list[Deliverable], profile: str) -> Deliverable | None:
    """The deliverable of `profile` whose encoded picture that profile's stream-copy versions take."""
    return next((item for item in deliverables if item.picture == "encode" and item.profile == profile), None)


def copied_picture_of(deliverables: list[Deliverable], spec: Deliverable) -> Deliverable | None:
    """The deliverable whose encoded picture the stream-copy version `spec` takes: its profile's
    textless picture for copy-textless, its profile's clean picture otherwise."""
    if spec.picture == "copy-textless":
        return next((item for item in deliverables if item.picture == "textless" and item.profile == spec.profile),
                    None)
    return clean_picture_in(deliverables, spec.profile)

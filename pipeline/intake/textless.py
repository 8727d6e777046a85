"""Textless material of a package (docs/producers.md "Textless material"): the texted shots of
the master (name supers, captions, lower thirds) supplied again without their text, so that the
textless and international versions can go out without the edit's burned-in text.

Two forms: inserts (at the master's tail, after programme_end, or in a file of the package)
declared in metadata.yaml's `textless:` list, or a whole textless programme
`<master name>.textless.<ext>` beside the master. Either is checked here, frame by frame,
against the master and the programme: every insert the render splices in is known to fit.
Frames are counted from the first frame of their file, as programme_start and programme_end are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import MediaError, MetadataError
from pipeline.intake.metadata import Descriptive
from pipeline.intake.package import Package
from pipeline.media.probe import MediaInfo, VideoInfo, probe
from pipeline.media.timecode import format_timecode


@dataclass(frozen=True)
class TextlessInsert:
    """One texted range of the programme and the textless picture that replaces it."""

    number: int
    """1-based, in the order declared (the whole textless programme is insert 1)."""
    replaces: int
    """The first frame replaced, counted from the master's first frame."""
    source_start: int
    """The insert's first frame, counted from the first frame of its source."""
    frames: int
    file: Path | None = None
    """The file holding the insert; None: the master itself (its tail)."""
    demuxer: str | None = None
    """The insert file's container as probe found it (the master's is the render's own)."""

    @property
    def replaces_end(self) -> int:
        """The first frame after the replaced range."""
        return self.replaces + self.frames

    def to_dict(self, fps: float) -> dict:
        """The insert as the sidecar lists it: timecodes counted from the first frame, as declared."""
        return {"number": self.number, "replaces": format_timecode(self.replaces, fps),
                "from": format_timecode(self.source_start, fps), "duration": format_timecode(self.frames, fps),
                "frames": self.frames, "file": self.file.name if self.file else None}


@dataclass(frozen=True)
class TextlessMaterial:
    inserts: tuple[TextlessInsert, ...]
    whole_programme: bool = False
    """The inserts are one whole textless programme (`<master>.textless.<ext>`)."""

    def to_dict(self, fps: float) -> dict:
        return {"form": "programme" if self.whole_programme else "inserts",
                "inserts": [insert.to_dict(fps) for insert in self.inserts]}


_FIX_RANGE = "give replaces (and duration) inside the programme, between programme_start and programme_end"


def textless_of(package: Package, descriptive: Descriptive, media: MediaInfo, programme_s: tuple[float, float],
                config: Config) -> TextlessMaterial | None:
    """The package's textless material, checked; None when it has none. `programme_s`: the
    programme's start and end in seconds. Every bad declaration is an InputError naming the
    insert, the problem and the fix."""
    fps = float(media.picture.fps)
    first, end = round(programme_s[0] * fps), round(programme_s[1] * fps)
    if package.textless_programme is not None:
        if descriptive.textless:
            raise MetadataError(package.metadata_file, f"declares textless inserts and the package also holds "
                                f"a whole textless programme ({package.textless_programme.name})",
                                "keep one form: remove `textless:` or the .textless file")
        return _whole_programme(package.textless_programme, media, first, end, config)
    if not descriptive.textless:
        return None
    inserts = [_insert(package, number, values, entry.file, media, first, end, config)
               for number, (values, entry) in enumerate(zip(descriptive.textless_seconds(fps), descriptive.textless),
                                                        start=1)]
    _refuse_overlaps(package.metadata_file, inserts, fps)
    return TextlessMaterial(tuple(inserts))


def _frames(seconds: float, fps: float) -> int:
    return round(seconds * fps)


def _insert(package: Package, number: int, values: dict[str, float | None], file: str | None,
            media: MediaInfo, first: int, end: int, config: Config) -> TextlessInsert:
    fps = float(media.picture.fps)
    where = f"textless insert {number}"
    replaces, frames = _frames(values["replaces"] or 0.0, fps), _frames(values["duration"] or 0.0, fps)
    source_start = _frames(values["from"] or 0.0, fps)

    def label(frame: int) -> str:
        return format_timecode(frame, fps)

    if frames <= 0:
        raise MetadataError(package.metadata_file, f"{where}: its duration is {frames} frames",
                            "give the insert's duration, at least one frame")
    if values["replaces_end"] is not None and _frames(values["replaces_end"], fps) - replaces != frames:
        replaced = _frames(values["replaces_end"], fps) - replaces
        raise MetadataError(package.metadata_file, f"{where} lasts {frames} frames ({label(frames)}) but the range it "
                            f"replaces, {label(replaces)} to {label(replaces + replaced)}, is {replaced} frames",
                            "make the insert exactly as long as the texted shot it replaces (duration = "
                            "replaces_end - replaces)")
    if replaces < first or replaces + frames > end:
        raise MetadataError(package.metadata_file, f"{where} replaces {label(replaces)} to {label(replaces + frames)}, "
                            f"outside the programme ({label(first)} to {label(end)})", _FIX_RANGE)
    file_name = package.root / file if file else None
    if file_name is None:
        total = _frames(media.duration_s, fps)
        if source_start < end:
            raise MetadataError(package.metadata_file, f"{where} is taken from {label(source_start)}, inside the "
                                f"programme (it ends at {label(end)}): an insert in the master comes from its tail",
                                "put the inserts after programme_end and give `from` there, or name the file "
                                "holding them with `file:`")
        source, demuxer = "the master", None
    else:
        inserts_media = _insert_media(file_name, media, where, config)
        total, source, demuxer = _frames(inserts_media.duration_s, fps), file_name.name, inserts_media.container
    if source_start + frames > total:
        raise MetadataError(package.metadata_file, f"{where} runs from {label(source_start)} to "
                            f"{label(source_start + frames)}, past the end of {source} ({label(total)})",
                            "check `from` and `duration` against the file holding the inserts")
    return TextlessInsert(number, replaces, source_start, frames, file_name, demuxer)


def _refuse_overlaps(metadata_file: Path, inserts: list[TextlessInsert], fps: float) -> None:
    ordered = sorted(inserts, key=lambda insert: insert.replaces)
    for before, after in zip(ordered, ordered[1:]):
        if after.replaces < before.replaces_end:
            raise MetadataError(metadata_file, f"textless inserts {before.number} and {after.number} overlap: "
                                f"{before.number} replaces {format_timecode(before.replaces, fps)} to "
                                f"{format_timecode(before.replaces_end, fps)}, {after.number} starts at "
                                f"{format_timecode(after.replaces, fps)}",
                                "give each texted shot once; an insert ends where the next may begin")


def _same_picture(path: Path, video: VideoInfo | None, master: VideoInfo) -> str | None:
    """How the picture of `path` differs from the master's (size, rate, scan); None when it does not."""
    if video is None:
        return "has no picture"
    if (video.width, video.height) != (master.width, master.height):
        return f"is {video.width}x{video.height}, the master {master.width}x{master.height}"
    if video.fps != master.fps:
        return f"runs at {float(video.fps):g} frames/s, the master at {float(master.fps):g}"
    if video.interlaced != master.interlaced:
        scan = {True: "interlaced", False: "progressive"}
        return f"is {scan[video.interlaced]}, the master {scan[master.interlaced]}"
    return None


def _insert_media(path: Path, media: MediaInfo, where: str, config: Config) -> MediaInfo:
    if not path.is_file():
        raise MediaError(path, f"is named by {where} (`file:`) and is not in the package",
                         "add the file holding the inserts beside the master, or correct its name")
    info = probe(path, config.media.allowed_containers)
    difference = _same_picture(path, info.video, media.picture)
    if difference:
        raise MediaError(path, f"holds textless inserts and {difference}",
                         "export the inserts with the master's size, frame rate and scan")
    return info


def _whole_programme(path: Path, media: MediaInfo, first: int, end: int, config: Config) -> TextlessMaterial:
    info = probe(path, config.media.allowed_containers)
    difference = _same_picture(path, info.video, media.picture)
    frame = media.picture.frame_s
    if difference is None and abs(info.duration_s - media.duration_s) > frame:
        difference = f"lasts {info.duration_s:.3f} s, the master {media.duration_s:.3f} s"
    if difference:
        raise MediaError(path, f"is the textless programme of {Path(media.path).name} and {difference}",
                         "export the textless programme from the same timeline: same size, frame rate, scan "
                         "and duration as the master")
    return TextlessMaterial((TextlessInsert(1, first, first, end - first, path, info.container),), whole_programme=True)

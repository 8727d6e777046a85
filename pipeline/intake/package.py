"""A submission package on disk (docs/design.md section 3): exactly one master, zero or more
`<name>.<lang>.srt` or `.vtt`, one metadata file, and optionally textless material: a whole
textless programme `<name>.textless.<ext>` or a file of textless inserts named in the metadata
(neither counts as a second master). Finding its parts is all this module does."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError, PackageError
from pipeline.intake.metadata import load_descriptive
from pipeline.subtitles.languages import SUBTITLE_SUFFIXES

log = logging.getLogger(__name__)

MASTER_SUFFIXES = (".mov", ".mp4", ".mxf", ".mkv")
METADATA_NAMES = ("metadata.yaml", "metadata.yml", "metadata.json")


@dataclass(frozen=True)
class Package:
    root: Path
    master: Path
    metadata_file: Path
    subtitle_files: list[Path] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    textless_programme: Path | None = None
    """`<master name>.textless.<ext>`: the whole programme without its burned-in text."""
    insert_files: list[Path] = field(default_factory=list)
    """Media files the metadata names as holding textless inserts (`textless: - file:`)."""

    def files(self) -> list[Path]:
        extra = [self.textless_programme] if self.textless_programme else []
        return [self.master, self.metadata_file, *self.subtitle_files, *extra, *self.insert_files]


def _refuse_escaping_symlinks(root: Path, entries: list[Path]) -> None:
    real_root = root.resolve()
    for entry in entries:
        if entry.is_symlink():
            target = entry.resolve()
            if real_root not in target.parents:
                raise PackageError(entry, f"is a symbolic link pointing outside the package (to {os.readlink(entry)})",
                                   "put the file itself into the package folder")


def find_package(root: str | Path) -> Package:
    """The parts of the package folder `root`, or a PackageError saying what is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise PackageError(root, "is not a folder", "give the folder that holds the master, the SRT files and metadata.yaml")
    entries = sorted(path for path in root.iterdir() if not path.name.startswith("."))
    _refuse_escaping_symlinks(root, entries)
    files = [path for path in entries if path.is_file()]
    masters = [path for path in files if path.suffix.lower() in MASTER_SUFFIXES]
    metadata = [path for path in files if path.name.lower() in METADATA_NAMES]
    textless_programme, insert_files = _textless_files(masters, metadata)
    masters = [path for path in masters if path != textless_programme and path not in insert_files]
    if not masters:
        raise PackageError(root, "holds no master video",
                           "add exactly one master file (.mov, .mp4, .mxf or .mkv) to the package")
    if len(masters) > 1:
        names = ", ".join(path.name for path in masters)
        raise PackageError(root, f"holds {len(masters)} masters ({names})",
                           "keep exactly one master per package; submit the others as their own packages")
    if not metadata:
        raise PackageError(root, "has no metadata.yaml",
                           "add metadata.yaml with at least `title: ...` (metadata.json is accepted too)")
    if len(metadata) > 1:
        raise PackageError(root, f"has {len(metadata)} metadata files ({', '.join(p.name for p in metadata)})",
                           "keep one metadata file")
    subtitles = [path for path in files if path.suffix.lower() in SUBTITLE_SUFFIXES]
    known = set(masters) | set(metadata) | set(subtitles) | set(insert_files) | {textless_programme}
    ignored = [path.name for path in entries if path not in known]
    if ignored:
        log.info("package %s: ignoring %s", root.name, ", ".join(ignored))
    return Package(root=root, master=masters[0], metadata_file=metadata[0], subtitle_files=subtitles,
                   ignored=ignored, textless_programme=textless_programme, insert_files=insert_files)


def _textless_files(media: list[Path], metadata: list[Path]) -> tuple[Path | None, list[Path]]:
    """Among the package's media files, the whole textless programme (`<name>.textless.<ext>`
    beside `<name>.<ext>`) and the files of textless inserts the metadata names. The metadata
    is read here only when the media files are more than a master and its textless programme."""
    textless = [path for path in media if path.stem.lower().endswith(".textless")
                and any(other.stem == path.stem[:-len(".textless")] for other in media)]
    programme = textless[0] if len(textless) == 1 else None
    others = [path for path in media if path != programme]
    if len(others) <= 1 or len(metadata) != 1:
        return programme, []
    try:
        named = {entry.file for entry in load_descriptive(metadata[0]).textless if entry.file}
    except InputError:
        return programme, []  # the metadata's own problem is reported where it is read in full
    return programme, [path for path in others if path.name in named]

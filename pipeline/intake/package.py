"""A submission package on disk (docs/design.md section 3): exactly one master, zero or more
`<name>.<lang>.srt` or `.vtt`, one metadata file. Finding its parts is all this module does."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import PackageError
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

    def files(self) -> list[Path]:
        return [self.master, self.metadata_file, *self.subtitle_files]


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
    if not masters:
        raise PackageError(root, "holds no master video",
                           "add exactly one master file (.mov, .mp4, .mxf or .mkv) to the package")
    if len(masters) > 1:
        names = ", ".join(path.name for path in masters)
        raise PackageError(root, f"holds {len(masters)} masters ({names})",
                           "keep exactly one master per package; submit the others as their own packages")
    metadata = [path for path in files if path.name.lower() in METADATA_NAMES]
    if not metadata:
        raise PackageError(root, "has no metadata.yaml",
                           "add metadata.yaml with at least `title: ...` (metadata.json is accepted too)")
    if len(metadata) > 1:
        raise PackageError(root, f"has {len(metadata)} metadata files ({', '.join(p.name for p in metadata)})",
                           "keep one metadata file")
    subtitles = [path for path in files if path.suffix.lower() in SUBTITLE_SUFFIXES]
    known = set(masters) | set(metadata) | set(subtitles)
    ignored = [path.name for path in entries if path not in known]
    if ignored:
        log.info("package %s: ignoring %s", root.name, ", ".join(ignored))
    return Package(root=root, master=masters[0], metadata_file=metadata[0],
                   subtitle_files=subtitles, ignored=ignored)

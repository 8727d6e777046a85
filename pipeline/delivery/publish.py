"""Sidecars and publishing: the metadata JSON, SHA256SUMS, and the whole-or-nothing move of a
finished delivery folder into the outbox."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from pipeline.files import sha256_of, write_atomically

log = logging.getLogger(__name__)


def write_checksums(folder: Path, name: str = "SHA256SUMS") -> dict[str, str]:
    """`sha256sum -c` compatible: '<hex>  <name>' per delivered file, sorted, the file itself left out."""
    sums = {path.name: sha256_of(path) for path in sorted(folder.iterdir())
            if path.is_file() and path.name != name and not path.name.startswith(".")}
    write_atomically(folder / name, "".join(f"{digest}  {file}\n" for file, digest in sums.items()))
    return sums


def publish_folder(staged: Path, destination: Path) -> Path:
    """Move a finished folder to `destination` in one rename; an older delivery is replaced whole."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    if destination.exists():
        previous = destination.with_name(f".{destination.name}.replaced-{os.getpid()}")
        os.replace(destination, previous)
    try:
        os.replace(staged, destination)
    except BaseException:
        if previous is not None:
            os.replace(previous, destination)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    log.info("published %s", destination)
    return destination

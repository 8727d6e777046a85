"""The watch folder `<data root>/dropbox/` (docs/design.md section 11): producers drop a package
folder on a share; `versioner watch` takes it once the copy has finished, runs the checks of
`versioner submit`, and leaves the verdict beside the drop:

    dropbox/<name>/                 the producer's drop (a package folder)
    dropbox/<name>.accepted.txt     asset id, when, what will be made, when the night starts
    dropbox/<name>.rejected.txt     the file, the problem and the fix, as `versioner check` says them

An accepted drop goes into the inbox through `lifecycle.submit_package` (the path of `versioner
submit`) and leaves the dropbox; a rejected one goes to `quarantine/dropbox-<name>-<when>-<n>/` with
its `reason.json`, so a drop is judged once and the producer drops a fixed copy again.

A copy is finished when every size and modification time in the drop has been still for
`[watch] stable_seconds`, and no file carries the temporary name a copy tool writes into
(`.part`, `.filepart`, `.crdownload`...). A copy killed half way becomes still too: its master is
then truncated and the checks refuse it, so it is never submitted. Nothing is followed through a
symbolic link: the drop is walked with `lstat`, and a link anywhere in it refuses the drop.

The watcher itself is `watch_dropbox`: file-system events (watchfiles; inotify on Linux) wake a
scan, and a scan is also made every `poll_interval_s`, so a stability timer always ends. On a
network share inotify does not see writes made by other machines: `[watch] poll` then polls.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.config import Config
from pipeline.deliverables import plan_deliverables
from pipeline.errors import InputError, PackageError
from pipeline.files import write_atomically, write_json
from pipeline.intake.submission import check_submission
from pipeline.ops import lifecycle

log = logging.getLogger(__name__)

ACCEPTED_SUFFIX = ".accepted.txt"
REJECTED_SUFFIX = ".rejected.txt"
TAKEN_DIR = ".taken"
"""Hidden, inside the dropbox: a drop is renamed here before it is checked, so the producer's
later writes cannot change what is being judged."""
COPYING_SUFFIXES = (".part", ".partial", ".filepart", ".crdownload", ".download", ".tmp", ".!sync")
"""Names that copy tools (browsers, WinSCP, Syncthing...) write into and rename when done."""
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afpfs", "fuse.rclone",
                       "ncpfs", "glusterfs", "ceph", "fuse.glusterfs", "fuse.cephfs", "davfs", "fuse.davfs2"}
REPLACE_FIX = ("give the package another asset_id in metadata.yaml and drop it again, or ask the desk "
               "to replace the asset (`versioner submit --replace`)")
MAX_NAME_BYTES = 200
"""A verdict file's name is the drop's name plus a suffix; kept well under the 255-byte limit."""


@dataclass(frozen=True)
class Verdict:
    name: str
    """The drop's name in the dropbox."""
    accepted: bool
    asset_id: str | None
    verdict_file: Path
    message: str


@dataclass
class _Watched:
    signature: tuple
    still_since: float


@dataclass
class Dropbox:
    """The dropbox of a data root, with what has been seen in it (for the stability timer)."""

    config: Config
    on_accepted: Callable[[str], None] | None = None
    """Called with each accepted asset id (the `render = "now"` mode renders it there)."""
    clock: Callable[[], float] = time.monotonic
    _watched: dict[str, _Watched] = field(default_factory=dict)

    def __post_init__(self):
        self.root = lifecycle.DataRoot.of(self.config)
        self.path = self.root.path / "dropbox"
        self.path.mkdir(parents=True, exist_ok=True)
        self._put_back_interrupted()

    def _put_back_interrupted(self) -> None:
        """Drops a watcher took and never judged (it was killed meanwhile) go back where they were."""
        for label in sorted((self.path / TAKEN_DIR).glob("*.name")):
            taken = label.with_suffix("")
            name = label.read_text(encoding="utf-8", errors="surrogateescape")
            if os.path.lexists(taken) and not os.path.lexists(self.path / name):
                os.rename(taken, self.path / name)
                log.warning("dropbox: %s was being judged when a watcher stopped; judged again", name)
            label.unlink(missing_ok=True)

    def scan(self) -> list[Verdict]:
        """One look at the dropbox: judge every drop that has been still long enough."""
        verdicts = []
        now = self.clock()
        present = set()
        for entry in sorted(os.scandir(self.path), key=lambda item: item.name):
            if _not_a_drop(entry.name):
                continue
            present.add(entry.name)
            signature = _signature(Path(entry.path), self.config.watch.max_drop_files)
            watched = self._watched.get(entry.name)
            if watched is None or watched.signature != signature:
                self._watched[entry.name] = _Watched(signature, now)
                continue
            if (now - watched.still_since < self.config.watch.stable_seconds or _still_copying(entry.name, signature)
                    or _empty_folder(signature)):
                continue
            del self._watched[entry.name]
            try:
                verdict = self.take(entry.name)
            except Exception:  # not the drop's fault (a full disk...): it stays, judged again later
                log.exception("dropbox: %s could not be taken now; trying again when it is still again", entry.name)
                continue
            if verdict is not None:
                verdicts.append(verdict)
        for gone in set(self._watched) - present:
            del self._watched[gone]
        return verdicts

    def take(self, name: str) -> Verdict | None:
        """Judge the drop `name` now: submit it, or refuse it with its reason."""
        taken_dir = self.path / TAKEN_DIR
        taken_dir.mkdir(exist_ok=True)
        taken = taken_dir / f"{secrets.token_hex(6)}"
        label = taken.with_suffix(".name")  # how to put it back if this watcher dies before the verdict
        label.write_text(name, encoding="utf-8", errors="surrogateescape")
        try:
            os.rename(self.path / name, taken)  # a symlink is renamed as the link, never followed
        except FileNotFoundError:
            label.unlink(missing_ok=True)
            return None  # gone meanwhile (the producer took it back)
        try:
            asset_id, message = self._accept(name, taken)
        except InputError as error:
            verdict = self._reject(name, taken, error)
            label.unlink(missing_ok=True)
            return verdict
        except Exception:
            os.rename(taken, self.path / name)  # not the drop's fault: judged again on the next look
            label.unlink(missing_ok=True)
            raise
        shutil.rmtree(taken, ignore_errors=True)
        label.unlink(missing_ok=True)
        verdict = self._write_verdict(name, True, asset_id, message)
        if self.on_accepted is not None:
            self.on_accepted(asset_id)
        return verdict

    def _accept(self, name: str, taken: Path) -> tuple[str, str]:
        _refuse_unsafe_drop(name, taken, self.config)
        try:
            submission = check_submission(taken, self.config)
            asset_id = lifecycle.submit_package(taken, self.config)
        except InputError as error:
            if "--replace" in error.fix:  # the asset id is taken; a drop has no --replace of its own
                error = type(error)(error.path, error.problem, REPLACE_FIX)
            raise _named_for_producer(error, name, taken) from None
        log.info("dropbox: %s accepted as %s", name, asset_id)
        return asset_id, accepted_text(name, asset_id, submission, self.config)

    def _reject(self, name: str, taken: Path, error: InputError) -> Verdict:
        when = datetime.now(UTC)
        # The token: the same name refused twice in one second keeps both.
        destination = self.root.quarantine / f"dropbox-{_slug(name)}-{when:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
        if taken.is_symlink() or not taken.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            os.rename(taken, destination / _safe_file_name(name))
        else:
            os.rename(taken, destination)
        write_json(destination / lifecycle.REASON_FILE,
                   {"asset_id": None, "dropbox_name": name, "file": error.path, "line": error.line,
                    "problem": error.problem, "fix": error.fix, "error": type(error).__name__,
                    "when": when.isoformat(timespec="seconds"), "attempts": 0, "run_id": None, "failures": []})
        log.warning("dropbox: %s rejected (now in %s): %s", name, destination, error)
        # Where beneath the data root, not the machine's own path: the share may be mounted elsewhere.
        message = (f"error: {error}\nnothing was submitted.\n\nThe drop was moved to quarantine/"
                   f"{destination.name} in the data root.\nFix it and drop the package again.\n")
        return self._write_verdict(name, False, None, message)

    def _write_verdict(self, name: str, accepted: bool, asset_id: str | None, message: str) -> Verdict:
        stem = _safe_file_name(name)
        verdict = self.path / f"{stem}{ACCEPTED_SUFFIX if accepted else REJECTED_SUFFIX}"
        (self.path / f"{stem}{REJECTED_SUFFIX if accepted else ACCEPTED_SUFFIX}").unlink(missing_ok=True)
        write_atomically(verdict, message)
        return Verdict(name, accepted, asset_id, verdict, message)


# --- what a drop is -----------------------------------------------------------------------------

def _not_a_drop(name: str) -> bool:
    return name.startswith(".") or name.endswith((ACCEPTED_SUFFIX, REJECTED_SUFFIX))


def _signature(path: Path, max_files: int) -> tuple:
    """Every entry of the drop with its type, size and modification time, never through a link.
    A drop with more entries than allowed is cut short here and refused when taken."""
    entries: list[tuple[str, int, int, int]] = []
    pending = [path]
    while pending and len(entries) <= max_files + 1:
        current = pending.pop()
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            continue
        entries.append((str(current.relative_to(path)), stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns))
        if stat.S_ISDIR(info.st_mode):
            try:
                pending.extend(sorted(current.iterdir(), reverse=True))
            except OSError:
                continue
    return tuple(entries)


def _empty_folder(signature: tuple) -> bool:
    """A folder just made, whose files have not started to arrive: never judged."""
    return len(signature) == 1 and stat.S_ISDIR(signature[0][1])


def _still_copying(name: str, signature: tuple) -> bool:
    names = [name] + [Path(relative).name for relative, *_ in signature]
    return any(item.lower().endswith(COPYING_SUFFIXES) for item in names)


def _refuse_unsafe_drop(name: str, taken: Path, config: Config) -> None:
    """What a package check does not look at: links, odd files, counts and sizes of a drop."""
    if taken.is_symlink():
        raise PackageError(name, "is a symbolic link; the watcher never follows links out of the dropbox",
                           "copy the package folder itself into the dropbox")
    if not taken.is_dir():
        raise PackageError(name, "is a single file; a package is a folder",
                           "put the master, its SRT files and metadata.yaml together in one folder "
                           "and drop the folder")
    limits = config.watch
    files, total = 0, 0
    for directory, folders, names in os.walk(taken):  # os.walk never descends through a link
        for entry in [*folders, *names]:
            path = Path(directory, entry)
            shown = f"{name}/{path.relative_to(taken)}"
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                raise PackageError(shown, "is a symbolic link; the watcher never follows links",
                                   "copy the file itself into the package folder")
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                raise PackageError(shown, "is not a regular file", "drop only the master, SRT files and metadata.yaml")
            files += 1
            total += info.st_size
            if files > limits.max_drop_files:
                raise PackageError(name, f"holds more than {limits.max_drop_files} files",
                                   "drop one package: one master, its SRT files and metadata.yaml")
    if total > limits.max_drop_bytes:
        raise PackageError(name, f"holds {total / 1e9:.1f} GB, over the limit of {limits.max_drop_bytes / 1e9:.1f} GB",
                           "split the programme, or ask for watch.max_drop_bytes to be raised")


def _named_for_producer(error: InputError, name: str, taken: Path) -> InputError:
    """The error with the file named as the producer sees it in the dropbox, not our hidden copy."""
    path = error.path
    if path is not None:
        where = Path(path)
        if where == taken:
            path = name
        elif taken in where.parents:
            path = f"{name}/{where.relative_to(taken)}"
    return type(error)(path, error.problem.replace(str(taken), name), error.fix, error.line)


def _safe_file_name(name: str) -> str:
    """`name` fit for the verdict file beside the drop: no control characters, bounded length."""
    clean = re.sub(r"[\x00-\x1f\x7f/]", "_", name)
    encoded = os.fsencode(clean)
    if len(encoded) > MAX_NAME_BYTES:
        clean = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore") or "drop"  # never half a character
    return clean


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "drop"


# --- the accepted verdict -----------------------------------------------------------------------

def accepted_text(name: str, asset_id: str, submission, config: Config) -> str:
    specs, failures = plan_deliverables(submission, config)
    lines = [f"accepted: {name} is asset {asset_id}",
             f"  when      {datetime.now(UTC).isoformat(timespec='seconds')}",
             f"  master    {submission.package.master.name}, {submission.media.duration_s:.2f} s, "
             f"audio layout {submission.layout.name}", "", "what will be made:"]
    lines += [f"  {spec.filename(asset_id)}" for spec in specs]
    lines += [f"  not made: {key}: {reason}" for key, reason in failures.items()]
    lines += [f"  warning: {finding.message}" for finding in submission.subtitle_findings]
    lines += ["", _when_rendered(config), ""]
    return "\n".join(lines)


def _when_rendered(config: Config) -> str:
    if config.watch.render == "now":
        return "rendering starts now (one package at a time)."
    schedule = config.schedule
    start = next_night(schedule.cron, schedule.timezone, datetime.now(UTC))
    if start is None:
        return f"it renders in the next night run (schedule '{schedule.cron}', {schedule.timezone})."
    return f"it renders in the next night run, which starts at {start:%Y-%m-%d %H:%M %Z} ({schedule.timezone})."


def next_night(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The next start of a daily schedule `M H * * *`; None for any other cron (then named as is)."""
    match = re.fullmatch(r"\s*(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\*\s*", cron)
    if match is None:
        return None
    minute, hour = int(match[1]), int(match[2])
    local = after.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return start if start > local else start + timedelta(days=1)


# --- the watcher --------------------------------------------------------------------------------

def uses_polling(path: Path, setting: bool | str) -> bool:
    """Poll when told to, or ("auto") when `path` is on a network file system."""
    if setting != "auto":
        return bool(setting)
    return filesystem_type(path) in NETWORK_FILESYSTEMS


def filesystem_type(path: Path) -> str:
    """The type of the file system holding `path`, from /proc/mounts ('' when unknown)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError as error:
        log.warning("dropbox: file system of %s unknown, /proc/mounts unreadable (%s); not polled, so drops "
                    "written from another machine over a network file system are missed: set [watch] poll = true "
                    "if it is one", path, error)
        return ""
    real = str(Path(path).resolve())
    best, kind = "", ""
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].replace("\\040", " ")
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, kind = point, parts[2]
    return kind


def watch_dropbox(config: Config, on_accepted: Callable[[str], None] | None = None,
                  on_verdict: Callable[[Verdict], None] | None = None,
                  max_seconds: float | None = None, stop: threading.Event | None = None) -> list[Verdict]:
    """Watch the dropbox until `stop` is set or `max_seconds` have passed (forever by default);
    returns the verdicts given. File-system events only wake a scan; the scan decides."""
    import watchfiles

    dropbox = Dropbox(config, on_accepted)
    polling = uses_polling(dropbox.path, config.watch.poll)
    tick_ms = int(min(config.watch.poll_interval_s, config.watch.stable_seconds / 2) * 1000) or 1
    log.info("watching %s (%s, still for %.1f s, render %s)", dropbox.path,
             "polling" if polling else "file-system events", config.watch.stable_seconds, config.watch.render)
    stop = stop or threading.Event()
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    verdicts: list[Verdict] = []
    changes = watchfiles.watch(dropbox.path, stop_event=stop, force_polling=polling, poll_delay_ms=tick_ms,
                               rust_timeout=tick_ms, yield_on_timeout=True, debounce=tick_ms,
                               raise_interrupt=False, recursive=True, ignore_permission_denied=True)
    for _changed in _first_then(changes):
        for verdict in dropbox.scan():
            verdicts.append(verdict)
            if on_verdict is not None:
                on_verdict(verdict)
        if deadline is not None and time.monotonic() >= deadline:
            stop.set()
            break
    return verdicts


def _first_then(changes):
    yield set()  # a scan at start: drops made while no watcher ran
    yield from changes

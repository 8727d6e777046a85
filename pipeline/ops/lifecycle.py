"""A package's life on disk (docs/design.md section 7), beneath the data root:

    inbox/<asset_id>/            submitted, waiting for a run
    work/<asset_id>@<token>/     claimed by one run, rendering
    outbox/<asset_id>/           delivered (the render publishes it whole, in one rename)
    quarantine/<asset_id>/       needs a person: the package and its `reason.json`

Every move is one `os.rename` inside the data root, which must be one filesystem (on shared
storage: one mount), so whoever looks (a night run, a second render machine, a publisher) sees a
package whole in one place or not at all. Claiming is that rename: of two runs that try at the
same moment, exactly one finds the folder. A package carries its history in `.state.json`
(hidden, so the package reader ignores it) and moves with it. The producer's files are copied at
submit time; nothing here ever writes to a master.
"""

from __future__ import annotations

import errno
import getpass
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pipeline.config import Config
from pipeline.errors import InputError, SubtitleError, TransientError
from pipeline.files import sha256_of, write_json
from pipeline.intake.package import find_package
from pipeline.intake.submission import check_submission
from pipeline.subtitles import normalise_language_tag

log = logging.getLogger(__name__)

STATE_FILE = ".state.json"
CLAIM_FILE = ".claim.json"
RENDER_DIR = ".render"
"""Inside a claim: the render's scratch and staging folder (so the outbox never holds a partial)."""
REASON_FILE = "reason.json"
CLAIM_SEPARATOR = "@"  # never in an asset id (lowercase letters, digits, dashes)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DataRoot:
    path: Path

    @classmethod
    def of(cls, config: Config) -> DataRoot:
        """The data root of `config` (VERSIONER_HOME wins), its four folders created."""
        root = cls(config.paths.data_root().absolute())
        for folder in (root.inbox, root.work, root.outbox, root.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        return root

    @property
    def inbox(self) -> Path:
        return self.path / "inbox"

    @property
    def work(self) -> Path:
        return self.path / "work"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    @property
    def quarantine(self) -> Path:
        return self.path / "quarantine"


@dataclass
class PackageState:
    """What the lifecycle knows of a package; `.state.json` inside the package folder."""

    asset_id: str
    submitted: str
    submitted_by: str = ""
    source: str = ""
    attempts: int = 0
    """Transient failures so far."""
    failures: list[dict] = field(default_factory=list)
    profiles: list[str] | None = None
    """The delivery profiles asked at submission (`versioner submit --profiles`); None: the config's."""

    @classmethod
    def read(cls, folder: Path, asset_id: str) -> PackageState:
        path = folder / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
        except FileNotFoundError:
            pass  # dropped into the inbox by hand, not through `versioner submit`
        except (ValueError, TypeError) as error:
            log.warning("%s: %s is unreadable (%s); counting attempts from zero", asset_id, path, error)
        submitted = datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat(timespec="seconds")
        return cls(asset_id, submitted)

    def write(self, folder: Path) -> None:
        write_json(folder / STATE_FILE, asdict(self))


@dataclass(frozen=True)
class PackageParts:
    """A package given as loose files (`versioner submit MASTER --srt en=FILE --metadata FILE`)."""

    master: Path
    metadata: Path
    subtitles: dict[str, Path] = field(default_factory=dict)


# --- submit ---------------------------------------------------------------------------------

def submit_package(source: str | Path | PackageParts, config: Config, replace: bool = False,
                   profiles: list[str] | None = None) -> str:
    """Check a package, then copy it into the inbox in one rename; return its asset id.

    A bad package raises the same InputError as `versioner check`. An asset id already waiting,
    rendering or delivered is refused unless `replace`."""
    if isinstance(source, PackageParts):
        root = DataRoot.of(config)
        return _submit(root, lambda staging: _stage_parts(source, staging, config), source.master, replace,
                       profiles)
    submission = check_submission(source, config)  # a bad package is refused before any copy
    root = DataRoot.of(config)
    _refuse_taken(root, submission.asset_id, replace)

    def copy_files(staging: Path):
        for path in submission.package.files():
            shutil.copy2(path, staging / path.name)
        return submission

    return _submit(root, copy_files, Path(source), replace, profiles)


def _submit(root: DataRoot, stage, origin: Path, replace: bool, profiles: list[str] | None = None) -> str:
    """Fill a hidden folder inside the inbox with `stage`, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root.inbox))  # hidden: no run sees it
    try:
        asset_id = stage(staging).asset_id
        _refuse_taken(root, asset_id, replace)
        PackageState(asset_id, _now(), _who(), str(origin.absolute()), profiles=profiles).write(staging)
        os.chmod(staging, 0o755)  # mkdtemp makes 0700; other machines' workers must read it
        _move_into_inbox(root, staging, asset_id, replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: submitted into %s", asset_id, root.inbox / asset_id)
    return asset_id


def _who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return socket.gethostname()


def _stage_parts(parts: PackageParts, staging: Path, config: Config):
    """Copy loose files into a package layout, check it, and name the producer's files in errors."""
    metadata_suffix = parts.metadata.suffix.lower()
    if metadata_suffix not in (".yaml", ".yml", ".json"):
        raise InputError(parts.metadata, "is not a .yaml, .yml or .json file",
                         "give the package's metadata.yaml (or metadata.json) with --metadata")
    names = {parts.master: parts.master.name, parts.metadata: f"metadata{metadata_suffix}"}
    for language, path in parts.subtitles.items():
        names[path] = f"{parts.master.stem}.{_language_of(language, path)}.srt"
    originals = {}
    for path, name in names.items():
        if not path.is_file():
            raise InputError(path, "is not a file", "check the path given on the command line")
        shutil.copy2(path, staging / name)
        originals[str(staging / name)] = str(path)
    try:
        return check_submission(staging, config)
    except InputError as error:
        if error.path in originals:  # the message names the file the producer gave, not our copy
            raise type(error)(originals[error.path], error.problem, error.fix, error.line) from None
        raise


def _language_of(language: str, srt: Path) -> str:
    # Checked before it becomes part of a file name: a tag such as "../x" never does.
    try:
        return normalise_language_tag(language, srt)
    except SubtitleError as error:
        raise SubtitleError(srt, error.problem, "give it as --srt LANG=FILE with a BCP 47 tag, "
                            "e.g. --srt fr=news-fr.srt") from None


def _refuse_taken(root: DataRoot, asset_id: str, replace: bool) -> None:
    if replace:
        return
    if (root.inbox / asset_id).exists():
        raise InputError(root.inbox / asset_id, f"asset {asset_id} is already in the inbox, waiting for a run",
                         "submit with --replace to replace it, or give the package another asset_id")
    if claims_of(root, asset_id):
        raise InputError(root.work, f"asset {asset_id} is being rendered now",
                         "submit with --replace to render your version on the next run")
    if (root.outbox / asset_id).exists():
        raise InputError(root.outbox / asset_id, f"asset {asset_id} has already been delivered",
                         "submit with --replace to render it again and replace the delivery, "
                         "or give the package another asset_id")


def _move_into_inbox(root: DataRoot, staging: Path, asset_id: str, replace: bool) -> None:
    target = root.inbox / asset_id
    previous = None
    if replace and target.exists():
        previous = root.inbox / f".replaced-{asset_id}-{secrets.token_hex(4)}"
        try:
            os.rename(target, previous)
        except FileNotFoundError:
            previous = None  # a run claimed it a moment ago; ours waits for the next run
    try:
        os.rename(staging, target)  # fails when the target exists and is not empty
    except OSError as error:
        if previous is not None:
            os.rename(previous, target)
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise InputError(target, f"asset {asset_id} was submitted by someone else a moment ago",
                             "submit with --replace to replace it") from None
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


# --- pending and claims ---------------------------------------------------------------------

@dataclass(frozen=True)
class PendingPackage:
    asset_id: str
    path: Path
    state: PackageState


def pending(root: DataRoot) -> list[PendingPackage]:
    """Packages waiting in the inbox, oldest submission first."""
    found = []
    for entry in root.inbox.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            if not entry.name.startswith("."):
                log.warning("inbox: ignoring %s (a package is a folder; submit with `versioner submit`)", entry.name)
            continue
        try:
            found.append(PendingPackage(entry.name, entry, PackageState.read(entry, entry.name)))
        except FileNotFoundError:
            continue  # claimed by another run while we looked
    return sorted(found, key=lambda item: (item.state.submitted, item.asset_id))


@dataclass
class Claim:
    asset_id: str
    path: Path
    state: PackageState

    @property
    def render_dir(self) -> Path:
        return self.path / RENDER_DIR


def claims_of(root: DataRoot, asset_id: str) -> list[Path]:
    return sorted(root.work.glob(f"{asset_id}{CLAIM_SEPARATOR}*"))


def claim(root: DataRoot, asset_id: str, run_id: str | None = None) -> Claim | None:
    """Take a package out of the inbox for this run; None when another run took it first."""
    return _claim_from(root.inbox / asset_id, root, asset_id, run_id)


def _claim_from(source: Path, root: DataRoot, asset_id: str, run_id: str | None) -> Claim | None:
    target = root.work / f"{asset_id}{CLAIM_SEPARATOR}{secrets.token_hex(6)}"
    try:
        os.rename(source, target)  # atomic: of two runs, exactly one finds the folder
    except FileNotFoundError:
        return None
    write_json(target / CLAIM_FILE, {"host": socket.gethostname(), "pid": os.getpid(),
                                     "run_id": run_id, "claimed": _now()})
    log.info("%s: claimed into %s", asset_id, target)
    return Claim(asset_id, target, PackageState.read(target, asset_id))


def render_key(master: Path, config: Config) -> str:
    """What makes a delivery: the master's bytes and the config that changes the outputs."""
    return f"{sha256_of(master)}:{config.digest()}"


def delivered_key(root: DataRoot, asset_id: str) -> str | None:
    """The render key recorded in the provenance of the delivery in the outbox, if any."""
    path = root.outbox / asset_id / f"{asset_id}_metadata.json"
    try:
        provenance = json.loads(path.read_text(encoding="utf-8"))["provenance"]
        return f"{provenance['source_sha256']}:{provenance['config_hash']}"
    except FileNotFoundError:
        return None  # nothing delivered yet
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("%s: %s unreadable (%s: %s); not known to be delivered, so rendered again", asset_id, path,
                    type(error).__name__, error)
        return None


def already_delivered(root: DataRoot, claimed: Claim, config: Config) -> bool:
    """True when the outbox holds a delivery of these very bytes under this very config."""
    delivered = delivered_key(root, claimed.asset_id)
    if delivered is None:
        return False
    return delivered == render_key(find_package(claimed.path).master, config)


# --- outcomes -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    state: Literal["delivered", "skipped", "quarantined", "requeued"]
    path: Path
    attempts: int = 0
    reason: str = ""


def settle_delivered(root: DataRoot, claimed: Claim, state: Literal["delivered", "skipped"] = "delivered") -> Outcome:
    """The delivery is in the outbox: drop the claimed copy, and any older quarantine entry."""
    shutil.rmtree(claimed.path, ignore_errors=True)
    resolved = root.quarantine / claimed.asset_id
    if resolved.exists():
        shutil.rmtree(resolved, ignore_errors=True)
        log.info("%s: removed its quarantine entry, now resolved", claimed.asset_id)
    return Outcome(state, root.outbox / claimed.asset_id, claimed.state.attempts)


def settle_failure(root: DataRoot, claimed: Claim, error: BaseException, config: Config,
                   run_id: str | None = None) -> Outcome:
    """Bad input goes to quarantine at once; anything else counts as an attempt and the package
    goes back to the inbox for the next run, or to quarantine after `limits.max_attempts`."""
    _drop_scratch(claimed)
    if isinstance(error, InputError):
        return _quarantine(root, claimed, _input_reason(claimed, error, run_id))
    state = claimed.state
    state.attempts += 1
    state.failures.append({"when": _now(), "run_id": run_id, "error": type(error).__name__,
                           "message": str(error).splitlines()[0] if str(error) else type(error).__name__})
    limit = config.limits.max_attempts
    if state.attempts >= limit:
        reason = {"problem": f"rendering failed {state.attempts} times (limit {limit}); last: "
                             f"{state.failures[-1]['message']}",
                  "fix": "a technician reads the logs of the failed runs (`versioner logs RUN_ID`; run ids "
                         "below), fixes the cause, then resubmits the package with `versioner submit --replace`",
                  "file": None, "line": None, "error": type(error).__name__}
        return _quarantine(root, claimed, _reason_document(claimed, reason, run_id))
    state.write(claimed.path)
    target = root.inbox / claimed.asset_id
    try:
        os.rename(claimed.path, target)
    except OSError as rename_error:
        if rename_error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        shutil.rmtree(claimed.path, ignore_errors=True)  # a newer submission replaced it meanwhile
        log.warning("%s: a newer submission is waiting in the inbox; dropped the failed one", claimed.asset_id)
    return Outcome("requeued", target, state.attempts, state.failures[-1]["message"])


def _drop_scratch(claimed: Claim) -> None:
    shutil.rmtree(claimed.render_dir, ignore_errors=True)
    (claimed.path / CLAIM_FILE).unlink(missing_ok=True)


def _input_reason(claimed: Claim, error: InputError, run_id: str | None) -> dict:
    file = error.path
    if file is not None:
        path = Path(file)
        # Name the file as it will be found in quarantine, not where the claim held it.
        file = path.name if path.parent == claimed.path else str(path)
        if path == claimed.path:
            file = None
    reason = {"file": file, "line": error.line, "problem": error.problem, "fix": error.fix,
              "error": type(error).__name__}
    return _reason_document(claimed, reason, run_id)


def _reason_document(claimed: Claim, reason: dict, run_id: str | None) -> dict:
    return {"asset_id": claimed.asset_id, **reason, "when": _now(), "attempts": claimed.state.attempts,
            "run_id": run_id, "failures": claimed.state.failures}


def _quarantine(root: DataRoot, claimed: Claim, reason: dict) -> Outcome:
    claimed.state.write(claimed.path)
    write_json(claimed.path / REASON_FILE, reason)
    destination = root.quarantine / claimed.asset_id
    _replace_folder(claimed.path, destination)
    where = f"{reason['file']}: " if reason.get("file") else ""
    log.error("%s: quarantined in %s: %s%s", claimed.asset_id, destination, where, reason["problem"])
    return Outcome("quarantined", destination, claimed.state.attempts, reason["problem"])


def _replace_folder(source: Path, destination: Path) -> None:
    """Move `source` to `destination`; an older folder there is replaced whole."""
    previous = None
    if destination.exists():
        previous = destination.with_name(f".{destination.name}.old-{secrets.token_hex(4)}")
        os.rename(destination, previous)
    os.rename(source, destination)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


# --- runs that died -------------------------------------------------------------------------

def recover_stale_claims(root: DataRoot, config: Config, run_id: str | None = None) -> list[Outcome]:
    """Take back claims whose run is gone (its process died on this machine, or a claim from
    another machine is older than `limits.stale_claim_hours`); each counts as a failed attempt.
    Copies of submissions that died half-way are removed."""
    _remove_abandoned_uploads(root, config)
    outcomes = []
    for entry in sorted(root.work.iterdir()):
        asset_id, separator, _token = entry.name.partition(CLAIM_SEPARATOR)
        if entry.name.startswith(".") or not separator or not entry.is_dir():
            continue
        why = _stale_because(entry, config)
        if why is None:
            continue
        claimed = _claim_from(entry, root, asset_id, run_id)  # one recovering run wins the rename
        if claimed is None:
            continue
        log.warning("%s: taking back a claim whose run is gone (%s)", asset_id, why)
        error = TransientError(f"the run that claimed it stopped before finishing ({why})")
        outcomes.append(settle_failure(root, claimed, error, config, run_id))
    return outcomes


def _remove_abandoned_uploads(root: DataRoot, config: Config) -> None:
    limit_s = config.limits.stale_claim_hours * 3600
    for entry in root.inbox.glob(".incoming-*"):
        changed = _changed_at(entry)
        if changed is not None and time.time() - changed > limit_s:
            log.warning("inbox: removing %s, a submission that stopped half-way", entry.name)
            shutil.rmtree(entry, ignore_errors=True)


def _stale_because(claim_dir: Path, config: Config) -> str | None:
    claimed_at: float | None
    try:
        info = json.loads((claim_dir / CLAIM_FILE).read_text(encoding="utf-8"))
        claimed_at = datetime.fromisoformat(info["claimed"]).timestamp()
    except FileNotFoundError:
        info, claimed_at = {}, _changed_at(claim_dir)  # claimed a moment ago, or died at once
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("%s: claim unreadable (%s: %s); its run's process cannot be checked, so it is taken back "
                    "only once older than limits.stale_claim_hours", claim_dir.name, type(error).__name__, error)
        info, claimed_at = {}, _changed_at(claim_dir)
    if claimed_at is None:
        return None
    age_h = (time.time() - claimed_at) / 3600
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        if not _process_alive(info["pid"]):
            return f"process {info['pid']} on {info['host']} is gone"
    if age_h > config.limits.stale_claim_hours:
        return f"claimed {age_h:.1f} h ago, over limits.stale_claim_hours = {config.limits.stale_claim_hours}"
    return None


def _changed_at(path: Path) -> float | None:
    try:
        return path.stat().st_ctime  # a rename updates ctime: the moment of the claim
    except FileNotFoundError:
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True

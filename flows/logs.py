"""What a package run writes to its flow-run log: the library's lines kept with the run, and
every line named with the package's asset id, so a technician reading one line (in the UI, in
`versioner logs`, in a grep of a night's logs) knows which package it is about.

The flows are the host here (STYLE.md 6): the library only logs through its module loggers, and
this module, called inside a flow run, decides where those lines go.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LIBRARY_LOGGER = "pipeline"
PACKAGE_RUN_FLOW = "render_from_inbox"
PACKAGE_RUN_PREFIX = "render "
"""Package runs are named `render <asset_id>` (flows.render.render_from_inbox)."""

_current_asset: ContextVar[str | None] = ContextVar("versioner_asset_id", default=None)


class AssetIdOnEveryLine(logging.Filter):
    """Prefixes `<asset_id>: ` to a line of a package run that does not start with it already.

    Inside the flow body the asset id comes from a context variable (threads of a concurrent
    night each have their own); Prefect's own lines before and after the body (beginning,
    final state) come from the run's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        asset_id = _current_asset.get() or _asset_of_run_name(record)
        if asset_id:
            message = record.getMessage()
            if not message.startswith(asset_id):
                record.msg, record.args = f"{asset_id}: {message}", ()
        return True


def _asset_of_run_name(record: logging.LogRecord) -> str | None:
    name = getattr(record, "flow_run_name", None)
    if getattr(record, "flow_name", None) == PACKAGE_RUN_FLOW and isinstance(name, str) \
            and name.startswith(PACKAGE_RUN_PREFIX):
        return name[len(PACKAGE_RUN_PREFIX):]
    return None


class LibraryDetailOffTheConsole(logging.Filter):
    """The terminal keeps Prefect's lines and the library's warnings; the library's INFO detail
    (full ffmpeg command lines...) goes to the run's log only, and would break a progress bar."""

    def filter(self, record: logging.LogRecord) -> bool:
        from_library = record.name == LIBRARY_LOGGER or record.name.startswith(LIBRARY_LOGGER + ".")
        return not (from_library and record.levelno < logging.WARNING)


class HeldBack(logging.Filter):
    """Holds back the lines logged inside `holding_lines` (in that thread, and in the threads it
    hands pieces to with its context), in order, each once, for `replay` inside a run: work begun
    before its flow run exists logs into that run's log, not outside any run. Once `released`
    into a run, the lines of that work go straight to the run's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        held = _held_lines.get()
        if held is None:
            return True
        if held.run is not None:
            if getattr(record, "flow_run_id", None) is None:  # the step they belong to, as Prefect's handler reads it
                record.__dict__.update(held.run)
            return True
        held.lines.setdefault(id(record), record)
        return False


class HeldLines:
    """The lines held back by `holding_lines`; `run`: the run they go to once released."""

    def __init__(self) -> None:
        self.lines: dict[int, logging.LogRecord] = {}
        self.run: dict[str, object] | None = None

    def replay(self) -> None:
        """Write the held lines now, where this thread logs (a step of a flow run: its log), with
        the times they were first logged; only to the handlers that held them back (any other
        handler of the library's loggers had them when they were logged). Each line once: a
        replayed line leaves the held ones, which may still be growing."""
        for key in list(self.lines):
            record = self.lines.pop(key)
            logger: logging.Logger | None = logging.getLogger(record.name)
            while logger is not None:  # as Logger.callHandlers walks up
                for handler in logger.handlers:
                    if _HOLD_FILTER in handler.filters and record.levelno >= handler.level:
                        handler.handle(record)
                logger = logger.parent if logger.propagate else None

    def release(self) -> None:
        """From now on, the lines of the work that holds them go to the log of the run step
        this is called in, as they are logged; those held so far are written there first."""
        from prefect.context import TaskRunContext

        context = TaskRunContext.get()
        if context is not None:
            self.run = {"flow_run_id": context.task_run.flow_run_id, "task_run_id": context.task_run.id}
        self.replay()


_held_lines: ContextVar[HeldLines | None] = ContextVar("versioner_held_lines", default=None)
_ASSET_FILTER = AssetIdOnEveryLine()
_CONSOLE_FILTER = LibraryDetailOffTheConsole()
_HOLD_FILTER = HeldBack()


@contextmanager
def holding_lines(held: HeldLines | None = None) -> Iterator[HeldLines]:
    """Within this block (in this thread, and in the pieces it hands to other threads with its
    context), the lines logged are held back into `held` (a new one by default), not written:
    `replay` them later, or `release` them."""
    keep_library_logs()
    held = held if held is not None else HeldLines()
    token = _held_lines.set(held)
    try:
        yield held
    finally:
        _held_lines.reset(token)


def keep_library_logs() -> None:
    """Send the library's INFO lines (each ffmpeg command, progress, QC findings) to the flow
    run's log, whatever PREFECT_LOGGING_EXTRA_LOGGERS says; and name the asset on every line."""
    from prefect.logging.handlers import APILogHandler

    library = logging.getLogger(LIBRARY_LOGGER)
    if library.getEffectiveLevel() > logging.INFO:
        library.setLevel(logging.INFO)
    run_handlers = {handler for name in ("prefect.flow_runs", "prefect.task_runs")
                    for handler in logging.getLogger(name).handlers}
    for handler in run_handlers:
        if isinstance(handler, APILogHandler) and handler not in library.handlers:
            library.addHandler(handler)
    console_handlers = set(logging.getLogger().handlers) - run_handlers
    for handler in run_handlers | console_handlers:
        if _ASSET_FILTER not in handler.filters:
            handler.addFilter(_ASSET_FILTER)
        if _HOLD_FILTER not in handler.filters:
            handler.addFilter(_HOLD_FILTER)
    for handler in console_handlers:
        if _CONSOLE_FILTER not in handler.filters:
            handler.addFilter(_CONSOLE_FILTER)


@contextmanager
def asset_logging(asset_id: str) -> Iterator[None]:
    """Within this block, every line logged in this thread names `asset_id`."""
    keep_library_logs()
    token = _current_asset.set(asset_id)
    try:
        yield
    finally:
        _current_asset.reset(token)

"""Runs `versioner check` in a worker process of the fuzz test: the same entry point as the
command line (`flows.cli.main`), without paying the interpreter start-up for every input."""

from __future__ import annotations

import contextlib
import io
import traceback


def check(package: str) -> tuple[int | None, str]:
    """(exit code, what was printed on stderr); exit code None and the traceback when an
    exception escaped the CLI, as it would have reached the user."""
    from flows.cli import main

    stderr, stdout = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            code = main(["check", package])
    except BaseException:  # noqa: BLE001 - anything escaping is what the fuzz looks for
        return None, stderr.getvalue() + traceback.format_exc()
    return code, stderr.getvalue()

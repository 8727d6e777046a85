"""`versioner watch`: the dropbox as a service (pipeline/ops/dropbox.py does the work).

With `[watch] render = "nightly"` an accepted drop waits in the inbox for the night; with
`"now"` it is rendered at once as a run of `render_from_inbox`, one at a time, while later drops
wait in the dropbox until the render is over."""

from __future__ import annotations

import logging
import sys

from pipeline.config import load_config
from pipeline.ops.dropbox import Verdict, watch_dropbox


def print_verdict(verdict: Verdict) -> None:
    if verdict.accepted:
        print(f"accepted {verdict.name} as {verdict.asset_id} ({verdict.verdict_file.name})", flush=True)
    else:
        print(f"rejected {verdict.name}: {verdict.message.splitlines()[0]} ({verdict.verdict_file.name})",
              flush=True)


def render_now(config_file: str | None):
    """A callback that renders an accepted asset at once, through the flow the night uses."""
    def render(asset_id: str) -> None:
        from flows.inbox import render_from_inbox

        state = render_from_inbox(asset_id, config_file, return_state=True)
        print(f"rendered {asset_id}: {state.name}: {state.message}", flush=True)
    return render


def watch(config_file: str | None = None, max_seconds: float | None = None) -> list[Verdict]:
    config = load_config(config_file)
    on_accepted = render_now(config_file) if config.watch.render == "now" else None
    if not logging.getLogger().handlers:  # a service: its log goes to the journal through stderr
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return watch_dropbox(config, on_accepted, on_verdict=print_verdict, max_seconds=max_seconds)

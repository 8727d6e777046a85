"""Runs last (pytest collects files in name order): after every render, timeout, cancel and kill
of the suite, no ffmpeg process the tests started may still be alive, whether it is a child of
this process or was left behind by a `versioner` process that died."""

from __future__ import annotations

from pipeline.media import ffmpeg
from tests.processes import kill_leftovers, our_ffmpeg_processes, wait_until


def test_no_ffmpeg_process_started_by_the_suite_is_still_alive():
    assert ffmpeg.running_processes() == [], "pipeline.media.ffmpeg still tracks running processes"
    # A process killed a moment ago may take a few milliseconds to be reaped.
    left = wait_until(lambda: not our_ffmpeg_processes(), timeout_s=5)
    leftovers = our_ffmpeg_processes()
    kill_leftovers(leftovers)  # so they do not run on after the suite either
    assert left, "ffmpeg processes outlived their tests:\n" + "\n".join(
        f"  pid {info.pid} (parent {info.parent}): {' '.join(info.arguments)[:300]}" for info in leftovers)

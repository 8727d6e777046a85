"""Work side by side on the cores this process may use: threads for independent pieces that
mostly wait on their own ffmpeg process (the read-backs, contact sheets and posters after a
render, the packages of a night), with numpy's BLAS kept safe beside them."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

import numpy  # noqa: F401  (loaded here, so that its BLAS is there to be held to one thread)
from threadpoolctl import threadpool_limits

T = TypeVar("T")


def available_cores() -> int:
    """The cores this process may run on (a CPU affinity mask or cpuset counts, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def blas_in_calling_thread() -> None:
    """numpy's BLAS (OpenBLAS) runs in the thread that calls it, for the rest of the process.

    With its own thread pool, a BLAS call in one thread while another thread forks (every ffmpeg
    is started by a fork) can hang for ever: OpenBLAS stops its pool before a fork, and the call
    waits for workers that are gone (a file's sync check hung so, while another file's read-back
    started its ffmpeg). The vectors the pipeline multiplies are PCM, where one thread costs
    nothing measurable.
    To be called before threads that run numpy and start processes side by side."""
    threadpool_limits(1, user_api="blas")


class SideBySide:
    """A pool of threads, one per core, for independent pieces of work that mostly wait on their
    own ffmpeg process (a file's read-back, a contact sheet): after the render, the cores are free.

    Each piece runs in a copy of the submitting thread's context, so what the caller's context
    holds (the Prefect run a log line belongs to, the asset id of a night's thread) holds in the
    piece too. Leaving the `with` block waits for every piece; if the block raised, the pieces not
    yet started are dropped."""

    def __init__(self, workers: int | None = None, name: str = "side-by-side"):
        blas_in_calling_thread()
        self.pool = ThreadPoolExecutor(max_workers=workers or available_cores(), thread_name_prefix=name)

    def submit(self, work: Callable[..., T], *args: Any) -> Future[T]:
        return self.pool.submit(contextvars.copy_context().run, work, *args)

    def map(self, work: Callable[..., T], items: Iterable[Any]) -> list[T]:
        """`work(item)` for each item, side by side; the results in the items' order. The first
        failure (in that order) is raised once the pieces already running have ended; those not
        started are dropped."""
        futures = [self.submit(work, item) for item in items]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()
            for future in futures:
                if not future.cancelled():
                    future.exception()  # wait: no piece outlives the call that asked for it

    def __enter__(self) -> SideBySide:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.pool.shutdown(wait=True, cancel_futures=error is not None)

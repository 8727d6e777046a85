"""What ran, and what it logged: flow runs and their logs read back from the Prefect API (the
embedded one included), for `versioner runs` and `versioner logs`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, Log
from prefect.client.schemas.sorting import FlowRunSort, LogSort

LOG_PAGE = 200  # the API's largest page


@dataclass(frozen=True)
class RunLogs:
    run: FlowRun
    flow_name: str
    lines: list[Log]


def recent_runs(limit: int = 20) -> list[tuple[FlowRun, str]]:
    """The most recently started flow runs (with their flow's name), newest first."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=limit,
                                     flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=False)))
        return [(run, _flow_name(client, run.flow_id)) for run in runs]


def last_top_level_run() -> FlowRun | None:
    """The most recently started run that is not a subflow: what an operator launched last."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            sort=FlowRunSort.START_TIME_DESC, limit=1,
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=False),
                                          parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True)))
    return runs[0] if runs else None


def run_logs(run_id: UUID, with_children: bool = True) -> list[RunLogs]:
    """The run's log lines, then those of its subflow runs (a night's package runs), in start order."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        result = [RunLogs(run, _flow_name(client, run.flow_id), _all_logs(client, run.id))]
        if with_children:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id])),
                sort=FlowRunSort.START_TIME_ASC)
            result += [RunLogs(child, _flow_name(client, child.flow_id), _all_logs(client, child.id))
                       for child in children]
    return result


def _all_logs(client, run_id: UUID) -> list[Log]:
    lines: list[Log] = []
    while True:
        page = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                                limit=LOG_PAGE, offset=len(lines), sort=LogSort.TIMESTAMP_ASC)
        lines += page
        if len(page) < LOG_PAGE:
            return lines


_flow_names: dict[UUID, str] = {}


def _flow_name(client, flow_id: UUID) -> str:
    if flow_id not in _flow_names:
        _flow_names[flow_id] = client.read_flow(flow_id).name
    return _flow_names[flow_id]


def duration_s(run: FlowRun) -> float | None:
    if run.start_time is None:
        return None
    end = run.end_time or datetime.now(UTC)
    return (end - run.start_time).total_seconds()


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"

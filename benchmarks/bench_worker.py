"""Worker and state-store figures: apply overhead vs a bare jobs.create, API calls per create,
and state transition time with 10 000 stored tasks. Prints plain `name: value` lines."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from databricks.sdk.service.jobs import JobSettings  # noqa: E402

from agent.models import Assignment, TaskState  # noqa: E402
from agent.notes import NoteBook  # noqa: E402
from agent.state import StateStore, TaskRecord, new_task_id  # noqa: E402
from agent.worker import Worker  # noqa: E402
from agent.workspace import Workspace  # noqa: E402
from standins.databricks import WorkspaceEmulator  # noqa: E402

N = 30


def spec(name: str) -> dict:
    return {
        "name": name,
        "tasks": [
            {
                "task_key": "ingest",
                "notebook_task": {"notebook_path": "/Repos/etl/ingest"},
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                },
            }
        ],
        "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"},
    }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="jobagent-bench-"))
    with WorkspaceEmulator(seed=True) as emu:
        emu.start()
        client = emu.client()
        bare = []
        for i in range(N):
            t0 = time.perf_counter()
            client.jobs.create(**{k: getattr(JobSettings.from_dict(spec(f"bare-{i}")), k) for k in spec("x")})
            bare.append(time.perf_counter() - t0)
        worker = Worker(
            Workspace(client, "emulator"), StateStore(tmp / "state.json"), NoteBook(tmp / "notes")
        )
        applies, calls = [], []
        for i in range(N):
            assignment = Assignment(JobSettings.from_dict(spec(f"agent-{i}")))
            record = worker.submit(assignment, request="bench", requester="bench", thread=f"b{i}")
            worker.approve(record.id, by="bench")
            emu.reset_calls()
            t0 = time.perf_counter()
            done = worker.apply(record.id)
            applies.append(time.perf_counter() - t0)
            assert done.state is TaskState.COMPLETE, done.error
            calls.append(len([c for c in emu.calls if c[1].startswith("/api/")]))
    print(f"bare_jobs_create_p50_ms: {statistics.median(bare) * 1000:.2f}")
    print(f"worker_apply_p50_ms: {statistics.median(applies) * 1000:.2f}")
    print(f"apply_overhead_ratio: {statistics.median(applies) / statistics.median(bare):.2f}")
    print(f"api_calls_per_create_apply: {statistics.mean(calls):.1f}")

    store = StateStore(tmp / "big.json")
    records = [
        TaskRecord(
            id=new_task_id(),
            request="run /Repos/etl/ingest daily at 2am " * 3,
            requester="u",
            thread=f"C1/{i}",
            settings=spec(f"job-{i}"),
        )
        for i in range(10_000)
    ]
    t0 = time.perf_counter()
    store.import_records(records)
    print(f"state_bulk_import_10000_s: {time.perf_counter() - t0:.2f}")
    print(f"state_file_mb: {(tmp / 'big.json').stat().st_size / 1e6:.1f}")
    times, reads = [], []
    for rec in records[:50]:
        t0 = time.perf_counter()
        store.transition(rec.id, TaskState.APPROVED, by="bench")
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.find(thread=rec.thread)
        reads.append(time.perf_counter() - t0)
    print(f"state_transition_p50_ms_at_10000: {statistics.median(times) * 1000:.1f}")
    print(f"state_transition_p95_ms_at_10000: {pct(times, 0.95) * 1000:.1f}")
    print(f"state_query_by_thread_p50_ms_at_10000: {statistics.median(reads) * 1000:.1f}")


if __name__ == "__main__":
    main()

"""Worker figures: apply overhead vs a bare jobs.create, and Databricks API calls per create in a warm
process and in a fresh one (a new Worker and Workspace over the same JOBAGENT_HOME, as `jobagent apply`
runs). Prints plain `name: value` lines. (State-store figures: benchmarks/bench_state.py.)"""

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
from agent.state import open_store  # noqa: E402
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


def apply_calls(emu: WorkspaceEmulator, worker: Worker, task_id: str) -> tuple[float, list[str]]:
    """Seconds the apply took and the API paths it called."""
    emu.reset_calls()
    t0 = time.perf_counter()
    done = worker.apply(task_id)
    took = time.perf_counter() - t0
    assert done.state is TaskState.COMPLETE, done.error
    return took, [path for _, path in emu.calls if path.startswith("/api/")]


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
        store, notes = open_store(tmp / "state"), NoteBook(tmp / "notes")

        def new_worker() -> Worker:  # what a new process builds: nothing in memory, the same home
            return Worker(Workspace(client, "emulator", cache_dir=tmp / "cache"), store, notes)

        def approved(worker: Worker, name: str, *, checked: bool = True) -> str:
            """Planned as the CLI and the bot plan (workspace checked), or offline (`--no-check`)."""
            assignment = Assignment(JobSettings.from_dict(spec(name)))
            record = worker.submit(
                assignment, request="bench", requester="bench", thread=name, preflight=checked
            )
            worker.approve(record.id, by="bench")
            return record.id

        first = new_worker()  # planned offline, no cache on disk yet: apply lists node types and versions
        _, first_calls = apply_calls(emu, first, approved(first, "agent-first", checked=False))
        applies, warm = [], []
        for i in range(N):
            took, calls = apply_calls(emu, first, approved(first, f"agent-{i}"))
            applies.append(took)
            warm.append(calls)
        fresh, offline = [], []
        for i in range(5):  # planned in one process, applied in another (`jobagent plan`, then `apply`)
            fresh.append(apply_calls(emu, new_worker(), approved(first, f"agent-fresh-{i}"))[1])
            offline.append(apply_calls(emu, first, approved(first, f"agent-offline-{i}", checked=False))[1])

    def per_create(runs: list[list[str]], only_jobs: bool = False) -> float:
        return statistics.mean(len([c for c in r if not only_jobs or "/jobs/" in c]) for r in runs)

    print(f"bare_jobs_create_p50_ms: {statistics.median(bare) * 1000:.2f}")
    print(f"worker_apply_p50_ms: {statistics.median(applies) * 1000:.2f}")
    print(f"apply_overhead_ratio: {statistics.median(applies) / statistics.median(bare):.2f}")
    print(f"api_calls_per_create_warm_process: {per_create(warm):.1f}")
    print(f"api_calls_per_create_fresh_process: {per_create(fresh):.1f}")
    print(f"api_calls_per_create_planned_offline: {per_create(offline):.1f}")
    print(f"api_calls_per_create_first_process_planned_offline: {len(first_calls)}")
    print(f"jobs_api_calls_per_create_warm_process: {per_create(warm, only_jobs=True):.1f}")
    print(f"jobs_api_calls_per_create_fresh_process: {per_create(fresh, only_jobs=True):.1f}")
    print(f"calls_warm_process: {' '.join(warm[-1])}")
    print(f"calls_planned_offline: {' '.join(offline[-1])}")
    print(f"calls_first_process_planned_offline: {' '.join(first_calls)}")


if __name__ == "__main__":
    main()

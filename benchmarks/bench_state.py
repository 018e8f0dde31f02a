"""State store at any age: transition time, opening in a new process and lookups, with 10,000 and
100,000 realistic (~5 KB) stored tasks, against the version-1 single-file TinyDB database in the same run.

The baseline is what the store was before (version 1): one TinyDB JSON file holding every task, encoded
whole with the C encoder, fsynced and renamed into place on every write, and parsed whole by every new
process (`V1Storage` below reproduces that storage). It is measured at smaller sizes, since at 100,000
tasks a single write takes seconds. Prints plain ``name: value`` lines.

Run: ``.venv/bin/python benchmarks/bench_state.py [--sizes 10000,100000] [--ops 300]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinydb import Query, TinyDB  # noqa: E402
from tinydb.storages import Storage  # noqa: E402

from agent.models import TaskState  # noqa: E402
from agent.state import TaskRecord, open_store  # noqa: E402

CHANNELS = [f"C{n:08d}" for n in range(20)]
FINAL = [TaskState.COMPLETE] * 8 + [TaskState.REJECTED, TaskState.SUPERSEDED]
OPEN_SHARE = 0.005  # tasks still waiting for a decision


def realistic(i: int, rng: random.Random) -> TaskRecord:
    """A task record shaped like the bot's: request, settings, plan with its text, citations, history."""
    state = TaskState.PLANNED if rng.random() < OPEN_SHARE else rng.choice(FINAL)
    name = f"ingest-{i}"
    settings = {
        "name": name,
        "tasks": [
            {
                "task_key": key,
                "notebook_task": {"notebook_path": f"/Repos/etl/{key}", "base_parameters": {"env": "prod"}},
                "job_cluster_key": "main",
                **({"depends_on": [{"task_key": "ingest"}]} if key != "ingest" else {}),
            }
            for key in ("ingest", "transform", "publish")
        ],
        "job_clusters": [
            {
                "job_cluster_key": "main",
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                },
            }
        ],
        "schedule": {"quartz_cron_expression": "0 30 2 ? * MON-FRI", "timezone_id": "Europe/Berlin"},
        "email_notifications": {"on_failure": ["data-eng@example.com"]},
        "max_retries": 2,
        "tags": {"team": "data-eng", "jobagent-task": f"t-{i:010x}"},
    }
    plan_text = "\n".join(
        f'  + tasks[{k}].notebook_task.notebook_path = "/Repos/etl/x{k}"' for k in range(42)
    )
    return TaskRecord(
        id=f"t-{i:010x}",
        request=f"run /Repos/etl/ingest, transform and publish every weekday at 02:30 Berlin; call it {name}",
        requester=f"U{i % 300:07d}",
        thread=f"{rng.choice(CHANNELS)}:{1_700_000_000 + i // 2}.000{i % 2}",
        channel=CHANNELS[i % len(CHANNELS)],
        state=state,
        settings=settings,
        job_id=100_000 + i if state is TaskState.COMPLETE else None,
        plan={"action": "create", "job_name": name, "text": plan_text, "fingerprint": "0" * 64, "steps": []},
        citations=[
            {"title": "Create a job", "url": f"https://docs.databricks.com/jobs/{k}", "score": 1.0}
            for k in range(4)
        ],
        assumptions=["a small cluster means 2 × i3.xlarge workers", "the job runs as the requester"],
        history=[{"state": "PLANNED", "at": "2026-11-30T10:00:00Z", "by": "U1"}]
        + (
            [{"state": str(state), "at": "2026-11-30T10:05:00Z", "by": "U2"}]
            if state is not TaskState.PLANNED
            else []
        ),
        meta={"slack_ts": "1700000000.0001", "planner": "offline", "button_key": "k" * 22},
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


# As on a user's machine: modules compiled once and cached (some sandboxes set PYTHONDONTWRITEBYTECODE,
# and every new process then compiles jobagent's modules again, ~30 ms here).
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

OPEN_IN_NEW_PROCESS = """
import sys, time
t0 = time.perf_counter()
from agent.state import open_store
import agent.state_tinydb  # the backend open_store picks: counted with the imports
t1 = time.perf_counter()
store = open_store(sys.argv[1])
record = store.get(sys.argv[2])
thread = store.find(thread=record.thread)
print(t1 - t0, time.perf_counter() - t1)
"""

OPEN_BASELINE = """
import json, sys, time
t0 = time.perf_counter()
from tinydb import Query, TinyDB
from tinydb.storages import MemoryStorage
t1 = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as fh:  # as version 1's storage read it: the whole file
    data = json.loads(fh.read())
db = TinyDB(storage=MemoryStorage)
db.storage.write(data)
db.table("tasks").get(Query().id == sys.argv[2])
print(t1 - t0, time.perf_counter() - t1)
"""


def new_process_open(script: str, location: Path, task_id: str, repeat: int = 5) -> tuple[float, float]:
    """Medians (imports, open + first reads) of a fresh interpreter opening the store and reading a task
    and its thread; the interpreter's own start-up is not counted."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", script, str(location), task_id],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
            env=USER_ENV,
        )
        runs.append([float(x) for x in out.stdout.split()[-2:]])
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def transitions(store, rng: random.Random, start: int, ops: int) -> tuple[list[float], list[float]]:
    """New tasks added, then taken PLANNED→APPROVED→IN_PROGRESS→COMPLETE: (add times, transition times)."""
    adds, moves = [], []
    path = (TaskState.APPROVED, TaskState.IN_PROGRESS, TaskState.COMPLETE)
    for n in range(ops // len(path) + 1):
        record = realistic(start + n, rng)
        record.state, record.job_id, record.history = TaskState.PLANNED, None, []
        adds += timed(lambda r=record: store.add(r), 1)
        for to in path:
            moves += timed(lambda r=record, to=to: store.transition(r.id, to, by="bench"), 1)
    return adds, moves[:ops]


def bench_store(size: int, ops: int, rng: random.Random) -> tuple[float, float]:
    """The store as it is now: prints every figure; returns (transition p95, new-process open), seconds."""
    where = Path(tempfile.mkdtemp(prefix=f"bench-state-{size}-"))
    try:
        records = [realistic(i, rng) for i in range(size)]
        avg = sum(len(json.dumps(r.to_doc())) for r in records[:200]) / 200
        store = open_store(where / "state")
        t0 = time.perf_counter()
        store.import_records(records)
        print(f"tasks_{size}_record_bytes_avg: {avg:.0f}")
        print(f"tasks_{size}_import_s: {time.perf_counter() - t0:.1f}")
        adds, times = transitions(store, rng, size, ops)
        print(f"tasks_{size}_add_p95_ms: {ms(pct(adds, 0.95))}")
        print(f"tasks_{size}_transition_p50_ms: {ms(statistics.median(times))}")
        print(f"tasks_{size}_transition_p95_ms: {ms(pct(times, 0.95))}")
        sample = rng.sample(records, 50)
        lookups = {
            "get_by_id": lambda: store.get(rng.choice(sample).id),
            "find_by_thread": lambda: store.find(thread=rng.choice(sample).thread),
            "find_by_job": lambda: store.find(job_id=100_000 + rng.randrange(size)),
            "find_planned_newest_20": lambda: store.find(state=TaskState.PLANNED, limit=20),
            "find_complete_newest_20": lambda: store.find(state=TaskState.COMPLETE, limit=20),
            "find_channel_newest_20": lambda: store.find(channel=rng.choice(CHANNELS), limit=20),
        }
        for name, fn in lookups.items():
            got = timed(fn, 100)
            print(f"tasks_{size}_{name}_p95_ms: {ms(pct(got, 0.95))}")
        # Every task in a state: the cost is one file read per task returned, whatever the store's size.
        everything = timed(lambda: store.find(state=TaskState.PLANNED), 10)
        planned = len(store.find(state=TaskState.PLANNED))
        print(f"tasks_{size}_planned_tasks: {planned}")
        print(f"tasks_{size}_find_all_planned_p95_ms: {ms(pct(everything, 0.95))}")
        print(
            f"tasks_{size}_find_all_planned_per_task_us: {pct(everything, 0.5) / max(planned, 1) * 1e6:.0f}"
        )
        imports, opened = new_process_open(OPEN_IN_NEW_PROCESS, where / "state", sample[0].id)
        print(f"tasks_{size}_new_process_imports_ms: {ms(imports)}")
        print(f"tasks_{size}_new_process_open_ms: {ms(opened)}")
        return pct(times, 0.95), opened
    finally:
        shutil.rmtree(where, ignore_errors=True)


class V1Storage(Storage):
    """Version 1's storage: the whole database re-encoded, fsynced and renamed on every write; kept
    parsed in memory while the file is unchanged."""

    def __init__(self, path: str):
        self.path = Path(path)
        self._cache = None

    def read(self):
        if self._cache is None and self.path.exists():
            self._cache = json.loads(self.path.read_text(encoding="utf-8") or "null")
        return self._cache

    def write(self, data) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, separators=(",", ":")))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._cache = data


def bench_baseline(size: int, ops: int, rng: random.Random) -> tuple[float, float]:
    """The single-file database: (transition p95, new-process open), seconds."""
    where = Path(tempfile.mkdtemp(prefix=f"bench-state-v1-{size}-"))
    try:
        path = where / "state.json"
        records = [realistic(i, rng) for i in range(size)]
        with TinyDB(path, storage=V1Storage) as db:
            db.table("tasks").insert_multiple(r.to_doc() for r in records)
        db = TinyDB(path, storage=V1Storage)
        table = db.table("tasks")
        open_ids = [r.id for r in records if r.state is TaskState.PLANNED] or [records[0].id]

        def step() -> None:
            table.update({"state": "APPROVED", "updated_at": time.time()}, Query().id == rng.choice(open_ids))

        times = timed(step, ops)
        _, opened = new_process_open(OPEN_BASELINE, path, records[0].id, repeat=3)
        db.close()
        print(f"v1_single_file_{size}_transition_p95_ms: {ms(pct(times, 0.95))}")
        print(f"v1_single_file_{size}_new_process_open_ms: {ms(opened)}")
        return pct(times, 0.95), opened
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="stored tasks (default 10000,100000)")
    parser.add_argument(
        "--baseline-sizes", default="1000,10000", help="single-file sizes (default 1000,10000)"
    )
    parser.add_argument("--ops", type=int, default=300, help="transitions measured per size")
    args = parser.parse_args()
    rng = random.Random(7)
    base = {}
    for size in (int(s) for s in args.baseline_sizes.split(",") if s):
        base[size] = bench_baseline(size, 20 if size >= 10_000 else 60, rng)
    now = {size: bench_store(size, args.ops, rng) for size in (int(s) for s in args.sizes.split(",") if s)}
    for size in sorted(set(base) & set(now)):
        print(f"ratio_v1_over_now_{size}_transition_p95: {base[size][0] / now[size][0]:.1f}")
        print(f"ratio_v1_over_now_{size}_new_process_open: {base[size][1] / now[size][1]:.1f}")
    print(f"cpus: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

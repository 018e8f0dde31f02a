"""Turn what the grammar read into Jobs API JSON: a whole job (create) or a patch (change).

A patch follows the conventions in `merge`, so the same patch works whether the current settings are
at hand (a follow-up in a thread) or fetched later by the caller (an update of a named job).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from agent.techlead import compute as comp
from agent.techlead.chain import Chain
from agent.techlead.defaults import ParserDefaults, describe_cluster
from agent.techlead.merge import dependency, needs_cluster, needs_environment, runnable
from agent.techlead.tasks import Anchor
from agent.techlead.unsupported import named as names_unsupported_kind


@dataclass
class Draft:
    patch: dict = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    topics: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    blocked: bool = False  # a task lacks a required piece: no settings until it is answered

    def topic(self, *names: str) -> None:
        for n in names:
            if n not in self.topics:
                self.topics.append(n)

    def assume(self, *notes: str) -> None:
        for n in notes:
            if n and n not in self.assumptions:
                self.assumptions.append(n)

    def ask(self, *questions: str) -> None:
        for q in questions:
            if q and q not in self.questions:
                self.questions.append(q)

    def set(self, key: str, value) -> None:
        self.patch[key] = value
        self.touched.add(key)


_KIND_TOPIC = {"sql": "sql", "dbt": "dbt", "pipeline": "pipeline", "wheel": "wheel", "run_job": "run_job"}


def tasks_from(
    anchors: list[Anchor],
    chain: Chain,
    base_tasks: list[dict],
    draft: Draft,
    warehouses: list[tuple[int, str]],
    defaults: ParserDefaults,
) -> list[dict]:
    """Task dicts for the anchors (new tasks whole, tasks already in the job as changes)."""
    existing = {t["task_key"]: t for t in base_tasks}
    out: list[dict] = []
    made: set[str] = set()
    for a in anchors:
        if a.key in made:  # a task named twice ("/a → /b", "/a → /c") is one task
            continue
        made.add(a.key)
        draft.topic("tasks", *([_KIND_TOPIC[a.kind]] if a.kind in _KIND_TOPIC else []))
        draft.ask(*a.missing)
        body = copy.deepcopy(a.body)
        if a.kind in ("sql", "dbt"):
            _warehouse(a, runnable([body])[0], warehouses, draft, defaults)
        task = {"task_key": a.key, **body}
        deps = chain.deps.get(a.key, [])
        if a.key in existing:
            old = [d["task_key"] for d in existing[a.key].get("depends_on", [])]
            if a.key in chain.explicit and deps:
                task["depends_on"] = [{"task_key": k} for k in dict.fromkeys(old + deps)]
            if len(task) > 1 and task != {
                "task_key": a.key,
                **{k: existing[a.key].get(k) for k in task if k != "task_key"},
            }:
                out.append(task)
            continue
        if deps:
            task["depends_on"] = [{"task_key": k} for k in dict.fromkeys(deps)]
            draft.topic("dependencies")
        out.append(task)
    for key, new in chain.before.items():
        for t in out:  # "put X before Y": X takes Y's place, after what Y waited for
            fresh = t["task_key"] in new and "depends_on" not in t and t["task_key"] not in existing
            if fresh and existing.get(key, {}).get("depends_on"):
                t["depends_on"] = copy.deepcopy(existing[key]["depends_on"])
        if key in existing:
            old = [d["task_key"] for d in existing[key].get("depends_on", [])]
            out.append({"task_key": key, "depends_on": [{"task_key": k} for k in dict.fromkeys(old + new)]})
            draft.topic("dependencies")
    return out


def _warehouse(
    a: Anchor, body: dict, warehouses: list[tuple[int, str]], draft: Draft, defaults: ParserDefaults
) -> None:
    field_ = "sql_task" if a.kind == "sql" else "dbt_task"
    after = [w for pos, w in warehouses if pos >= a.start]
    before = [w for pos, w in warehouses if pos < a.start]
    wid = (after or before[::-1] or [None])[0]
    if wid is None and defaults.warehouse_id:
        wid = defaults.warehouse_id
        draft.assume(f"No SQL warehouse named: used the default warehouse {wid}.")
    if wid is None:
        draft.ask(f"Which SQL warehouse (its id) should run {a.label}?")
        draft.blocked = True
        return
    body[field_]["warehouse_id"] = wid
    draft.topic("sql" if a.kind == "sql" else "dbt")


def compute_for_create(
    tasks: list[dict], spec: comp.ComputeSpec, draft: Draft, defaults: ParserDefaults
) -> None:
    """Every task that needs compute gets the same: a shared job cluster, an existing one, or serverless."""
    draft.ask(*spec.questions)
    draft.assume(*spec.assumptions)
    needing = [t for t in runnable(tasks) if needs_cluster(t)]
    if not needing:
        if spec.mode:
            draft.assume(
                "No task here needs a cluster (SQL, pipeline and run-job tasks bring their own compute); "
                "the compute words were not used."
            )
        return
    if spec.mode == "existing":
        for t in needing:
            t["existing_cluster_id"] = spec.existing_cluster_id
        draft.topic("cluster")
        return
    if spec.mode == "serverless":
        draft.topic("serverless")
        envs = [t for t in runnable(tasks) if needs_environment(t)]
        if envs:
            env = {
                "environment_key": defaults.environment_key,
                "spec": {"environment_version": defaults.environment_version},
            }
            deps: list[str] = []
            for t in envs:
                t["environment_key"] = defaults.environment_key
                for lib in t.pop("libraries", []):
                    dep = dependency(lib)
                    if dep and dep not in deps:
                        deps.append(dep)
                if "dbt_task" in t and defaults.dbt_package not in deps:
                    deps.append(defaults.dbt_package)
            if deps:
                env["spec"]["dependencies"] = deps
            draft.set("environments", [env])
            draft.assume(
                f"Serverless: Python, wheel and dbt tasks use environment “{defaults.environment_key}” "
                f"(environment version {defaults.environment_version}); notebooks need none."
            )
        return
    cluster, note = comp.complete(spec, defaults)
    comp.settle(spec, cluster, draft)
    draft.assume(note)
    draft.topic("cluster")
    draft.set("job_clusters", [{"job_cluster_key": defaults.job_cluster_key, "new_cluster": cluster}])
    for t in needing:
        t["job_cluster_key"] = defaults.job_cluster_key
        if "dbt_task" in t:
            t.setdefault("libraries", []).append({"pypi": {"package": defaults.dbt_package}})


def compute_for_change(
    spec: comp.ComputeSpec, base: dict | None, draft: Draft, defaults: ParserDefaults
) -> None:
    """A compute change as a patch: merged into the job's current compute by `merge_settings`."""
    draft.ask(*spec.questions)
    draft.assume(*spec.assumptions)
    if spec.mode == "existing":
        draft.topic("cluster")
        _template(draft)["existing_cluster_id"] = spec.existing_cluster_id
        draft.touched |= {"tasks", "job_clusters", "environments"}
    elif spec.mode == "serverless":
        draft.topic("serverless")
        draft.set(
            "environments",
            [
                {
                    "environment_key": defaults.environment_key,
                    "spec": {"environment_version": defaults.environment_version},
                }
            ],
        )
        draft.touched.add("job_clusters")
        draft.assume(
            "Serverless: the job cluster is dropped; Python, wheel and dbt tasks get an environment."
        )
    elif spec.mode == "cluster":
        draft.topic("cluster")
        partial = {}
        if spec.size:
            partial = {k: v for k, v in defaults.cluster(spec.size).items() if k != "spark_version"}
        partial = comp.apply(partial, spec.cluster)
        current = (base or {}).get("job_clusters") or []
        key = current[0]["job_cluster_key"] if current else defaults.job_cluster_key
        draft.set("job_clusters", [{"job_cluster_key": key, "new_cluster": partial}])
        comp.finish_change(spec, partial, base, defaults, draft)  # spot / on-demand, pools
        shown = comp.apply((current[0].get("new_cluster") or {}) if current else defaults.cluster(), partial)
        label = f"“{spec.size} cluster” = " if spec.size else "Cluster now: "
        draft.assume(f"{label}{describe_cluster(shown)}.")


def _template(draft: Draft) -> dict:
    """The patch task with no task_key: its fields apply to every task (see merge)."""
    tasks = draft.patch.setdefault("tasks", [])
    draft.touched.add("tasks")
    for t in tasks:
        if not t.get("task_key"):
            return t
    t: dict = {}
    tasks.append(t)
    return t


def retries(opts, tasks: list[dict] | None, draft: Draft, scope: list[str] | None = None) -> None:
    """Retry settings on every task (or the `scope` tasks named): directly on create, by patch on a change."""
    fields = {}
    if opts.max_retries is not None:
        fields["max_retries"] = opts.max_retries
    if opts.retry_interval_ms is not None:
        fields["min_retry_interval_millis"] = opts.retry_interval_ms
        if opts.max_retries is None and tasks is not None:
            fields["max_retries"] = 1
            draft.assume("A retry interval with no count: 1 retry.")
    if opts.retry_on_timeout is not None:
        fields["retry_on_timeout"] = opts.retry_on_timeout
    if not fields:
        return
    draft.topic("retries")
    draft.assume(*opts.assumptions)
    if scope and tasks is None:
        patch_tasks = draft.patch.setdefault("tasks", [])
        draft.touched.add("tasks")
        for key in scope:
            task = next((t for t in patch_tasks if t.get("task_key") == key), None)
            if task is None:
                patch_tasks.append({"task_key": key, **fields})
            else:
                task.update(fields)
    elif scope:
        for t in runnable([t for t in tasks if t["task_key"] in scope]):
            t.update(fields)
    elif tasks is None:
        _template(draft).update(fields)
    else:
        for t in runnable(tasks):  # a loop retries each iteration; a condition has nothing to retry
            if "condition_task" not in t:
                t.update(fields)


def job_name(name: str | None, tasks: list[dict], draft: Draft, defaults: ParserDefaults) -> str | None:
    if name:
        return name
    if not tasks:
        return None
    derived = defaults.job_name(next((t for t in tasks if "condition_task" not in t), tasks[0]))
    draft.assume(f"No job name given: named it “{derived}” after its first task.")
    return derived


def nothing_to_run_question(text: str) -> str:
    if names_unsupported_kind(text):
        return ""  # `unsupported` already says what cannot be built and what can
    if re.search(r"\bnotebook\b", text, re.I):
        return "Which notebook should the job run? Give its workspace path (e.g. /Repos/team/etl/ingest)."
    if re.search(r"\b(?:script|python|\.py)\b", text, re.I):
        return "Which Python file should the job run? Give its path (e.g. /Workspace/scripts/etl.py)."
    return (
        "What should the job run? Give a notebook path (e.g. /Repos/team/etl/ingest), a Python file, a "
        "wheel (package + entry point), a SQL file or query with a warehouse, dbt commands, a pipeline id or "
        "a job id."
    )

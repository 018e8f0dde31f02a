"""The Tech Lead: a request (plus its thread's history) → an Assignment with cited documentation.

Offline and deterministic: the rule-based parser reads the request, the docs index supplies the
passages that explain and confirm each field it set, and the quartz module shows the next run times.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from databricks.sdk.service.jobs import JobSettings

from agent.models import Assignment, Citation, TaskState
from agent.notes import NoteBook
from agent.quartz import next_fire_times
from agent.state import TaskRecord, TaskStore
from agent.techlead.parser import ParsedRequest, ParserDefaults, parse_request
from agent.workspace import Workspace

log = logging.getLogger(__name__)

# The fields a reviewer most needs explained, in reading order; other fields follow by top-level order.
PREFERRED = (
    "schedule.quartz_cron_expression",
    "trigger.file_arrival.url",
    "trigger.periodic.interval",
    "tasks[].notebook_task.notebook_path",
    "tasks[].spark_python_task.python_file",
    "tasks[].python_wheel_task.entry_point",
    "tasks[].sql_task.warehouse_id",
    "tasks[].dbt_task.commands",
    "tasks[].pipeline_task.pipeline_id",
    "tasks[].run_job_task.job_id",
    "tasks[].depends_on",
    "job_clusters[].new_cluster.num_workers",
    "job_clusters[].new_cluster.autoscale.max_workers",
    "tasks[].existing_cluster_id",
    "tasks[].environment_key",
    "email_notifications.on_failure",
    "email_notifications.on_success",
    "email_notifications.on_start",
    "tasks[].max_retries",
    "timeout_seconds",
    "max_concurrent_runs",
    "parameters",
    "tasks[].notebook_task.base_parameters",
    "tags",
)
FAMILY_ORDER = (
    "schedule",
    "trigger",
    "continuous",
    "tasks",
    "job_clusters",
    "environments",
    "email_notifications",
    "webhook_notifications",
    "timeout_seconds",
    "max_concurrent_runs",
    "parameters",
    "tags",
    "queue",
)
SKIP_LEAVES = {"name", "tasks[].task_key", "job_clusters[].job_cluster_key", "tags.jobagent_task"}
LIMIT_WORDS = re.compile(
    r"\b(cannot exceed|at most|must be|must not|limited to|no more than|up to \d+)\b", re.I
)
MAX_CITATIONS = 8
_LIST_KEY = re.compile(r'\["[^"]*"\]')  # tasks["ingest"] -> tasks[]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# jobagent creates and updates jobs; it never deletes one, whoever asks and however.
DESTRUCTIVE = re.compile(
    r"\b(delete|destroy|drop|wipe|purge|remove)\s+(the\s+|this\s+|that\s+|all\s+)?(jobs?\b|job\s+\d+)", re.I
)
# Text that tries to turn the request into instructions for the agent itself is refused whole.
INJECTION = re.compile(
    r"\bignore\s+(all\s+|any\s+|your\s+|the\s+)?(previous\s+|prior\s+|above\s+|earlier\s+)?"
    r"(instructions|rules|prompts?|guidelines)\b|\bsystem\s+override\b|\b(admin|developer|god)\s+mode\b"
    r"|\bjailbreak|\b(reveal|print|show|tell\s+me|leak|dump|echo)\b.{0,40}\b(api[_ ]?keys?|tokens?|secrets?"
    r"|passwords?|system\s+prompt|credentials|env(ironment)?\s+var)",
    re.I,
)
REFUSE_INJECTION = (
    "This request asks me to set aside my rules, act outside the plan or reveal configuration, so I did "
    "nothing with it. Describe just the job you need (what to run, when, on what compute) and I'll plan it."
)
REFUSE_DELETE = (
    "jobagent creates and updates jobs but never deletes them. Delete a job in the Databricks UI or with "
    "`databricks jobs delete JOB_ID`. What should I plan instead?"
)


@dataclass
class ThreadContext:
    """What the thread already holds: the task to continue and the job it created, if any."""

    previous: TaskRecord | None = None
    job_id: int | None = None


class TechLead:
    def __init__(
        self,
        *,
        store: TaskStore,
        notes: NoteBook,
        workspace: Callable[[], Workspace] | None = None,
        index: Callable[[], Any] | None = None,
        defaults: ParserDefaults | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        llm: Any = None,
        functions: Callable[[str, dict[str, Any]], str | None] | None = None,
        functions_status: str = "",
        policies: Any = None,
    ):
        """`functions` calls a Unity Catalog function by short name (a None result: unavailable);
        `policies` (the Worker's policy checker) is told to the model and checks its answers."""
        self.store, self.notes = store, notes
        self.llm, self.policies = llm, policies
        self.functions, self.functions_status = functions, functions_status
        self._workspace, self._index = workspace, index
        self.defaults = defaults or ParserDefaults()
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Any, runtime: Any, tools: list[Any] | None = None) -> TechLead:
        """The Tech Lead as configured: offline, or with the LLM of `LLMConfig.from_env()` (and tools)."""
        from retrieval import DocsIndex

        loaded: list[Any] = []

        def index() -> Any:
            """Loaded (or built) on first use, then kept: finding it again means fingerprinting the
            corpus (the SDK's version and sources, every docs page), milliseconds a plan need not spend.
            New docs pages reach a restarted process (README)."""
            if not loaded:
                docs = settings.docs_dir if settings.docs_dir.exists() else None
                loaded.append(DocsIndex.load_or_build(docs_dir=docs, cache_dir=settings.index_dir))
            return loaded[0]

        from agent.llm import LLMConfig, LLMPlanner
        from agent.uc.config import UCConfig

        uc = UCConfig.from_env()
        config = LLMConfig.from_env()
        functions = None
        if uc.enabled:
            from agent.uc.tools import call_function, uc_tools

            functions = call_function
            if tools is None and config is not None:
                tools = uc_tools(uc)
        return cls(
            store=runtime.store,
            notes=runtime.notes,
            workspace=lambda: runtime.workspace,
            index=index,
            llm=LLMPlanner(config, tools=tools) if config else None,
            functions=functions,
            functions_status=uc.status_line,
            policies=runtime.policies if config else None,
        )

    # -- context ---------------------------------------------------------------------------------
    def context(self, thread: str | None) -> ThreadContext:
        if not thread:
            return ThreadContext()
        tasks = [t for t in self.store.find(thread=thread) if not t.meta.get("refused")]
        ctx = ThreadContext(previous=tasks[-1] if tasks else None)
        for task in reversed(tasks):
            if task.job_id and task.state is TaskState.COMPLETE:
                ctx.job_id = task.job_id
                break
        return ctx

    # -- the main entry ----------------------------------------------------------------------------
    def assign(
        self,
        request: str,
        *,
        thread: str | None = None,
        job_id: int | None = None,
        requester_email: str | None = None,
    ) -> Assignment:
        """The offline plan always; with an LLM configured, the model's plan in the same shape, or the
        offline one with a note saying why the model's could not be used."""
        offline, draft = self._offline(request, thread, job_id, requester_email)
        if self.llm is None or draft is None:
            return offline
        from agent.llm import LLMUnavailable

        started = time.monotonic()
        base = draft.get("base")
        passages = self._passages(request, offline)
        context = {
            "request": draft["text"],
            "action": offline.action,
            "thread_history": self._history(thread),
            "current_job_settings": base,
            "rule_based_draft": offline.settings.as_dict() if offline.settings else None,
            "rule_based_assumptions": offline.assumptions,
            "rule_based_not_acted_on": offline.unused,
            "requester_email": requester_email,
            "documentation": [
                {"n": i, "title": p.title, "url": p.url, "text": p.text[:700]}
                for i, p in enumerate(passages, 1)
            ],
        }
        checks = None
        if self.policies is not None:
            context["team_policies"] = self._policy_descriptions()
            checks = self.policies.problems
        try:
            answer = self.llm.plan(context, action="update" if base else "create", base=base, checks=checks)
            return self._from_llm(answer, offline, passages)
        except Exception as exc:  # LLMUnavailable, or a bug: the offline plan stands either way
            seconds = getattr(exc, "seconds", 0.0) or time.monotonic() - started
            calls = getattr(exc, "calls", 0)
            if not isinstance(exc, LLMUnavailable):
                log.exception("LLM planning crashed; using the offline Tech Lead")
            log.warning("LLM planning failed after %.1f s, using the offline Tech Lead: %s", seconds, exc)
            offline.notes.insert(
                0,
                f"The LLM could not plan this ({exc}; gave up after {seconds:.1f} s and {calls} "
                "call(s)); this is the offline Tech Lead's plan.",
            )
            offline.planner = "offline (LLM fallback)"
            return offline

    def _offline(
        self, request: str, thread: str | None, job_id: int | None, requester_email: str | None
    ) -> tuple[Assignment, dict[str, Any] | None]:
        """The rule-based plan, plus what the LLM needs to improve on it (None: nothing to improve)."""
        if INJECTION.search(request):
            log.warning("request refused: it reads as an attempt to instruct the agent")
            return Assignment(None, "create", None, questions=[REFUSE_INJECTION], refused=True), None
        if DESTRUCTIVE.search(request):
            return Assignment(None, "create", None, questions=[REFUSE_DELETE], refused=True), None
        ctx = self.context(thread)
        defaults = self.defaults
        if requester_email:
            defaults = replace(defaults, requester_email=requester_email)
        base, action, target = None, "create", job_id or ctx.job_id
        text = request
        revised: TaskRecord | None = None  # the unapplied plan of this thread that this one revises
        if target:
            base, action = self._remote_settings(target), "update"
            if base is None:
                question = f"Job {target} does not exist (any more). Which job did you mean?"
                return Assignment(None, "update", target, questions=[question]), None
            previous = ctx.previous
            if (
                previous is not None
                and previous.state is TaskState.PLANNED
                and previous.job_id == target
                and previous.settings
            ):
                base = previous.settings  # revise the open plan: its changes stay, diffed vs the live job
                revised = previous
        elif ctx.previous and ctx.previous.state is TaskState.NEEDS_INPUT:
            text = f"{ctx.previous.request}\n{request}"  # the reply completes the earlier request
        elif (
            ctx.previous
            and ctx.previous.settings
            and ctx.previous.state in (TaskState.PLANNED, TaskState.FAILED, TaskState.REJECTED)
        ):
            base = ctx.previous.settings  # revise the plan not yet applied
            revised = ctx.previous
        parsed = parse_request(text, base=base, defaults=defaults)
        if parsed.action == "update" and not target and parsed.job_ref is not None:
            resolved = self._resolve(parsed)
            if isinstance(resolved, Assignment):
                return resolved, None
            target, base = resolved
            # Re-read the request against the job as it is, so "at 5am" keeps its weekdays.
            parsed = parse_request(text, base=base, defaults=defaults)
            action = "update"
        elif not target:
            action = "create" if parsed.settings is not None or not parsed.job_ref else parsed.action
        settings = JobSettings.from_dict(parsed.settings) if parsed.settings else None
        assignment = Assignment(
            settings=settings,
            action=action,  # type: ignore[arg-type]
            job_id=target if action == "update" else None,
            assumptions=list(parsed.assumptions),
            questions=list(parsed.questions),
            unused=list(parsed.unused),
            carries=carried(revised),
        )
        assignment.assumptions[:0] = [carry_note(c) for c in assignment.carries]
        if settings is not None:
            self._cite(assignment, parsed)
            self._schedule_preview(assignment)
        log.info(
            "tech lead: %s, %d citations, %d questions",
            action,
            len(assignment.citations),
            len(assignment.questions),
        )
        return assignment, {"base": base, "text": text}

    def _from_llm(self, answer: Any, offline: Assignment, passages: list[Any]) -> Assignment:
        settings = JobSettings.from_dict(answer.settings) if answer.settings else None
        questions = list(answer.questions)
        refused = settings is None and bool(answer.refusal)
        if refused and not questions:
            questions = [f"I can't do that: {answer.refusal} What job should I plan instead?"]
        assignment = Assignment(
            settings=settings,
            action=offline.action,
            job_id=offline.job_id,
            assumptions=list(answer.assumptions),
            questions=questions,
            unused=list(answer.unused),
            planner=f"llm ({self.llm.config.model})",
            usage=dict(answer.usage),
            refused=refused,
        )
        if answer.refusal:
            assignment.notes.append(f"Declined part of the request: {answer.refusal}")
        assignment.notes.extend(f"tool {line}" for line in answer.tool_results)
        assignment.notes.extend(f"Nothing to remove at {path} (not set)." for path in answer.not_found)
        assignment.notes.append(
            f"planned by the model in {answer.seconds:.1f} s ({answer.calls} call(s), "
            f"{answer.usage.get('total_tokens', 0)} tokens)"
        )
        cited = [passages[n - 1] for n in dict.fromkeys(answer.citations) if 0 < n <= len(passages)]
        assignment.citations = [Citation(p.title, p.url, p.score, p.text) for p in cited[:MAX_CITATIONS]]
        if settings is not None:
            if not assignment.citations:
                assignment.citations = list(offline.citations)
            self._schedule_preview(assignment)
        return assignment

    def _passages(self, request: str, offline: Assignment) -> list[Any]:
        """What the model gets to read: the passages behind the offline citations plus a request search."""
        from retrieval import Passage

        found = [Passage(c.title, c.url, c.text, c.score, "citation", {}) for c in offline.citations]
        if self._index is not None:
            try:
                found += self._index().search(request, k=5)
            except Exception as exc:  # no docs: the model plans without them
                log.warning("docs search failed: %s", exc)
        unique = {p.title: p for p in found}
        return list(unique.values())[:10]

    def _history(self, thread: str | None) -> list[dict[str, str]]:
        """The thread's note, without the entries of refused requests: refused text never re-enters."""
        if not thread:
            return []
        refused = {t.id for t in self.store.find(thread=thread) if t.meta.get("refused")}
        entries = [e for e in self.notes.entries(thread) if e.task_id not in refused][-12:]
        return [{"kind": e.kind, "text": e.body[:1500]} for e in entries]

    def _policy_descriptions(self) -> list[dict[str, str]]:
        try:
            return list(self.policies.describe())
        except Exception as exc:  # the model plans without them; the Worker still checks them
            log.warning("team policies could not be listed for the model: %s", exc)
            return []

    def _remote_settings(self, job_id: int) -> dict[str, Any] | None:
        if self._workspace is None:
            return None
        job = self._workspace().get_job(job_id)
        return job.settings.as_dict() if job and job.settings else None

    def _resolve(self, parsed: ParsedRequest) -> tuple[int, dict[str, Any]] | Assignment:
        ref = parsed.job_ref
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        if isinstance(ref, int):
            remote = self._remote_settings(ref)
            if remote is None:
                return Assignment(
                    None,
                    "update",
                    ref,
                    questions=[
                        f"I cannot find job {ref} in the workspace. Which job id or name did you mean?"
                    ],
                )
            return ref, remote
        ids = sorted(self._workspace().jobs_named(str(ref))) if self._workspace else []
        if not ids:
            return Assignment(
                None,
                "update",
                None,
                questions=[f"No job is named {ref!r}. Which job did you mean (id or exact name)?"],
            )
        if len(ids) > 1:
            return Assignment(
                None,
                "update",
                None,
                questions=[f"{len(ids)} jobs are named {ref!r} ({', '.join(map(str, ids))}). Which job id?"],
            )
        remote = self._remote_settings(ids[0])
        return ids[0], remote or {}

    # -- documentation -----------------------------------------------------------------------------
    def _cite(self, assignment: Assignment, parsed: ParsedRequest) -> None:
        """Look up each field the plan sets: the passage that documents it confirms the field name,
        explains it in the plan, and surfaces any limit it states."""
        if self._index is None or assignment.settings is None:
            return
        try:
            index = self._index()
        except Exception as exc:  # the plan must not fail because the docs index could not be built
            log.warning("docs index unavailable: %s", exc)
            assignment.notes.append("Documentation index unavailable; plan made without citations.")
            return
        only = set(parsed.touched) if assignment.action == "update" and parsed.touched else None
        for leaf in representative_leaves(assignment.settings.as_dict(), only)[:MAX_CITATIONS]:
            hits = index.search(leaf.replace("[]", "").replace(".", " "), k=5)
            match = next((h for h in hits if _documents(h, leaf)), None)
            if match is None:
                assignment.notes.append(f"{leaf}: not found in the API reference — check the field name.")
                continue
            assignment.citations.append(Citation(match.title, match.url, match.score, match.text))
            sentences = _sentences(match.text)
            assignment.notes.append(f"{leaf}: {_first_sentence(sentences)}")
            limit = next((s for s in sentences[1:] if LIMIT_WORDS.search(s)), None)
            if limit:
                assignment.notes.append(f"⚠ {leaf}: {limit}")

    def _schedule_preview(self, assignment: Assignment) -> None:
        """Next run times (and, with Unity Catalog on, its cost estimate) as plan lines."""
        settings = assignment.settings
        sched = settings.schedule if settings else None
        if sched and sched.quartz_cron_expression:
            tz = sched.timezone_id or "UTC"
            remote = self._function(
                "next_run_times", {"cron": sched.quartz_cron_expression, "timezone_id": tz, "count": 3}
            )
            if remote:
                assignment.notes.append(
                    "next runs (Unity Catalog next_run_times): " + ", ".join(remote.splitlines())
                )
            else:
                try:
                    times = next_fire_times(sched.quartz_cron_expression, tz, 3, self.clock())
                    shown = ", ".join(t.strftime("%a %Y-%m-%d %H:%M %Z") for t in times)
                    assignment.notes.append(f"next runs: {shown}")
                except ValueError:
                    pass
        if self.functions is None:  # off is a setting (`jobagent uc status`), not news for every plan
            return
        for cluster in (settings.job_clusters or []) if settings else []:
            spec = cluster.new_cluster
            if spec is None or not spec.node_type_id:
                continue
            workers = spec.num_workers or (spec.autoscale.max_workers if spec.autoscale else 0) or 0
            cost = self._function(
                "estimate_job_cost",
                {
                    "node_type_id": spec.node_type_id,
                    "num_workers": workers,
                    "hours_per_run": 1.0,
                    "runs_per_month": 30,
                },
            )
            if cost:
                assignment.notes.append(
                    f"cost of {cluster.job_cluster_key} (1 h daily, estimate_job_cost): {cost}"
                )

    def _function(self, name: str, args: dict[str, Any]) -> str | None:
        if self.functions is None:
            return None
        result = self.functions(name, args)
        return None if result is None or result.startswith("error") else result.strip()


_UNAPPLIED = {
    TaskState.PLANNED: "not applied",
    TaskState.FAILED: "its apply failed",
    TaskState.REJECTED: "rejected, not applied",
}


def carried(revised: TaskRecord | None) -> list[dict[str, str]]:
    """The earlier, unapplied requests of a thread that a revised plan still includes, oldest first."""
    if revised is None:
        return []
    status = _UNAPPLIED.get(revised.state, "not applied")
    latest = {"task": revised.id, "request": revised.request, "status": status}
    return [*revised.meta.get("carries", []), latest]


def carry_note(carry: dict[str, str]) -> str:
    request = " ".join(carry["request"].split())
    request = request if len(request) <= 160 else request[:157] + "..."
    return f"Also includes “{request}” from {carry['task']} ({carry['status']})."


def representative_leaves(settings: dict[str, Any], only: set[str] | None = None) -> list[str]:
    """Field paths worth citing (`[]` marks list items): preferred ones first, then one per family."""
    from agent.diff import flatten

    leaves = []
    for path in flatten(settings):
        generic = _LIST_KEY.sub("[]", path)
        top = generic.split(".")[0].split("[")[0]
        if generic not in SKIP_LEAVES and (only is None or top in only):
            leaves.append(generic)
    # a preferred path counts when it is a leaf or an ancestor of one ("job_clusters[].new_cluster")
    covered = {leaf[:i] for leaf in leaves for i, char in enumerate(leaf) if char == "."}.union(leaves)
    chosen = [p for p in PREFERRED if p in covered]
    families = {_family(p) for p in chosen}
    rank = {name: i for i, name in enumerate(FAMILY_ORDER)}
    for leaf in sorted(set(leaves), key=lambda p: (rank.get(p.split(".")[0].split("[")[0], 99), p)):
        if _family(leaf) not in families:
            families.add(_family(leaf))
            chosen.append(leaf)
    return chosen


def _family(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[:2]) if parts[0] in ("tasks[]", "job_clusters[]", "trigger") else parts[0]


def _documents(passage: Any, leaf: str) -> bool:
    """Does this passage document the field at `leaf`? (A field reachable by several paths lists them.)"""
    if passage.metadata.get("path") == leaf:
        return True
    listed = next((ln for ln in passage.text.splitlines() if ln.startswith("Path in job settings:")), "")
    return leaf in [p.strip() for p in listed.partition(":")[2].split(";")]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def _first_sentence(sentences: list[str]) -> str:
    first = next(iter(sentences), "")
    return first if len(first) <= 220 else first[:217] + "..."

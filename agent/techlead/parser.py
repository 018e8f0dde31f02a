"""The offline Tech Lead's request parser: plain English (as typed in Slack) → Databricks job settings.

No model, no network: a few small grammars read the request in a fixed order, each blanking what it
consumed (see `scan`), so a later grammar never re-reads "retry every 10 minutes" as a schedule.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Literal

from agent.techlead import build, destinations, markup, typos, unsupported
from agent.techlead.args import read_tails
from agent.techlead.chain import resolve
from agent.techlead.code import read_code
from agent.techlead.compute import parse_compute
from agent.techlead.defaults import ParserDefaults
from agent.techlead.flow import hold, read_flow
from agent.techlead.leftover import FILLER, is_read, leftovers, unread_words
from agent.techlead.merge import merge_settings
from agent.techlead.naming import parse_naming
from agent.techlead.options import describe_timeout, parse_options
from agent.techlead.policy import PERMISSIONS_NOTE, parse_policy
from agent.techlead.scan import Scan, basename, extract_entities
from agent.techlead.schedule import compose, parse_schedule
from agent.techlead.tasks import assign_keys, find_anchors, find_warehouses
from agent.techlead.timezones import find_timezone
from agent.techlead.trigger import parse_trigger

__all__ = ["ParsedRequest", "ParserDefaults", "parse_request"]

_REFERS = re.compile(  # "when it fails / starts": the run of the task just given, not an existing job
    r"\b(?:it(?!\s+(?:fail|succe|start|finish|complet|end|break|error|crash|begin|kick|goes|is\s+done))"
    r"|its|this\s+job|that\s+job|the\s+job|my\s+job|our\s+job|instead|existing)\b",
    re.I,
)


@dataclass
class ParsedRequest:
    settings: (
        dict | None
    )  # Jobs API JSON (JobSettings.as_dict()); None when nothing to run could be determined
    action: Literal["create", "update"]
    job_ref: int | str | None  # the job an update names ("update job 123", "change nightly-ingest …")
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # field families touched, for doc retrieval
    touched: set[str] = field(default_factory=set)  # top-level JobSettings fields set or changed
    unused: list[str] = field(default_factory=list)  # parts of the request not acted on, in its words


def parse_request(
    text: str, *, base: dict | None = None, defaults: ParserDefaults | None = None
) -> ParsedRequest:
    """Read one request. With `base` (the job's current settings) the request is a change to it.

    Words no grammar used that are one slip from a grammar word ("evry", "pacfic") are read as that
    word when the grammars then use it, and the plan says so.
    """
    defaults = defaults or ParserDefaults()
    text = markup.normalize(text)
    parsed, scan = _parse(text, copy.deepcopy(base), defaults)
    fixes = typos.candidates(unread_words(scan))
    if not fixes:
        return parsed
    fixed, spans = typos.apply(text, fixes)
    _, again = _parse(fixed, copy.deepcopy(base), defaults)
    kept = [f for f, span in zip(fixes, spans, strict=True) if is_read(again, *span)]
    if not kept:
        return parsed
    retried, _ = _parse(typos.apply(text, kept)[0], base, defaults)
    retried.assumptions.insert(0, typos.said(kept))
    return retried


def _parse(text: str, base: dict | None, defaults: ParserDefaults) -> tuple[ParsedRequest, Scan]:
    scan = Scan(text)
    extract_entities(scan)
    held = hold(scan)  # before `code`: "if row_count >= 1" is no pinned library
    code = read_code(scan, base)  # before any grammar: see `code`
    hidden = unsupported.hide(scan)
    policy = parse_policy(scan, defaults.requester_email)  # before any grammar: see `policy`
    naming = parse_naming(scan, base is not None)
    draft = build.Draft()
    trig = parse_trigger(scan)
    anchors, notes = find_anchors(scan)
    code.sources(anchors, draft)
    if naming.maybe_ref and not anchors and base is None:
        naming.as_ref()
    update = naming.update or (naming.changing and (not anchors or bool(_REFERS.search(scan.text))))
    draft.assume(*notes)
    _labels(scan, anchors)
    warehouses = find_warehouses(scan)
    read_tails(scan, anchors)
    base_tasks = (base or {}).get("tasks", [])
    known = _known(base_tasks)
    removed = _removals(scan, anchors, known) if update else []
    replaced = _replacements(scan, anchors, base_tasks, draft) if base else {}
    for a in anchors:
        a.key = a.key or _match(a, base_tasks) or ""
    assign_keys(anchors, {t["task_key"] for t in base_tasks})
    flow = read_flow(scan, anchors, draft, base_tasks, known, update and base is None, held)
    spec_compute = parse_compute(scan, defaults, code.conf)
    opts = parse_options(scan)
    notify, dests = destinations.parse(scan, defaults.requester_email, _task_names(known, anchors))
    zone, zone_note = find_timezone(scan)
    sched = parse_schedule(scan)
    chain = flow.chain(anchors, scan.masked, known)
    for span in chain.read:
        scan.consume(*span)
    draft.assume(*chain.notes)

    tasks = build.tasks_from(anchors, chain, base_tasks, draft, warehouses, defaults)
    flow.wire(tasks)
    for key, body in replaced.items():
        tasks = [t for t in tasks if t["task_key"] != key]
        tasks.append({"task_key": key, **body})
    tasks += [{"task_key": k} for k in removed]
    code.libraries.attach(tasks, spec_compute, base, update, scan, draft)
    _task_alerts(tasks, notify, dests, base_tasks, draft)
    if removed or replaced:
        draft.topic("tasks")
    if update:
        _chain_to_base(tasks, chain, base_tasks, scan.text, draft)
        if tasks:
            draft.set("tasks", tasks)
        build.compute_for_change(spec_compute, base, draft, defaults)
        build.retries(opts, None, draft, _retry_scope(scan, opts, known, anchors))
    else:
        build.compute_for_create(tasks, spec_compute, draft, defaults)
        build.retries(opts, tasks, draft, _retry_scope(scan, opts, known, anchors))
        if tasks:
            draft.set("tasks", tasks)
    _timing(draft, sched, trig, zone, zone_note, base, update, defaults)
    _options(draft, opts, notify, update)
    destinations.apply(draft, dests, base, update)
    policy.apply(draft, scan)
    name = naming.name if update else build.job_name(naming.name, tasks, draft, defaults)
    if name:
        draft.set("name", name)
    unsupported.report(scan, hidden, draft)
    parsed = _finish(draft, update, naming.job_ref, base, anchors, scan, defaults)
    parsed.unused = leftovers(scan)
    _no_contradiction(parsed, scan)
    return parsed, scan


# "No X given" must not be said when X was given but not understood: the words that give X, read or not.
_GIVEN = {
    "No time zone given": re.compile(
        r"(?P<w>[A-Za-z][\w/+-]*)\s+(?:time\s*zone|timezone|tz|time)\b"
        r"|\b(?:time\s*zone|timezone|tz)\s*(?:is|=|:|of|to)?\s*(?P<w2>[A-Za-z][\w/+-]*)",
        re.I,
    ),
    "No job name given": re.compile(
        r"\b(?:called|named|titled|name|call\s+it)\s*(?:it\s+|is\s+|[:=]\s*)?(?P<w>[^\s,;.]+)", re.I
    ),
}


def _no_contradiction(parsed: ParsedRequest, scan: Scan) -> None:
    for i, note in enumerate(parsed.assumptions):
        for head, rx in _GIVEN.items():
            if not note.startswith(head):
                continue
            for m in rx.finditer(scan.text):
                word = m.group("w") or m.group("w2")
                at = m.start("w") if m.group("w") else m.start("w2")
                if word and not is_read(scan, at, at + len(word)) and word.lower() not in FILLER:
                    used = note.partition(":")[2].strip()
                    what = head.removeprefix("No ").removesuffix(" given")
                    parsed.assumptions[i] = f"Did not understand the {what} “{word}”: {used}"
                    if not any(word in u for u in parsed.unused):
                        parsed.unused.append(word)
                    break


def _labels(scan: Scan, anchors: list) -> None:
    """ "ingest nb /Repos/etl/ingest": a word naming the task just before it is read with it."""
    for a in anchors:
        m = re.search(
            r"(?P<w>[A-Za-z][\w-]*)\s*(?:\b(?:nb|notebook|task|step|script|file)\b)?\s*[:=]?\s*$",
            scan.masked[max(0, a.start - 40) : a.start],
        )
        if m and a.source and m.group("w").lower() == basename(a.source).lower():
            scan.consume(max(0, a.start - 40) + m.start(), a.start)


def _retry_scope(scan: Scan, opts, known: dict[str, str], anchors: list) -> list[str] | None:
    """The task a retry count names ("retry the ingest task 3 times", "make transform retry twice")."""
    if not opts.retry_span:
        return None
    names = {**known, **{a.key: a.key for a in anchors}}
    found = [opts.retry_who] if opts.retry_who else []
    before = re.search(
        r"\b([A-Za-z][\w.-]*)(?:\s+(?:task|notebook|step))?\s*,?\s*(?:(?:should|can|could|may|might|must|will|shall|would|to)(?:\s+(?:also|only|be\s+allowed\s+to))?\s+)?$",
        scan.masked[max(0, opts.retry_span[0] - 40) : opts.retry_span[0]],
    )
    if before:
        found.append(before.group(1))
    keys = [k for k in (resolve(n, names) for n in found) if k]
    if before and resolve(before.group(1), names):
        offset = max(0, opts.retry_span[0] - 40)
        scan.consume(offset + before.start(1), offset + before.end(1))
    return list(dict.fromkeys(keys)) or None


def _task_names(known: dict[str, str], anchors: list) -> dict[str, str]:
    """Names a notification may tie to one task; none for a single-task job (job-level is the same)."""
    names = dict(known)
    for a in anchors:
        if a.key:
            names[a.key] = a.key
            if a.source:
                names.setdefault(a.source, a.key)
                names.setdefault(basename(a.source), a.key)
    return names if len(set(names.values())) > 1 else {}


def _task_alerts(tasks: list[dict], notify, dests, base_tasks: list[dict], draft: build.Draft) -> None:
    """Recipients tied to one task ("only the publish step should email …", "webhook … for failures of the
    transform task") → that task's email_notifications / webhook_notifications (TaskEmailNotifications,
    WebhookNotifications), added to what the task already has."""
    for fld, scoped in (("email_notifications", notify.tasks), ("webhook_notifications", dests.tasks)):
        for key, events in scoped.items():
            task = next((t for t in tasks if t["task_key"] == key), None)
            if task is None:
                task = {"task_key": key}
                tasks.append(task)
            current = next((t.get(fld) or {} for t in base_tasks if t["task_key"] == key), {})
            block = task.setdefault(fld, {})
            for ev, who in events.items():
                new = [w if fld == "email_notifications" else {"id": w} for w in who]
                have = list(block.get(ev) or current.get(ev) or [])
                block[ev] = have + [w for w in new if w not in have]
                said = ", ".join(w if isinstance(w, str) else w["id"] for w in new)
                draft.assume(f"Task {key} only ({ev.removeprefix('on_')}): {said}; not the whole job.")
            draft.topic("notifications", "tasks")
            if fld == "webhook_notifications":
                draft.topic("webhooks")
            draft.touched.add("tasks")


def _known(base_tasks: list[dict]) -> dict[str, str]:
    """Names a request may use for the job's tasks: their keys and their sources' basenames."""
    known: dict[str, str] = {}
    for t in base_tasks:
        key = t["task_key"]
        known[key] = key
        src = _source(t)
        if src:
            known.setdefault(basename(src), key)
            known.setdefault(src, key)
    return known


def _source(task: dict) -> str | None:
    return (
        (task.get("notebook_task") or {}).get("notebook_path")
        or (task.get("spark_python_task") or {}).get("python_file")
        or ((task.get("sql_task") or {}).get("file") or {}).get("path")
        or ((task.get("sql_task") or {}).get("query") or {}).get("query_id")
        or (task.get("pipeline_task") or {}).get("pipeline_id")
        or (task.get("python_wheel_task") or {}).get("package_name")
        or (task.get("dbt_task") or {}).get("project_directory")
        or (str(task["run_job_task"]["job_id"]) if task.get("run_job_task") else None)
    )


def _match(anchor, base_tasks: list[dict]) -> str | None:
    return next((t["task_key"] for t in base_tasks if anchor.source and _source(t) == anchor.source), None)


def _removals(scan: Scan, anchors: list, known: dict[str, str]) -> list[str]:
    """ "remove the publish task", "drop /Repos/etl/publish" → keys to delete."""
    out = []
    verbs = (
        r"\b(?:remove|drop|delete|get\s+rid\s+of|take\s+out)\s+(?:the\s+)?(?:task\s+|step\s+|notebook\s+)?"
    )
    for a in list(anchors):
        if re.search(verbs + r"$", scan.masked[max(0, a.start - 40) : a.start], re.I):
            anchors.remove(a)
            key = known.get(a.source)
            if key:
                out.append(key)
    for m in scan.find(verbs + r"[`'\"]?(?P<name>[\w.-]+)[`'\"]?(?P<t>\s+(?:task|step|notebook))?"):
        key = known.get(m.group("name")) or (m.group("name") if m.group("t") and not known else None)
        if key:
            scan.consume(*m.span())
            out.append(key)
    return list(dict.fromkeys(out))


def _replacements(scan: Scan, anchors: list, base_tasks: list[dict], draft: build.Draft) -> dict[str, dict]:
    """ "replace /a with /b", "use /b instead of /a", "switch the notebook to /b" → {old key: new body}."""
    out: dict[str, dict] = {}
    known = {_source(t): t["task_key"] for t in base_tasks if _source(t)}
    for i, a in enumerate(anchors[:-1]):
        b = anchors[i + 1]
        gap = scan.text[a.end : b.start]
        before = scan.text[max(0, a.start - 30) : a.start]
        if re.search(
            r"\b(?:replace|swap)\s+(?:the\s+)?(?:notebook\s+|task\s+)?$", before, re.I
        ) and re.fullmatch(r"\s*(?:with|by|for)\s*", gap):
            old, new = a, b
        elif re.fullmatch(r"\s*instead\s+of\s*", gap, re.I):
            old, new = b, a
        else:
            continue
        key = known.get(old.source)
        if key:
            out[key] = new.body
            anchors.remove(old)
            anchors.remove(new)
            return out
    fresh = [a for a in anchors if a.source not in known]
    if len(fresh) == 1 and re.search(
        r"\b(?:change|switch|point|swap|update|move)\s+(?:it|the\s+(?:notebook|script|file|"
        r"task|path|source|code))\s+(?:to|at)\b",
        scan.text,
        re.I,
    ):
        same = [t for t in base_tasks if any(k in t for k in fresh[0].body if k.endswith("_task"))]
        if len(same) == 1:
            out[same[0]["task_key"]] = fresh[0].body
        else:
            keys = " or ".join(t["task_key"] for t in same) or "which task"
            draft.ask(
                f"Which task should run {fresh[0].label} instead ({keys})? "
                "Say “replace <old path> with <new path>”."
            )
        anchors.remove(fresh[0])
    return out


def _chain_to_base(tasks: list[dict], chain, base_tasks: list[dict], text: str, draft: build.Draft) -> None:
    """A task added to an existing job with no order given runs after the job's last task(s)."""
    if not base_tasks:
        return
    keys = {t["task_key"] for t in base_tasks}
    waited = {d["task_key"] for t in base_tasks for d in t.get("depends_on", [])}
    sinks = [t["task_key"] for t in base_tasks if t["task_key"] not in waited]
    for t in tasks:
        if t["task_key"] in keys or len(t) == 1 or t.get("depends_on") or t["task_key"] in chain.explicit:
            continue
        if re.search(r"\b(?:in\s+parallel|independent(?:ly)?|separately|on\s+its\s+own)\b", text, re.I):
            continue
        t["depends_on"] = [{"task_key": k} for k in sinks]
        draft.topic("dependencies")
        draft.assume(
            f"{t['task_key']} runs after {', '.join(sinks)} (the job's last task"
            f"{'s' if len(sinks) > 1 else ''}); say “in parallel” if it should not wait."
        )


def _timing(draft, sched, trig, zone, zone_note, base, update, defaults) -> None:
    base = base or {}
    draft.ask(*sched.questions)
    draft.assume(*sched.assumptions)
    if sched.remove:
        draft.touched |= {"schedule", "trigger", "continuous"}
        draft.topic("schedule")
        if not update:
            draft.assume("No schedule: the job runs only when started by hand or by the API.")
        return
    if trig.trigger or trig.continuous:
        draft.topic("trigger")
        draft.assume(*trig.assumptions)
        draft.touched |= {"schedule", "trigger", "continuous"}
        if trig.trigger:
            draft.patch["trigger"] = trig.trigger
            if sched.pause:
                trig.trigger["pause_status"] = sched.pause
        else:
            draft.patch["continuous"] = trig.continuous
        return
    current = base.get("schedule") or {}
    if sched.said:
        cron, notes = compose(sched, current.get("quartz_cron_expression") if update else None)
        draft.assume(*notes)
        if cron is None:
            return
        tz = zone or current.get("timezone_id")
        if not tz:
            tz = defaults.timezone
            draft.assume(f"No time zone given: {tz}.")
        draft.assume(zone_note)
        schedule = {"quartz_cron_expression": cron, "timezone_id": tz}
        if sched.pause or not update:
            schedule["pause_status"] = sched.pause or "UNPAUSED"
        draft.patch["schedule"] = schedule
        draft.touched |= {"schedule", "trigger", "continuous"}
        draft.topic("schedule")
        return
    if zone and (current or (update and not base)):
        draft.set("schedule", {"timezone_id": zone})
        draft.assume(zone_note)
        draft.topic("schedule")
    elif zone:
        draft.assume(f"Time zone {zone} noted, but the job has no schedule to apply it to.")
    if sched.pause:
        kind = next((k for k in ("schedule", "trigger", "continuous") if base.get(k)), "schedule")
        if (base or not update) and not any(base.get(k) for k in ("schedule", "trigger", "continuous")):
            draft.assume("The job has no schedule or trigger to pause or resume.")
            return
        draft.patch.setdefault(kind, {})["pause_status"] = sched.pause
        draft.touched.add(kind)
        draft.topic("schedule" if kind == "schedule" else "trigger")


def _options(draft: build.Draft, opts, notify, update: bool) -> None:
    draft.ask(*notify.questions)
    draft.assume(*notify.assumptions)
    if notify.lists or (notify.removed and update):
        email = {k: list(v) for k, v in notify.lists.items()}
        for ev, gone in notify.removed.items():  # "-address" removes it (see merge)
            email.setdefault(ev, []).extend(f"-{a}" for a in gone)
        draft.set("email_notifications", email)
        draft.topic("notifications")
    if notify.quiet:  # JobNotificationSettings: no_alert_for_skipped_runs / no_alert_for_canceled_runs
        draft.set("notification_settings", dict(notify.quiet))
        draft.topic("notifications")
    if opts.timeout_said:
        draft.topic("timeout")
        if opts.timeout_seconds:
            draft.set("timeout_seconds", opts.timeout_seconds)
            draft.assume(f"Timeout applies to the whole run: {describe_timeout(opts.timeout_seconds)}.")
        else:
            draft.touched.add("timeout_seconds")
    if opts.max_concurrent_runs is not None:
        draft.set("max_concurrent_runs", opts.max_concurrent_runs)
        draft.topic("concurrency")
    if opts.parameters:
        draft.set("parameters", opts.parameters)
        draft.topic("parameters")
    if opts.tags:
        draft.set("tags", opts.tags)
        draft.topic("tags")


def _finish(draft: build.Draft, update: bool, job_ref, base, anchors, scan: Scan, defaults) -> ParsedRequest:
    if re.search(
        r"\b(?:permissions?|can[_\s]manage|can[_\s]view|can[_\s]manage[_\s]run|access\s+to)\b",
        scan.text,
        re.I,
    ):
        draft.topic("permissions")
        draft.assume(PERMISSIONS_NOTE)
    if any(
        "base_parameters" in (t.get("notebook_task") or {})
        or "parameters" in (t.get("spark_python_task") or {})
        for t in draft.patch.get("tasks", [])
    ):
        draft.topic("parameters")
    incomplete = draft.blocked or any(a.missing for a in anchors)
    if update:
        if base is None and job_ref is None:
            draft.ask(
                "Which job should I change? Give its id or exact name (e.g. “update job 123 …” or "
                "“change nightly-ingest …”)."
            )
        if not draft.touched:
            draft.ask(
                "What should change? For example the schedule, the cluster size, retries or who gets "
                "e-mailed."
            )
            return ParsedRequest(
                None, "update", job_ref, draft.assumptions, draft.questions, draft.topics, set()
            )
        if incomplete or (base is None and job_ref is None):
            settings = None  # nothing the caller could apply yet
        elif base is not None:
            settings = merge_settings(base, draft.patch, draft.touched, defaults=defaults)
        else:
            settings = copy.deepcopy(draft.patch)  # the caller merges it into the job it fetches
        return ParsedRequest(
            settings, "update", job_ref, draft.assumptions, draft.questions, draft.topics, set(draft.touched)
        )
    if not draft.patch.get("tasks"):
        draft.ask(build.nothing_to_run_question(scan.text))
        return ParsedRequest(None, "create", None, draft.assumptions, draft.questions, draft.topics, set())
    settings = None if incomplete else draft.patch
    touched = set(settings) if settings else set(draft.touched)
    return ParsedRequest(settings, "create", None, draft.assumptions, draft.questions, draft.topics, touched)

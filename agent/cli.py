"""`jobagent` command line: plan, approve, reject, apply, status, export, demo, emulator.

Exit codes: 0 success, 1 the task failed (validation, workspace, stale plan, configuration), 2 bad usage
or the request needs more information, 141 the reader of stdout went away (`| head`).

Streams: stdout is the result (a plan, a table, JSON, an export) and nothing else; questions, progress
and which workspace or state store a command used go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

# Only light modules here, so `--help` and `status` start fast: the commands that need the Worker,
# the Tech Lead, a workspace or the exporter (and so databricks-sdk or PyYAML) import them inside
# their functions (tests/test_cli_startup.py checks).
from agent.config import Settings
from agent.errors import JobAgentError, NeedsInput, StalePlan
from agent.models import TaskState
from agent.runtime import Runtime

if TYPE_CHECKING:
    from agent.notes import NoteEntry
    from agent.state import TaskRecord

EPILOG = """examples:
  jobagent plan --file job.json                 plan a new job from Jobs API JSON (or .yml)
  jobagent plan --file job.json --job-id 123    plan an update of job 123
  jobagent approve t-1a2b3c4d --by alice        approve a plan
  jobagent apply t-1a2b3c4d                     validate, re-check, apply
  jobagent status                               all tasks (add --json for scripts)
  jobagent status t-1a2b3c4d                    one task: its plan, whole history and note entries
  jobagent export t-1a2b3c4d -o resources/nightly_ingest.job.yml
                                                the task's job as a bundle resource (GitOps)
  jobagent export --job-id 123 --format json    a workspace job as Jobs API JSON
  jobagent demo                                 the whole flow on a local emulator, no keys needed

configuration: JOBAGENT_STATE_PATH, JOBAGENT_NOTES_DIR, JOBAGENT_WORKSPACE (auto|emulator|databricks)
and the Databricks SDK's own DATABRICKS_* variables or ~/.databrickscfg profiles; see README.md."""


class Parser(argparse.ArgumentParser):
    """argparse, except that an unknown option of a subcommand (`status --bogus`) is reported with that
    subcommand's usage, not the top-level one."""

    subcommands: dict[str, argparse.ArgumentParser]

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            owner = getattr(self, "subcommands", {}).get(getattr(parsed, "command", None), self)
            owner.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value


def build_parser() -> Parser:
    p = Parser(
        prog="jobagent",
        description="Turn requests into reviewed, audited Databricks Jobs: plan → approve → apply.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    plan = sub.add_parser(
        "plan",
        help="plan a job from plain English or a spec file",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument(
        "request", nargs="?", help='the request in plain English, e.g. "run /Repos/etl/ingest daily at 2am"'
    )
    plan.add_argument("--file", "-f", help="Jobs API job settings as JSON or YAML")
    plan.add_argument("--job-id", type=positive_int, help="update this existing job instead of creating one")
    plan.add_argument("--thread", help="conversation id: follow-ups in the same thread update its job")
    plan.add_argument("--run-now", action="store_true", help="also start a run after applying")
    plan.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check the workspace now: notebooks and files exist, node types and Spark versions are "
        "available, the name is free (default); --no-check plans a new job offline and leaves those "
        "checks to apply",
    )
    plan.add_argument(
        "--by",
        help="who is asking: a Databricks user name (default: $JOBAGENT_USER, else your credentials')",
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    for name, text in (("approve", "approve a planned task"), ("reject", "reject a planned task")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("task", help="task id, e.g. t-1a2b3c4d")
        cmd.add_argument(
            "--by",
            help="who decides: a Databricks user name (default: $JOBAGENT_USER, else your credentials')",
        )
        if name == "reject":
            cmd.add_argument("--reason", default="", help="why, for the note")

    apply = sub.add_parser("apply", help="validate, check the plan is not stale, and apply an approved task")
    apply.add_argument("task", help="task id")
    apply.add_argument(
        "--resume", action="store_true", help="resume a task left IN_PROGRESS by a crashed apply"
    )
    apply.add_argument("--by", help="who applies")

    status = sub.add_parser("status", help="list tasks, or show one")
    status.add_argument("task", nargs="?", help="show this task in full")
    status.add_argument("--thread", help="only this thread")
    status.add_argument("--state", choices=[s.value for s in TaskState], help="only this state")
    status.add_argument("--limit", type=positive_int, default=20, help="newest N tasks (default 20)")
    status.add_argument("--json", action="store_true", help="JSON for scripts")

    state = sub.add_parser(
        "state",
        help="check or repair the state store",
        description="The task store under JOBAGENT_STATE_PATH. Damaged files are never reset or "
        "overwritten: `check` lists them (exit 1 if any), `repair` moves them to quarantine/ (a copy is "
        "kept) and rebuilds the indexes. Stop the bot before a repair.",
    )
    state.add_argument("action", choices=["check", "repair"], help="check: list problems; repair: fix them")

    export = sub.add_parser(
        "export",
        help="write a job as a bundle resource (YAML) or Jobs API JSON, for Git",
        description="Write a task's job (as Databricks stored it after apply, else as planned) or a "
        "workspace job as a Declarative Automation Bundle resource (formerly Databricks Asset Bundles): "
        "`resources: jobs: <key>: …`, for a databricks.yml to `include:`; or as the Jobs API JSON "
        "`jobs/create` takes. What a bundle or a create must not carry is left out and named.",
    )
    export.add_argument("task", nargs="?", help="task id, e.g. t-1a2b3c4d")
    export.add_argument("--job-id", type=positive_int, help="export this job from the workspace instead")
    export.add_argument(
        "--format", choices=["bundle", "json"], default="bundle", help="bundle YAML (default) or JSON"
    )
    export.add_argument("--output", "-o", help="write to this file (default: stdout)")

    demo = sub.add_parser("demo", help="play create → update → question → failure on a local emulator")
    demo.add_argument(
        "--slack", action="store_true", help="play it through the Slack bot (signed events, local Slack)"
    )

    emu = sub.add_parser("emulator", help="serve the local Databricks workspace emulator")
    emu.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    emu.add_argument("--data", help="JSON file to keep its jobs and files in (default: memory)")
    for module in EXTENSIONS:
        COMMANDS.update(module_commands(module, sub))
    p.subcommands = sub.choices
    return p


def usage_problem(args: argparse.Namespace) -> str:
    """What argparse cannot say by itself about a command line ("" when it is fine)."""
    if args.command == "plan":
        if args.request and args.file:
            return "give a request in quotes or --file SPEC, not both"
        if not args.request and not args.file:
            return "give a request in quotes or --file SPEC"
    if args.command == "export" and bool(args.task) == bool(args.job_id):
        return "give a task id or --job-id ID" + (", not both" if args.task else "")
    return ""


# Feature packages add their own subcommands: each module has `add_commands(subparsers) -> {name: handler}`
# and keeps its heavy imports inside the handlers, so `jobagent --help` stays fast.
EXTENSIONS = ("bot.commands", "retrieval.commands", "agent.uc.commands", "agent.evaluation.commands")


def module_commands(name: str, sub: Any) -> dict[str, Any]:
    import importlib

    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return {}  # that feature is not part of this build
        raise
    return module.add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = usage_problem(args)
    if problem:
        parser.subcommands[args.command].error(problem)  # that command's usage, exit 2
    try:
        return run(args)
    except BrokenPipeError:
        # The reader of stdout left (`jobagent status | head -1`): stop quietly, as the Python docs
        # advise (signal module, "Note on SIGPIPE"): point stdout at devnull so the exit flush is silent.
        _stdout_to_devnull()
        return 141  # what a shell reports for a command ended by SIGPIPE


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        level = {0: settings.log_level, 1: "INFO"}.get(args.verbose, "DEBUG")
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        code = COMMANDS[args.command](args, settings)
        sys.stdout.flush()  # a closed pipe shows up here, inside main, not at interpreter exit
        return code
    except NeedsInput as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except JobAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file behind stdout (tests capture it): nothing to silence
        pass


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    with Runtime(settings) as rt:
        _info(f"Workspace: {rt.handle.description}")
        principal = person(rt, args.by or settings.user)
        if args.file:
            from agent.specfile import assignment_from_spec, load_spec

            assignment = assignment_from_spec(load_spec(args.file), args.job_id)
            request = f"spec file {args.file}" + (f" for job {args.job_id}" if args.job_id else "")
        else:
            from agent.tech_lead import TechLead

            lead = TechLead.from_settings(settings, rt)
            if lead.llm is not None:  # progress on stderr: stdout stays the plan (or its JSON)
                model, deadline = lead.llm.config.model, lead.llm.config.deadline
                _info(f"Asking the model {model} (offline plan if it has none in {deadline:g} s)…")
            assignment = lead.assign(args.request, thread=args.thread, job_id=args.job_id)
            request = args.request
        record = rt.worker.submit(
            assignment,
            request=request,
            requester=principal.name,
            principal=principal,
            thread=args.thread,
            run_now=args.run_now,
            preflight=args.check,
        )
        if args.json:
            print(json.dumps(plan_json(record), indent=2))
        elif record.state is not TaskState.NEEDS_INPUT:
            print_record_plan(record, rt)
        if record.state is TaskState.NEEDS_INPUT:  # the question on stderr only: stdout stays clean
            print_questions(record, rt)
            return 2
        return 1 if record.state is TaskState.FAILED else 0


def plan_json(record: TaskRecord) -> dict[str, Any]:
    return {
        "task_id": record.id,
        "state": str(record.state),
        "action": record.action,
        "job_id": record.job_id,
        "job_settings": record.settings,
        "plan": (record.plan or {}).get("text"),
        "citations": record.citations,
        "questions": record.questions,
        "assumptions": record.assumptions,
        "unused": record.unused,
        "error": record.error,
    }


def print_questions(record: TaskRecord, rt: Runtime) -> None:
    """A task that needs more information, on stderr: what to answer and how."""
    from agent.worker import not_acted_on

    lines = [f"Task {record.id} needs more information:", *(f"  ? {q}" for q in record.questions)]
    if record.unused:
        lines.append(not_acted_on(record.unused))
    lines.append(f'Answer in the same thread: jobagent plan --thread {record.thread} "…"')
    lines.append(f"Note: {rt.notes.path_for(record.thread)}")
    _info("\n".join(lines))


def print_record_plan(record: TaskRecord, rt: Runtime) -> None:
    from agent.review import as_text

    print(as_text(record))
    if record.state is TaskState.FAILED:
        print(f"\nTask {record.id} FAILED:\n{record.error}")
    else:
        print(
            f"\nTask {record.id} is {record.state}. Review it, then: "
            f"jobagent approve {record.id} && jobagent apply {record.id}"
        )
    print(f"Note: {rt.notes.path_for(record.thread)}")


def person(rt: Runtime, name: str) -> Any:
    """The Databricks identity the CLI acts for: JOBAGENT_USER / --by (a user name or a service
    principal's application id), else whoever the Databricks credentials belong to."""
    return rt.access.identify(name) if name else rt.access.directory.me()


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    with Runtime(settings) as rt:
        _info(f"Workspace: {rt.handle.description}")
        principal = person(rt, args.by or settings.user)
        record = rt.worker.approve(args.task, by=principal.name, principal=principal)
    print(f"Task {record.id} APPROVED by {record.decided_by}. Apply with: jobagent apply {record.id}")
    return 0


def cmd_reject(args: argparse.Namespace, settings: Settings) -> int:
    with Runtime(settings) as rt:
        _info(f"Workspace: {rt.handle.description}")
        by = person(rt, args.by or settings.user).name
        record = rt.worker.reject(args.task, by=by, reason=args.reason)
    print(f"Task {record.id} REJECTED by {record.decided_by}.")
    return 0


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    with Runtime(settings) as rt:
        _info(f"Workspace: {rt.handle.description}")
        try:
            by = args.by or settings.user or rt.access.directory.me().name
            record = rt.worker.apply(args.task, by=by, resume=args.resume)
        except StalePlan as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for step in record.steps:
            print(f"  {step['description']}: {step['status']}")
        if record.state is TaskState.COMPLETE:
            url = rt.workspace.job_url(record.job_id) if record.job_id else ""
            print(f"Task {record.id} COMPLETE: job {record.job_id} {url}".rstrip())
            return 0
        print(f"Task {record.id} {record.state}:\n{record.error}", file=sys.stderr)
        return 1


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    _info(f"State store: {rt.store.location}")
    if args.task:
        record = rt.store.get(args.task)
        if args.json:
            print(json.dumps(record.to_doc(), indent=2, default=str))
        else:
            notes, where = rt.notes.entries(record.thread), rt.notes.path_for(record.thread)
            print(format_record(record, notes, str(where)))
        return 0
    records = rt.store.find(
        thread=args.thread, state=TaskState(args.state) if args.state else None, limit=args.limit
    )
    if args.json:
        print(json.dumps([r.to_doc() for r in records], indent=2, default=str))
    elif not records:
        print(f"No tasks yet in {settings.state_path}. Start with: jobagent plan --help")
    else:
        print(format_table(records))
        for r in records:
            if r.meta.get("undelivered"):
                why = r.meta["undelivered"]
                _info(f"note: {r.id} was not delivered to Slack ({why}); `jobagent status {r.id}` shows it")
    for bad in rt.store.skipped:
        _info(f"warning: skipped a damaged task record: {bad}. Run `jobagent state check`.")
    return 0


def cmd_state(args: argparse.Namespace, settings: Settings) -> int:
    """`state check|repair`: never deletes anything; a repair keeps every damaged file in quarantine."""
    from agent.errors import StateUnreadable
    from agent.state import open_store
    from agent.state_tinydb import set_aside

    try:
        store = open_store(settings.state_path)
    except StateUnreadable as exc:
        print(f"Damaged: {exc.path}: {exc.reason}")
        if args.action == "check":
            print("Run `jobagent state repair` to set it aside and start a new store there.")
            return 1
        kept = set_aside(exc.path)
        if kept is None:
            print("It is not a file jobagent wrote; nothing was moved. Set JOBAGENT_STATE_PATH elsewhere.")
            return 1
        print(f"Moved it to {kept}; the next command starts a new store at {settings.state_path}.")
        return 0
    if args.action == "check":
        problems = store.check()
        print(f"State store {store.location}: {store.count()} task(s).")
        for bad in problems:
            print(f"  damaged: {bad}")
        print(f"{len(problems)} problem(s): run `jobagent state repair`." if problems else "No problems.")
        return 1 if problems else 0
    problems, aside = store.repair()
    for bad in problems:
        print(f"  moved aside: {bad}")
    where = f" Copies are in {aside}." if problems else ""
    print(f"Repaired {store.location}: {len(problems)} damaged file(s), indexes rebuilt.{where}")
    return 0


def format_table(records: list[TaskRecord]) -> str:
    rows = [("TASK", "STATE", "ACTION", "JOB", "UPDATED", "THREAD", "REQUEST")]
    for r in records:
        request = r.request.replace("\n", " ")
        rows.append(
            (
                r.id,
                str(r.state),
                r.action,
                str(r.job_id or "-"),
                r.updated_at[:19].replace("T", " "),
                r.thread[:24],
                request[:50] + ("…" if len(request) > 50 else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def format_record(r: TaskRecord, notes: list[NoteEntry] | None = None, note_path: str = "") -> str:
    """One task in full: what was asked, every state it went through (with its error), the thread
    note's entries about it, and its plan. Nothing is cut."""
    lines = [
        f"Task {r.id}: {r.state} ({r.action}{f', job {r.job_id}' if r.job_id else ''})",
        f"  requested by {r.requester} in thread {r.thread} at {r.created_at}",
        f"  request: {r.request}",
    ]
    if r.decided_by:
        lines.append(f"  decided by: {r.decided_by}")
    if r.error:
        lines.append(f"  error: {r.error}")
    lines.append("History:")
    for h in r.history:
        first, *more = str(h.get("error") or "").splitlines() or [""]
        by = f" by {h['by']}" if h.get("by") else ""
        lines.append(f"  {h.get('at', '')}  {h.get('state', '')}{by}" + (f": {first}" if first else ""))
        lines += [f"      {line}" for line in more]
    mine = [n for n in notes or [] if n.task_id == r.id]
    if mine:
        lines.append(f"Note entries ({note_path}):" if note_path else "Note entries:")
        lines += [f"  {n.at}  {n.kind}: {(n.body.splitlines() or [''])[0]}" for n in mine]
    if r.plan:
        lines += ["", r.plan["text"]]
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """`export TASK | --job-id ID`: the job as a bundle resource or Jobs API JSON (agent/export.py)."""
    from pathlib import Path

    from agent import export

    with Runtime(settings) as rt:
        if args.job_id:
            _info(f"Workspace: {rt.handle.description}")
            job = rt.workspace.get_job(args.job_id)
            if job is None or job.settings is None:
                raise JobAgentError(f"No job {args.job_id} in the {rt.handle.description}.")
            job_settings = export.as_declared(job.settings.as_dict())
            source = f"job {args.job_id} in the {rt.handle.description}"
        else:
            _info(f"State store: {rt.store.location}")
            record = rt.store.get(args.task)
            job_settings = export.task_settings(record)
            applied = job_settings is not record.settings
            source = f"task {record.id}" + (f" / job {record.job_id}" if record.job_id else "")
            _info(
                f"Exporting task {record.id} ({record.state}): "
                + ("the job as Databricks stored it after apply." if applied else "the planned settings.")
            )
    if args.format == "bundle":
        text = export.bundle_yaml(job_settings, source=source)
    else:
        text = export.jobs_json(job_settings)
    for line in export.left_out(job_settings, args.format):
        _info(f"left out {line}")
    if args.output and args.output != "-":
        target = Path(args.output)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)  # e.g. resources/ of a new bundle
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise JobAgentError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
        _info(f"Wrote {target}.")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.slack:
        from bot.demo import run_slack_demo  # the bot lives outside the Slack-free core

        return run_slack_demo(settings)
    from agent.demo import run_demo

    return run_demo(settings)


def cmd_emulator(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from standins.databricks import serve

    serve(args.port, Path(args.data) if args.data else None)
    return 0


def _info(text: str) -> None:
    print(text, file=sys.stderr)


COMMANDS = {
    "plan": cmd_plan,
    "approve": cmd_approve,
    "reject": cmd_reject,
    "apply": cmd_apply,
    "status": cmd_status,
    "state": cmd_state,
    "export": cmd_export,
    "demo": cmd_demo,
    "emulator": cmd_emulator,
}


if __name__ == "__main__":
    sys.exit(main())

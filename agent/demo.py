"""`jobagent demo`: the whole loop on an in-process Databricks emulator — no Slack, no keys, no network."""

from __future__ import annotations

import contextlib
import logging
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import replace

from agent.config import Settings, WorkspaceHandle
from agent.models import TaskState
from agent.review import as_text
from agent.runtime import Runtime
from agent.state import TaskRecord
from agent.tech_lead import TechLead
from agent.worker import not_acted_on

THREAD = "demo-thread-1"
ALICE, BOB, MALLORY = "alice@example.com", "bob@example.com", "mallory@example.com"
# (title, thread, who asks, request); {job} is the job the first scene created
SCENES = [
    (
        "A data engineer asks for a new job",
        THREAD,
        ALICE,
        "Run /Repos/etl/ingest then /Repos/etl/transform every weekday at 2:30am Berlin time on a small "
        "cluster, retry twice, email data-eng@example.com on failure. Call it nightly-ingest.",
    ),
    (
        "A follow-up in the same thread becomes an update",
        THREAD,
        ALICE,
        "make it 3am instead, and also email bob@example.com",
    ),
    (
        "Someone without permission on that job asks to change it",
        "demo-thread-4",
        MALLORY,
        "update job {job} to run every hour",
    ),
    (
        "A request the Tech Lead cannot act on gets a question",
        "demo-thread-2",
        ALICE,
        "set up a daily job at 6am please",
    ),
    (
        "A request that fails validation",
        "demo-thread-3",
        ALICE,
        "run /Repos/etl/does-not-exist hourly on node type z9.huge, call it broken-job",
    ),
]


def run_demo(settings: Settings) -> int:
    with quiet_agent_logs():
        return _play(settings)


def _play(settings: Settings) -> int:
    from standins.databricks import WorkspaceEmulator

    settings = fresh_demo_settings(settings, "demo")
    emulator = WorkspaceEmulator()
    url = emulator.start()
    say(f"Started a local Databricks workspace emulator at {url} (in memory, seeded with notebooks).")
    for user, admin in ((ALICE, False), (BOB, True), (MALLORY, False)):
        emulator.add_user(user, admin=admin)
    say(f"Databricks users: {ALICE}, {MALLORY}, and {BOB} (workspace admin, who reviews).")
    handle = WorkspaceHandle(emulator.client(), f"local emulator at {url}", emulator)
    with Runtime(settings, handle) as rt:
        lead = TechLead.from_settings(settings, rt)
        job, applied = None, []
        for number, (title, thread, who, request) in enumerate(SCENES, 1):
            request = request.format(job=job)
            heading(f"{number}. {title}")
            say(f'{who} in {thread}: "{request}"')
            assignment = lead.assign(request, thread=thread)
            record = rt.worker.submit(assignment, request=request, requester=who, thread=thread)
            show_plan(record)
            if record.state is TaskState.PLANNED:
                rt.worker.approve(record.id, by=BOB)
                say(f"{BOB} approved {record.id}; the Worker validates, re-checks the plan and applies…")
                done = rt.worker.apply(record.id, by=BOB)
                job = job or done.job_id
                if done.state is TaskState.COMPLETE:
                    applied.append(done.id)
                    say(f"✔ {done.state}: job {done.job_id} — {rt.workspace.job_url(done.job_id)}")
                else:
                    say(f"✘ {done.state}: {done.error}")
        heading("Where things are")
        say(
            f"State DB : {settings.state_path}  "
            f"(see it with: JOBAGENT_STATE_PATH={settings.state_path} jobagent status)"
        )
        for thread in dict.fromkeys(t for _, t, _, _ in SCENES):
            say(f"Note     : {rt.notes.path_for(thread)}")
        if applied:
            say(
                f"For Git  : JOBAGENT_STATE_PATH={settings.state_path} jobagent export {applied[-1]}  "
                "(the job as a bundle resource)"
            )
        jobs = emulator.jobs_snapshot()
        listed = ", ".join(f"{j['job_id']} {j['settings']['name']!r}" for j in jobs) or "none"
        say(f"Jobs in the emulator: {listed}")
    return 0


def show_plan(record: TaskRecord) -> None:
    if record.state is TaskState.NEEDS_INPUT:
        if record.unused:
            print(textwrap.indent(not_acted_on(record.unused), "  "))
        for q in record.questions:
            say(f"Tech Lead asks: {q}")
        return
    if record.plan:
        print(textwrap.indent(as_text(record), "    "))
    if record.state is TaskState.FAILED:
        say(f"✘ FAILED before anyone approved it:\n{textwrap.indent(record.error or '', '    ')}")


def heading(text: str) -> None:
    print(f"\n━━ {text} " + "━" * max(0, 70 - len(text)))


def say(text: str) -> None:
    print(f"  {text}")


def fresh_demo_settings(settings: Settings, name: str) -> Settings:
    """State and notes in an emptied $JOBAGENT_HOME/<name>, so every demo run starts the same."""
    home = settings.home / name
    shutil.rmtree(home, ignore_errors=True)
    return replace(settings, state_path=home / "state", notes_dir=home / "notes")


@contextlib.contextmanager
def quiet_agent_logs() -> Iterator[None]:
    """The demo prints failures itself; warnings from the same events would only repeat them."""
    logger = logging.getLogger("agent")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)

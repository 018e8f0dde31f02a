"""Who may do what, end to end: Slack users mapped to Databricks identities, Databricks permissions decide.

Signed HTTP events into the real bot, the real databricks-sdk against the emulator, which enforces job
permissions and run_as rules itself — so a check jobagent forgot would show up as a job changed here.
"""

from __future__ import annotations

import pytest

from agent.access import AccessPolicy
from agent.errors import AccessDenied, ConfigError
from agent.models import TaskState
from agent.specfile import assignment_from_spec
from agent.tech_lead import TechLead
from bot import blocks
from bot.config import BotConfig
from standins.slack import SlackStandIn
from tests.bot_fixtures import SECRET, BotHarness, block_text

CHANNEL, OTHER = "C0JOBS", "C0OTHER"
DANA, ERIN, NOMAIL, STRANGER = "UDANA", "UERIN", "UNOMAIL", "USTRANGER"
SPEC = {
    "name": "{name}",
    "tasks": [
        {
            "task_key": "main",
            "notebook_task": {"notebook_path": "/Repos/etl/ingest"},
            "new_cluster": {
                "spark_version": "15.4.x-scala2.12",
                "node_type_id": "i3.xlarge",
                "num_workers": 1,
            },
        }
    ],
}


def spec(name: str, **extra) -> dict:
    return {**SPEC, "name": name, **extra}


@pytest.fixture
def people(emulator):
    """Databricks tokens of two ordinary users (no admin)."""
    return {"dana": emulator.add_user("dana@example.com"), "erin": emulator.add_user("erin@example.com")}


@pytest.fixture
def slack():
    with SlackStandIn() as stand_in:
        stand_in.add_user(DANA, name="dana", email="dana@example.com")
        stand_in.add_user(ERIN, name="erin", email="erin@example.com")
        stand_in.add_user(NOMAIL, name="nomail")  # no users:read.email answer
        stand_in.add_user(STRANGER, name="stranger", email="stranger@elsewhere.example")
        yield stand_in


def offline_lead(runtime) -> TechLead:
    return TechLead(store=runtime.store, notes=runtime.notes, workspace=lambda: runtime.workspace, index=None)


@pytest.fixture
def bot(runtime, slack, people):
    harness = BotHarness(runtime, offline_lead(runtime), slack)
    yield harness
    harness.close()


def admin_job(emulator, name: str) -> int:
    """A job someone else (a workspace admin) made; nobody else has any permission on it."""
    from databricks.sdk.service.jobs import JobSettings

    w = emulator.client()
    return w.jobs.create(**{k: getattr(JobSettings.from_dict(spec(name)), k) for k in spec(name)}).job_id


def ask(bot: BotHarness, user: str, text: str, channel: str = CHANNEL):
    before = bot.services.activity.count("request")
    ts = bot.mention(user, text, channel=channel).ts
    bot.services.activity.wait("request", before + 1)
    return ts, bot.task(ts, channel)


def click(bot: BotHarness, user: str, task, **kw) -> None:
    before = bot.services.activity.count("approve")
    bot.click(user, blocks.APPROVE_ACTION, task, **kw)
    bot.services.activity.wait("approve", before + 1)


# -- updates need CAN_MANAGE ---------------------------------------------------------------------
def test_update_without_can_manage_is_refused_and_with_it_applied(bot, emulator, slack):
    job_id = admin_job(emulator, "finance-report")
    before = emulator.client().jobs.get(job_id).settings.as_dict()

    ts, task = ask(bot, DANA, f"update job {job_id} to run every day at 3am UTC")
    assert task.state is TaskState.FAILED and "CAN_MANAGE" in task.error and "dana@example.com" in task.error
    refusal = block_text(bot.wait_post(ts, text="CAN_MANAGE"))
    assert f"job {job_id}" in refusal and "schedule" not in refusal  # no settings of a job she cannot see
    assert emulator.client().jobs.get(job_id).settings.as_dict() == before
    assert "refused" in task.error or "Nothing was changed" in task.error

    emulator.set_job_permissions(
        job_id, [{"user_name": "dana@example.com", "permission_level": "CAN_MANAGE"}]
    )
    ts, task = ask(bot, DANA, f"update job {job_id} to run every day at 3am UTC")
    assert task.state is TaskState.PLANNED, task.error
    assert "Runs as: emulator-user@example.com (unchanged)" in task.plan["text"]
    click(bot, DANA, task)
    assert bot.task(ts).state is TaskState.COMPLETE
    after = emulator.client().jobs.get(job_id).settings
    assert after.schedule.quartz_cron_expression.startswith("0 0 3")
    assert after.run_as is None or after.run_as.user_name in (None, "emulator-user@example.com")


def test_approver_without_can_manage_cannot_approve_an_update(runtime, emulator, slack, people):
    """erin is on the Slack allow list, but Databricks gives her no permission on this job."""
    config = BotConfig(
        bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, approvers=frozenset({ERIN})
    )
    bot = BotHarness(runtime, offline_lead(runtime), slack, config)
    try:
        _approver_without_can_manage(bot, emulator, slack)
    finally:
        bot.close()


def _approver_without_can_manage(bot, emulator, slack):
    job_id = admin_job(emulator, "shared-report")
    emulator.set_job_permissions(
        job_id, [{"user_name": "dana@example.com", "permission_level": "CAN_MANAGE"}]
    )
    ts, task = ask(bot, DANA, f"update job {job_id}: max concurrent runs 2")
    assert task.state is TaskState.PLANNED, task.error
    click(bot, ERIN, task)  # erin may approve creates, but has no permission on this job
    refusal = slack.wait_for("chat.postEphemeral")[0]
    assert refusal["user"] == ERIN and "erin@example.com has no permission on job" in refusal["text"]
    assert bot.task(ts).state is TaskState.PLANNED
    assert "approval refused" in bot.runtime.notes.read(task.thread)
    assert (emulator.client().jobs.get(job_id).settings.max_concurrent_runs or 1) == 1


# -- new jobs run as the requester ---------------------------------------------------------------
def test_new_job_runs_as_the_requester_who_may_manage_it(bot, emulator):
    ts, task = ask(
        bot, ERIN, "run /Repos/etl/ingest every day at 1am UTC on a small cluster, call it erin-daily"
    )
    assert task.state is TaskState.PLANNED, task.error
    text = task.plan["text"]
    assert "run_as.user_name" in text and "erin@example.com" in text
    assert (
        'access_control_list["erin@example.com"] = "CAN_MANAGE"' in text
        and "Runs as: erin@example.com" in text
    )
    click(bot, ERIN, task)
    done = bot.task(ts)
    assert done.state is TaskState.COMPLETE, done.error
    job = emulator.client().jobs.get(done.job_id)
    assert job.settings.run_as.user_name == "erin@example.com"
    perms = emulator.job_permissions(done.job_id)["access_control_list"]
    assert any(
        e.get("user_name") == "erin@example.com"
        and any(p["permission_level"] == "CAN_MANAGE" for p in e["all_permissions"])
        for e in perms
    )

    # erin's follow-up changes her job without touching whom it runs as
    follow = bot.reply(ERIN, "make it 4am", ts)
    assert follow.state is TaskState.PLANNED, follow.error
    assert "run_as" not in "\n".join(c["path"] for c in follow.plan["changes"])
    assert "Runs as: erin@example.com (unchanged)" in follow.plan["text"]


def test_people_without_a_databricks_identity_are_refused(bot, emulator):
    for user, words in ((STRANGER, "no identity in this Databricks workspace"), (NOMAIL, "users:read.email")):
        ts, task = ask(bot, user, "run /Repos/etl/ingest daily at 1am UTC, call it sneaky")
        assert task.state is TaskState.FAILED and words in task.error
        assert words in block_text(bot.wait_post(ts, text=words))
    assert emulator.jobs_snapshot() == []


# -- forged clicks -------------------------------------------------------------------------------
def test_a_click_carrying_another_channels_task_changes_nothing(bot, emulator, slack):
    ts_a, task_a = ask(bot, DANA, "run /Repos/etl/ingest daily at 1am UTC on a small cluster, call it dana-a")
    ts_b, task_b = ask(
        bot, ERIN, "run /Repos/etl/ingest daily at 2am UTC on a small cluster, call it erin-b", OTHER
    )
    assert task_a.state is task_b.state is TaskState.PLANNED
    plan_a = bot.stored(CHANNEL, task_a.meta["slack_ts"])
    forged = blocks.button_value(task_a)  # even the right key does not help from another message
    click(bot, ERIN, task_b, channel=OTHER, value=forged)
    click(bot, ERIN, task_b, channel=OTHER, value=task_a.id)  # the old value format: a bare task id
    assert bot.task(ts_a).state is TaskState.PLANNED and bot.task(ts_b, OTHER).state is TaskState.PLANNED
    assert emulator.jobs_snapshot() == [] and slack.received("chat.update") == []
    assert bot.stored(CHANNEL, task_a.meta["slack_ts"]) == plan_a
    refusals = slack.wait_for("chat.postEphemeral", 2)
    assert all("does not belong to a plan in this thread" in r["text"] for r in refusals)

    click(bot, ERIN, task_b, channel=OTHER)  # her own, genuine click still works
    assert bot.task(ts_b, OTHER).state is TaskState.COMPLETE


# -- the two-person rule -------------------------------------------------------------------------
def test_two_person_rule_refuses_self_approval(runtime, emulator, people, monkeypatch):
    monkeypatch.setenv("JOBAGENT_REQUIRE_OTHER_APPROVER", "true")
    record = runtime.worker.submit(
        assignment_from_spec(spec("two-person")), request="spec", requester="dana@example.com"
    )
    assert record.state is TaskState.PLANNED, record.error
    with pytest.raises(AccessDenied, match="someone else to approve"):
        runtime.worker.approve(record.id, by="dana@example.com")
    assert runtime.store.get(record.id).state is TaskState.PLANNED
    assert runtime.worker.approve(record.id, by="erin@example.com").state is TaskState.APPROVED


# -- run_as chosen by the requester --------------------------------------------------------------
def test_run_as_another_user_needs_admin(runtime, emulator, people):
    asked = spec("as-erin", run_as={"user_name": "erin@example.com"})
    record = runtime.worker.submit(assignment_from_spec(asked), request="spec", requester="dana@example.com")
    assert record.state is TaskState.FAILED and "only workspace admins" in record.error
    record = runtime.worker.submit(assignment_from_spec(asked), request="spec", requester="bob")  # an admin
    assert record.state is TaskState.PLANNED, record.error


def test_run_as_a_service_principal_needs_its_user_role(runtime, emulator, people):
    # Databricks asks the same of whoever sends the create: jobagent needs the role too
    app_id, _ = emulator.add_service_principal("etl-runner", users=["erin@example.com", emulator.user_name])
    asked = spec("as-sp", run_as={"service_principal_name": app_id})
    denied = runtime.worker.submit(assignment_from_spec(asked), request="spec", requester="dana@example.com")
    assert denied.state is TaskState.FAILED and "Service Principal User role" in denied.error
    admin = runtime.worker.submit(assignment_from_spec(asked), request="spec", requester="bob")
    assert admin.state is TaskState.FAILED, "a workspace admin needs the role too"
    allowed = runtime.worker.submit(assignment_from_spec(asked), request="spec", requester="erin@example.com")
    assert allowed.state is TaskState.PLANNED, allowed.error
    runtime.worker.approve(allowed.id, by="bob")
    done = runtime.worker.apply(allowed.id)
    assert done.state is TaskState.COMPLETE, done.error
    assert emulator.client().jobs.get(done.job_id).settings.run_as.service_principal_name == app_id


def test_team_policy_run_as_a_named_service_principal(runtime, emulator, people, monkeypatch):
    app_id, _ = emulator.add_service_principal("team-runner", users=["dana@example.com"])
    monkeypatch.setenv("JOBAGENT_RUN_AS", f"service_principal:{app_id}")
    record = runtime.worker.submit(
        assignment_from_spec(spec("team-sp")), request="spec", requester="dana@example.com"
    )
    assert record.state is TaskState.PLANNED, record.error
    assert f"Runs as: {app_id}." in record.plan["text"]
    refused = runtime.worker.submit(
        assignment_from_spec(spec("team-sp-2")), request="spec", requester="erin@example.com"
    )
    assert refused.state is TaskState.FAILED and "Service Principal User role" in refused.error


def test_access_policy_from_env_names_the_variable():
    assert AccessPolicy.from_env({}).run_as == "requester"
    sp = AccessPolicy.from_env({"JOBAGENT_RUN_AS": "service_principal:6f0c4b0e-6a43-4a0c-9d6e-1f1b2c3d4e5f"})
    assert sp.run_as_service_principal.startswith("6f0c")
    for env, name in (
        ({"JOBAGENT_RUN_AS": "root"}, "JOBAGENT_RUN_AS"),
        ({"JOBAGENT_RUN_AS": "service_principal:not-a-uuid"}, "JOBAGENT_RUN_AS"),
        ({"JOBAGENT_REQUIRE_OTHER_APPROVER": "maybe"}, "JOBAGENT_REQUIRE_OTHER_APPROVER"),
        ({"JOBAGENT_SERVICE_PRINCIPALS": "U1"}, "JOBAGENT_SERVICE_PRINCIPALS"),
        ({"JOBAGENT_IDENTITY_TTL": "-5"}, "JOBAGENT_IDENTITY_TTL"),
    ):
        with pytest.raises(ConfigError, match=name):
            AccessPolicy.from_env(env)


def test_cli_acts_as_jobagent_user_and_refuses_unknown_people(capsys, monkeypatch):
    from agent.cli import main

    monkeypatch.setenv("JOBAGENT_USER", "nobody@example.com")
    assert main(["plan", "run /Repos/etl/ingest daily at 1am UTC, call it cli-job"]) == 1
    assert "nobody@example.com has no identity in this Databricks workspace" in capsys.readouterr().err

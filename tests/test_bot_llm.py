"""The bot with the LLM Tech Lead: a slow model gets a "still working" line in the thread, turned into
the time the plan took. Signed events in, real clients out."""

from __future__ import annotations

import pytest

from agent.llm import LLMConfig, LLMPlanner, reset_learnt
from agent.tech_lead import TechLead
from bot.config import BotConfig
from standins.openai import OpenAIStandIn, Scripted
from standins.slack import SlackStandIn
from tests.bot_fixtures import ALICE, CHANNEL, REQUEST, SECRET, BotHarness, block_text

ANSWER = {
    "job_settings": {
        "name": "nightly-ingest",
        "tasks": [{"task_key": "ingest", "notebook_task": {"notebook_path": "/Repos/etl/ingest"}}],
        "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"},
    },
    "assumptions": [],
    "questions": [],
    "citations": [],
    "refusal": None,
}


@pytest.fixture
def harness(runtime, tmp_path_factory):
    from retrieval import DocsIndex

    reset_learnt()
    index = DocsIndex.load_or_build(cache_dir=tmp_path_factory.mktemp("docs-index"))
    with OpenAIStandIn(strict_style=True) as model, SlackStandIn() as slack:
        slack.add_user(ALICE, name="alice", email="alice@example.com")
        config = LLMConfig("openai", "m", "sk-x", model.url + "/v1", timeout=10, deadline=10)
        lead = TechLead(
            store=runtime.store,
            notes=runtime.notes,
            workspace=lambda: runtime.workspace,
            index=lambda: index,
            llm=LLMPlanner(config),
        )
        bot_config = BotConfig(
            bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, interim_seconds=1
        )
        bot = BotHarness(runtime, lead, slack, bot_config)
        yield bot, model
        bot.close()


def test_a_slow_model_gets_a_still_working_line_that_ends_with_the_time_taken(harness):
    bot, model = harness
    model.enqueue(Scripted(content=ANSWER, delay=1.6))
    ts = bot.mention(ALICE, REQUEST).ts
    plan = bot.wait_post(ts, buttons=True)
    posts = bot.posts(ts)
    interim = posts[0]
    assert "Still working on your plan" in interim["text"] and "10 s" in interim["text"]
    assert posts.index(interim) < posts.index(plan)
    update = bot.slack.wait_for("chat.update", where=lambda p: "Planning took" in p.get("text", ""))[0]
    stored = bot.stored(CHANNEL, update["ts"])
    assert stored["text"].startswith(":stopwatch: Planning took")
    assert "nightly-ingest" in block_text(plan)

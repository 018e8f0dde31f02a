"""Unity Catalog functions inside planning and validation: the offline Tech Lead calls the built-ins,
the Worker runs the policies, and the LLM Tech Lead calls the functions as LangChain tools."""

from __future__ import annotations

import json

import pytest

from agent.llm import LLMConfig, LLMPlanner
from agent.models import TaskState
from agent.tech_lead import TechLead
from agent.uc.config import UCConfig
from agent.uc.policies import PolicyChecker
from agent.uc.tools import call_function, uc_tools
from standins.openai import OpenAIStandIn, Scripted
from standins.unitycatalog import UnityCatalogStandIn

REQUEST = "run /Repos/etl/ingest every day at 2am on 4 workers, call it uc-daily"


@pytest.fixture
def uc(monkeypatch):
    from agent.uc.client import open_session
    from agent.uc.registry import register

    with UnityCatalogStandIn() as server:
        config = UCConfig.from_env({"JOBAGENT_UC_URL": server.url, "JOBAGENT_UC_EXECUTION": "local"})
        with open_session(config) as session:
            register(session)
            yield session


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("index")


def lead_for(runtime, session, index_dir, llm=None) -> TechLead:
    from retrieval import DocsIndex

    return TechLead(
        store=runtime.store,
        notes=runtime.notes,
        workspace=lambda: runtime.workspace,
        index=lambda: DocsIndex.load_or_build(cache_dir=index_dir),
        llm=llm,
        functions=lambda name, args: call_function(name, args, session=session),
        functions_status=session.config.status_line,
    )


def test_offline_plan_shows_uc_next_runs_and_cost(runtime, uc, index_dir):
    assignment = lead_for(runtime, uc, index_dir).assign(REQUEST)
    runs = next(n for n in assignment.notes if n.startswith("next runs (Unity Catalog"))
    assert runs.count("02:00") == 3
    assert any(n.startswith("cost of main") and "$" in n for n in assignment.notes)


def test_policy_blocks_non_compliant_job_and_passes_compliant_one(runtime, uc, index_dir):
    runtime.worker.policies = PolicyChecker(uc)
    lead = lead_for(runtime, uc, index_dir)
    blocked = runtime.worker.submit(lead.assign(REQUEST), request=REQUEST, requester="alice", thread="U1")
    assert blocked.state is TaskState.FAILED
    assert "Policy main.jobagent_policies.require_failure_notification" in blocked.error
    assert "require_failure_notification" in runtime.notes.read("U1")
    ok_request = REQUEST + ", email oncall@example.com on failure"
    ok = runtime.worker.submit(lead.assign(ok_request), request=ok_request, requester="alice", thread="U2")
    assert ok.state is TaskState.PLANNED, ok.error


def test_llm_calls_uc_tool_and_its_result_shows_in_the_plan(runtime, uc, index_dir):
    tools = uc_tools(session=uc)
    names = {t.name for t in tools}
    next_runs = next(n for n in names if n.endswith("next_run_times"))
    answer = {
        "job_settings": {
            "name": "uc-daily",
            "tasks": [{"task_key": "ingest", "notebook_task": {"notebook_path": "/Repos/etl/ingest"}}],
            "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"},
        },
        "assumptions": [],
        "questions": [],
        "citations": [],
        "refusal": None,
    }
    with OpenAIStandIn() as server:
        server.enqueue(
            Scripted(tool_calls=[(next_runs, {"cron": "0 0 2 * * ?", "timezone_id": "UTC", "count": 2})]),
            answer,
        )
        config = LLMConfig("openai", "m", "sk-x", server.url + "/v1", timeout=10)
        lead = lead_for(runtime, uc, index_dir, llm=LLMPlanner(config, tools=tools))
        assignment = lead.assign(REQUEST)
        offered = {t["function"]["name"] for t in server.requests[0]["tools"]}
        assert next_runs in offered
        tool_reply = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
        assert "02:00" in tool_reply["content"]
    assert assignment.planner.startswith("llm")
    assert any(n.startswith(f"tool {next_runs}") and "02:00" in n for n in assignment.notes)
    record = runtime.worker.submit(assignment, request=REQUEST, requester="alice", thread="U3")
    assert any("tool" in n for n in record.meta["notes"])
    assert json.dumps(record.meta["notes"])  # stored with the task

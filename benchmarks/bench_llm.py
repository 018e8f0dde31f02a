"""LLM Tech Lead figures against the local OpenAI-compatible stand-in (real `openai` client, real sockets):
model calls per plan, prompt tokens (the service's count and our estimate), plan time against the offline
plan in the same process, and time to fallback when the model is slow, rate limited or wrong."""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.llm import LLMConfig, LLMPlanner, reset_learnt  # noqa: E402
from agent.notes import NoteBook  # noqa: E402
from agent.state import open_store  # noqa: E402
from agent.tech_lead import TechLead  # noqa: E402
from retrieval import DocsIndex  # noqa: E402
from standins.openai import ModelProfile, OpenAIStandIn, Scripted  # noqa: E402

REQUEST = "run /Repos/etl/ingest every weekday at 2:30am Berlin time on a small cluster, retry twice"
SETTINGS = {
    "name": "ingest",
    "tasks": [
        {"task_key": "ingest", "notebook_task": {"notebook_path": "/Repos/etl/ingest"}, "max_retries": 2}
    ],
    "schedule": {"quartz_cron_expression": "0 30 2 ? * MON-FRI", "timezone_id": "Europe/Berlin"},
}
ANSWER = {"job_settings": SETTINGS, "assumptions": [], "questions": [], "citations": [1], "refusal": None}
DEADLINE = 2.0
ROUNDS = 5


def lead_for(server: OpenAIStandIn, index: DocsIndex, tmp: Path, model: str = "bench-model") -> TechLead:
    config = LLMConfig("openai", model, "sk-bench", server.url + "/v1", timeout=30, deadline=DEADLINE)
    return TechLead(
        store=open_store(tmp / "state"),
        notes=NoteBook(tmp / "notes"),
        index=lambda: index,
        llm=LLMPlanner(config),
    )


def offline_lead(index: DocsIndex, tmp: Path) -> TechLead:
    return TechLead(store=open_store(tmp / "state"), notes=NoteBook(tmp / "notes"), index=lambda: index)


def measure(server: OpenAIStandIn, lead: TechLead, script: list[Scripted | dict]) -> dict[str, float]:
    server.reset()  # nothing left over from the case before
    server.enqueue(*script)
    started = time.perf_counter()
    assignment = lead.assign(REQUEST)
    seconds = time.perf_counter() - started
    sent = list(server.requests)
    estimate = sum(
        len(json.dumps(r["messages"])) + len(json.dumps(r.get("response_format", ""))) for r in sent
    )
    return {
        "calls": len(sent),
        "seconds": seconds,
        "prompt_tokens": assignment.usage.get("prompt_tokens", 0),
        "request_tokens_est": estimate // 4,
        "fallback": float(assignment.planner.startswith("offline")),
    }


def main() -> None:
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="jobagent-bench-llm-"))
    index = DocsIndex.load_or_build(cache_dir=tmp / "index")
    offline = offline_lead(index, tmp)
    offline.assign(REQUEST)  # warm caches (docs, parser) the same way for both
    base = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        offline.assign(REQUEST)
        base.append(time.perf_counter() - started)
    offline_s = statistics.median(base)
    print(f"offline_plan_p50_ms: {offline_s * 1000:.1f}")

    profiles = {"reasoner": ModelProfile(reasoning=True), "legacy": ModelProfile(json_schema=False)}
    with OpenAIStandIn(models=profiles, strict_style=True) as server:
        cases = {
            "first_plan_loads_sdk_docs": ("bench-model", [ANSWER]),
            "strict_answer": ("bench-model", [ANSWER]),
            "content_blocks": ("gpt-oss-120b", [Scripted(content=ANSWER, blocks=True)]),
            "reasoning_first_plan": ("reasoner", [ANSWER, ANSWER]),
            "reasoning_remembered": ("reasoner", [ANSWER]),
            "no_json_schema_first_plan": ("legacy", [ANSWER, ANSWER]),
            "repaired_once": (
                "bench-model",
                [{**ANSWER, "job_settings": {**SETTINGS, "shedule": {"x": 1}}}, ANSWER],
            ),
        }
        reset_learnt()
        print(f"{'case':28} calls  prompt_tok  est_tok   ms  x_offline")
        for name, (model, script) in cases.items():
            lead = lead_for(server, index, tmp, model)
            figures = measure(server, lead, list(script))
            print(
                f"{name:28} {figures['calls']:5.0f} {figures['prompt_tokens']:11.0f} "
                f"{figures['request_tokens_est']:8.0f} {figures['seconds'] * 1000:5.0f} "
                f"{figures['seconds'] / offline_s:9.1f}"
            )
        print(f"-- time to fallback (deadline {DEADLINE:g} s)")
        fallbacks = {
            "slow_model": [Scripted(content=ANSWER, delay=DEADLINE * 3)] * 3,
            "retry_after_beyond_deadline": [Scripted(status=429, headers={"retry-after": "30"})] * 3,
            "invalid_twice": ["not json", "still not json"],
            "server_errors": [Scripted(status=503)] * 3,
        }
        for name, script in fallbacks.items():
            figures = measure(server, lead_for(server, index, tmp), list(script))
            print(
                f"{name:28} fallback={figures['fallback']:.0f} calls={figures['calls']:.0f} "
                f"seconds={figures['seconds']:.2f} over_deadline_s={figures['seconds'] - DEADLINE:+.2f}"
            )


if __name__ == "__main__":
    main()

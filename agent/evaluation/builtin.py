"""Built-in metrics, written with the same `@metric` decorator users write theirs with.

A row's ``expected_response`` is ``{"action", "job_settings" (the fields that matter), "questions"}``;
``questions`` is true (or a list of words the question must contain) when the Tech Lead should ask.
"""

from __future__ import annotations

from typing import Any

from agent.evaluation import fields, rules
from agent.evaluation.metrics import Metric, metric


@metric
def settings_valid(response, expected_response):
    """The planned settings survive the SDK's JobSettings round trip and pass jobagent's validation."""
    settings = (response or {}).get("job_settings")
    if not settings:
        if (expected_response or {}).get("job_settings") and not (response or {}).get("questions"):
            return False, (response or {}).get("error") or "no settings and no question"
        return None
    from databricks.sdk.service.jobs import JobSettings

    from agent.validation import settings_problems, unknown_fields

    round_trip = JobSettings.from_dict(settings).as_dict()
    problems = [f"dropped by the SDK: {p}" for p in unknown_fields(settings, round_trip)]
    problems += settings_problems(round_trip)
    return not problems, "; ".join(problems) or "valid"


@metric
def action_correct(response, expected_response):
    """Create vs update as expected."""
    want = (expected_response or {}).get("action")
    if not want:
        return None
    got = (response or {}).get("action")
    return ("yes" if got == want else "no"), f"expected {want}, planned {got}"


@metric
def asks_when_needed(response, expected_response):
    """A question when the row expects one (containing its words, if listed), and none otherwise."""
    expected = (expected_response or {}).get("questions") or False
    asked = list((response or {}).get("questions") or [])
    if not expected:
        return ("no", f"asked needlessly: {asked[0]}") if asked else ("yes", "no question, none needed")
    if not asked:
        return "no", "should have asked a question"
    words = expected if isinstance(expected, list) else []
    text = " ".join(asked).lower()
    missing = [w for w in words if w.lower() not in text]
    return ("no", f"question lacks {missing}: {asked[0]}") if missing else ("yes", asked[0])


def _field_metric(family: str | None) -> Metric:
    name = "field_accuracy" + (f"_{family}" if family else "")

    def score(response, expected_response):
        expected = (expected_response or {}).get("job_settings")
        if not expected:
            return None
        checks = fields.compare(expected, (response or {}).get("job_settings"))
        value, why = fields.accuracy(checks, family)
        return None if value is None else (value, why)

    what = f"the {family} fields" if family else "all expected fields"
    score.__doc__ = f"Share of {what} of the expected job that the plan got right."
    return metric(score, name=name)


def _matches(expected: dict[str, Any], got: dict[str, Any]) -> bool:
    uri = expected.get("doc_uri") or expected.get("url")
    if uri and uri != (got.get("doc_uri") or got.get("url")):
        return False
    title = expected.get("title")
    return not title or title.lower() in (got.get("title") or "").lower()


def _retrieval(kind: str) -> Metric:
    def score(retrieved_context, expected_retrieved_context):
        expected = expected_retrieved_context or []
        if not expected:
            return None
        got = retrieved_context or []
        if kind == "precision":
            if not got:
                return 0.0, "nothing cited"
            hits = [g for g in got if any(_matches(e, g) for e in expected)]
            wrong = [g.get("title") for g in got if g not in hits]
            return len(hits) / len(got), f"not expected: {wrong}" if wrong else "every citation expected"
        found = [e for e in expected if any(_matches(e, g) for g in got)]
        missed = [e.get("title") or e.get("doc_uri") for e in expected if e not in found]
        return len(found) / len(expected), f"missed: {missed}" if missed else "all expected passages cited"

    score.__doc__ = f"Retrieval {kind} of the cited passages against expected_retrieved_context."
    return metric(score, name=f"retrieval_{kind}")


def guideline_metrics(guidelines: rules.Guidelines) -> list[Metric]:
    """`guideline_compliance` (all applicable rules hold) plus one pass/fail metric per rule."""
    all_rules = guidelines.rules
    hard = [r for r in all_rules if not r.advisory]

    @metric
    def guideline_compliance(request, response):
        """Every (non-advisory) guideline that applies to the plan holds (rules in guidelines.yaml)."""
        response = response or {}
        applicable = [r for r in hard if r.applies(request, response)]
        if not applicable:
            return None
        broken = [(r.name, why) for r in applicable if (why := r.violation(response["job_settings"]))]
        text = "; ".join(f"{n}: {w}" for n, w in broken)
        return ("no", text) if broken else ("yes", f"{len(applicable)} rules hold")

    def one(rule: rules.Rule) -> Metric:
        def check(request, response):
            response = response or {}
            if not rule.applies(request, response):
                return None
            why = rule.violation(response["job_settings"])
            return ("no", why) if why else ("yes", rule.description)

        check.__doc__ = rule.description
        return metric(check, name=f"guideline_{rule.name}")

    return [guideline_compliance, *(one(r) for r in all_rules)]


@metric(greater_is_better=False)
def plan_latency_ms(trace):
    """Wall time of the traced Tech Lead call, from the MLflow trace."""
    if trace is None:
        return None
    return float(trace.info.execution_time_ms or 0)


def builtin_metrics(guidelines: rules.Guidelines | None = None) -> list[Metric]:
    """All built-in metrics, guideline ones from `guidelines` (default: guidelines.yaml)."""
    guidelines = guidelines or rules.load()
    return [
        settings_valid,
        action_correct,
        asks_when_needed,
        _field_metric(None),
        *(_field_metric(f) for f in fields.FAMILIES),
        _retrieval("precision"),
        _retrieval("recall"),
        *guideline_metrics(guidelines),
        plan_latency_ms,
    ]

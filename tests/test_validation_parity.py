"""The planner and the Databricks emulator judge job settings alike (tests/data/invalid_jobs.yaml).

A plan must never be approvable when apply is certain to fail: whatever the emulator (standing in for
the Jobs API) refuses, `settings_problems` + `unknown_fields` report, in words that say what to change;
valid payloads near each rule pass both. Payloads go to the emulator raw, through the SDK's own HTTP
client (`api_client.do`): `JobSettings.from_dict(...).as_dict()` would drop unknown fields, empty
collections and unknown enum values before sending, hiding the very thing under test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.sdk import errors as dbx

from agent.validation import settings_problems, unknown_fields
from standins.databricks import WorkspaceEmulator

DATA = yaml.safe_load((Path(__file__).parent / "data" / "invalid_jobs.yaml").read_text(encoding="utf-8"))
BASES: dict[str, dict[str, Any]] = DATA["bases"]
CASES: list[dict[str, Any]] = DATA["cases"]
EXPECT = ("refused", "accepted", "planner_only")


# -- building a case's settings ------------------------------------------------------------------


def expand(value: Any) -> Any:
    """`{$repeat: x, times: n}` → x repeated n times: a string or list n times as long, else n copies."""
    if isinstance(value, dict) and "$repeat" in value:
        item, times = value["$repeat"], value["times"]
        if isinstance(item, str | list):
            return copy.deepcopy(item * times)
        return [copy.deepcopy(item) for _ in range(times)]
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """JSON merge patch (RFC 7396): objects merge, everything else replaces, null deletes."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict) and "$repeat" not in value:
            merge(target[key], value)
        else:
            target[key] = expand(value)


def set_path(target: Any, path: str, value: Any) -> None:
    """Set `a.0.b` (a number indexes a list; one past the end appends); None deletes."""
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if isinstance(target, list):
        index = int(last)
        if value is None:
            del target[index]
        elif index == len(target):
            target.append(expand(value))
        else:
            target[index] = expand(value)
    elif value is None:
        target.pop(last, None)
    else:
        target[last] = expand(value)


def build(case: dict[str, Any]) -> dict[str, Any]:
    settings = copy.deepcopy(BASES[case["base"]])
    merge(settings, copy.deepcopy(case.get("patch") or {}))
    for path, value in (case.get("set") or {}).items():
        set_path(settings, path, copy.deepcopy(value))
    return settings


def planner(settings: dict[str, Any]) -> list[str]:
    return settings_problems(settings) + unknown_fields(settings)


# -- the emulator, through the SDK's own HTTP client -----------------------------------------------


@pytest.fixture(scope="module")
def w():
    emu = WorkspaceEmulator()
    emu.start()
    try:
        yield emu.client(retry_timeout_seconds=10, http_timeout_seconds=10)
    finally:
        emu.stop()


def create(w, settings: dict[str, Any]) -> dict[str, Any]:
    return w.api_client.do("POST", "/api/2.2/jobs/create", body=settings)


# -- the file itself ------------------------------------------------------------------------------


def test_the_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    for case in CASES:
        assert case["expect"] in EXPECT, case["id"]
        assert case["base"] in BASES, case["id"]
        assert case.get("why"), case["id"]
        assert bool(case.get("planner_says")) == (case["expect"] != "accepted"), case["id"]
        assert case.get("patch") or case.get("set") or case["id"].startswith("base-"), case["id"]
    counts = {e: sum(c["expect"] == e for c in CASES) for e in EXPECT}
    assert counts["refused"] >= 60 and counts["accepted"] >= 20 and counts["planner_only"] >= 5, counts


def test_the_helpers_build_what_the_file_says():
    case = {
        "base": "chain",
        "patch": {"schedule": None, "tags": {"team": {"$repeat": "x", "times": 3}}},
        "set": {"tasks.1.depends_on.0.task_key": "load", "parameters.1": {"name": "b", "default": ""}},
    }
    got = build(case)
    assert "schedule" not in got and got["tags"] == {"team": "xxx"}
    assert got["tasks"][1]["depends_on"] == [{"task_key": "load"}]
    assert got["parameters"] == [{"name": "env", "default": "dev"}, {"name": "b", "default": ""}]
    assert BASES["chain"]["tasks"][1]["depends_on"] == [{"task_key": "ingest"}]  # bases stay untouched
    assert len(build({"base": "cluster", "set": {"name": {"$repeat": "€", "times": 1366}}})["name"]) == 1366


# -- the parity ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_planner_and_emulator_agree(w, case):
    settings = build(case)
    problems = planner(settings)
    if case["expect"] == "accepted":
        assert problems == [], problems
    else:
        assert problems, f"the planner approves what it should report: {case['why']}"
        assert any(case["planner_says"] in p for p in problems), problems

    if case["expect"] == "refused":
        with pytest.raises(dbx.BadRequest) as err:
            create(w, settings)
        assert err.value.error_code in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST"), err.value
    else:
        assert isinstance(create(w, settings).get("job_id"), int)

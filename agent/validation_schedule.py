"""When a job runs: schedule, continuous and trigger (each exclusive of the others), Quartz limits."""

from __future__ import annotations

import dataclasses
from typing import Any

from databricks.sdk.service.jobs import TriggerSettings

from agent.quartz import quartz_error, timezone_error

# A trigger fires on exactly one of these (`pause_status` and `sql_condition` only qualify it).
TRIGGER_KINDS = tuple(
    f.name for f in dataclasses.fields(TriggerSettings) if f.name not in ("pause_status", "sql_condition")
)
PAUSE = ("PAUSED", "UNPAUSED")
MIN_TRIGGER_SECONDS = 60


def schedule_problems(s: dict[str, Any]) -> list[str]:
    out = _exclusive(s)
    sched = s.get("schedule")
    if isinstance(sched, dict) and sched:
        expr, tz = sched.get("quartz_cron_expression"), sched.get("timezone_id")
        if isinstance(expr, str) and expr:
            err = quartz_error(expr) or quartz_limits(expr)
            if err:
                out.append(f"Schedule {expr!r} is not valid Quartz cron: {err}")
        if isinstance(tz, str) and tz:
            tz_err = timezone_error(tz)
            if tz_err:
                out.append(f"Time zone {tz!r}: {tz_err}")
        out.extend(_pause(sched, "schedule"))
    if isinstance(s.get("continuous"), dict):
        out.extend(_pause(s["continuous"], "continuous"))
    trigger = s.get("trigger")
    if isinstance(trigger, dict) and trigger:
        out.extend(_pause(trigger, "trigger"))
        out.extend(trigger_problems(trigger))
    return out


def _exclusive(s: dict[str, Any]) -> list[str]:
    """JobSettings: only one of schedule and continuous; trigger excludes both (Jobs API); the newer
    `triggers` list cannot be combined with any of the three."""
    given = [k for k in ("schedule", "trigger", "continuous") if s.get(k)]
    out = []
    if len(given) > 1:
        out.append(
            f"The job has both {' and '.join(given)}; a job can start runs from only one of schedule, "
            f"trigger and continuous. Keep one and remove {', '.join(given[1:])}."
        )
    if s.get("triggers") and given:
        out.append(f"triggers cannot be combined with {' or '.join(given)}; use one way of starting runs.")
    return out


def _pause(obj: dict[str, Any], where: str) -> list[str]:
    status = obj.get("pause_status")
    if status is None or status in PAUSE:
        return []
    return [f"{where}.pause_status must be PAUSED or UNPAUSED, not {status!r}."]


def trigger_problems(trigger: dict[str, Any]) -> list[str]:
    out = []
    kinds = [k for k in TRIGGER_KINDS if trigger.get(k)]
    if len(kinds) != 1:
        got = f" (it has {', '.join(kinds)})" if kinds else ""
        names = ", ".join(TRIGGER_KINDS[:-1]) + " or " + TRIGGER_KINDS[-1]
        out.append(f"A trigger needs exactly one of {names}{got}.")
    for kind in ("file_arrival", "table_update"):
        cfg = trigger.get(kind)
        if not isinstance(cfg, dict):
            continue
        for key in ("min_time_between_triggers_seconds", "wait_after_last_change_seconds"):
            value = cfg.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < MIN_TRIGGER_SECONDS:
                out.append(
                    f"trigger.{kind}.{key} is {value:g}; the minimum is {MIN_TRIGGER_SECONDS} seconds. "
                    f"Use {MIN_TRIGGER_SECONDS} or more (or leave it out)."
                )
    tables = (trigger.get("table_update") or {}) if isinstance(trigger.get("table_update"), dict) else {}
    for name in tables.get("table_names") or []:
        if not isinstance(name, str) or len(name.split(".")) != 3 or not all(name.split(".")):
            out.append(
                f"trigger.table_update.table_names: {name!r} is not a full table name; "
                "write it as catalog.schema.table."
            )
    periodic = trigger.get("periodic")
    if isinstance(periodic, dict):
        interval = periodic.get("interval")
        if isinstance(interval, int | float) and not isinstance(interval, bool) and interval < 1:
            out.append(f"trigger.periodic.interval is {interval:g}; it must be 1 or more.")
    return out


def quartz_limits(expr: str) -> str | None:
    """What Quartz's CronExpression refuses although each field parses: 'L' in a list of days, and
    more than one 'nth weekday' ('#')."""
    fields = expr.split()
    if len(fields) < 6:
        return None
    dom, dow = fields[3].upper(), fields[5].upper()
    if "L" in dom and len(dom) > 1 and "," in dom:
        return (
            f"day of month {fields[3]!r} combines 'L' (the last day) with other days, which Quartz does "
            "not support. Use 'L' alone, or one job per day."
        )
    if "L" in dow and len(dow) > 1 and "," in dow:
        return (
            f"day of week {fields[5]!r} combines a last weekday ('L') with other days, which Quartz does "
            "not support. Use it alone, or one job per day."
        )
    if dow.count("#") > 1:
        return (
            f"day of week {fields[5]!r} names several 'nth weekday' days ('#'); Quartz allows only one. "
            "Use one, or one job per day."
        )
    return None

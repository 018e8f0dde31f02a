"""The agent's built-in Unity Catalog functions, defined here in the project's own code only.

Python built-ins are registered from their source with `create_python_function`: only the body is
stored and it runs in a sandbox, so each body imports what it needs and cannot import the project.
`check_job_name` is a SQL function: one rule rendered as a SQL `CREATE FUNCTION` for Databricks and,
because the open-source client can only store and run Python bodies, as the same rule in Python there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def next_run_times(cron: str, timezone_id: str, count: int) -> str:
    """Next fire times of a Quartz cron schedule, as the Databricks Jobs scheduler would run it.

    Supports fixed values, ranges, lists, steps (*/15, 0/5), * and ?, and JAN-DEC / SUN-SAT names
    (seconds come first, day-of-week 1 = SUN); not L, W or #.

    Args:
        cron: Quartz cron expression with seconds first, e.g. "0 30 6 ? * MON-FRI".
        timezone_id: IANA time zone id, e.g. "UTC" or "Europe/Berlin".
        count: How many fire times to list, 1 to 20.

    Returns:
        One ISO-8601 time per line in the schedule's time zone, or a line starting with "error:".
    """
    import datetime as dt
    import itertools
    from zoneinfo import ZoneInfo

    months = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    days = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
    names = [{}] * 4 + [{m: i for i, m in enumerate(months, 1)}, {d: i for i, d in enumerate(days, 1)}, {}]
    bounds = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2099)]
    fields = cron.upper().split() + ["*"] * (len(cron.split()) == 6)
    if len(fields) != 7:
        return "error: Quartz cron needs 6 or 7 fields, seconds first, e.g. '0 0 2 * * ?'"
    if not 1 <= count <= 20:
        return "error: count must be between 1 and 20"
    try:
        zone = ZoneInfo(timezone_id)
    except Exception:
        return f"error: unknown time zone {timezone_id!r}; use e.g. 'UTC' or 'Europe/Berlin'"
    sets = []
    for i, text in enumerate(fields):
        (lo, hi), values = bounds[i], set()
        for part in text.split(","):
            base, _, step = part.partition("/")
            try:
                if base in ("*", "?"):
                    a, b = lo, hi
                elif "-" in base:
                    a, b = (names[i].get(x) or int(x) for x in base.split("-", 1))
                else:
                    a = names[i].get(base) or int(base)
                    b = hi if step else a
                if not lo <= a <= b <= hi or (step and int(step) < 1):
                    raise ValueError
                values.update(range(a, b + 1, int(step or 1)))
            except ValueError:
                return f"error: {part!r} is not supported here (range {lo}-{hi}; no L, W or #)"
        sets.append(values)
    now = dt.datetime.now(dt.UTC)
    day, found = now.astimezone(zone).date(), []
    while len(found) < count and day.year <= 2099:
        if (
            day.year in sets[6]
            and day.month in sets[4]
            and (fields[3] == "?" or day.day in sets[3])
            and (fields[5] == "?" or day.isoweekday() % 7 + 1 in sets[5])
        ):
            for h, m, s in itertools.product(sorted(sets[2]), sorted(sets[1]), sorted(sets[0])):
                at = dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=zone).astimezone(dt.UTC)
                if at > now and at not in found:
                    found.append(at)
                if len(found) == count:
                    break
        day += dt.timedelta(days=1)
    return "\n".join(t.astimezone(zone).isoformat() for t in sorted(found)) or "error: it never fires"


def estimate_job_cost(node_type_id: str, num_workers: int, hours_per_run: float, runs_per_month: int) -> str:
    """Rough monthly cost of a job cluster, from a small built-in price table (illustrative only).

    The table holds approximate DBU rates and on-demand VM prices in USD for a few common node types,
    with jobs compute at 0.15 USD per DBU; real costs depend on cloud, region, tier, discounts and
    Photon, so treat the answer as an order of magnitude and check your own pricing.

    Args:
        node_type_id: Cluster node type, e.g. "i3.xlarge" or "Standard_DS3_v2".
        num_workers: Number of worker nodes (the driver is added).
        hours_per_run: Cluster hours per run, e.g. 0.5.
        runs_per_month: Runs per month, e.g. 30 for a daily job.

    Returns:
        An estimate in USD per month with its assumptions, or a line starting with "error:".
    """
    table = {  # node type: (DBU per hour, VM USD per hour); illustrative, not a price list
        "m5d.large": (0.34, 0.113),
        "i3.xlarge": (1.0, 0.312),
        "i3.2xlarge": (2.0, 0.624),
        "r5d.xlarge": (1.0, 0.288),
        "c5d.2xlarge": (1.0, 0.384),
        "Standard_DS3_v2": (0.75, 0.293),
        "Standard_DS4_v2": (1.5, 0.585),
        "Standard_E8ds_v4": (2.0, 0.632),
        "n2-standard-4": (0.75, 0.194),
        "n2-highmem-8": (1.5, 0.524),
    }
    dbu_price = 0.15
    if num_workers < 0 or hours_per_run <= 0 or runs_per_month < 0:
        return "error: num_workers and runs_per_month must be >= 0 and hours_per_run > 0"
    dbu, vm = table.get(node_type_id, (1.0, 0.30))
    nodes = num_workers + 1
    hours = hours_per_run * runs_per_month
    monthly = nodes * hours * (dbu * dbu_price + vm)
    known = (
        "" if node_type_id in table else f" ({node_type_id} is not in the table: assumed 1 DBU/h, $0.30/h VM)"
    )
    return (
        f"about ${monthly:,.2f} per month: {nodes} nodes x {hours:g} h x "
        f"({dbu:g} DBU/h x ${dbu_price}/DBU + ${vm}/h VM){known}; illustrative prices only"
    )


# -- check_job_name: one rule, two renderings ---------------------------------------------------------

NAME_PATTERN = "^([a-z][a-z0-9]*(-[a-z0-9]+)*/)?[a-z][a-z0-9]*(-[a-z0-9]+)*$"
NAME_LENGTH = "job name must be 3-64 characters, got "
NAME_SHAPE = (
    "job name must be lowercase-kebab like 'nightly-ingest', optionally with a team prefix "
    "like 'finance/nightly-ingest'"
)


@dataclass(frozen=True)
class SqlFunction:
    """A function whose definition is SQL; `python_body` is the same rule for the open-source client."""

    name: str
    params: tuple[tuple[str, str, str], ...]  # (name, SQL type, comment)
    returns: str
    comment: str
    sql_expr: str
    python_body: str

    def create_sql(self, catalog: str, schema: str) -> str:
        params = ", ".join(f"{n} {t} COMMENT '{c}'" for n, t, c in self.params)
        return (
            f"CREATE OR REPLACE FUNCTION `{catalog}`.`{schema}`.`{self.name}`({params})\n"
            f"RETURNS {self.returns}\nCOMMENT '{self.comment}'\nRETURN {self.sql_expr}"
        )

    def oss_params(self) -> list[dict[str, Any]]:
        import json

        return [
            {
                "name": n,
                "type_name": t,
                "type_text": t,
                "type_json": json.dumps({"name": n, "type": t.lower(), "nullable": False, "metadata": {}}),
                "position": i,
                "comment": c,
            }
            for i, (n, t, c) in enumerate(self.params)
        ]


CHECK_JOB_NAME = SqlFunction(
    name="check_job_name",
    params=(("name", "STRING", "The job name to check."),),
    returns="STRING",
    comment="Job naming policy: lowercase-kebab, 3-64 characters, optional team prefix (team/name). "
    "Returns an empty string when the name is fine, else the violation.",
    sql_expr=(
        "CASE\n"
        f"  WHEN name IS NULL OR char_length(name) NOT BETWEEN 3 AND 64\n"
        f"    THEN concat('{NAME_LENGTH}', coalesce(char_length(name), 0))\n"
        f"  WHEN NOT name RLIKE '{NAME_PATTERN}' THEN '{NAME_SHAPE}'\n"
        "  ELSE ''\nEND"
    ),
    python_body=(
        "import re\n"
        "if name is None or not 3 <= len(name) <= 64:\n"
        f"    return {NAME_LENGTH!r} + str(len(name or ''))\n"
        f"if not re.fullmatch({NAME_PATTERN!r}, name):\n"
        f"    return {NAME_SHAPE!r}\n"
        "return ''"
    ),
)


@dataclass(frozen=True)
class Builtin:
    """One function to register: from a Python callable or from a SqlFunction."""

    name: str
    source: Any  # a Python function or a SqlFunction
    policy: bool = False


BUILTINS = (
    Builtin("next_run_times", next_run_times),
    Builtin("estimate_job_cost", estimate_job_cost),
    Builtin("check_job_name", CHECK_JOB_NAME),
)

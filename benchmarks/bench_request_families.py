"""Request families: how often the parser gets a job feature right, and whether it discloses its misses.

    python benchmarks/bench_request_families.py [--family NAME ...] [--verbose] [--repeat N] [--data FILE]

Every request in benchmarks/data/request_families.yaml (Slack-style requests in families: schedule, compute,
notifications, retries, chaining, if/else, for-each, duration warnings, queue, run-as, git source,
libraries, pools/spot, Spark conf/env, SQL dashboards/alerts, pipelines, webhooks, permissions,
unsupported task kinds, follow-ups; the file's header gives the format) is parsed with `parse_request`
and graded:

  correct    every `expect` path holds, no `absent` path exists, and every `must_disclose` substring
             appears in some `unused` entry or some question
  disclosed  wrong, but every failed part is disclosed: the plan says what it did not do
  silent     wrong, and some failed part is not disclosed: a plausible plan hiding a miss (the dangerous kind)
  error      parse_request raised (a miss, never a disclosed one; shown apart since it is loud, not silent)

Disclosure rule, kept simple on purpose. Words are runs of letters, digits and "_" (lowercased). A failed
`expect` or `absent` path is disclosed when some `unused` entry or question contains a word of the request
that is related to the path: a word of its expected value (an id, an address, a number, a name), the task
key its selector names, or a cue word of a field on the path (CUES in this script: "health" → longer,
slow, warn, ...); for a number (durations are in seconds, "45m" is 2700) any number the request gives.
Only words that occur in the request count, and a few ubiquitous ones (STOP) never do. A failed count
(`len(...)`) is disclosed when another failed part of the same request is. With no settings at all and
a question asked, nothing can be applied before it is answered: every failed path counts as disclosed.
A failed `must_disclose` is never disclosed: it is exactly what had to be named. A miss is disclosed
when all its failed parts are. Assumptions do not count: they say what the parser did, not what it left
undone.

Printed: a table per family (n, correct, disclosed, silent, error), overall accuracy, the share of misses
disclosed (disclosed misses / all misses) and the median parse time per request. --verbose lists every
miss on stderr with its failed paths (what was expected, what came out), the parser's `unused` and its
questions. The exit status is always 0: this measures, it does not assert.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / "data" / "request_families.yaml"
BASES = {"ingest": ROOT / "tests" / "specs" / "ingest.json"}
MISSING = object()

# Cue words per Jobs API field: an unindented line names fields, the indented lines under it their cue words.
# A failed path is related to the cue words of every field named on it.
_CUES = """
schedule quartz_cron_expression timezone_id
    every evry daily nightly hourly weekly monthly weekday weekdays cron morning night midnight noon am pm
    tz timezone min minutes hours month monday mondays tuesday wednesday thursday friday fridays saturday
    sunday sundays last
pause_status
    pause paused unpause hold
job_clusters new_cluster existing_cluster_id num_workers autoscale min_workers max_workers node_type_id
driver_node_type_id spark_version runtime_engine policy_id job_cluster_key
    cluster workers worker nodes node autoscale driver runtime dbr photon gpu ml lts policy serverless
    compute shared existing single
environments environment_key spec dependencies
    serverless environment needs install pip
email_notifications on_failure on_success on_start notification_settings no_alert_for_skipped_runs
no_alert_for_canceled_runs
    email mail mailto notify alert ping page fails failure failures succeeds success start starts
    finishes done breaks skipped cancelled canceled
max_retries min_retry_interval_millis retry_on_timeout
    retry retries retrying retires attempts tries twice
timeout_seconds
    timeout timout kill cap limit abort
depends_on run_if
    then after before finally first done finishes fail fails parallel side even either
condition_task left op right outcome
    if else otherwise condition cond check whether true false equals greater less only
for_each_task inputs concurrency
    each every loop iterate foreach input concurrent parallel
health rules metric on_duration_warning_threshold_exceeded
    longer slow warn warning sla duration threshold heads still past over
queue enabled
    queue queueing queued line wait skip skipped
max_concurrent_runs
    concurrent parallel once overlap simultaneous
run_as service_principal_name group_name
    sp principal service group under identity
git_source git_url git_provider git_branch git_tag git_commit
    git github gitlab bitbucket ghe repo branch tag commit devops azure
libraries pypi maven whl jar requirements cran package coordinates
    library libraries lib install pypi pip maven jar wheel whl cran requirements package needs
aws_attributes azure_attributes gcp_attributes availability first_on_demand spot_bid_price_percent
instance_pool_id driver_instance_pool_id
    spot demand fallback preemptible pool instance bid price aws azure gcp
spark_conf spark_env_vars
    spark conf config env var vars variable export aqe
sql_task dashboard alert query dashboard_id alert_id query_id warehouse_id subscriptions custom_subject
pause_subscriptions
    sql dashboard alert query warehouse subscriptions subject send evaluate
pipeline_task pipeline_id full_refresh full_refresh_selection refresh_selection
    pipeline refresh full dlt lakeflow tables table only mode
webhook_notifications
    webhook destination slack teams pagerduty hook
notebook_task notebook_path spark_python_task python_file parameters base_parameters
    notebook python script file param params parameter
run_job_task job_id
    trigger
dbt_task commands
    dbt build
name
    called named name
tags
    tag tags label
access_control_list
    permission permissions manage view grant share owner access admins edit
"""


def _cue_table(text: str) -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    fields: list[str] = []
    cues_given = False
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            fields = fields + line.split() if not cues_given else line.split()
            cues_given = False
            continue
        cues_given = True
        for f in fields:
            table.setdefault(f, set()).update(line.split())
    return table


CUES = _cue_table(_CUES)
# Words of values and selectors that say nothing about a particular field.
STOP = set(
    """
    the a an and or of to in on at it is for with run job task tasks values repos workspace users shared
    volumes dbfs etl com corp co org io net www http https example
    """.split()  # noqa: SIM905 - a word list reads best as words
)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9_]+", text.lower()))


# ---------------------------------------------------------------- paths (as in tests/data/parser_cases.yaml)
_TOKEN = re.compile(r"\.?(?P<name>[^.\[\]]+)|\[(?P<sel>\"[^\"]*\"|'[^']*'|[^\]]*)\]")


def tokens(path: str) -> list[tuple[str, str]]:
    out, at = [], 0
    for m in _TOKEN.finditer(path):
        if m.start() != at:
            raise ValueError(f"bad path {path!r}")
        out.append(("name", m.group("name")) if m.group("name") is not None else ("sel", m.group("sel")))
        at = m.end()
    if at != len(path):
        raise ValueError(f"bad path {path!r}")
    return out


def get(data: Any, path: str) -> Any:
    """`a.b`, `tasks[key]` (by task_key), `[0]`, `tasks[?field.sub]` (first with that path),
    `conf["a.b"]` (a key with dots), `len(path)`."""
    m = re.fullmatch(r"len\((.+)\)", path)
    if m:
        value = get(data, m.group(1))
        return value if value is MISSING else len(value)
    for kind, tok in tokens(path):
        if kind == "name":
            if not isinstance(data, dict) or tok not in data:
                return MISSING
            data = data[tok]
        elif tok[:1] in "\"'":
            if not isinstance(data, dict) or tok[1:-1] not in data:
                return MISSING
            data = data[tok[1:-1]]
        elif not isinstance(data, list):
            return MISSING
        elif tok.isdigit():
            data = data[int(tok)] if int(tok) < len(data) else MISSING
        elif tok.startswith("?"):
            data = next((x for x in data if get(x, tok[1:]) is not MISSING), MISSING)
        else:
            data = next((x for x in data if isinstance(x, dict) and x.get("task_key") == tok), MISSING)
        if data is MISSING:
            return MISSING
    return data


def path_fields(path: str) -> tuple[set[str], set[str]]:
    """(field names on the path, task keys its selectors name)."""
    inner = re.fullmatch(r"len\((.+)\)", path)
    names, keys = set(), set()
    for kind, tok in tokens(inner.group(1) if inner else path):
        if kind == "name":
            names.add(tok)
        elif tok.startswith("?"):
            names.update(tok[1:].split("."))
        elif tok[:1] not in "\"'" and not tok.isdigit():
            keys.add(tok)
    return names, keys


# ---------------------------------------------------------------- comparing values
try:
    from agent.quartz import next_fire_times
except ImportError:  # pragma: no cover - crons then compare as text
    next_fire_times = None

_EPOCH = datetime(2025, 1, 1)


def same(got: Any, want: Any, path: str = "") -> bool:
    """Equal as settings: lists as multisets, JSON strings as JSON, Quartz crons by their next fire times."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, str) and isinstance(got, str):
        if want == got:
            return True
        if path.endswith("quartz_cron_expression") and next_fire_times:
            try:
                return next_fire_times(got, "UTC", 60, _EPOCH) == next_fire_times(want, "UTC", 60, _EPOCH)
            except ValueError:
                return False
        if want.lstrip()[:1] in "[{":
            try:
                return same(json.loads(got), json.loads(want))
            except ValueError:
                return False
        return False
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return False
        left = list(got)
        for w in want:
            hit = next((i for i, g in enumerate(left) if same(g, w)), None)
            if hit is None:
                return False
            left.pop(hit)
        return True
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(same(got[k], want[k]) for k in want)
    return got == want


def leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *leaves(v)]]
    if isinstance(value, list):
        return [s for v in value for s in leaves(v)]
    return [] if value is None else [str(value)]


# ---------------------------------------------------------------- grading
@dataclass
class Failure:
    path: str
    want: Any
    got: Any
    kind: str  # "expect" | "absent" | "must_disclose"
    disclosed: bool = False


@dataclass
class Outcome:
    item: dict
    failures: list[Failure] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    error: str | None = None
    ms: float = 0.0

    @property
    def grade(self) -> str:
        if self.error:
            return "error"
        if not self.failures:
            return "correct"
        return "disclosed" if all(f.disclosed for f in self.failures) else "silent"


def related(item: dict, f: Failure) -> set[str]:
    names, keys = path_fields(f.path)
    cues = set().union(*(CUES.get(n, set()) for n in names))
    specific = (words(" ".join(leaves(f.want))) | set().union(*(words(k) for k in keys))) - STOP
    said = words(item["request"])
    if any(_number(v) for v in _scalars(f.want)):  # "45m" is 2700 seconds: any number said is related
        specific |= {w for w in said if w[0].isdigit()}
    return (cues | specific) & said


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [value]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def grade(item: dict, parse_request, defaults_cls) -> Outcome:
    out = Outcome(item)
    base = item.get("base")
    if isinstance(base, str):
        base = json.loads(BASES[base].read_text())
    try:
        defaults = defaults_cls(**(item.get("defaults") or {}))
        t0 = time.perf_counter()
        result = parse_request(item["request"], base=copy.deepcopy(base) if base else None, defaults=defaults)
        out.ms = (time.perf_counter() - t0) * 1000
    except Exception as e:  # noqa: BLE001 - a crash is a miss (graded "error"), not the end of the run
        out.error = f"{type(e).__name__}: {e}"
        return out
    settings = result.settings or {}
    out.unused, out.questions = list(result.unused), list(result.questions)
    said = words(" ".join(out.unused + out.questions))
    told = " ".join(out.unused + out.questions).lower()
    for path, want in (item.get("expect") or {}).items():
        got = get(settings, path)
        ok = got is MISSING if want is None else got is not MISSING and same(got, want, path)
        if not ok:
            out.failures.append(Failure(path, want, got, "expect"))
    for path in item.get("absent") or []:
        got = get(settings, path)
        if got is not MISSING:
            out.failures.append(Failure(path, None, got, "absent"))
    for f in out.failures:
        f.disclosed = bool(related(item, f) & said) or (result.settings is None and bool(out.questions))
    counted = any(f.disclosed for f in out.failures if not f.path.startswith("len("))
    for f in out.failures:
        if f.path.startswith("len("):
            f.disclosed = f.disclosed or counted
    for text in item.get("must_disclose") or []:
        if text.lower() not in told:
            out.failures.append(Failure(text, text, None, "must_disclose"))
    return out


def shown(value: Any) -> str:
    return "—" if value is MISSING else json.dumps(value, ensure_ascii=False)


def report_miss(o: Outcome) -> None:
    print(f"{o.grade}: {o.item['id']} ({o.item['family']}): {o.item['request']!r}", file=sys.stderr)
    if o.error:
        print(f"    error: {o.error}", file=sys.stderr)
    for f in o.failures:
        mark = "disclosed" if f.disclosed else "hidden"
        if f.kind == "must_disclose":
            print(f"    [{mark}] must disclose {f.path!r}", file=sys.stderr)
        elif f.kind == "absent":
            print(f"    [{mark}] {f.path} should be absent, got {shown(f.got)}", file=sys.stderr)
        else:
            want = "absent" if f.want is None else json.dumps(f.want, ensure_ascii=False)
            print(f"    [{mark}] {f.path}: got {shown(f.got)}, want {want}", file=sys.stderr)
    print(f"    unused: {o.unused}", file=sys.stderr)
    print(f"    questions: {o.questions}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", type=Path, default=DATA, help=f"the labelled requests (default {DATA.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--family", action="append", help="only families whose name contains this (repeatable)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="parse each request this many times for the timing (default 1)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="list every miss on stderr: failed paths, unused, questions"
    )
    args = parser.parse_args()
    try:
        from agent.techlead import ParserDefaults, parse_request
    except Exception as e:  # noqa: BLE001 - the parser is mid-edit: report it, measure nothing
        print(f"parser_import_error: {type(e).__name__}: {e}")
        return
    items = yaml.safe_load(args.data.read_text()) or []
    if args.family:
        items = [i for i in items if any(f in i["family"] for f in args.family)]
    outcomes: list[Outcome] = []
    times: list[float] = []
    for item in items:
        o = grade(item, parse_request, ParserDefaults)
        times.append(o.ms)
        for _ in range(max(0, args.repeat - 1)):
            times.append(grade(item, parse_request, ParserDefaults).ms)
        outcomes.append(o)

    families = list(dict.fromkeys(i["family"] for i in items))
    width = max([len("family"), *map(len, families)])
    print(f"{'family':<{width}}  {'n':>3}  {'correct':>7}  {'disclosed':>9}  {'silent':>6}  {'error':>5}")
    rows = [(fam, [o for o in outcomes if o.item["family"] == fam]) for fam in families]
    for fam, group in [*rows, ("all", outcomes)]:
        if fam == "all":
            print("-" * (width + 42))
        count = {g: sum(o.grade == g for o in group) for g in ("correct", "disclosed", "silent", "error")}
        cells = (
            f"{len(group):>3}  {count['correct']:>7}  {count['disclosed']:>9}  {count['silent']:>6}"
            f"  {count['error']:>5}"
        )
        print(f"{fam:<{width}}  {cells}")
    n = len(outcomes)
    correct = sum(o.grade == "correct" for o in outcomes)
    disclosed = sum(o.grade == "disclosed" for o in outcomes)
    errors = sum(o.grade == "error" for o in outcomes)
    misses = n - correct
    print(f"requests: {n}")
    print(f"accuracy: {correct / n:.3f}" if n else "accuracy: n/a")
    print(f"misses: {misses} (disclosed {disclosed}, silent {misses - disclosed - errors}, error {errors})")
    print(f"misses_disclosed_share: {disclosed / misses:.3f}" if misses else "misses_disclosed_share: n/a")
    ok_times = [t for t in times if t]
    if ok_times:
        print(f"parse_ms_median: {statistics.median(ok_times):.2f}")
    if args.verbose:
        for o in outcomes:
            if o.grade != "correct":
                report_miss(o)


if __name__ == "__main__":
    main()
    sys.exit(0)

"""Bridge between plain-English requests and API field names, for BM25's benefit.

BM25 only matches words, so two cheap tricks carry most of the weight:
* identifiers are split ("quartz_cron_expression" -> "quartz cron expression", "JobSettings" ->
  "job settings") both at index time and at query time, so either spelling matches the other;
* a small concept map adds the API vocabulary a request implies ("email me" -> email_notifications
  on_failure). Patterns describe concepts, not particular sentences.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+|[A-Za-z]*[a-z][A-Z][A-Za-z0-9]*")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_CLOCK = r"\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|midnight|noon"

# (pattern, API vocabulary it implies). Matched case-insensitively against the whole query.
CONCEPTS: list[tuple[str, str]] = [
    # notifications
    (r"\b(?:e-?mails?|mail me|notif\w*|alert\w*|page me|ping me|let (?:me|us) know|tell (?:me|us)|warn\w*)\b",
     "email_notifications notification_settings on_failure"),
    (r"\b(?:slack|teams|webhooks?|pagerduty)\b", "webhook_notifications notification destination"),
    (r"\b(?:fail\w*|errors?|errored|break\w*|broke|crash\w*|goes wrong)\b", "on_failure failed"),
    (r"\b(?:succe\w*|finish\w*|complet\w*|done)\b", "on_success"),
    (r"\b(?:starts?|started|begins?|kicks? off)\b", "on_start"),
    # scheduling
    (rf"\b(?:nightly|daily|hourly|weekly|monthly|yearly|every|"
     rf"each (?:day|night|hour|week|month|year|{_DAYS})|weekdays?|weekends?|{_DAYS}|cron\w*|"
     rf"schedul\w*|periodic\w*|recurring|mornings?|evenings?|nights?|{_CLOCK})\b",
     "schedule quartz_cron_expression timezone_id"),
    (r"\b(?:time ?zones?|tz|utc|gmt|cet|[ecmp][sd]t|(?-i:(?:[A-Z][a-z]+ )+[Tt]ime)|"
     r"(?:africa|america|asia|atlantic|australia|europe|indian|pacific|etc)/\w+)\b", "timezone_id"),
    (r"\b(?:pause\w*|unpause\w*|disabl\w*|suspend\w*)\b", "pause_status"),
    (r"\b(?:continuous\w*|always running|24/7|non-?stop)\b", "continuous"),
    # triggers
    (r"\b(?:files? (?:arriv\w*|lands?|landing|appears?|shows? up|drops?|is uploaded|are uploaded)|"
     r"new files?|arriv\w*|lands?|landing|upload\w*|dropped)\b",
     "file_arrival trigger file arrival"),
    (r"\b(?:volumes?|buckets?|s3|adls|gcs|storage location|folder|directory)\b", "file_arrival url"),
    (r"\btables? (?:is |are |gets? )?(?:updated|changes?|changed|modified|refreshed)\b",
     "table_update trigger"),
    # retries
    (r"\b(?:retr\w*|re-?run\w*|try again|attempts?|flaky|again)\b",
     "max_retries min_retry_interval_millis retry_on_timeout"),
    # compute
    (r"\b(?:clusters?|workers?|nodes?|machines?|instances?|executors?|compute|vms?|driver)\b",
     "new_cluster num_workers node_type_id job_clusters"),
    (r"\b(?:autoscal\w*|scal\w*|(?:between \d+ and|up to|at least|at most|min(?:imum)?(?: of)?|"
     r"max(?:imum)?(?: of)?) \d* ?(?:workers?|nodes?|machines?|executors?))\b",
     "autoscale min_workers max_workers"),
    (r"\b(?:(?:shared?|reus\w*|same|one) (?:job )?clusters?|job clusters?)\b",
     "job_clusters job_cluster_key"),
    (r"\b(?:small|tiny|large|big|medium|memory|cpus?|gpus?|cores?)\b", "node_type_id num_workers"),
    (r"\b(?:runtime|dbr|spark versions?|lts)\b", "spark_version"),
    (r"\b(?:spark conf\w*|spark config\w*|spark properties|spark\.[a-z]+\.[\w.]+)", "spark_conf"),
    (r"\b(?:idle|auto-?terminat\w*|shut ?down|terminat\w*)\b", "autotermination_minutes"),
    (r"\b(?:spot|preemptible|on-demand)\b", "availability first_on_demand"),
    (r"\b(?:serverless|no clusters?|without (?:a )?clusters?|environments?)\b",
     "serverless environments environment_key"),
    (r"\b(?:librar\w*|pip|packages?|wheels?|whl|pypi|maven|requirements)\b", "libraries pypi"),
    # task kinds
    (r"\bnotebooks?\b", "notebook_task notebook_path"),
    (r"\b(?:python|\.py|scripts?)\b", "spark_python_task python_file"),
    (r"(?<![.\w])(?:sql|quer(?:y|ies)|warehouses?)\b", "sql_task warehouse_id"),
    (r"\b(?:jar|scala|java)\b", "spark_jar_task main_class_name"),
    (r"\b(?:pipelines?|dlt|declarative)\b", "pipeline_task pipeline_id"),
    (r"\bdbt\b", "dbt_task"),
    (r"\b(?:git\w*|repos?|branch\w*)\b", "git_source git_url git_branch"),
    # API actions
    (r"\b(?:creat\w*|set ?up|define|new job)\b", "create"),
    (r"\b(?:run now|right now|immediately|manually|on demand|ad hoc|one-?off)\b", "run_now"),
    # parameters
    (r"\b(?:param\w*|arguments?|args?|variables?|inputs?|widgets?|\w+=\S+)",
     "parameters job parameters base_parameters"),
    # flow control
    (r"\b(?:for each|for every|loop\w*|iterat\w*|fan(?:s|ning)? out)\b", "for_each_task inputs concurrency"),
    (r"\b(?:only if|only when|if .{0,40}(?:fail\w*|succe\w*)|regardless|conditional\w*|unless)\b",
     "run_if condition_task"),
    (r"\b(?:after|then|depends?|dependen\w*|once|upstream|downstream|before|followed|waits? for|"
     r"in order|sequenc\w*)\b", "depends_on task_key run_if"),
    (r"\b(?:time ?outs?|timed out|takes? longer|longer than|max(?:imum)? (?:duration|runtime)|"
     r"kill\w*|stuck|hang\w*|limit\w*|give up|abort\w*|"
     r"(?:after|over|exceed\w*|within) \d+ ?(?:min\w*|hours?|hrs?|h|seconds?|secs?|s))\b", "timeout_seconds"),
    (r"\b(?:concurren\w*|parallel\w*|simultaneous\w*|at (?:the same|a) time|at once|overlap\w*|"
     r"one run|single run|queue\w*)\b", "max_concurrent_runs queue"),
    # governance
    (r"\b(?:permission\w*|who can|access|can (?:view|see|manage|run|edit)|"
     r"(?:let|allow|give)\s+(?:[\w@.-]+\s+){1,3}(?:to\s+)?(?:view|see|manage|edit|run|access)\b|"
     r"shar\w*|owners?|grant\w*|acls?)\b",
     "access_control_list permissions permission_level"),
    (r"\b(?:run as|service principal|identity|on behalf)\b", "run_as service_principal_name user_name"),
    (r"\b(?:tags?|tagged|labels?|cost cent\w*|billing)\b", "tags"),
]
_COMPILED = [(re.compile(p, re.IGNORECASE), terms) for p, terms in CONCEPTS]


def identifier_parts(text: str) -> str:
    """Words hidden inside snake_case / CamelCase identifiers, space-joined (lower case)."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        for piece in ident.split("_"):
            out.extend(p.lower() for p in _CAMEL_PART.findall(piece))
    return " ".join(out)


def concept_terms(query: str) -> str:
    """API vocabulary implied by a plain-English request (may be empty).

    In `owner=data` the key is data, not intent (a tag or parameter, not a permission request).
    """
    query = re.sub(r"(?<![\w.])[A-Za-z_][\w-]*=\S+", "key=value", query)
    seen: list[str] = []
    for pattern, terms in _COMPILED:
        if pattern.search(query) and terms not in seen:
            seen.append(terms)
    return " ".join(seen)


FIELD_PREFIX = "f_"  # marks "this chunk documents the field named X" (a poor man's fielded search)


def field_token(name: str) -> str:
    return FIELD_PREFIX + name.lower()


EXPLICIT_WEIGHT = 3  # an API name typed verbatim outweighs one the concept map guessed


def expand_query(query: str) -> str:
    """Query text as sent to BM25: the request, implied API terms, split identifiers, field markers.

    Field markers let an implied field name ("parameters", "schedule") pick out the chunk documenting
    that very field rather than every passage that merely mentions the word. BM25 counts repeated
    query words, so repetition is the weighting: each word once, except API identifiers the caller
    wrote themselves, which count EXPLICIT_WEIGHT times.
    """
    extra = concept_terms(query)
    explicit = [w.lower() for w in _IDENT.findall(query)]
    implied = re.findall(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", extra)
    weights: dict[str, int] = {}
    for word in f"{query} {extra} {identifier_parts(query + ' ' + extra)}".lower().split():
        weights.setdefault(word, 1)
    for word in implied:
        weights.setdefault(field_token(word), 1)
    for word in explicit:
        weights[word] = weights[field_token(word)] = EXPLICIT_WEIGHT
    return " ".join(" ".join([word] * n) for word, n in weights.items())


def index_text(title: str, text: str, field: str | None = None) -> str:
    """Extra words indexed alongside a chunk (never shown to the reader)."""
    marker = f" {field_token(field)}" if field else ""
    return identifier_parts(f"{title}\n{text}") + marker

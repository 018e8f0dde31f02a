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
_CLOCK = r"\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'?clock|h\b)|\d{1,2}:\d{2}|midnight|noon"

# (pattern, API vocabulary it implies). Matched case-insensitively against the whole query.
CONCEPTS: list[tuple[str, str]] = [
    # notifications
    (r"\b(?:e-?mails?|mail me|notif\w*|alert\w*|page me|ping me|let (?:me|us) know|tell (?:me|us)|warn\w*)\b",
     "email_notifications notification_settings on_failure"),
    (r"\b(?:slack|teams|webhooks?|pagerduty)\b", "webhook_notifications notification destination"),
    (r"\b(?:fail\w*|errors?|errored|break\w*|broke|crash\w*|goes wrong)\b", "on_failure failed"),
    (r"\b(?:succe\w*|finish\w*|complet\w*|done)\b", "on_success"),
    (r"\b(?:(?:when|once|as soon as|whenever)\s+(?:\w+\s+){0,3}(?:starts?|begins?|kicks? off)|on start|"
     r"job starts|run starts)\b", "on_start"),
    # scheduling
    (rf"\b(?:nightly|daily|hourly|weekly|monthly|yearly|every|"
     rf"each (?:day|night|hour|week|month|year|{_DAYS})|weekdays?|weekends?|{_DAYS}|cron\w*|"
     rf"(?:once|twice|\d+ times) (?:a|an|per) (?:minute|hour|day|night|week|month|year)|"
     rf"schedul\w*|periodic\w*|recurring|mornings?|evenings?|nights?|{_CLOCK})\b",
     "schedule quartz_cron_expression timezone_id"),
    (r"\b(?:time ?zones?|tz|utc|gmt|cet|[ecmp][sd]t|(?-i:(?:[A-Z][a-z]+ )+[Tt]ime)|"
     r"(?:africa|america|asia|atlantic|australia|europe|indian|pacific|etc)/\w+)\b", "timezone_id"),
    (r"\b(?:pause\w*|unpause\w*|disabl\w*|suspend\w*|(?:stop|halt|hold)\w* (?:the |its |this )?(?:\w+ )?"
     r"schedul\w*|until further notice)\b", "pause_status"),
    (r"\b(?:switch(?:ed)? off|turn(?:ed)? off|disabl\w*|deactivat\w*|skip (?:the|this) \w+ (?:task|step))\b",
     "disabled"),
    (r"\b(?:continuous\w*|always running|24/7|non-?stop)\b", "continuous"),
    # triggers
    (r"\b(?:files? (?:arriv\w*|lands?|landing|appears?|shows? up|drops?|is uploaded|are uploaded)|"
     r"new files?|arriv\w*|lands?|landing|upload\w*|dropped)\b",
     "file_arrival trigger file arrival"),
    (r"\b(?:volumes?|buckets?|s3|adls|gcs|storage location|folder|directory)\b", "file_arrival url"),
    (r"\btables? (?:is |are |gets? )?(?:updated|changes?|changed|modified|refreshed)\b",
     "table_update trigger"),
    (r"\b(?:upstream|another|other|parent|previous) (?:\w+ )?jobs?\b|"
     r"\bjobs? (?:\w+ )?(?:completes?|finish\w*|succeeds?)", "job_completion run_job_task"),
    # retries
    (r"\b(?:retr\w*|re-?run\w*|try again|attempts?|flaky|again)\b",
     "max_retries min_retry_interval_millis retry_on_timeout"),
    (r"\b(?:twice|(?:\d+|one|two|three|four|five|a few|a couple of|several) (?:more )?times)\b"
     r"(?! (?:a|an|per|every) )", "max_retries"),
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
    (r"\b(?:existing|all-purpose|interactive|running) clusters?|\bcluster ids?\b|\b\d{4}-\d{6}-\w+",
     "existing_cluster_id"),
    (r"\b(?:env(?:ironment)? ?var\w*|environment variables?)\b", "spark_env_vars environment_variables"),
    (r"\b(?:spark conf\w*|spark config\w*|spark properties|spark\.[a-z]+\.[\w.]+)", "spark_conf"),
    (r"\b(?:idle|auto-?terminat\w*|shut ?down|terminat\w*)\b", "autotermination_minutes"),
    (r"\b(?:spot|preemptible|on-demand)\b", "availability first_on_demand"),
    (r"\b(?:serverless|no clusters?|without (?:a )?clusters?|environments?)\b(?! ?var)",
     "serverless environments environment_key"),
    (r"\b(?:cost(?![ -]?cent)\w*|cheap\w*|performance|speed|fast\w*|slow\w*|optimi[sz]\w*|latency)\b",
     "performance_target"),
    (r"\b(?:librar\w*|pip|packages?|pypi|maven|requirements|install\w*)\b", "libraries pypi"),
    (r"\b(?:wheels?|whl|entry ?points?)\b", "python_wheel_task package_name entry_point"),
    (r"\b(?:keyword arg\w*|kwargs|named (?:param\w*|arg\w*)|--[a-z][\w-]*)", "named_parameters parameters"),
    # task kinds
    (r"\bnotebooks?\b", "notebook_task notebook_path"),
    (r"\b(?:python|\.py|scripts?)\b", "spark_python_task python_file"),
    (r"(?<![.\w])(?:sql|quer(?:y|ies))\b", "sql_task warehouse_id"),
    (r"\b(?:warehouses?)\b", "warehouse_id"),  # dbt, notebooks, dashboards and alerts use them too
    (r"\.sql\b|\bsql (?:files?|scripts?)\b", "sql_task file path"),
    (r"\b(?:saved|existing) (?:sql )?quer(?:y|ies)\b", "sql_task query query_id"),
    (r"\b(?:jar|scala|java)\b", "spark_jar_task main_class_name"),
    (r"\b(?:pipelines?|dlt|declarative)\b", "pipeline_task pipeline_id"),
    (r"\bdbt\b", "dbt_task"),
    (r"\bdbt (?:run|build|test|seed|deps|snapshot|compile|docs)\b", "dbt_task commands"),
    (r"\b(?:git\w*|repos?|branch\w*)\b", "git_source git_url git_branch"),
    # API actions
    (r"\b(?:creat\w*|set ?up|define|new job)\b", "create"),
    (r"\b(?:run now|right now|immediately|manually|on demand|ad hoc|one-?off)\b", "run_now"),
    # parameters
    (r"\b(?:param\w*|arguments?|args?|variables?|inputs?|widgets?|\w+=\S+)",
     "parameters job parameters base_parameters"),
    # flow control
    (r"\b(?:for each|for every|loop\w*|iterat\w*|fan(?:s|ning)? out)\b", "for_each_task inputs concurrency"),
    (r"\b(?:(?:only )?(?:if|when) .{0,40}(?:fail\w*|succe\w*)|only if|only when|regardless|conditional\w*|"
     r"unless|even if)\b",
     "run_if condition_task"),
    (r"\b(?:if .{0,40}(?:true|false|equals?|greater|less|above|below)|checks?|conditions?|compar\w*|"
     r"branch(?:es|ing)? on)\b", "condition_task op left right"),
    (r"\b(?:after(?! \d| an? (?:hour|minute|day))|then|depends?|dependen\w*|once(?! a| an| every| per)|"
     r"upstream|downstream|before|followed|wait(?:s|ing)? (?:for|until|till)|in order|sequenc\w*)\b",
     "depends_on task_key run_if"),
    (r"\b(?:time ?outs?|timed out|takes? longer|longer than|max(?:imum)? (?:duration|runtime)|"
     r"kill\w*|stuck|hang\w*|limit\w*|give up|abort\w*|"
     r"(?:after|over|exceed\w*|within) \d+ ?(?:min\w*|hours?|hrs?|h|seconds?|secs?|s))\b", "timeout_seconds"),
    (r"\b(?:concurren\w*|parallel\w*|simultaneous\w*|at (?:the same|a) time|at once|overlap\w*|"
     r"one run|single run|queue\w*)\b", "max_concurrent_runs queue"),
    # governance
    (r"\b(?:permission\w*|who can|access|(?:can|able to|allowed to) (?:view|see|manage|run|edit|change|"
     r"modify|trigger)|admins?|"
     r"(?:let|allow|give)\s+(?:[\w@.-]+\s+){1,3}(?:to\s+)?(?:view|see|manage|edit|run|access)\b|"
     r"read.?only|view.?only|(?:only|just) (?:view|see|read)|"
     r"shar\w*|owners?|grant\w*|acls?)\b",
     "access_control_list permissions permission_level"),
    (r"\b(?:run as|service principal|identity|on behalf)\b", "run_as service_principal_name user_name"),
    (r"\b(?:tags?|tagged|labels?|cost.?cent\w*|billing)\b", "tags"),
    (r"\b(?:renam\w*|call (?:it|the job)|name (?:it|the job)|job name|title)\b", "name"),
]
# A job's new name is a value: "rename it to Nightly Sales" is not about schedules.
_NAME_VALUE = re.compile(r"\b((?:renam\w*|call(?:ed)?|named?)(?: (?:it|this|the job|the task))?(?: to| as)?) "
                         r"(\"[^\"]*\"|'[^']*'|[A-Z][\w-]*(?: [A-Z][\w-]*)*)")
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
    return " ".join(concepts(query))


def _content_tokens(phrase: str) -> int:
    return sum(1 for token in phrase.split() if name_words(token))


def concepts(query: str) -> dict[str, int]:
    """Implied API terms with a weight: 2 when the match holds two content words ("dbt build",
    "existing cluster"), more specific evidence than a lone keyword ("warehouse", "tell me"), else 1."""
    query = re.sub(r"(?<![\w.])[A-Za-z_][\w-]*=\S+", "key=value", query)
    query = _NAME_VALUE.sub(r"\1 NAME", query)
    found: dict[str, int] = {}
    for pattern, terms in _COMPILED:
        weight = max((1 + (_content_tokens(m.group(0)) > 1) for m in pattern.finditer(query)), default=0)
        if weight:
            found[terms] = max(found.get(terms, 0), weight)
    return found


FIELD_PREFIX = "f_"  # marks "this chunk documents the field named X" (a poor man's fielded search)


def field_token(name: str) -> str:
    return FIELD_PREFIX + name.lower()


NAME_WEIGHT = 1
EXPLICIT_WEIGHT = 3  # an API name typed verbatim outweighs one the concept map guessed
NAME_PREFIX = "w_"  # marks "this chunk's own field/method name contains the word X"
# Words too common in API names to say which field a request is about.
_GENERIC_WORDS = (
    "run runs running job jobs task tasks the and for with when whenever every each our you your can could "
    "should would will please want need needs make set use add also not only just from into all any one "
    "some more less than then this that it its get got put give let have has was are were been being what "
    "which who how why where there here too very like way thing things time times")
_GENERIC = frozenset(_GENERIC_WORDS.split())


def name_words(name: str) -> list[str]:
    """Distinct words of an API name or a heading ("max_concurrent_runs" -> max, concurrent, runs)."""
    words: list[str] = []
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_]*", name):
        words += identifier_parts(token).split() or [token.lower()]
    return [w for w in dict.fromkeys(words) if len(w) > 2 and w not in _GENERIC]


def name_tokens(query: str) -> list[str]:
    """Name markers for the content words a request uses: "cluster policy" -> w_cluster w_policy.

    Lets a word the user typed find the field named after it (policy_id, description, queue) without
    a synonym entry for every field; BM25's IDF keeps words shared by many names (id, type) weak.
    """
    words = re.findall(r"[a-z]{3,}", f"{query} {identifier_parts(query)}".lower())
    return [NAME_PREFIX + w for w in dict.fromkeys(words) if w not in _GENERIC]


def expand_query(query: str) -> str:
    """Query text as sent to BM25: the request, implied API terms, split identifiers, field markers.

    Field markers let an implied field name ("parameters", "schedule") pick out the chunk documenting
    that very field rather than every passage that merely mentions the word. BM25 counts repeated
    query words, so repetition is the weighting: each word once, except API identifiers the caller
    wrote themselves, which count EXPLICIT_WEIGHT times.
    """
    implied = concepts(query)
    explicit = [w.lower() for w in _IDENT.findall(query)]
    weights: dict[str, int] = {}
    for word in f"{query} {identifier_parts(query)}".lower().split():
        weights.setdefault(word, 1)
    for terms, weight in implied.items():
        for word in f"{terms} {identifier_parts(terms)}".split():
            weights[word] = max(weights.get(word, 0), weight)
        for word in terms.split():
            weights[field_token(word)] = max(weights.get(field_token(word), 0), weight)
    for token in name_tokens(query):
        weights.setdefault(token, NAME_WEIGHT)
    for word in explicit:
        weights[word] = weights[field_token(word)] = EXPLICIT_WEIGHT
    return " ".join(" ".join([word] * n) for word, n in weights.items())


def index_text(title: str, text: str, field: str | None = None, name: str | None = None) -> str:
    """Extra words indexed alongside a chunk (never shown to the reader).

    `field` is the API name the chunk documents (gets a field marker); `name` (default: field) is the
    identifier whose words get name markers, e.g. a class name for a type's own chunk.
    """
    marker = f" {field_token(field)}" if field else ""
    name = name or field
    names = " ".join(NAME_PREFIX + w for w in name_words(name)) if name else ""
    parts = identifier_parts(title + "\n" + text)
    return f"{parts}{marker} {names}".rstrip()

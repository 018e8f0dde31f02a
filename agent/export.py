"""A job as a Declarative Automation Bundle resource (formerly Databricks Asset Bundles) or as Jobs API
JSON, for teams that keep their jobs in Git; the CLI's `export` and the Slack bot share it.

The bundle form is one file, `resources: jobs: <key>: {…}`, that a `databricks.yml` pulls in with
`include:`. Its fields are the Jobs API's create request (the CLI's job resource embeds the Go SDK's
`jobs.JobSettings`, github.com/databricks/cli bundle/config/resources/job.go), plus `permissions`
instead of `access_control_list`. Every value goes through the SDK's `JobSettings`, so only real Jobs
API fields are written, and the rules below leave out what a bundle or a create request must not carry.
Cross-checked by hand against databricks-bundles 1.22.1 (PyPI: "Python support for Declarative Automation
Bundles", not a dependency): its `jobs.Job.from_dict` refuses, of this SDK's JobSettings fields, exactly
format, edit_mode, deployment and git_source.git_snapshot / job_source (plus fields newer than it, such
as job_completion triggers, which are kept: a CLI that does not know a field warns "unknown field" and
ignores it, github.com/databricks/cli libs/dyn/convert/normalize.go).
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from typing import TYPE_CHECKING, Any

import yaml
from databricks.sdk.service.jobs import JobSettings

from agent.errors import JobAgentError, ValidationFailed
from agent.specfile import canonical
from agent.workspace import TASK_TAG

if TYPE_CHECKING:
    from agent.state import TaskRecord

CLI_REPO = "https://github.com/databricks/cli/blob/main/"
# (path, why, source) — left out of every export.
ALWAYS_LEFT_OUT = (
    # Jobs API reference (SDK docstring of JobSettings.format): "ignored in Create/Update/Reset calls …
    # always set to MULTI_TASK"; the bundle schema hides it for that reason.
    ("format", "output-only", CLI_REPO + "bundle/internal/schema/main.go (removeJobsFields)"),
    # Marks a job as managed by a bundle; "only meant to be set by the DABs client", which sets it on
    # every deploy and refuses deployment_id / version_id by hand. In a jobs/create request it would
    # claim a bundle manages the copy: *unconfirmed* that the API refuses it, left out all the same.
    ("deployment", "set by the bundle deploy", CLI_REPO + "bundle/deploy/metadata/annotate_jobs.go"),
    # "These fields are readonly and are not meant to be set by the user."
    ("git_source.git_snapshot", "read-only", CLI_REPO + "bundle/internal/schema/main.go (removeJobsFields)"),
    # jobagent's marker for the job a task created (agent/workspace.py): a copy is not that job, and a
    # retry of the task must not adopt it.
    (f"tags.{TASK_TAG}", "jobagent's own marker", "agent/workspace.py TASK_TAG"),
)
# Left out of bundles only (a jobs/create request may set them).
BUNDLE_LEFT_OUT = (
    # The deploy sets edit_mode UI_LOCKED on every job (EDITABLE only for YAML sync in a workspace).
    ("edit_mode", "set by the bundle deploy", CLI_REPO + "bundle/deploy/metadata/annotate_jobs.go"),
    ("git_source.job_source", "read-only", CLI_REPO + "bundle/internal/schema/main.go (removeJobsFields)"),
)
# `${a.b}` in any string is a bundle variable reference, resolved (or refused) at deploy; the CLI has
# no settled escape yet (bundle/config/mutator/collect_escape_telemetry.go). Same pattern as
# libs/dyn/dynvar/ref.go, ASCII letters only.
_NAME = r"[A-Za-z]+([-_]*[A-Za-z0-9]+)*"
_REFERENCE = re.compile(rf"\$\{{{_NAME}(\.{_NAME}(\[\d+\])*)*(\[\d+\])*\}}")

# Readable order: what the job is, what it runs, when, who hears, limits; the rest as the SDK has it.
JOB_ORDER = (
    "name", "description", "tasks", "job_clusters", "environments", "git_source", "parameters",
    "schedule", "trigger", "continuous", "email_notifications", "webhook_notifications",
    "notification_settings", "health", "timeout_seconds", "max_concurrent_runs", "queue", "run_as",
    "permissions", "tags",
)  # fmt: skip
TASK_ORDER = (
    "task_key", "description", "depends_on", "run_if", "job_cluster_key", "existing_cluster_id",
    "new_cluster", "environment_key", "libraries",
)  # fmt: skip


def resource_key(name: str) -> str:
    """A bundle resource key from a job name: lowercase ASCII letters, digits and underscores."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if not key:
        return "job"
    return f"job_{key}" if key[0].isdigit() else key


def export_filename(settings: dict[str, Any], fmt: str) -> str:
    """`nightly_ingest.job.yml` (the bundle templates' resources/<name>.job.yml) or `nightly-ingest.json`."""
    name = settings.get("name") or "job"
    if fmt == "bundle":
        return f"{resource_key(name)}.job.yml"
    return f"{resource_key(name).replace('_', '-')}.json"


def task_settings(record: TaskRecord) -> dict[str, Any]:
    """What to export for a task: the job as Databricks stored it after apply (`as_declared`), else the
    planned settings."""
    applied = record.meta.get("applied")
    stored = applied.get("settings") if isinstance(applied, dict) else None
    if stored:
        return as_declared(stored)
    settings = record.settings
    if not settings:
        raise JobAgentError(
            f"Task {record.id} has no job settings to export (it is {record.state}"
            + (": answer its question first)." if record.questions else ").")
        )
    return settings


def as_declared(stored: dict[str, Any]) -> dict[str, Any]:
    """A job as `jobs/get` returns it, minus what the service fills in by itself (agent/diff.py's
    SERVER_DEFAULTS and TASK_DEFAULTS: timeout 0, one concurrent run, run_if ALL_SUCCESS, …) and empty
    blocks: the settings someone would have written. Other values stay as stored."""
    from agent.diff import drop_defaults

    return drop_defaults(stored)


def left_out(settings: dict[str, Any], fmt: str = "bundle") -> list[str]:
    """What an export leaves out of these settings, and why, one line each (nothing is dropped unsaid)."""
    return _clean(settings, fmt)[1]


def jobs_json(settings: dict[str, Any]) -> str:
    """The settings as `jobs/create` takes them (access_control_list included when given)."""
    job, _ = _clean(settings, "json")
    return json.dumps(job, indent=2, ensure_ascii=False) + "\n"


def bundle_yaml(settings: dict[str, Any], *, key: str | None = None, source: str = "") -> str:
    """One bundle resource file: `resources: jobs: <key>:` with the job, headed by comments."""
    job, notes = _clean(settings, "bundle")
    if "access_control_list" in job:
        job["permissions"] = [_permission(entry) for entry in job.pop("access_control_list")]
        job = _ordered(job)
    key = key or resource_key(job.get("name", ""))
    filename = export_filename(job, "bundle")
    head = [f"exported by jobagent from {source}"] if source else []
    head.append(f"save as resources/{filename}; databricks.yml takes it in with: include: [resources/*.yml]")
    head += [f"left out {line}" for line in notes]
    head += [
        f"warning: {path} has {ref}, which a bundle reads as a variable reference"
        for path, ref in _references(job)
    ]
    body = yaml.dump({"resources": {"jobs": {key: job}}}, Dumper=_Dumper, **_YAML_STYLE)
    return "".join(f"# {line}\n" for line in head) + body


def parse_bundle(text: str) -> dict[str, dict[str, Any]]:
    """{resource key: Jobs API settings} from bundle YAML; `permissions` come back as access_control_list."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed([f"The bundle is not valid YAML: {exc}"]) from exc
    resources = data.get("resources") if isinstance(data, dict) else None
    jobs = resources.get("jobs") if isinstance(resources, dict) else None
    if not isinstance(jobs, dict) or not all(isinstance(job, dict) for job in jobs.values()):
        raise ValidationFailed(["The bundle has no `resources: jobs: <key>: {…}` mapping."])
    out = {}
    for key, job in jobs.items():
        job = dict(job)
        if "permissions" in job:
            job["access_control_list"] = [_acl_entry(p) for p in job.pop("permissions") or []]
        out[str(key)] = job
    return out


# -- helpers ----------------------------------------------------------------------------------------


def _clean(settings: dict[str, Any], fmt: str) -> tuple[dict[str, Any], list[str]]:
    raw = canonical(copy.deepcopy(settings))
    job = JobSettings.from_dict(raw).as_dict()
    notes = [f"{path} (not a Jobs API field or value this SDK knows)" for path in _lost(raw, job)]
    for path, why, _source in ALWAYS_LEFT_OUT + (BUNDLE_LEFT_OUT if fmt == "bundle" else ()):
        if _pop(job, path.split(".")):
            notes.append(f"{path} ({why})")
    if job.get("tags") == {}:  # only jobagent's marker was there
        del job["tags"]
    if raw.get("access_control_list"):  # jobs/create's, not a JobSettings field: kept on purpose
        job["access_control_list"] = raw["access_control_list"]
        notes = [n for n in notes if not n.startswith("access_control_list ")]
    return _ordered(job), notes


def _pop(data: dict[str, Any], path: list[str]) -> bool:
    *parents, last = path
    for name in parents:
        data = data.get(name)
        if not isinstance(data, dict):
            return False
    if last not in data:
        return False
    del data[last]
    return True


def _lost(raw: Any, kept: Any, path: str = "") -> list[str]:
    """Paths with a value in `raw` that the SDK's JobSettings did not keep (unknown fields, enum values)."""
    if isinstance(raw, dict) and isinstance(kept, dict):
        lost = []
        for name, value in raw.items():
            where = f"{path}.{name}" if path else name
            if value in (None, "", [], {}):
                continue
            lost += [where] if name not in kept else _lost(value, kept[name], where)
        return lost
    if isinstance(raw, list) and isinstance(kept, list):
        return [
            p for i, (a, b) in enumerate(zip(raw, kept, strict=False)) for p in _lost(a, b, f"{path}[{i}]")
        ]
    return []


def _ordered(job: dict[str, Any]) -> dict[str, Any]:
    out = {name: job[name] for name in JOB_ORDER if name in job}
    out.update((name, value) for name, value in job.items() if name not in out)
    if isinstance(out.get("tasks"), list):
        out["tasks"] = [_task_order(task) if isinstance(task, dict) else task for task in out["tasks"]]
    if isinstance(out.get("parameters"), list):  # name: first
        out["parameters"] = [_first("name", p) for p in out["parameters"]]
    return out


def _first(name: str, item: Any) -> Any:
    return {name: item[name], **item} if isinstance(item, dict) and name in item else item


def _task_order(task: dict[str, Any]) -> dict[str, Any]:
    """Its key and dependencies, then what it runs (`*_task`), then its compute, then the rest."""
    names = [*TASK_ORDER[:4], *(k for k in task if k.endswith("_task")), *TASK_ORDER[4:]]
    out = {name: task[name] for name in names if name in task}
    out.update((name, value) for name, value in task.items() if name not in out)
    inner = out.get("for_each_task", {}).get("task")
    if isinstance(inner, dict):
        out["for_each_task"] = {**out["for_each_task"], "task": _task_order(inner)}
    return out


def _references(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [r for k, v in value.items() for r in _references(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [r for i, v in enumerate(value) for r in _references(v, f"{path}[{i}]")]
    if isinstance(value, str):
        return [(path, m.group(0)) for m in _REFERENCE.finditer(value)]
    return []


_PRINCIPALS = ("user_name", "group_name", "service_principal_name")


def _permission(entry: dict[str, Any]) -> dict[str, Any]:
    """jobs/create's {user_name, permission_level} → a bundle's {level, user_name}
    (docs.databricks.com/dev-tools/bundles/permissions: CAN_MANAGE, CAN_MANAGE_RUN, CAN_VIEW, IS_OWNER)."""
    out = {"level": entry.get("permission_level")}
    out.update((k, entry[k]) for k in _PRINCIPALS if entry.get(k))
    return out


def _acl_entry(permission: dict[str, Any]) -> dict[str, Any]:
    out = {k: permission[k] for k in _PRINCIPALS if permission.get(k)}
    out["permission_level"] = permission.get("level")
    return out


class _Dumper(yaml.SafeDumper):
    """Safe YAML, lists indented under their key, multi-line strings as `|` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # PyYAML falls back to quotes when a block cannot hold it
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
# Never wrapped: a long value (maven coordinates, a path) stays on one line, whole.
_YAML_STYLE: dict[str, Any] = {"sort_keys": False, "allow_unicode": True, "width": float("inf")}

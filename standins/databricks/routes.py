"""Which handler serves which (method, path): the REST surface the emulator offers.

Jobs are served under both /api/2.2 (what databricks-sdk 0.162 calls) and /api/2.1 (older clients;
jobs created there are not queued by default, as on the service).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from standins.databricks import clusters, jobs, permissions, scim, workspace_files
from standins.databricks.params import Request
from standins.databricks.state import Store

Handler = Callable[[Store, Request], Any]
SCIM = "/api/2.0/preview/scim/v2"


def build_routes(
    run_steps: int,
) -> tuple[dict[tuple[str, str], Handler], list[tuple[str, re.Pattern, Handler]]]:
    exact: dict[tuple[str, str], Handler] = {}
    for version in ("2.1", "2.2"):
        base = f"/api/{version}/jobs"
        exact.update(
            {
                ("POST", f"{base}/create"): jobs.create,
                ("GET", f"{base}/get"): jobs.get,
                ("GET", f"{base}/list"): jobs.list_jobs,
                ("POST", f"{base}/reset"): jobs.reset,
                ("POST", f"{base}/update"): jobs.update,
                ("POST", f"{base}/delete"): jobs.delete,
                ("POST", f"{base}/run-now"): partial(jobs.run_now, run_steps=run_steps),
                ("GET", f"{base}/runs/get"): jobs.runs_get,
                ("GET", f"{base}/runs/list"): jobs.runs_list,
                ("POST", f"{base}/runs/cancel"): jobs.runs_cancel,
            }
        )
    exact.update(
        {
            ("GET", "/api/2.0/workspace/get-status"): workspace_files.get_status,
            ("GET", "/api/2.0/workspace/list"): workspace_files.list_dir,
            ("POST", "/api/2.0/workspace/mkdirs"): workspace_files.mkdirs,
            ("POST", "/api/2.0/workspace/import"): workspace_files.import_object,
            ("GET", "/api/2.0/workspace/export"): workspace_files.export,
            ("POST", "/api/2.0/workspace/delete"): workspace_files.delete,
            ("GET", "/api/2.1/clusters/list-node-types"): clusters.list_node_types,
            ("GET", "/api/2.1/clusters/spark-versions"): clusters.spark_versions,
            ("GET", "/api/2.1/clusters/get"): clusters.get_cluster,
            ("GET", "/api/2.1/clusters/list"): clusters.list_clusters,
            ("GET", "/api/2.0/clusters/list-node-types"): clusters.list_node_types,
            ("GET", "/api/2.0/clusters/spark-versions"): clusters.spark_versions,
            ("GET", "/api/2.0/clusters/get"): clusters.get_cluster,
            ("GET", "/api/2.0/clusters/list"): clusters.list_clusters,
            ("GET", "/api/2.0/sql/warehouses"): clusters.list_warehouses,
            ("GET", f"{SCIM}/Me"): scim.me,
            ("GET", f"{SCIM}/Users"): scim.list_users,
            ("GET", f"{SCIM}/ServicePrincipals"): scim.list_service_principals,
            ("GET", f"{SCIM}/Groups"): scim.list_groups,
            ("GET", "/api/2.0/preview/accounts/access-control/rule-sets"): permissions.get_rule_set,
        }
    )
    patterns = [
        ("GET", re.compile(r"^/api/2\.0/sql/warehouses/(?P<id>[^/]+)$"), clusters.get_warehouse),
        ("GET", re.compile(rf"^{SCIM}/Users/(?P<id>[^/]+)$"), scim.get_user),
        ("GET", re.compile(rf"^{SCIM}/ServicePrincipals/(?P<id>[^/]+)$"), scim.get_service_principal),
        ("GET", re.compile(rf"^{SCIM}/Groups/(?P<id>[^/]+)$"), scim.get_group),
    ]
    for base in ("/api/2.0/permissions/jobs", "/api/2.0/preview/permissions/jobs"):  # preview: older clients
        job = rf"^{base}/(?P<job_id>[^/]+)"
        patterns += [
            ("GET", re.compile(job + "/permissionLevels$"), permissions.get_permission_levels),
            ("GET", re.compile(job + "$"), permissions.get_permissions),
            ("PUT", re.compile(job + "$"), permissions.set_permissions),
            ("PATCH", re.compile(job + "$"), permissions.update_permissions),
        ]
    return exact, patterns


def find(
    routes: tuple[dict[tuple[str, str], Handler], list[tuple[str, re.Pattern, Handler]]],
    method: str,
    path: str,
) -> tuple[Handler | None, dict[str, str]]:
    exact, patterns = routes
    handler = exact.get((method, path))
    if handler is not None:
        return handler, {}
    for verb, pattern, candidate in patterns:
        m = pattern.match(path)
        if m and verb == method:
            return candidate, m.groupdict()
    return None, {}

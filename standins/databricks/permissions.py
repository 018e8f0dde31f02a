"""Permissions API for jobs (GET/PUT/PATCH /api/2.0/permissions/jobs/<id>, .../permissionLevels) and the
account access-control proxy's rule sets (GET /api/2.0/preview/accounts/access-control/rule-sets).

PUT replaces a job's direct grants, PATCH adds or changes them; both answer with the same shape as GET
(Source: CLI acceptance permissions/factcheck compares the set and get answers).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from standins.databricks import job_acl, principals, run_as
from standins.databricks.errors import invalid, not_found
from standins.databricks.params import Request
from standins.databricks.principals import Caller
from standins.databricks.state import Store

RULE_SET_NAME = re.compile(r"^accounts/[^/]+/servicePrincipals/(?P<app_id>[^/]+)/ruleSets/default$")


def caller(store: Store, req: Request) -> Caller:
    """The request's identity; handlers called without the server act as `req.user`."""
    if req.caller is not None:
        return req.caller
    return principals.caller(store, principals.ref_for_name(store, req.user))


def _job_id(req: Request) -> int:
    raw = req.path_params["job_id"]
    if not raw.isdigit():
        raise invalid(f"Invalid job id {raw!r}: a job id is a number.")  # *unconfirmed* wording
    return int(raw)


def _checked(store: Store, req: Request) -> tuple[Caller, int, dict[str, Any] | None]:
    who, job_id = caller(store, req), _job_id(req)
    job = store.data["jobs"].get(str(job_id))
    job_acl.require_manage(store, who, job_id, job)
    if job is None:  # only an admin gets here; *unconfirmed* status and wording
        raise not_found(f"Job {job_id} does not exist.")
    return who, job_id, job


def get_permissions(store: Store, req: Request) -> dict[str, Any]:
    _, job_id, job = _checked(store, req)
    return job_acl.render(store, job_id, job)


def get_permission_levels(store: Store, req: Request) -> dict[str, Any]:
    _checked(store, req)  # who may ask is *unconfirmed*; the same as for the permissions
    return job_acl.permission_levels()


def set_permissions(store: Store, req: Request) -> dict[str, Any]:
    return _change(store, req, replace=True)


def update_permissions(store: Store, req: Request) -> dict[str, Any]:
    return _change(store, req, replace=False)


def _change(store: Store, req: Request, *, replace: bool) -> dict[str, Any]:
    who, job_id, job = _checked(store, req)
    apply(store, who, job_id, job, req.body.get("access_control_list"), replace=replace)
    return job_acl.render(store, job_id, job)


def apply(store: Store, who: Caller, job_id: int, job: dict[str, Any], acl: Any, *, replace: bool) -> None:
    """Change the job's grants; a job running as its owner by default follows a new owner."""
    before = job_acl.owner(store, job_id, job)
    new = job_acl.change(store, who, job_id, job, acl, replace=replace)
    job_acl.save(store, job_id, new)
    after = job_acl.owner(store, job_id, job)
    if after and after != before and job_acl.implicit_run_as(store, job_id):
        job["settings"]["run_as"] = run_as.for_owner(after)
        job["run_as_user_name"] = run_as.user_name_of(job["settings"]["run_as"])
    store.mark_dirty()


def get_rule_set(store: Store, req: Request) -> dict[str, Any]:
    """Only the default rule set of a service principal (SDK get_rule_set docstring lists the names).
    Shape Source: SDK iam.py RuleSetResponse and the Terraform provider's rule-set fixtures."""
    name = req.str_arg("name", required=True)
    m = RULE_SET_NAME.match(name)
    if not m:  # other resources' rule sets are not emulated; wording *unconfirmed*
        raise invalid(
            f"Invalid rule set name {name!r}: expected "
            "accounts/<account id>/servicePrincipals/<application id>/ruleSets/default."
        )
    sp = principals.service_principal(store, m.group("app_id"))
    if sp is None:  # *unconfirmed* status and wording
        raise not_found(f"Service principal {m.group('app_id')} does not exist.")
    rules = [
        {"role": role, "principals": list(members)}
        for role in (principals.SP_MANAGER_ROLE, principals.SP_USER_ROLE)
        if (members := sp["roles"].get(role))
    ]
    etag = base64.b64encode(f"{sp['applicationId']}:{sp['version']}".encode()).decode()
    return {"name": name, "etag": etag, "grant_rules": rules}

"""Whom a job runs as, and who may choose that on jobs/create, reset and update.

Source (SDK jobs.py JobRunAs): user_name "The email of an active workspace user. Non-admin users can
only set this field to their own email."; service_principal_name "Application ID of an active service
principal. Setting this field requires the servicePrincipal/user role."; group_name "Setting this field
requires being a member of the group". Workspace admins need that role on a service principal too:
"Workspace admins can change the job run as setting to service principals they have the Service
Principal User role on or to any user in their workspace" (Restrict workspace admins docs), and the
Manager role does not imply it (Service principal roles docs).
"""

from __future__ import annotations

from typing import Any

from standins.databricks import principals
from standins.databricks.errors import ApiError, invalid
from standins.databricks.principals import Caller
from standins.databricks.state import Store

KEYS = ("user_name", "service_principal_name", "group_name")


def identity(run_as: dict[str, Any] | None) -> tuple[str, str] | None:
    """(key, name) of a run_as (validation has made sure there is exactly one)."""
    if not run_as:
        return None
    key = next((k for k in KEYS if run_as.get(k)), None)
    return (key, str(run_as[key])) if key else None


def for_owner(owner_ref: str) -> dict[str, str]:
    """The run_as of a job that names none: its owner (SDK Job.run_as_user_name: "set to ... the user
    with the is_owner permission if job access control is enabled")."""
    prefix, _, name = owner_ref.partition("/")
    return {"service_principal_name" if prefix == "servicePrincipals" else "user_name": name}


def user_name_of(run_as: dict[str, Any]) -> str:
    """`run_as_user_name` on jobs/get: the user's e-mail or the SP's application id (SDK Job docstring);
    for a group, its name (*unconfirmed*)."""
    found = identity(run_as)
    return found[1] if found else ""


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    x, y = identity(a), identity(b)
    return x is not None and y is not None and x[0] == y[0] and x[1].casefold() == y[1].casefold()


def check(store: Store, who: Caller, run_as: dict[str, Any] | None, previous: dict[str, Any] | None) -> None:
    """Refuse a run_as the caller may not choose. An unchanged run_as is not checked again, so someone
    with CAN_MANAGE can edit a job that runs as somebody else (*unconfirmed*)."""
    found = identity(run_as)
    if found is None or same(run_as, previous):
        return
    key, name = found
    if key == "user_name":
        _must_exist(store, principals.USER + name, name)
        if who.admin or (who.kind == "user" and who.name.casefold() == name.casefold()):
            return
        # 403, as for service principals; the wording is *unconfirmed*.
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"Cannot set the user provided in 'run_as' field ({name}) for the job. Only workspace admins "
            "can make a job run as a user other than themselves.",
        )
    if key == "service_principal_name":
        _must_exist(store, principals.SP + name, name)
        if who.kind == "service_principal" and who.name.casefold() == name.casefold():
            return
        if principals.has_role(store, who, name):
            return
        # Source: the service's message as quoted by users (403 PERMISSION_DENIED), e.g. "Cannot bind the
        # service principal provided in 'run_as' field (<id>) to the job." + "The user creating or
        # updating the job must have 'servicePrincipal.user' role on the service principal."
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"Cannot bind the service principal provided in 'run_as' field ({name}) to the job. The user "
            "creating or updating the job must have 'servicePrincipal.user' role on the service principal.",
        )
    group = principals.group(store, name)
    if group is None or name == principals.USERS:
        raise invalid(f"Invalid group: '{name}' does not exist.")  # *unconfirmed* wording
    if name not in who.groups:
        raise ApiError(  # *unconfirmed* wording
            403,
            "PERMISSION_DENIED",
            f"Cannot set the group provided in 'run_as' field ({name}) for the job: "
            f"{who.name} is not a member of it.",
        )


def _must_exist(store: Store, ref: str, name: str) -> None:
    """Source: "400 INVALID_PARAMETER_VALUE — Invalid user: '<appId>' does not exist or deactivated",
    quoted for a service principal not in the workspace; the same for users is *unconfirmed*."""
    if not principals.is_active(store, ref):
        raise invalid(f"Invalid user: '{name}' does not exist or deactivated")

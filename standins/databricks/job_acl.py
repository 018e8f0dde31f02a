"""Job access control: who holds which level on a job, the checks the Jobs endpoints make, and the
rules a new access control list must follow. Kept in `store.data["job_acls"]` by job id:
{"grants": [{"user_name"|"group_name"|"service_principal_name": name, "permission_level": level}],
"implicit_run_as": bool}. A job without a record (made before the emulator knew permissions) is owned
by its creator. Records outlive their job, as the service keeps ACLs of deleted jobs.
"""

from __future__ import annotations

import copy
from typing import Any

from standins.databricks import principals
from standins.databricks.errors import ApiError, invalid
from standins.databricks.principals import GROUP, SP, USER, Caller
from standins.databricks.state import Store

# Source: Jobs access control docs, "Job permissions" table; SDK iam.py PermissionLevel.
LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER")
RANK = {level: rank for rank, level in enumerate(LEVELS, 1)}
KEYS = {"user_name": USER, "group_name": GROUP, "service_principal_name": SP}
KEY_OF = {prefix: key for key, prefix in KEYS.items()}
DESCRIPTIONS = {  # *unconfirmed* wording
    "CAN_VIEW": "Can view the job, its settings and its runs",
    "CAN_MANAGE_RUN": "Can view the job and run or cancel it",
    "CAN_MANAGE": "Can view, run, edit and delete the job and change its permissions",
    "IS_OWNER": "Owns the job: all of Can Manage; the job runs as its owner unless run_as says otherwise",
}
# What a denial lists: the levels (in the service's words) that have the ability.
# Source: Databricks CLI acceptance bundle/resources/permissions/jobs/destroy_without_mgmtperms
# (Cloud = true) for CAN_VIEW ("View or Admin or Manage Run or Owner") and deletes ("Admin or Owner");
# the CAN_MANAGE_RUN wording follows that pattern (*unconfirmed*).
NEEDS = {
    "CAN_VIEW": "View or Admin or Manage Run or Owner",
    "CAN_MANAGE_RUN": "Admin or Manage Run or Owner",
    "CAN_MANAGE": "Admin or Owner",
}


def denied(message: str) -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", message)


def _records(store: Store) -> dict[str, Any]:
    return store.data.setdefault("job_acls", {})


def entry_ref(entry: dict[str, Any]) -> str:
    key = next(k for k in KEYS if entry.get(k))
    return KEYS[key] + entry[key]


def entry_for(ref: str, level: str) -> dict[str, str]:
    prefix, _, name = ref.partition("/")
    return {KEY_OF[prefix + "/"]: name, "permission_level": level}


def grants(store: Store, job_id: int, job: dict[str, Any] | None) -> list[dict[str, str]]:
    found = _records(store).get(str(job_id))
    if found is not None:
        return found["grants"]
    if job is None:
        return []
    # Jobs made before permissions existed here: the creator is the owner (SDK Job.run_as_user_name:
    # "set to ... the user with the is_owner permission"; Jobs ACL docs: "The creator ... IS OWNER").
    return [entry_for(principals.ref_for_name(store, job["creator_user_name"]), "IS_OWNER")]


def owner(store: Store, job_id: int, job: dict[str, Any] | None) -> str | None:
    owners = (entry_ref(g) for g in grants(store, job_id, job) if g["permission_level"] == "IS_OWNER")
    return next(owners, None)


def implicit_run_as(store: Store, job_id: int) -> bool:
    return bool(_records(store).get(str(job_id), {}).get("implicit_run_as"))


def save(store: Store, job_id: int, new_grants: list[dict[str, str]], implicit: bool | None = None) -> None:
    found = _records(store).setdefault(str(job_id), {"grants": [], "implicit_run_as": False})
    found["grants"] = new_grants
    if implicit is not None:
        found["implicit_run_as"] = implicit
    store.mark_dirty()


def _holds(entry: dict[str, str], who: Caller) -> bool:
    ref = entry_ref(entry)
    if ref.startswith(GROUP):
        return ref[len(GROUP) :] in who.groups
    return ref.casefold() == who.ref.casefold()


def level(store: Store, who: Caller, job_id: int, job: dict[str, Any] | None) -> int:
    """The caller's rank on the job: its best direct or group grant; admins hold CAN_MANAGE through
    group `admins` (Source: Jobs ACL docs "Workspace admins have the CAN MANAGE permission on all jobs")."""
    best = RANK["CAN_MANAGE"] if who.admin else 0
    for entry in grants(store, job_id, job):
        if _holds(entry, who):
            best = max(best, RANK[entry["permission_level"]])
    return best


def require(store: Store, who: Caller, job_id: int, job: dict[str, Any] | None, need: str) -> None:
    """403 unless `who` holds `need`. Checked before the job's existence, so someone without access
    learns nothing about a missing job (Source: CLI acceptance destroy_without_mgmtperms, Cloud = true:
    a non-admin gets the permission error for a deleted job, an admin "Job <id> does not exist.")."""
    if level(store, who, job_id, job) < RANK[need]:
        raise denied(f"User {who.name} does not have {NEEDS[need]} permissions on job {job_id}")


def require_manage(store: Store, who: Caller, job_id: int, job: dict[str, Any] | None) -> None:
    """Reading or changing a job's permissions needs CAN_MANAGE or IS_OWNER (Jobs ACL docs "Modify
    permissions"). Message Source: CLI acceptance destroy_without_mgmtperms (Cloud = true), for a
    principal without any permission; that CAN_VIEW holders may not read them either is *unconfirmed*."""
    if level(store, who, job_id, job) < RANK["CAN_MANAGE"]:
        raise denied(
            f"{who.name} does not have Manage permissions on Job with ID: ElasticJobId({job_id}). "
            "Please contact the owner or an administrator for access."
        )


def visible(store: Store, who: Caller, job: dict[str, Any]) -> bool:
    return level(store, who, job["job_id"], job) >= RANK["CAN_VIEW"]


# -- changing an access control list -------------------------------------------------------------


def parse(store: Store, acl: Any) -> list[dict[str, str]]:
    """Requested entries, validated and with stored spellings; a later entry for the same principal
    replaces an earlier one (Source: CLI acceptance bundle/resources/permissions/factcheck, Cloud:
    "Permissions API simply takes the latest level in the request for a given principal")."""
    if acl is None:
        return []
    if not isinstance(acl, list) or not all(isinstance(e, dict) for e in acl):
        raise ApiError(
            400, "MALFORMED_REQUEST", "Could not parse request object: access_control_list must be an array"
        )
    out: dict[str, dict[str, str]] = {}
    for entry in acl:
        given = [k for k in KEYS if entry.get(k)]
        if len(given) != 1:  # *unconfirmed* wording
            raise invalid(
                "An access control entry needs exactly one of user_name, group_name, service_principal_name."
            )
        key, level_name = given[0], entry.get("permission_level")
        if level_name not in RANK:  # *unconfirmed* wording
            raise invalid(f"Invalid permission level {level_name!r} for a job; one of {', '.join(LEVELS)}.")
        ref = principals.canonical_ref(store, KEYS[key] + str(entry[key]))
        if ref is None:
            # Source: "Principal: UserName(x) does not exist" seen from the service (RESOURCE_DOES_NOT_EXIST;
            # the SDK raised ResourceDoesNotExist); the HTTP status 400 is *unconfirmed*.
            kind = {"user_name": "User", "group_name": "Group", "service_principal_name": "ServicePrincipal"}
            message = f"Principal: {kind[key]}Name({entry[key]}) does not exist"
            raise ApiError(400, "RESOURCE_DOES_NOT_EXIST", message)
        if ref == GROUP + principals.ADMINS:
            # Terraform provider: "it is not possible to modify admin permissions" (jobs); *unconfirmed* here.
            raise invalid("The permissions of group admins on jobs cannot be changed.")
        if ref.startswith(GROUP) and level_name == "IS_OWNER":
            # Source: Jobs ACL docs "A job cannot have a group as an owner."; wording *unconfirmed*.
            raise invalid(
                f"Group {ref[len(GROUP) :]} cannot own a job: the owner is a user or a service principal."
            )
        out.pop(ref.casefold(), None)
        out[ref.casefold()] = entry_for(ref, level_name)
    return list(out.values())


def change(
    store: Store, who: Caller, job_id: int, job: dict[str, Any] | None, acl: Any, *, replace: bool
) -> list[dict[str, str]]:
    """The grants after a PUT (`replace`: the direct grants become exactly `acl`) or a PATCH (entries
    added or changed), checked; the caller saves them."""
    requested = parse(store, acl)
    result = requested if replace else merge(copy.deepcopy(grants(store, job_id, job)), requested)
    _check_owner(who, owner(store, job_id, job), result, f"job {job_id}")
    return result


def initial(store: Store, who: Caller, acl: Any) -> list[dict[str, str]]:
    """jobs/create: the creator owns the job (Jobs ACL docs "The creator of the job is granted the IS
    OWNER permission"); its access_control_list is applied like a PATCH onto that (*unconfirmed* that an
    IS_OWNER entry there transfers ownership as a PATCH does; only admins may, as for PATCH)."""
    result = merge([entry_for(who.ref, "IS_OWNER")], parse(store, acl))
    if not any(g["permission_level"] == "IS_OWNER" for g in result):
        # The list gave the creator a lower level and named no owner: the creator stays the owner
        # (*unconfirmed*; a PATCH doing this is refused for leaving the job without an owner).
        result = [entry_for(who.ref, "IS_OWNER") if _same(g, who.ref) else g for g in result]
    _check_owner(who, who.ref, result, "a new job")
    return result


def _same(entry: dict[str, str], ref: str) -> bool:
    return entry_ref(entry).casefold() == ref.casefold()


def _check_owner(who: Caller, old_owner: str | None, result: list[dict[str, str]], what: str) -> None:
    owners = [entry_ref(g) for g in result if g["permission_level"] == "IS_OWNER"]
    if len(owners) != 1:
        # Source: CLI acceptance permissions/factcheck (Cloud) and testserver note "rejects a PUT with zero
        # owners OR more than one owner (verified against the backend)": 400 INVALID_PARAMETER_VALUE.
        raise invalid("The job must have exactly one owner.")
    if old_owner and owners[0].casefold() != old_owner.casefold() and not who.admin:
        # Source: Jobs ACL docs "The job owner can be changed only by an admin."; wording *unconfirmed*.
        raise denied(f"User {who.name} cannot change the owner of {what}: only workspace admins can.")


def merge(current: list[dict[str, str]], requested: list[dict[str, str]]) -> list[dict[str, str]]:
    """PATCH: requested entries replace the same principal's; a new owner demotes the old one to
    CAN_MANAGE (Source: Jobs ACL docs "After ownership is transferred, the previous owner is granted the
    CAN MANAGE permission")."""
    result = {entry_ref(g).casefold(): g for g in current}
    new_owner = next((entry_ref(g) for g in requested if g["permission_level"] == "IS_OWNER"), None)
    if new_owner:
        for key, g in result.items():
            if g["permission_level"] == "IS_OWNER" and key != new_owner.casefold():
                result[key] = {**g, "permission_level": "CAN_MANAGE"}
    for g in requested:
        result[entry_ref(g).casefold()] = g
    return list(result.values())


# -- the wire shape ----------------------------------------------------------------------------------


def render(store: Store, job_id: int, job: dict[str, Any] | None) -> dict[str, Any]:
    """GET /permissions/jobs/<id>. Source: CLI acceptance bundle/resources/permissions/jobs/added_remotely:
    direct grants with display_name and inherited false, then group admins with CAN_MANAGE inherited
    from "/jobs/" (also in databrickslabs/migrate#168, a real workspace's answer)."""
    entries = []
    for g in grants(store, job_id, job):
        ref = entry_ref(g)
        key = KEY_OF[ref.split("/", 1)[0] + "/"]
        out: dict[str, Any] = {key: g[key]}
        if not ref.startswith(GROUP):
            out["display_name"] = principals.display_name(store, ref)
        out["all_permissions"] = [{"permission_level": g["permission_level"], "inherited": False}]
        entries.append(out)
    entries.append(
        {
            "group_name": principals.ADMINS,
            "all_permissions": [
                {"permission_level": "CAN_MANAGE", "inherited": True, "inherited_from_object": ["/jobs/"]}
            ],
        }
    )
    return {"object_id": f"/jobs/{job_id}", "object_type": "job", "access_control_list": entries}


def permission_levels() -> dict[str, Any]:
    return {"permission_levels": [{"permission_level": lv, "description": DESCRIPTIONS[lv]} for lv in LEVELS]}

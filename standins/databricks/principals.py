"""Who is calling: users, service principals, groups, their tokens and Service Principal roles.

Everything lives in `store.data["principals"]` (plain JSON, so it survives restarts with the state
file). A principal is named by a reference in the rule-set form the account access-control API uses:
`users/<userName>`, `servicePrincipals/<applicationId>`, `groups/<displayName>`. Group `admins` holds
the workspace admins; group `users` holds every user implicitly and stores no members.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from standins.databricks.state import Store

ADMINS, USERS = "admins", "users"
SP_USER_ROLE = "roles/servicePrincipal.user"
SP_MANAGER_ROLE = "roles/servicePrincipal.manager"
USER, SP, GROUP = "users/", "servicePrincipals/", "groups/"


@dataclass(frozen=True)
class Caller:
    """The identity a request is made as: `name` is the userName, or the applicationId of an SP."""

    ref: str
    admin: bool
    groups: frozenset[str]

    @property
    def kind(self) -> str:
        return "service_principal" if self.ref.startswith(SP) else "user"

    @property
    def name(self) -> str:
        return self.ref.split("/", 1)[1]

    @property
    def acl_key(self) -> str:
        """The key naming this caller in an access control list entry or a run_as."""
        return "service_principal_name" if self.kind == "service_principal" else "user_name"


def empty_principals() -> dict[str, Any]:
    return {"users": {}, "service_principals": {}, "groups": {}, "tokens": {}}


def state(store: Store) -> dict[str, Any]:
    """`store.data["principals"]`, with any key an older state file lacks filled in."""
    st = store.data.setdefault("principals", empty_principals())
    for key, value in empty_principals().items():
        st.setdefault(key, value)
    for name in (ADMINS, USERS):
        if name not in st["groups"]:
            st["groups"][name] = {"id": scim_id(GROUP + name), "displayName": name, "members": []}
            store.mark_dirty()
    return st


def scim_id(ref: str) -> str:
    """A stable numeric SCIM id (the service's ids are 15-16 digit numbers)."""
    return str(int(hashlib.sha256(ref.encode()).hexdigest()[:13], 16))


def new_token() -> str:
    return "dapi" + secrets.token_hex(16)


def _key(name: str) -> str:
    return name.strip().casefold()


# -- look-ups ---------------------------------------------------------------------------------------


def user(store: Store, name: str) -> dict[str, Any] | None:
    """User names are e-mails, matched case-insensitively as SCIM does for userName."""
    return state(store)["users"].get(_key(name))


def service_principal(store: Store, application_id: str) -> dict[str, Any] | None:
    return state(store)["service_principals"].get(_key(application_id))


def group(store: Store, name: str) -> dict[str, Any] | None:
    groups = state(store)["groups"]
    if name in groups:
        return groups[name]
    return next((g for n, g in groups.items() if n.casefold() == name.casefold()), None)


def record(store: Store, ref: str) -> dict[str, Any] | None:
    kind, _, name = ref.partition("/")
    finder = {"users": user, "servicePrincipals": service_principal, "groups": group}.get(kind)
    return finder(store, name) if finder else None


def canonical_ref(store: Store, ref: str) -> str | None:
    """`ref` with the stored spelling of its name, or None when no such principal exists."""
    found = record(store, ref)
    if found is None:
        return None
    kind = ref.split("/", 1)[0]
    name = found.get("userName") or found.get("applicationId") or found["displayName"]
    return f"{kind}/{name}"


def resolve(store: Store, name: str) -> str:
    """A member or grantee given as `users/x`, `servicePrincipals/x`, `groups/x`, or a bare name (a user,
    else a service principal's application id, else a group)."""
    if name.startswith((USER, SP, GROUP)):
        found = canonical_ref(store, name)
        if found is None:
            raise ValueError(f"No principal {name!r} in the emulated workspace")
        return found
    for prefix in (USER, SP, GROUP):
        found = canonical_ref(store, prefix + name)
        if found:
            return found
    raise ValueError(f"No user, service principal or group named {name!r} in the emulated workspace")


def ref_for_name(store: Store, name: str) -> str:
    """The principal a job's `creator_user_name` names: an SP's application id, else a user name."""
    return SP + name if service_principal(store, name) else USER + name


def is_active(store: Store, ref: str) -> bool:
    found = record(store, ref)
    return bool(found) and found.get("active", True)


def display_name(store: Store, ref: str) -> str:
    found = record(store, ref)
    return (found or {}).get("displayName") or ref.split("/", 1)[1]


def groups_of(store: Store, ref: str) -> dict[str, str]:
    """Group name -> "direct" or "indirect" (through a nested group) for `ref`; `users` for every user."""
    groups = state(store)["groups"]
    out: dict[str, str] = {USERS: "direct"} if ref.startswith(USER) else {}
    frontier = [ref]
    while frontier:
        member = frontier.pop()
        for name, g in groups.items():
            if name not in out and member in g["members"]:
                out[name] = "direct" if member == ref else "indirect"
                frontier.append(GROUP + name)
    return out


def caller(store: Store, ref: str) -> Caller:
    groups = frozenset(groups_of(store, ref))
    return Caller(ref, ADMINS in groups, groups)


def caller_for_token(store: Store, token: str) -> Caller | None:
    """Whom a bearer token belongs to; None for an unknown token or a deactivated principal."""
    ref = state(store)["tokens"].get(token)
    if ref is None or not is_active(store, ref):
        return None
    return caller(store, ref)


def has_role(store: Store, who: Caller, application_id: str, role: str = SP_USER_ROLE) -> bool:
    """Whether `who` holds `role` on the service principal, directly or through one of its groups."""
    sp = service_principal(store, application_id)
    if sp is None:
        return False
    for principal in sp["roles"].get(role, []):
        if principal.startswith(GROUP) and principal[len(GROUP) :] in who.groups:
            return True
        if principal.casefold() == who.ref.casefold():
            return True
    return False


# -- changes (the emulator's helpers and control endpoint) ---------------------------------------


def _set_memberships(store: Store, ref: str, admin: bool, groups: Iterable[str]) -> None:
    """Make `ref` a direct member of exactly `groups` (created when missing), plus `admins` if `admin`."""
    wanted = {g for g in groups if g != USERS}
    if admin:
        wanted.add(ADMINS)
    for name in wanted:
        add_group(store, name)
    for name, g in state(store)["groups"].items():
        if name in wanted and ref not in g["members"]:
            g["members"].append(ref)
        elif name not in wanted and ref in g["members"]:
            g["members"].remove(ref)
    store.mark_dirty()


def _issue_token(store: Store, ref: str) -> str:
    token = new_token()
    state(store)["tokens"][token] = ref
    store.mark_dirty()
    return token


def _default_display(user_name: str) -> str:
    return user_name.split("@")[0].replace(".", " ").replace("-", " ").replace("_", " ").title()


def add_user(
    store: Store,
    user_name: str,
    *,
    admin: bool = False,
    groups: Iterable[str] = (),
    display_name: str = "",
    active: bool = True,
) -> str:
    """Create or update a user; returns a fresh token for it."""
    if not user_name or not user_name.strip():
        raise ValueError("user_name must not be empty")
    groups = list(groups)
    users = state(store)["users"]
    found = users.get(_key(user_name))
    if found is None:
        found = {"id": scim_id(USER + _key(user_name)), "userName": user_name.strip()}
        users[_key(user_name)] = found
    found["displayName"] = display_name or found.get("displayName") or _default_display(found["userName"])
    found["active"] = bool(active)
    ref = USER + found["userName"]
    _set_memberships(store, ref, admin or ADMINS in groups, groups)
    return _issue_token(store, ref)


def add_service_principal(
    store: Store,
    display_name: str,
    *,
    application_id: str | None = None,
    admin: bool = False,
    groups: Iterable[str] = (),
    users: Iterable[str] = (),
    active: bool = True,
    manager: str | None = None,
) -> tuple[str, str]:
    """Create or update a service principal; `users` get its Service Principal User role, `manager`
    (a principal reference) its Manager role. Returns (application_id, token)."""
    app_id = application_id or str(uuid.uuid4())
    groups = list(groups)
    sps = state(store)["service_principals"]
    found = sps.get(_key(app_id))
    if found is None:
        found = {
            "id": scim_id(SP + _key(app_id)),
            "applicationId": app_id,
            "roles": {SP_MANAGER_ROLE: [], SP_USER_ROLE: []},
            "version": 1,
        }
        sps[_key(app_id)] = found
    found["displayName"] = display_name or found.get("displayName") or app_id
    found["active"] = bool(active)
    ref = SP + found["applicationId"]
    if manager and manager not in found["roles"][SP_MANAGER_ROLE]:
        found["roles"][SP_MANAGER_ROLE].append(manager)
    for name in users:
        principal = name if name.startswith((USER, SP, GROUP)) else USER + name
        if principal not in found["roles"][SP_USER_ROLE]:
            found["roles"][SP_USER_ROLE].append(principal)
    found["version"] += 1
    _set_memberships(store, ref, admin or ADMINS in groups, groups)
    return found["applicationId"], _issue_token(store, ref)


def add_group(store: Store, name: str, members: Iterable[str] = ()) -> dict[str, Any]:
    """Create the group if needed and add `members` (see `resolve` for how they are named)."""
    if not name or "/" in name:
        raise ValueError(f"Invalid group name {name!r}")
    found = group(store, name)
    if found is None:
        found = {"id": scim_id(GROUP + name), "displayName": name, "members": []}
        state(store)["groups"][name] = found
    if name == USERS and list(members):
        raise ValueError("Every user is in group 'users' already; it takes no members")
    for member in members:
        ref = resolve(store, member)
        if ref == GROUP + found["displayName"]:
            raise ValueError(f"Group {name!r} cannot contain itself")
        if ref not in found["members"]:
            found["members"].append(ref)
    store.mark_dirty()
    return found


def ensure_default(store: Store, user_name: str, token: str) -> None:
    """The emulator's own user, a workspace admin, reachable with its fixed `token`."""
    st = state(store)
    if user(store, user_name) is None:
        add_user(store, user_name, admin=True)
    if st["tokens"].get(token) is None:
        st["tokens"][token] = USER + user(store, user_name)["userName"]
        store.mark_dirty()

"""Who someone is in Databricks: a person's handle (e-mail, or a configured service principal) → Principal.

jobagent acts with its own credentials, so it must know the Databricks identity of the person it acts
for before it decides anything: Databricks permissions (not Slack channel membership) say who may change
a job. Identities are looked up with SCIM (users by `userName`, service principals by `applicationId`)
and cached for a while, because a busy channel asks about the same people again and again.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.errors import AccessDenied

ADMINS_GROUP = "admins"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_SAFE_NAME = re.compile(r"^[^\"\\\s]{1,256}$")  # what may go inside a SCIM filter's quotes


@dataclass(frozen=True)
class Principal:
    """A Databricks user (name = userName, an e-mail) or service principal (name = application id)."""

    kind: Literal["user", "service_principal"]
    name: str
    display: str = ""
    groups: frozenset[str] = field(default_factory=frozenset)
    active: bool = True

    @property
    def admin(self) -> bool:
        return ADMINS_GROUP in self.groups

    @property
    def label(self) -> str:
        if self.kind == "service_principal":
            return f"service principal {self.display or self.name} ({self.name})"
        return self.name

    def run_as(self) -> dict[str, str]:
        key = "service_principal_name" if self.kind == "service_principal" else "user_name"
        return {key: self.name}

    def acl_entry(self, level: str) -> dict[str, str]:
        return {**self.run_as(), "permission_level": level}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "display": self.display,
            "groups": sorted(self.groups),
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Principal:
        return cls(
            data.get("kind", "user"),
            data["name"],
            data.get("display", ""),
            frozenset(data.get("groups") or ()),
            bool(data.get("active", True)),
        )


def looks_like_application_id(name: str) -> bool:
    return bool(_UUID.match(name))


class Directory:
    """SCIM lookups through the Workspace adapter (`workspace` is a factory, so nothing connects until a
    lookup is needed), cached for `ttl` seconds (misses too, more briefly).

    `service_principals` maps handles (a Slack user id, an e-mail) to the application id of the service
    principal they stand for, for bots and shared accounts that act as one.
    """

    def __init__(
        self,
        workspace: Callable[[], Any],
        *,
        ttl: float = 300.0,
        service_principals: Mapping[str, str] | None = None,
    ):
        self._workspace = workspace
        self.ttl = ttl
        self.service_principals = dict(service_principals or {})
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    @property
    def ws(self) -> Any:
        return self._workspace()

    def me(self) -> Principal:
        """The identity of jobagent's own credentials."""
        return self._cached("me", lambda: self.ws.current_principal())  # type: ignore[return-value]

    def find(self, handle: str, email: str | None = None) -> Principal:
        """The principal `handle` stands for; AccessDenied with what to do when none.

        `email` None: the handle is itself a user name (CLI). A string: the handle is another system's id
        (a Slack user) and this is its e-mail — "" when that system would not say."""
        app_id = self.service_principals.get(handle) or (email and self.service_principals.get(email))
        if app_id:
            found = self._lookup("sp:" + app_id, lambda: self.ws.find_service_principal(app_id))
            return self._usable(found, f"service principal {app_id} (configured for {handle})")
        name = (handle if email is None else email).strip()
        if looks_like_application_id(name):
            found = self._lookup("sp:" + name, lambda: self.ws.find_service_principal(name))
            return self._usable(found, f"service principal {name}")
        if not name or not _SAFE_NAME.match(name):
            raise AccessDenied(
                f"{handle or 'This person'} has no e-mail address jobagent can use to find their Databricks "
                "identity. In Slack the app needs the users:read.email scope; in the CLI set JOBAGENT_USER "
                "to your Databricks user name (your e-mail)."
            )
        found = self._lookup("user:" + name.lower(), lambda: self.ws.find_user(name))
        return self._usable(found, name)

    def _usable(self, found: Principal | None, who: str) -> Principal:
        if found is None:
            raise AccessDenied(
                f"{who} has no identity in this Databricks workspace, so jobagent will not act for them. "
                "Ask a workspace admin to add them (Settings → Identity and access), then try again."
            )
        if not found.active:
            raise AccessDenied(f"{found.label} is deactivated in this Databricks workspace.")
        return found

    def _lookup(self, key: str, fetch: Callable[[], Principal | None]) -> Principal | None:
        return self._cached(key, fetch, miss_ttl=min(self.ttl, 30.0))

    def _cached(
        self, key: str, fetch: Callable[[], Principal | None], miss_ttl: float | None = None
    ) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = fetch()
        ttl = self.ttl if value is not None or miss_ttl is None else miss_ttl
        with self._lock:
            self._cache[key] = (now + ttl, value)
        return value

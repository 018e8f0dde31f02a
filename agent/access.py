"""What a person may ask jobagent to do, decided by Databricks itself: job permissions and identities.

jobagent calls Databricks with its own credentials, which may reach far more than the person asking. So
before it plans or approves anything it checks, as Databricks would for that person:
- updating a job needs CAN_MANAGE on it (or IS_OWNER, or workspace admin), read from the Jobs
  permissions API — for the requester at plan and apply time, for the approver at approval;
- approving a new job needs a workspace identity; with JOBAGENT_REQUIRE_OTHER_APPROVER the requester
  may not approve their own plan;
- a job runs with the data access of its run_as identity, so choosing one other than yourself follows
  Databricks' rule: another user needs workspace admin; a service principal needs the Service Principal
  User role on it, admins included (Jobs docs: admins may set run_as to any user, and to the service
  principals they hold that role on).
New jobs run as the requester by default (JOBAGENT_RUN_AS=requester | bot | service_principal:<app-id>)
and grant the requester CAN_MANAGE, so they can change them later through jobagent or directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.config import env_flag
from agent.errors import AccessDenied, ConfigError
from agent.identity import Directory, Principal, looks_like_application_id

LEVELS = {"CAN_VIEW": 1, "CAN_MANAGE_RUN": 2, "CAN_MANAGE": 3, "IS_OWNER": 4}
EVERYONE = "users"  # the workspace group every user belongs to
RUN_AS_MODES = ("requester", "bot", "service_principal")


@dataclass(frozen=True)
class AccessPolicy:
    """The team's choices, from the environment (see the module docstring)."""

    run_as: str = "requester"
    run_as_service_principal: str = ""  # the application id, when run_as is service_principal
    require_other_approver: bool = False
    identity_ttl: float = 300.0
    service_principals: Mapping[str, str] = field(default_factory=dict)  # handle → application id

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AccessPolicy:
        env = os.environ if env is None else env
        raw = env.get("JOBAGENT_RUN_AS", "").strip() or "requester"
        mode, _, sp = raw.partition(":")
        mode = mode.strip().lower().replace("-", "_")
        if mode not in RUN_AS_MODES or (mode == "service_principal") != bool(sp.strip()):
            raise ConfigError(
                f"JOBAGENT_RUN_AS={raw!r} must be requester (new jobs run as the person who asked), bot "
                "(as jobagent's own identity) or service_principal:<application-id>."
            )
        if sp and not looks_like_application_id(sp.strip()):
            raise ConfigError(f"JOBAGENT_RUN_AS: {sp.strip()!r} is not a service principal application id.")
        ttl_raw = env.get("JOBAGENT_IDENTITY_TTL", "").strip() or "300"
        try:
            ttl = float(ttl_raw)
        except ValueError:
            ttl = -1.0
        if not 0 <= ttl <= 86400:
            raise ConfigError(f"JOBAGENT_IDENTITY_TTL={ttl_raw!r} must be seconds between 0 and 86400.")
        return cls(
            run_as=mode,
            run_as_service_principal=sp.strip(),
            require_other_approver=env_flag(env, "JOBAGENT_REQUIRE_OTHER_APPROVER", False),
            identity_ttl=ttl,
            service_principals=_pairs(env.get("JOBAGENT_SERVICE_PRINCIPALS", "")),
        )


def _pairs(raw: str) -> dict[str, str]:
    """`handle=application-id,…` (a handle is a Slack user id or an e-mail)."""
    pairs: dict[str, str] = {}
    for part in raw.replace(";", ",").split(","):
        if not part.strip():
            continue
        handle, sep, app_id = part.partition("=")
        if not sep or not handle.strip() or not looks_like_application_id(app_id.strip()):
            raise ConfigError(
                f"JOBAGENT_SERVICE_PRINCIPALS: {part.strip()!r} must be handle=<application-id> "
                "(handle: a Slack user id or an e-mail)."
            )
        pairs[handle.strip()] = app_id.strip()
    return pairs


class Access:
    """The checks in the module docstring, over a Workspace adapter (a factory: connects on first use)."""

    def __init__(self, workspace: Callable[[], Any], policy: AccessPolicy | None = None):
        self._workspace = workspace
        self.policy = policy or AccessPolicy()
        self.directory = Directory(
            workspace, ttl=self.policy.identity_ttl, service_principals=self.policy.service_principals
        )

    @property
    def ws(self) -> Any:
        return self._workspace()

    def identify(self, handle: str, email: str | None = None) -> Principal:
        return self.directory.find(handle, email)

    # -- job permissions -----------------------------------------------------------------------
    def level(self, who: Principal, job_id: int) -> str | None:
        """The highest permission `who` holds on the job, directly, through a group, or as admin."""
        if who.admin:
            return "CAN_MANAGE"
        best: str | None = None
        for kind, name, level in self.ws.job_permissions(job_id):
            if _holds(who, kind, name) and LEVELS.get(level, 0) > LEVELS.get(best or "", 0):
                best = level
        return best

    def require_manage(self, who: Principal, job_id: int, doing: str) -> None:
        level = self.level(who, job_id)
        if LEVELS.get(level or "", 0) >= LEVELS["CAN_MANAGE"]:
            return
        held = f"only {level}" if level else "no permission"
        raise AccessDenied(
            f"{who.label} has {held} on job {job_id}; {doing} needs CAN_MANAGE. Ask the job's owner or a "
            "workspace admin to grant it (job → Permissions), then ask again. Nothing was changed."
        )

    # -- run_as --------------------------------------------------------------------------------
    def require_run_as(self, who: Principal, run_as: Mapping[str, str] | None) -> None:
        """Databricks' rule for choosing whose data access a job runs with, applied to the requester."""
        if not run_as:
            return
        user, sp = run_as.get("user_name"), run_as.get("service_principal_name")
        if user and not (who.kind == "user" and user.lower() == who.name.lower()) and not who.admin:
            raise AccessDenied(
                f"{who.label} asked for the job to run as {user}; only workspace admins may make a job "
                "run as another user. Leave run_as out (the job runs as you) or ask an admin. "
                "Nothing was changed."
            )
        if sp and not self.may_use_service_principal(who, sp):
            raise AccessDenied(
                f"{who.label} may not run jobs as service principal {sp}: that needs the Service Principal "
                "User role on it (its Permissions tab in Identity and access; workspace admins need it too). "
                "Nothing was changed."
            )

    def may_use_service_principal(self, who: Principal, application_id: str) -> bool:
        if who.kind == "service_principal" and who.name == application_id:
            return True
        holders = self.ws.service_principal_users(application_id)
        mine = {f"groups/{g}" for g in who.groups}
        mine.add(f"servicePrincipals/{who.name}" if who.kind == "service_principal" else f"users/{who.name}")
        return bool(holders & mine)

    def new_job_identity(self, requester: Principal) -> dict[str, str] | None:
        """run_as for a new job by the team's policy (None: the creator, jobagent itself)."""
        if self.policy.run_as == "requester":
            return requester.run_as()
        if self.policy.run_as == "service_principal":
            return {"service_principal_name": self.policy.run_as_service_principal}
        return None

    def new_job_grants(self, requester: Principal) -> list[dict[str, str]]:
        """The access control list a new job is created with: the requester may manage it."""
        return [requester.acl_entry("CAN_MANAGE")]

    # -- approvals -----------------------------------------------------------------------------
    def require_approver(self, who: Principal, requester: Principal | None, action: str, job_id: Any) -> None:
        if self.policy.require_other_approver and requester is not None and _same(who, requester):
            raise AccessDenied(
                f"{who.label} asked for this plan, and this team requires someone else to approve "
                "(JOBAGENT_REQUIRE_OTHER_APPROVER). Ask a colleague to review it."
            )
        if action == "update" and job_id:
            self.require_manage(who, int(job_id), "approving a change to it")


def _holds(who: Principal, kind: str, name: str) -> bool:
    if kind == "group":
        return name in who.groups or (name == EVERYONE and who.kind == "user")
    if kind == "user":
        return who.kind == "user" and name.lower() == who.name.lower()
    return who.kind == "service_principal" and name == who.name


def _same(a: Principal, b: Principal) -> bool:
    return a.kind == b.kind and a.name.lower() == b.name.lower()

"""SCIM 2.0 reads under /api/2.0/preview/scim/v2: Me, Users, ServicePrincipals and Groups.

List answers are SCIM ListResponses paged by `startIndex` (1-based) and `count`, the way the SDK's
`w.users.list()` walks them (it asks from startIndex 1 with count 10000 and stops at an empty page);
errors use SCIM's own body (`schemas`, `detail`, `status`), which the SDK turns into `SCIM_<status>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from standins.databricks import principals
from standins.databricks.errors import ApiError
from standins.databricks.params import Request
from standins.databricks.permissions import caller
from standins.databricks.principals import GROUP, SP, USER
from standins.databricks.state import Store

USER_SCHEMAS = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:workspace:2.0:User",
]
SP_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]
GROUP_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:Group"]
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# Entitlements: names from the SCIM docs; which principals carry which directly is *unconfirmed*.
BASIC = ("workspace-access", "databricks-sql-access")
ADMIN_EXTRA = ("allow-cluster-create", "allow-instance-pool-create")


class ScimError(ApiError):
    """Source: RFC 7644 §3.12 and Databricks' SCIM answers ({"schemas": [...Error], "detail", "status"})."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(status, f"SCIM_{status}", detail)
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "detail": self.message, "status": str(self.status)}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out


# -- resources ---------------------------------------------------------------------------------------


def _groups(store: Store, ref: str) -> list[dict[str, Any]]:
    out = []
    for name, how in principals.groups_of(store, ref).items():
        g = principals.group(store, name)
        out.append({"display": name, "type": how, "value": g["id"], "$ref": f"Groups/{g['id']}"})
    return out


def _entitlements(admin: bool) -> list[dict[str, str]]:
    return [{"value": v} for v in BASIC + (ADMIN_EXTRA if admin else ())]


def user_resource(store: Store, rec: dict[str, Any]) -> dict[str, Any]:
    ref = USER + rec["userName"]
    groups = _groups(store, ref)
    out: dict[str, Any] = {
        "schemas": list(USER_SCHEMAS),
        "id": rec["id"],
        "userName": rec["userName"],
        "displayName": rec["displayName"],
        "active": rec["active"],
    }
    if "@" in rec["userName"]:
        out["emails"] = [{"value": rec["userName"], "type": "work", "primary": True}]
    out["groups"] = groups
    out["entitlements"] = _entitlements(any(g["display"] == principals.ADMINS for g in groups))
    return out


def sp_resource(store: Store, rec: dict[str, Any]) -> dict[str, Any]:
    groups = _groups(store, SP + rec["applicationId"])
    return {
        "schemas": list(SP_SCHEMAS),
        "id": rec["id"],
        "applicationId": rec["applicationId"],
        "displayName": rec["displayName"],
        "active": rec["active"],
        "groups": groups,
        "entitlements": _entitlements(any(g["display"] == principals.ADMINS for g in groups)),
    }


def group_resource(store: Store, rec: dict[str, Any]) -> dict[str, Any]:
    if rec["displayName"] == principals.USERS:
        refs = [USER + u["userName"] for u in principals.state(store)["users"].values()]
    else:
        refs = rec["members"]
    members = []
    for ref in refs:
        found = principals.record(store, ref)
        if found is None:
            continue
        kind = {USER: "Users", SP: "ServicePrincipals", GROUP: "Groups"}[ref.split("/", 1)[0] + "/"]
        ident = found["id"]
        members.append({"display": found["displayName"], "value": ident, "$ref": f"{kind}/{ident}"})
    return {
        "schemas": list(GROUP_SCHEMAS),
        "id": rec["id"],
        "displayName": rec["displayName"],
        "members": members,
        "groups": _groups(store, GROUP + rec["displayName"]),
        "meta": {"resourceType": "WorkspaceGroup"},
    }


# -- handlers ----------------------------------------------------------------------------------------


def me(store: Store, req: Request) -> dict[str, Any]:
    """The caller. For a service principal, userName is its application id (Source: Databricks CLI
    acceptance bundle/resources/permissions/jobs/destroy_without_mgmtperms, Cloud = true:
    `current-user me | jq .userName` prints the SP's application id); the rest of that shape is
    *unconfirmed*."""
    who = caller(store, req)
    if who.kind == "user":
        out = user_resource(store, principals.user(store, who.name))
    else:
        sp = sp_resource(store, principals.service_principal(store, who.name))
        out = {"schemas": list(USER_SCHEMAS), "id": sp["id"], "userName": sp["applicationId"]}
        out.update({k: sp[k] for k in ("displayName", "active", "groups", "entitlements")})
    return _select(out, req)


def list_users(store: Store, req: Request) -> dict[str, Any]:
    recs = principals.state(store)["users"].values()
    return _list(req, [user_resource(store, r) for r in recs])


def get_user(store: Store, req: Request) -> dict[str, Any]:
    return _get(req, [user_resource(store, r) for r in principals.state(store)["users"].values()], "User")


def list_service_principals(store: Store, req: Request) -> dict[str, Any]:
    recs = principals.state(store)["service_principals"].values()
    return _list(req, [sp_resource(store, r) for r in recs])


def get_service_principal(store: Store, req: Request) -> dict[str, Any]:
    recs = principals.state(store)["service_principals"].values()
    return _get(req, [sp_resource(store, r) for r in recs], "Service principal")


def list_groups(store: Store, req: Request) -> dict[str, Any]:
    recs = principals.state(store)["groups"].values()
    return _list(req, [group_resource(store, r) for r in recs])


def get_group(store: Store, req: Request) -> dict[str, Any]:
    return _get(req, [group_resource(store, r) for r in principals.state(store)["groups"].values()], "Group")


def _get(req: Request, resources: list[dict[str, Any]], what: str) -> dict[str, Any]:
    wanted = req.path_params["id"]
    found = next((r for r in resources if r["id"] == wanted), None)
    if found is None:
        raise ScimError(404, f"{what} {wanted} not found.")  # wording *unconfirmed*
    return _select(found, req)


def _list(req: Request, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Source: RFC 7644 §3.4.2 (filter, startIndex, count) and the SDK's UsersAPI.list paging loop."""
    text = req.query.get("filter")
    if text:
        test = parse_filter(text)
        resources = [r for r in resources if test(r)]
    sort_by = req.query.get("sortBy")
    if sort_by:
        resources.sort(
            key=lambda r: str(_values(r, sort_by)[:1] or "").casefold(),
            reverse=req.query.get("sortOrder", "ascending").lower() == "descending",
        )
    start = max(1, _int(req.query.get("startIndex"), "startIndex", 1))
    count = _int(req.query.get("count"), "count", len(resources))
    page = resources[start - 1 : start - 1 + max(0, count)]
    out: dict[str, Any] = {
        "totalResults": len(resources),
        "itemsPerPage": len(page),
        "startIndex": start,
        "schemas": [LIST_SCHEMA],
    }
    if page:  # an empty page carries no Resources (*unconfirmed*; the SDK stops on either)
        out["Resources"] = [_select(r, req) for r in page]
    return out


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ScimError(400, f"Invalid value for {name}: {value!r}", "invalidValue") from exc


def _select(resource: dict[str, Any], req: Request) -> dict[str, Any]:
    """`attributes` keeps only those (plus id and schemas, RFC 7644 §3.9); `excludedAttributes` drops."""
    keep = _names(req.query.get("attributes"))
    drop = _names(req.query.get("excludedAttributes"))
    out = dict(resource)
    if keep:
        out = {k: v for k, v in out.items() if k.casefold() in keep or k in ("id", "schemas")}
    if drop:
        out = {k: v for k, v in out.items() if k.casefold() not in drop or k in ("id", "schemas")}
    return out


def _names(text: str | None) -> set[str]:
    return {part.strip().split(".")[0].casefold() for part in (text or "").split(",") if part.strip()}


# -- filters -----------------------------------------------------------------------------------------

TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+)')
OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr")
Test = Callable[[dict[str, Any]], bool]


def parse_filter(text: str) -> Test:
    """RFC 7644 §3.4.2.2 filters: `attr op value`, `attr pr`, `and`, `or`, `not (...)`, parentheses.
    Strings compare case-insensitively (userName and displayName are caseExact=false in RFC 7643)
    except `id`. Source for the operators Databricks takes: SDK UsersAPI.list docstring (eq, co, sw,
    ne, and, or)."""
    tokens = _tokenize(text)
    pos, test = _or(tokens, 0, text)
    if pos != len(tokens):
        raise _bad_filter(text, f"unexpected {tokens[pos]!r}")
    return test


def _bad_filter(text: str, why: str) -> ScimError:
    # The status and SCIM error shape are RFC 7644's; Databricks' exact wording is *unconfirmed*.
    return ScimError(400, f"Invalid filter {text!r}: {why}.", "invalidFilter")


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip():
                raise _bad_filter(text, "unbalanced quotes")
            break
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise _bad_filter(text, "it is empty")
    return tokens


def _or(tokens: list[str], pos: int, text: str) -> tuple[int, Test]:
    pos, left = _and(tokens, pos, text)
    while pos < len(tokens) and tokens[pos].lower() == "or":
        pos, right = _and(tokens, pos + 1, text)
        left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
    return pos, left


def _and(tokens: list[str], pos: int, text: str) -> tuple[int, Test]:
    pos, left = _unary(tokens, pos, text)
    while pos < len(tokens) and tokens[pos].lower() == "and":
        pos, right = _unary(tokens, pos + 1, text)
        left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
    return pos, left


def _unary(tokens: list[str], pos: int, text: str) -> tuple[int, Test]:
    if pos >= len(tokens):
        raise _bad_filter(text, "it ends too early")
    word = tokens[pos]
    if word.lower() == "not" and pos + 1 < len(tokens) and tokens[pos + 1] == "(":
        pos, inner = _group(tokens, pos + 1, text)
        return pos, lambda r: not inner(r)
    if word == "(":
        return _group(tokens, pos, text)
    return _comparison(tokens, pos, text)


def _group(tokens: list[str], pos: int, text: str) -> tuple[int, Test]:
    pos, inner = _or(tokens, pos + 1, text)
    if pos >= len(tokens) or tokens[pos] != ")":
        raise _bad_filter(text, "a parenthesis is not closed")
    return pos + 1, inner


def _comparison(tokens: list[str], pos: int, text: str) -> tuple[int, Test]:
    attr = tokens[pos]
    if not re.fullmatch(r"[A-Za-z$][\w$]*(\.[A-Za-z$][\w$]*)?", attr):
        raise _bad_filter(text, f"{attr!r} is not an attribute")
    if pos + 1 >= len(tokens) or tokens[pos + 1].lower() not in OPERATORS:
        raise _bad_filter(text, f"expected one of {', '.join(OPERATORS)} after {attr}")
    op = tokens[pos + 1].lower()
    if op == "pr":
        return pos + 2, lambda r: any(v not in (None, "", []) for v in _values(r, attr))
    if pos + 2 >= len(tokens):
        raise _bad_filter(text, f"{attr} {op} needs a value")
    value = _literal(tokens[pos + 2], text)
    exact = attr.casefold() == "id"
    return pos + 3, lambda r: any(_compare(v, op, value, exact) for v in _values(r, attr))


def _literal(token: str, text: str) -> Any:
    if token.startswith('"'):
        return json.loads(token)
    lowered = token.lower()
    if lowered in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[lowered]
    try:
        return json.loads(token)
    except ValueError:
        raise _bad_filter(text, f"{token} is not a value (strings need double quotes)") from None


def _values(resource: dict[str, Any], path: str) -> list[Any]:
    """The values at `path` (e.g. `userName`, `emails.value`), attribute names case-insensitive."""
    current: list[Any] = [resource]
    for part in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict):
                for key, value in item.items():
                    if key.casefold() == part.casefold():
                        nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    if current and all(isinstance(v, dict) and "value" in v for v in current):
        return [v["value"] for v in current]  # `emails eq "x"` means emails.value
    return current


def _compare(actual: Any, op: str, wanted: Any, exact: bool) -> bool:
    if isinstance(actual, str) and isinstance(wanted, str):
        a, w = (actual, wanted) if exact else (actual.casefold(), wanted.casefold())
        return {
            "eq": a == w,
            "ne": a != w,
            "co": w in a,
            "sw": a.startswith(w),
            "ew": a.endswith(w),
            "gt": a > w,
            "ge": a >= w,
            "lt": a < w,
            "le": a <= w,
        }[op]
    if op == "eq":
        return actual == wanted
    if op == "ne":
        return actual != wanted
    if isinstance(actual, int | float) and isinstance(wanted, int | float) and not isinstance(actual, bool):
        ordered = {
            "gt": actual > wanted,
            "ge": actual >= wanted,
            "lt": actual < wanted,
            "le": actual <= wanted,
        }
        return ordered.get(op, False)
    return False

"""`jobagent tools register`: create the built-ins idempotently (created / updated / unchanged).

What is compared is what UC stores: the body (routine_definition), the comment and the parameters.
Only the project's own definitions (builtins.py, policies.py) are ever registered here; nothing a
request says can become a function, and names that are not plain identifiers are refused first.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent.uc.builtins import BUILTINS, Builtin, SqlFunction
from agent.uc.client import FunctionCallError, UCSession
from agent.uc.policies import POLICIES
from agent.uc.untrusted import check_names

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wanted:
    """What a function should look like in UC, and how to (re)create it."""

    definition: str
    comment: str
    params: tuple[tuple[str, str], ...]  # (name, type)


def register(session: UCSession, specs: Iterable[Builtin] = BUILTINS + POLICIES) -> list[tuple[str, str]]:
    """Create missing functions, replace changed ones -> [(full name, created|updated|unchanged)]."""
    specs = list(specs)
    schemas = {session.config.policy_schema if s.policy else session.config.schema for s in specs}
    for schema in sorted(schemas):
        session.run(_ensure_schema, session, schema, timeout=60)
    results = []
    for spec in specs:
        schema = session.config.policy_schema if spec.policy else session.config.schema
        full_name = f"{session.config.catalog}.{schema}.{spec.name}"
        wanted = _wanted(session.config.mode, spec.source)
        try:
            check_names(spec.name, [name for name, _ in wanted.params])
        except ValueError as exc:
            raise FunctionCallError(str(exc), "refused") from None
        existing = session.get(full_name)
        if existing is not None and _current(existing) == wanted:
            results.append((full_name, "unchanged"))
            continue
        session.run(_create, session, spec.source, schema, full_name, existing is not None, timeout=120)
        status = "updated" if existing is not None else "created"
        log.info("%s %s", status, full_name)
        results.append((full_name, status))
    return results


def _wanted(mode: str, source: Any) -> Wanted:
    if isinstance(source, SqlFunction):
        body = source.sql_expr if mode == "databricks" else source.python_body
        params = tuple((n, t) for n, t, _ in source.params)
        return Wanted(_norm(body), source.comment, params)
    from unitycatalog.ai.core.utils.callable_utils import extract_function_metadata

    meta = extract_function_metadata(source)
    params = tuple((p["name"], p["base_type_name"]) for p in meta.parameters)
    comment = meta.docstring_info.description
    if mode == "databricks":
        comment = comment.replace("'", '"')  # as generate_sql_function_body writes it
    return Wanted(_norm(meta.function_body), comment, params)


def _current(info: Any) -> Wanted:
    params = (info.input_params.parameters if info.input_params else None) or []
    return Wanted(
        _norm(info.routine_definition),
        info.comment or "",
        tuple((p.name, str(getattr(p.type_name, "value", p.type_name)).upper()) for p in params),
    )


def _norm(text: str | None) -> str:
    return "\n".join(line.rstrip() for line in textwrap.dedent(text or "").strip().splitlines())


def _ensure_schema(session: UCSession, schema: str) -> None:
    config, client = session.config, session.client
    if config.mode == "oss":
        client.uc.create_catalog(name=config.catalog)  # both return the existing one if present
        client.uc.create_schema(name=schema, catalog_name=config.catalog, comment="jobagent functions")
        return
    from databricks.sdk.errors import NotFound

    try:
        client.client.schemas.get(f"{config.catalog}.{schema}")
    except NotFound:
        client.client.schemas.create(name=schema, catalog_name=config.catalog, comment="jobagent functions")


def _create(session: UCSession, source: Any, schema: str, full_name: str, replace: bool) -> None:
    config, client = session.config, session.client
    if config.mode == "oss":
        if isinstance(source, SqlFunction):
            client.create_function(
                function_name=full_name,
                routine_definition=source.python_body,
                data_type=source.returns,
                full_data_type=source.returns,
                comment=source.comment,
                parameters=source.oss_params(),
                replace=replace,
            )
        else:
            client.create_python_function(func=source, catalog=config.catalog, schema=schema, replace=replace)
        return
    if isinstance(source, SqlFunction):
        sql = source.create_sql(config.catalog, schema)
    else:
        from unitycatalog.ai.core.utils.callable_utils import generate_sql_function_body

        sql = generate_sql_function_body(source, config.catalog, schema, replace=True)
    if config.execution == "warehouse":
        _run_statement(client.client, config.warehouse_id, sql)
    else:
        client.create_function(sql_function_body=sql)  # serverless: through databricks-connect


def _run_statement(workspace: Any, warehouse_id: str, sql: str) -> None:
    """DatabricksFunctionClient.create_function needs databricks-connect even with a warehouse: run the
    CREATE FUNCTION statement on the warehouse directly instead."""
    response = workspace.statement_execution.execute_statement(
        statement=sql, warehouse_id=warehouse_id, wait_timeout="50s"
    )
    state = getattr(response.status, "state", None)
    if str(getattr(state, "value", state)) != "SUCCEEDED":
        error = getattr(response.status, "error", None)
        raise FunctionCallError(f"CREATE FUNCTION failed on warehouse {warehouse_id}: {error or state}")

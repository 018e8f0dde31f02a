"""`jobagent tools register|list|call|status` and `jobagent uc-server`; heavy imports stay in handlers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TOOLS_HELP = """Unity Catalog functions the agent uses as tools (and as policies checked before apply).

configuration: JOBAGENT_UC_URL=http://127.0.0.1:8080 (open-source Unity Catalog server) or
JOBAGENT_UC_MODE=databricks (+ DATABRICKS_* credentials and JOBAGENT_UC_WAREHOUSE_ID);
JOBAGENT_UC_CATALOG (main), JOBAGENT_UC_SCHEMA (jobagent), JOBAGENT_UC_POLICY_SCHEMA
(jobagent_policies), JOBAGENT_UC_EXECUTION (sandbox|local), JOBAGENT_UC_TIMEOUT (10 s),
JOBAGENT_UC_MEMORY_MB (512 MB per call), JOBAGENT_UC_POLICY_ON_ERROR (block|warn). Functions run in a
separate process with no credentials in its environment; sandbox mode also forbids new processes.

examples:
  jobagent uc-server --port 8080 &              a local stand-in server to try it
  export JOBAGENT_UC_URL=http://127.0.0.1:8080
  jobagent tools register                       built-ins and policies (both schemas)
  jobagent tools list
  jobagent tools call next_run_times '{"cron": "0 30 6 ? * MON-FRI", "timezone_id": "UTC", "count": 3}'"""


EXAMPLE_ARGS = """give an object like '{"name": "nightly-ingest"}'"""


def add_commands(sub: Any) -> dict[str, Any]:
    tools = sub.add_parser(
        "tools",
        help="Unity Catalog functions as the agent's tools: register, list, call",
        description=TOOLS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = tools.add_subparsers(dest="tools_command", metavar="ACTION", required=True)
    reg = actions.add_parser(
        "register",
        help="create or update the built-in functions and policies (idempotent)",
        description="Create the agent's built-in functions in CATALOG.SCHEMA and its policies in "
        "CATALOG.POLICY_SCHEMA, both by default. A function that is already there and equal is left "
        "alone, a changed one is replaced; each is reported as created, updated or unchanged.",
    )
    reg.add_argument(
        "--only", choices=("functions", "policies"), help="register just the built-ins or just the policies"
    )
    lst = actions.add_parser("list", help="functions in the agent's schema and the policy schema")
    lst.add_argument("--json", action="store_true", help="JSON for scripts")
    call = actions.add_parser("call", help="call a function with JSON arguments and print the result")
    call.add_argument("name", help="function name (short names are in the agent's schema) or cat.schema.fn")
    call.add_argument("args", nargs="?", default="{}", help="arguments as a JSON object (default {})")
    actions.add_parser("status", help="say whether Unity Catalog tools are on, and where")

    server = sub.add_parser("uc-server", help="serve a local Unity Catalog stand-in (REST, in memory)")
    server.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = any)")
    return {"tools": cmd_tools, "uc-server": cmd_uc_server}


def cmd_tools(args: argparse.Namespace, settings: Any) -> int:
    from agent.errors import ConfigError, JobAgentError
    from agent.uc.client import open_session
    from agent.uc.config import UCConfig

    config = UCConfig.from_env()
    if args.tools_command == "status":
        print(config.status_line)
        return 0
    if not config.enabled:
        raise ConfigError(config.status_line)
    with open_session(config) as session:  # type: ignore[union-attr]
        try:
            return {"register": _register, "list": _list, "call": _call}[args.tools_command](args, session)
        except (JobAgentError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the server is down or refused: say so without a traceback
            first = (str(exc).strip().splitlines() or [""])[0]
            print(f"error: the Unity Catalog call failed ({type(exc).__name__}: {first})", file=sys.stderr)
            print(f"  {config.status_line}", file=sys.stderr)
            return 1


def _register(args: argparse.Namespace, session: Any) -> int:
    from agent.uc.builtins import BUILTINS
    from agent.uc.policies import POLICIES
    from agent.uc.registry import register

    specs = {"functions": BUILTINS, "policies": POLICIES}.get(args.only, BUILTINS + POLICIES)
    for full_name, status in register(session, specs):
        print(f"{status:<9}  {full_name}")
    return 0


def _list(args: argparse.Namespace, session: Any) -> int:
    from agent.uc.untrusted import clean, refusal, shown_name

    config = session.config
    rows = []
    for schema in (config.schema, config.policy_schema):
        for info in session.list(schema):
            params = (info.input_params.parameters if info.input_params else None) or []
            signature = clean(
                ", ".join(f"{p.name} {getattr(p.type_name, 'value', p.type_name)}" for p in params),
                200,
                one_line=True,
            )
            comment = clean((info.comment or "").split(". ")[0].strip().rstrip("."), 200, one_line=True)
            reason = refusal(info)
            rows.append((shown_name(info), signature, f"REFUSED: {reason}" if reason else comment))
    if args.json:
        print(json.dumps([{"name": n, "params": p, "comment": c} for n, p, c in rows], indent=2))
        return 0
    if not rows:
        where = f"{config.catalog}.{config.schema} or {config.catalog}.{config.policy_schema}"
        print(f"No functions in {where}. Create them with: jobagent tools register")
        return 0
    width = max(len(n) for n, _, _ in rows)
    for name, signature, comment in rows:
        shown = comment if comment.startswith("REFUSED") else comment[:100]
        print(f"{name:<{width}}  ({signature})\n{'':<{width}}  {shown}")
    return 0


def _call(args: argparse.Namespace, session: Any) -> int:
    from agent.uc.client import FunctionCallError

    try:
        arguments = json.loads(args.args)
    except ValueError as exc:
        print(f"error: the arguments are not JSON ({exc}); {EXAMPLE_ARGS}", file=sys.stderr)
        return 2
    if not isinstance(arguments, dict):
        print(f"error: the arguments must be a JSON object; {EXAMPLE_ARGS}", file=sys.stderr)
        return 2
    try:
        print(session.call(args.name, arguments))
    except FunctionCallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.kind in ("unknown", "refused", "arguments") else 1
    return 0


def cmd_uc_server(args: argparse.Namespace, settings: Any) -> int:
    from standins.unitycatalog import serve

    serve(args.port)
    return 0

"""Unity Catalog functions as tools and policies, against the UC stand-in with the real, unmodified client."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import json
import logging
import textwrap
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from agent.cli import main
from agent.errors import ConfigError
from agent.quartz import next_fire_times
from agent.uc import builtins
from agent.uc.builtins import estimate_job_cost, next_run_times
from agent.uc.config import UCConfig
from standins.unitycatalog import UnityCatalogStandIn

SCHEDULED = {
    "name": "nightly-ingest",
    "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"},
    "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "/Repos/etl/ingest"}}],
}
COMPLIANT = {**SCHEDULED, "email_notifications": {"on_failure": ["data-team@example.com"]}}
POLICY = "main.jobagent_policies.require_failure_notification"


@pytest.fixture(autouse=True)
def _no_uc_settings(monkeypatch, tmp_path):
    """Start from "off", without EXECUTOR_* fallbacks from the outer environment."""
    for name in (
        "URL",
        "MODE",
        "CATALOG",
        "SCHEMA",
        "POLICY_SCHEMA",
        "EXECUTION",
        "WAREHOUSE_ID",
        "TIMEOUT",
        "CPU_SECONDS",
        "MEMORY_MB",
        "POLICY_ON_ERROR",
    ):
        monkeypatch.delenv(f"JOBAGENT_UC_{name}", raising=False)
    for name in ("EXECUTOR_TIMEOUT", "EXECUTOR_MAX_CPU_TIME_LIMIT", "EXECUTOR_MAX_MEMORY_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))


@pytest.fixture
def uc_server():
    with UnityCatalogStandIn() as server:
        yield server


def open_uc(server: UnityCatalogStandIn, **env: str):
    from agent.uc.client import open_session

    settings = {"JOBAGENT_UC_URL": server.url, "JOBAGENT_UC_EXECUTION": "local"}
    settings.update({f"JOBAGENT_UC_{k.upper()}": v for k, v in env.items()})
    return open_session(UCConfig.from_env(settings))


@pytest.fixture
def session(uc_server):
    from agent.uc.registry import register

    with open_uc(uc_server) as s:
        register(s)
        yield s


# -- configuration ----------------------------------------------------------------------------------


def test_unconfigured_means_off_and_everything_says_so(capsys):
    from agent.uc.client import open_session
    from agent.uc.policies import PolicyChecker
    from agent.uc.tools import call_function, uc_tools

    config = UCConfig.from_env()
    assert not config.enabled
    assert config.status_line.startswith("Unity Catalog tools: off (set JOBAGENT_UC_URL=")
    assert open_session() is None
    assert uc_tools() == []
    assert call_function("next_run_times", {"cron": "0 0 2 * * ?", "timezone_id": "UTC", "count": 1}) is None
    assert PolicyChecker.from_env() is None
    assert main(["tools", "status"]) == 0
    assert "Unity Catalog tools: off" in capsys.readouterr().out
    assert main(["tools", "list"]) == 1
    assert "Unity Catalog tools: off (set JOBAGENT_UC_URL" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"JOBAGENT_UC_MODE": "databricks"}, "JOBAGENT_UC_WAREHOUSE_ID=<SQL warehouse id>"),
        ({"JOBAGENT_UC_MODE": "cloud"}, "JOBAGENT_UC_MODE='cloud' is not one of"),
        ({"JOBAGENT_UC_URL": "localhost:8080"}, "set it like http://127.0.0.1:8080"),
        ({"JOBAGENT_UC_URL": "http://uc:8080", "JOBAGENT_UC_EXECUTION": "docker"}, "'sandbox' (default)"),
        ({"JOBAGENT_UC_URL": "http://uc:8080", "JOBAGENT_UC_SCHEMA": "my-tools"}, "plain identifier"),
        ({"JOBAGENT_UC_URL": "http://uc:8080", "JOBAGENT_UC_TIMEOUT": "0"}, "whole number above 0"),
    ],
)
def test_configuration_errors_name_what_to_set(env, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        UCConfig.from_env(env)


def test_config_defaults_and_names():
    config = UCConfig.from_env({"JOBAGENT_UC_URL": "http://127.0.0.1:8080/api/2.1/unity-catalog/"})
    assert (config.mode, config.url, config.execution) == ("oss", "http://127.0.0.1:8080", "sandbox")
    assert config.api_host == "http://127.0.0.1:8080/api/2.1/unity-catalog"
    assert (config.timeout_s, config.cpu_s, config.memory_mb) == (10, 10, 512)
    assert config.full_name("check_job_name") == "main.jobagent.check_job_name"
    assert config.full_name("x", policy=True) == "main.jobagent_policies.x"
    assert UCConfig.from_env({"JOBAGENT_UC_URL": "http://uc:8080", "EXECUTOR_TIMEOUT": "3"}).timeout_s == 3


def test_databricks_mode_needs_a_workspace(monkeypatch, capsys):
    from agent.uc.client import open_session

    monkeypatch.setenv("JOBAGENT_UC_MODE", "databricks")
    monkeypatch.setenv("JOBAGENT_UC_WAREHOUSE_ID", "abc123")
    with pytest.raises(
        ConfigError, match="needs a Databricks workspace: set DATABRICKS_HOST and DATABRICKS_TOKEN"
    ):
        open_session()
    assert main(["tools", "list"]) == 1
    assert "DATABRICKS_HOST" in capsys.readouterr().err


def test_databricks_mode_with_a_workspace(monkeypatch, emulator):
    from agent.uc.client import open_session

    monkeypatch.setenv("DATABRICKS_HOST", emulator.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test")
    monkeypatch.setenv("JOBAGENT_UC_MODE", "databricks")
    monkeypatch.setenv("JOBAGENT_UC_WAREHOUSE_ID", "abc123")
    with open_session() as s:
        assert type(s.client).__name__ == "DatabricksFunctionClient" and s.client.warehouse_id == "abc123"
        assert "Databricks-managed Unity Catalog" in s.description and "warehouse abc123" in s.description
    monkeypatch.setenv("JOBAGENT_UC_EXECUTION", "serverless")
    with pytest.raises(ConfigError, match="needs the databricks-connect package"):
        open_session()


def test_databricks_registration_runs_create_function_on_the_warehouse():
    from databricks.sdk.errors import NotFound
    from unitycatalog.ai.core.databricks import DatabricksFunctionClient

    from agent.uc.client import UCSession
    from agent.uc.registry import register

    class Fake:
        """Just enough WorkspaceClient: no schemas, no functions, a warehouse that accepts SQL."""

        def __init__(self):
            self.statements, self.created = [], []
            self.schemas = self.functions = self.statement_execution = self

        def get(self, name):
            raise NotFound(f"{name} does not exist")

        def create(self, name, catalog_name, comment):
            self.created.append(f"{catalog_name}.{name}")

        def execute_statement(self, statement, warehouse_id, wait_timeout):
            self.statements.append(statement)
            return type("R", (), {"status": type("S", (), {"state": "SUCCEEDED"})()})()

    fake = Fake()
    config = UCConfig.from_env({"JOBAGENT_UC_MODE": "databricks", "JOBAGENT_UC_WAREHOUSE_ID": "wh1"})
    build = lambda cfg: DatabricksFunctionClient(client=fake, execution_mode="serverless", warehouse_id="wh1")  # noqa: E731
    with UCSession(config, build=build) as s:
        results = register(s)
    assert [status for _, status in results] == ["created"] * 4
    assert fake.created == ["main.jobagent", "main.jobagent_policies"]
    heads = [stmt.strip().splitlines()[0] for stmt in fake.statements]
    assert heads[
        0
    ] == "CREATE OR REPLACE FUNCTION `main`.`jobagent`.`next_run_times`(cron STRING COMMENT " + (
        "'Quartz cron expression with seconds first, e.g. \"0 30 6 ? * MON-FRI\".', timezone_id STRING "
        'COMMENT \'IANA time zone id, e.g. "UTC" or "Europe/Berlin".\', count LONG COMMENT '
        "'How many fire times to list, 1 to 20.')"
    )
    assert "LANGUAGE PYTHON" in fake.statements[0] and "$$" in fake.statements[0]
    sql = fake.statements[2]
    assert sql.startswith("CREATE OR REPLACE FUNCTION `main`.`jobagent`.`check_job_name`(name STRING")
    assert "RETURN CASE" in sql and f"RLIKE '{builtins.NAME_PATTERN}'" in sql
    assert "`main`.`jobagent_policies`.`require_failure_notification`" in fake.statements[3]


# -- the stand-in speaks the REST API ---------------------------------------------------------------


def _http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_stand_in_wire_format(uc_server):
    api = uc_server.url + "/api/2.1/unity-catalog"
    status, body = _http("GET", f"{api}/functions/main.tools.f1")
    assert status == 404 and body["error_code"] == "NOT_FOUND" and "main.tools.f1" in body["message"]
    assert _http("GET", f"{api}/catalogs")[1]["catalogs"][0]["name"] == "main"
    assert (
        _http("POST", f"{api}/schemas", {"name": "tools", "catalog_name": "main"})[1]["full_name"]
        == "main.tools"
    )
    assert _http("POST", f"{api}/schemas", {"name": "tools", "catalog_name": "main"})[0] == 400
    for name in ("f1", "f2"):
        info = {
            "name": name,
            "catalog_name": "main",
            "schema_name": "tools",
            "data_type": "STRING",
            "full_data_type": "STRING",
            "routine_body": "EXTERNAL",
            "routine_definition": "return 'x'",
        }
        status, created = _http("POST", f"{api}/functions", {"function_info": info})
        assert status == 200 and created["full_name"] == f"main.tools.{name}" and created["function_id"]
    assert _http("POST", f"{api}/functions", {"function_info": info})[0] == 409
    first = _http("GET", f"{api}/functions?catalog_name=main&schema_name=tools&max_results=1")[1]
    assert [f["name"] for f in first["functions"]] == ["f1"] and first["next_page_token"] == "1"
    page = _http("GET", f"{api}/functions?catalog_name=main&schema_name=tools&max_results=1&page_token=1")[1]
    assert [f["name"] for f in page["functions"]] == ["f2"] and page["next_page_token"] is None
    assert _http("DELETE", f"{api}/functions/main.tools.f1") == (200, {})
    assert _http("GET", f"{api}/schemas/main.nope")[1]["error_code"] == "NOT_FOUND"


def test_the_client_cannot_be_built_outside_an_event_loop(uc_server):
    """The trap the session exists for: the aiohttp-based ApiClient wants a running loop."""
    from unitycatalog.client import ApiClient, Configuration

    with pytest.raises(RuntimeError, match="no running event loop"):
        ApiClient(Configuration(host=uc_server.url + "/api/2.1/unity-catalog"))


# -- registration ---------------------------------------------------------------------------------


def test_register_is_idempotent_and_replaces_drift(uc_server):
    from agent.uc.registry import register

    with open_uc(uc_server) as s:
        first = register(s)
        assert first == [
            ("main.jobagent.next_run_times", "created"),
            ("main.jobagent.estimate_job_cost", "created"),
            ("main.jobagent.check_job_name", "created"),
            (POLICY, "created"),
        ]
        assert {status for _, status in register(s)} == {"unchanged"}
        stored = uc_server.functions["main.jobagent.estimate_job_cost"]
        assert '"""' not in stored["routine_definition"]  # the docstring became the comment
        assert stored["comment"].startswith("Rough monthly cost of a job cluster")
        stored["routine_definition"] = "return 'free!'"  # someone edited it by hand
        again = dict(register(s))
        assert again["main.jobagent.estimate_job_cost"] == "updated"
        assert [v for k, v in again.items() if k != "main.jobagent.estimate_job_cost"] == ["unchanged"] * 3
        args = {"node_type_id": "i3.xlarge", "num_workers": 1, "hours_per_run": 1.0, "runs_per_month": 1}
        assert s.call("estimate_job_cost", args).startswith("about $")
    check = uc_server.functions["main.jobagent.check_job_name"]
    assert check["input_params"]["parameters"][0]["name"] == "name"
    assert check["routine_definition"] == builtins.CHECK_JOB_NAME.python_body


def test_cli_register_list_and_call(uc_server, monkeypatch, capsys):
    monkeypatch.setenv("JOBAGENT_UC_URL", uc_server.url)
    monkeypatch.setenv("JOBAGENT_UC_EXECUTION", "local")
    assert main(["tools", "register", "--only", "functions"]) == 0
    assert capsys.readouterr().out.split() == [
        "created",
        "main.jobagent.next_run_times",
        "created",
        "main.jobagent.estimate_job_cost",
        "created",
        "main.jobagent.check_job_name",
    ]
    assert main(["tools", "register"]) == 0
    out = capsys.readouterr().out
    assert out.count("unchanged") == 3 and f"created    {POLICY}" in out
    assert main(["tools", "list"]) == 0
    out = capsys.readouterr().out
    assert "main.jobagent.next_run_times" in out and "(cron STRING, timezone_id STRING, count LONG)" in out
    assert "Next fire times of a Quartz cron schedule" in out and POLICY in out
    assert main(["tools", "call", "check_job_name", '{"name": "Nightly Ingest"}']) == 0
    assert "lowercase-kebab" in capsys.readouterr().out
    for args, code, fragment in [
        (["no_such_fn", "{}"], 2, "No function main.jobagent.no_such_fn"),
        (["check_job_name", "{name: x}"], 2, "the arguments are not JSON"),
        (["check_job_name", "[1]"], 2, "must be a JSON object"),
        (["check_job_name", "{}"], 2, "Bad arguments for main.jobagent.check_job_name"),
        (["check_job_name", '{"name": 3}'], 2, "should be of type"),
        (
            ["estimate_job_cost", '{"node_type_id": "x", "num_workers": 1, "hours_per_run": 1.0}'],
            2,
            "required",
        ),
    ]:
        assert main(["tools", "call", *args]) == code, args
        assert fragment in capsys.readouterr().err


# -- the built-ins ----------------------------------------------------------------------------------

CRONS = [
    ("0 0 2 * * ?", "UTC"),
    ("0 30 6 ? * MON-FRI", "Europe/Berlin"),
    ("0 0/15 9-17 ? * 2-6", "America/New_York"),
    ("0 5,35 */2 * * ?", "Asia/Kolkata"),
    ("0 0 12 1 JAN,JUL ?", "UTC"),
    ("0 0 2 ? * SUN", "Europe/London"),
    ("15 10 3 29 FEB ? 2028-2040", "UTC"),
]


@pytest.mark.parametrize(("cron", "tz"), CRONS)
def test_next_run_times_agrees_with_the_project_scheduler(cron, tz):
    mine = next_run_times(cron, tz, 5).splitlines()
    expected = [t.isoformat() for t in next_fire_times(cron, tz, 5, datetime.now(UTC))]
    assert mine == expected


@pytest.mark.parametrize(
    ("cron", "tz", "count", "fragment"),
    [
        ("0 2 * * *", "UTC", 3, "6 or 7 fields"),
        ("0 0 12 L * ?", "UTC", 3, "'L' is not supported"),
        ("0 0 25 * * ?", "UTC", 3, "range 0-23"),
        ("0 0 2 * * ?", "Mars/Olympus", 3, "unknown time zone"),
        ("0 0 2 * * ?", "UTC", 0, "between 1 and 20"),
        ("0 0 0 30 FEB ?", "UTC", 1, "never fires"),
    ],
)
def test_next_run_times_explains_what_it_cannot_do(cron, tz, count, fragment):
    answer = next_run_times(cron, tz, count)
    assert answer.startswith("error:") and fragment in answer


def check_job_name_py(name: str) -> str:
    """The Python rendering of the SQL check_job_name, as the open-source client would run it."""
    namespace: dict = {}
    exec("def f(name):\n" + textwrap.indent(builtins.CHECK_JOB_NAME.python_body, "    "), namespace)
    return namespace["f"](name)


def test_estimate_job_cost_and_check_job_name_rules():
    assert estimate_job_cost("i3.xlarge", 2, 1.5, 30).startswith("about $62.37 per month: 3 nodes x 45 h")
    assert "not in the table" in estimate_job_cost("x9.mega", 1, 1.0, 1)
    assert estimate_job_cost("i3.xlarge", 1, 0.0, 1).startswith("error:")
    for name, fragment in [
        ("nightly-ingest", ""),
        ("finance/nightly-ingest", ""),
        ("ab", "3-64 characters, got 2"),
        ("x" * 65, "got 65"),
        ("Nightly_Ingest", "lowercase-kebab"),
        ("-leading", "lowercase-kebab"),
        ("a/b/c", "lowercase-kebab"),
    ]:
        result = check_job_name_py(name)
        assert (result == "") if not fragment else (fragment in result), name


def test_each_builtin_through_unity_catalog_local_mode(session):
    args = {"cron": "0 30 6 ? * MON-FRI", "timezone_id": "Europe/Berlin", "count": 3}
    assert len(session.call("next_run_times", args).splitlines()) == 3
    cost = {"node_type_id": "Standard_DS3_v2", "num_workers": 4, "hours_per_run": 0.5, "runs_per_month": 30}
    assert "illustrative" in session.call("estimate_job_cost", cost)
    assert session.call("check_job_name", {"name": "nightly-ingest"}) == ""
    assert "3-64" in session.call("check_job_name", {"name": "x"})


def test_builtins_in_the_sandbox(uc_server):
    from agent.uc.registry import register

    with open_uc(uc_server, execution="sandbox") as s:
        register(s)
        started = time.monotonic()
        answer = s.call("next_run_times", {"cron": "0 0 2 * * ?", "timezone_id": "UTC", "count": 2})
        assert answer.count("T02:00:00+00:00") == 2
        assert s.call("check_job_name", {"name": "Bad Name"}).startswith("job name must be lowercase-kebab")
        assert s.call(POLICY, {"job_settings_json": json.dumps(COMPLIANT)}) == ""
        assert time.monotonic() - started < 5


# -- LangChain tools --------------------------------------------------------------------------------


def test_toolkit_yields_langchain_tools_that_call_the_functions(session):
    from langchain_core.tools import BaseTool

    from agent.uc.tools import uc_tools

    tools = {t.name: t for t in uc_tools(session=session)}
    assert set(tools) == {
        "main__jobagent__next_run_times",
        "main__jobagent__estimate_job_cost",
        "main__jobagent__check_job_name",
    }
    assert all(isinstance(t, BaseTool) for t in tools.values())
    runs = tools["main__jobagent__next_run_times"]
    assert set(runs.args) == {"cron", "timezone_id", "count"}
    assert runs.description.startswith("Next fire times of a Quartz cron schedule")
    check = tools["main__jobagent__check_job_name"]
    assert json.loads(check.invoke({"name": "Bad Name"}))["value"].startswith(
        "job name must be lowercase-kebab"
    )
    assert json.loads(check.invoke({"name": "nightly-ingest"}))["value"] == ""  # not the client's placeholder
    with cf.ThreadPoolExecutor(2) as pool:  # Slack handlers call from their own threads
        answers = list(
            pool.map(lambda n: json.loads(check.invoke({"name": n}))["value"], ["ok-name", "Not-OK"])
        )
    assert answers[0] == "" and "lowercase-kebab" in answers[1]
    with_policies = uc_tools(session=session, include_policies=True)
    assert "main__jobagent_policies__require_failure_notification" in {t.name for t in with_policies}


async def test_tools_work_from_inside_a_running_event_loop(session):
    from agent.uc.tools import call_function, uc_tools

    assert asyncio.get_running_loop()
    tool = next(t for t in uc_tools(session=session) if t.name.endswith("check_job_name"))
    assert json.loads(tool.invoke({"name": "fine-name"}))["value"] == ""
    assert call_function("check_job_name", {"name": "x"}, session=session).startswith("job name must be 3-64")


def test_no_tools_before_register(uc_server, caplog):
    from agent.uc.tools import uc_tools

    with open_uc(uc_server) as s:
        assert uc_tools(session=s) == []
    assert "jobagent tools register" in caplog.text


# -- policies ----------------------------------------------------------------------------------------


def fails_loudly(job_settings_json: str) -> str:
    """A policy with a bug.

    Args:
        job_settings_json: The job settings as JSON.
    """
    raise RuntimeError("policy bug")


def takes_forever(job_settings_json: str) -> str:
    """A policy that never answers.

    Args:
        job_settings_json: The job settings as JSON.
    """
    import time

    time.sleep(30)
    return ""


def eats_memory(job_settings_json: str) -> str:
    """A policy that allocates far more than its limit.

    Args:
        job_settings_json: The job settings as JSON.
    """
    return str(len(bytearray(8 * 1024**3)))


def not_a_policy(text: str) -> str:
    """Lives in the policy schema but takes no job settings, so it is not run.

    Args:
        text: Anything.
    """
    raise RuntimeError("must not run")


def test_policy_blocks_a_noncompliant_job_and_passes_a_compliant_one(session):
    from agent.uc.policies import PolicyChecker

    checker = PolicyChecker(session, "main", "jobagent_policies")
    assert checker.problems(SCHEDULED) == [
        f"Policy {POLICY}: `a scheduled job must notify someone when it fails: add "
        'email_notifications.on_failure, e.g. {"on_failure": ["data-team@example.com"]}`'
    ]
    assert checker.problems(COMPLIANT) == []
    assert checker.problems({"name": "adhoc", "tasks": []}) == []  # not scheduled


def test_failing_slow_and_greedy_policies_are_reported_not_fatal(uc_server, caplog):
    from agent.uc.policies import PolicyChecker
    from agent.uc.registry import register

    with open_uc(uc_server, execution="sandbox", timeout="1") as s:
        register(s)
        for func in (fails_loudly, takes_forever, eats_memory, not_a_policy):  # an operator adds these
            s.run(s.client.create_python_function, func=func, catalog="main", schema="jobagent_policies")
        started = time.monotonic()
        problems = PolicyChecker(s).problems(SCHEDULED)
        elapsed = time.monotonic() - started
        assert elapsed < 6, elapsed
        assert problems[0].startswith(f"Policy {POLICY}: `a scheduled job must notify")
        assert problems[1:] == [
            "Policy main.jobagent_policies.fails_loudly could not run: "
            "main.jobagent_policies.fails_loudly failed: `RuntimeError: policy bug`",
            "Policy main.jobagent_policies.takes_forever could not run: "
            "main.jobagent_policies.takes_forever timed out after 1 s (JOBAGENT_UC_TIMEOUT)",
            "Policy main.jobagent_policies.eats_memory could not run: "
            "main.jobagent_policies.eats_memory failed: `MemoryError`",
        ]
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert PolicyChecker(s, on_error="warn").problems(COMPLIANT) == []
        assert caplog.text.count("could not run") == 3 and "skipped" in caplog.text


def test_policies_when_unity_catalog_is_down():
    from agent.uc.client import open_session
    from agent.uc.policies import PolicyChecker
    from agent.uc.tools import call_function

    server = UnityCatalogStandIn()
    server.start()
    server.stop()  # a port nobody listens on
    with open_session(UCConfig.from_env({"JOBAGENT_UC_URL": server.url})) as s:
        (problem,) = PolicyChecker(s).problems(SCHEDULED)
        assert problem.startswith("Policy checks in main.jobagent_policies could not run: ")
        assert call_function("check_job_name", {"name": "x"}, session=s) is None


def test_call_function_fails_soft(uc_server, caplog):
    from agent.uc.tools import call_function

    with open_uc(uc_server, execution="sandbox", timeout="1") as s:
        s.run(s.client.uc.create_schema, name="jobagent", catalog_name="main")
        s.run(s.client.create_python_function, func=takes_forever, catalog="main", schema="jobagent")
        assert call_function("nope", {}, session=s) is None
        assert call_function("takes_forever", {"job_settings_json": "{}"}, session=s) is None
    assert "No function main.jobagent.nope" in caplog.text and "timed out" in caplog.text

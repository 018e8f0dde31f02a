"""The OpenAI-compatible stand-in refuses what the real services refuse and answers like real models,
through the real `openai` client (and the Databricks SDK's) over a socket."""

from __future__ import annotations

import json
import warnings

import openai
import pytest
from openai import OpenAI

from standins.openai import ModelProfile, OpenAIStandIn, Scripted
from standins.openai_rules import strict_schema_problems, strict_style

USER = [{"role": "user", "content": "hi"}]
STRING, NULLABLE = {"type": "string"}, {"type": ["string", "null"]}


def obj(**properties) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def fmt(schema, name: str | None = "plan", strict: bool = True) -> dict:
    spec = {"schema": schema, "strict": strict} | ({"name": name} if name is not None else {})
    return {"type": "json_schema", "json_schema": spec}


def kv_array(value=STRING) -> dict:
    return {"type": "array", "items": obj(key=STRING, value=value)}


def tool(name: str, parameters: dict | None, strict: bool = False) -> dict:
    function = {"name": name, "strict": strict} | (
        {"parameters": parameters} if parameters is not None else {}
    )
    return {"type": "function", "function": function}


@pytest.fixture(scope="module")
def shared_server():
    with OpenAIStandIn(models={"old-model": ModelProfile(json_schema=False)}) as s:
        yield s


@pytest.fixture(autouse=True)
def server(shared_server):
    shared_server.reset()
    return shared_server


@pytest.fixture(scope="module")
def client(shared_server) -> OpenAI:
    return OpenAI(base_url=shared_server.url + "/v1", api_key="sk-x", max_retries=0, timeout=5)


@pytest.fixture(scope="module")
def dbx(shared_server) -> OpenAI:
    from databricks.sdk import WorkspaceClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # get_open_ai_client() is deprecated
        ws = WorkspaceClient(host=shared_server.url, token="dapi-x")
        return ws.serving_endpoints.get_open_ai_client(max_retries=0, timeout=5)


def refused(client: OpenAI, **kwargs) -> openai.BadRequestError:
    kwargs = {"model": "gpt-4o-mini", "messages": USER} | kwargs
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**kwargs)
    assert info.value.status_code == 400
    return info.value


def ask(client: OpenAI, **kwargs):
    return client.chat.completions.create(**({"model": "gpt-4o-mini", "messages": USER} | kwargs))


# -- OpenAI strict structured outputs ----------------------------------------------------------------


def test_a_valid_strict_schema_is_accepted(server, client):
    schema = obj(
        steps={"type": "array", "items": {"$ref": "#/$defs/step"}},
        answer={"anyOf": [STRING, {"type": "null"}]},
    )
    schema["$defs"] = {
        "step": obj(text=STRING, children={"type": "array", "items": {"$ref": "#/$defs/step"}})
    }
    server.enqueue({"steps": [], "answer": None})
    answer = ask(client, response_format=fmt(schema))
    assert json.loads(answer.choices[0].message.content) == {"steps": [], "answer": None}
    assert server.requests[0]["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"a": STRING}, "required": ["a"]},
            "In context=(), 'additionalProperties' is required to be supplied and to be false.",
        ),
        (
            obj(
                a={
                    "type": "object",
                    "properties": {"foo": STRING, "bar": STRING},
                    "required": ["bar"],
                    "additionalProperties": False,
                }
            ),
            "In context=('properties', 'a'), 'required' is required to be supplied and to be an array "
            "including every key in properties. Missing 'foo'.",
        ),
        (
            {"anyOf": [obj(a=STRING), obj(b=STRING)]},
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'.",
        ),
        (obj(a={"allOf": [STRING]}), "In context=('properties', 'a'), 'allOf' is not permitted."),
        (
            obj(a={"type": "string", "default": "x"}),
            "In context=('properties', 'a'), 'default' is not permitted.",
        ),
        (obj(a={}), "In context=('properties', 'a'), schema must have a 'type' key."),
    ],
)
def test_strict_schema_breaking_a_rule_is_refused_like_openai(server, client, schema, message):
    error = refused(client, response_format=fmt(schema))
    assert error.body == {
        "message": f"Invalid schema for response_format 'plan': {message}",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
    assert len(server.requests) == 1  # recorded, and no scripted answer was used


def test_name_is_required_and_checked(client):
    error = refused(client, response_format=fmt(obj(a=STRING), name=None))
    assert (error.param, error.code) == ("response_format.json_schema.name", "missing_required_parameter")
    assert error.body["message"] == "Missing required parameter: 'response_format.json_schema.name'."
    assert refused(client, response_format=fmt(obj(a=STRING), name="job plan")).code == "invalid_value"
    error = refused(client, response_format=fmt(obj(a=STRING), name="x" * 65))
    assert error.code == "string_above_max_length" and "got a string with length 65" in error.body["message"]


def test_a_non_strict_schema_is_only_a_hint(server, client):
    server.enqueue({"a": 1})
    ask(client, response_format=fmt({"type": "object", "properties": {"a": {"oneOf": []}}}, strict=False))


def test_a_strict_tool_is_checked_too(client):
    error = refused(
        client, tools=[tool("lookup", {"type": "object", "properties": {"x": STRING}}, strict=True)]
    )
    assert error.body["message"] == (
        "Invalid schema for function 'lookup': In context=(), "
        "'additionalProperties' is required to be supplied and to be false."
    )
    assert (error.param, error.code) == ("tools[0].function.parameters", "invalid_function_parameters")


def test_documented_limits():
    many = obj(**{f"p{i}": STRING for i in range(5001)})
    assert "5001 object properties" in strict_schema_problems(many)[0]
    deep = obj(leaf=STRING)
    for _ in range(10):
        deep = obj(child=deep)  # 11 levels of objects
    assert "11 levels" in strict_schema_problems(deep)[0]
    assert strict_schema_problems(deep["properties"]["child"]) == []  # 10 levels pass
    assert (
        "1001 enum values"
        in strict_schema_problems(obj(e={"type": "string", "enum": [str(i) for i in range(1001)]}))[0]
    )
    big = obj(e={"type": "string", "enum": [f"{i:03}" + "x" * 57 for i in range(251)]})
    assert "251 values totals 15060 characters" in strict_schema_problems(big)[0]
    long_names = obj(**{f"{i:03}" + "n" * 1198: STRING for i in range(100)})
    assert "120100 characters" in strict_schema_problems(long_names)[0]


def test_refs_recursion_and_ref_siblings():
    recursive = obj(value=STRING, children={"type": "array", "items": {"$ref": "#"}})
    assert strict_schema_problems(recursive) == []
    described = obj(step={"$ref": "#/$defs/step", "description": "one step"}) | {
        "$defs": {"step": obj(a=STRING)}
    }
    assert strict_schema_problems(described) == [
        "context=('properties', 'step'), $ref cannot have keywords {'description'}."
    ]
    assert "can't be resolved" in strict_schema_problems(obj(step={"$ref": "#/$defs/nope"}))[0]


# -- parameters a model family does not accept --------------------------------------------------------


def test_reasoning_models_refuse_temperature_and_max_tokens(server, client):
    error = refused(client, model="gpt-5-mini", temperature=0)
    assert error.body == {
        "message": "Unsupported value: 'temperature' does not support 0 with this model. "
        "Only the default (1) value is supported.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_value",
    }
    error = refused(client, model="o3", max_tokens=100)
    assert error.body["message"] == (
        "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead."
    )
    assert (error.param, error.code) == ("max_tokens", "unsupported_parameter")
    assert refused(client, model="o4-mini", top_p=0.5).param == "top_p"
    server.enqueue("ok", "ok")
    ask(client, model="gpt-5", temperature=1, max_completion_tokens=100)
    ask(client, model="gpt-5-chat-latest", temperature=0, max_tokens=100)


def test_a_model_without_json_schema(server, client):
    server.enqueue({"a": 1})
    error = refused(client, model="old-model", response_format=fmt(obj(a=STRING)))
    assert error.body["message"].startswith(
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."
    )
    assert refused(client, model="gpt-3.5-turbo", response_format=fmt(obj(a=STRING))).param is None
    answer = ask(
        client, model="old-model", response_format={"type": "json_object"}
    )  # refusals used no answer
    assert json.loads(answer.choices[0].message.content) == {"a": 1} and len(server.requests) == 3


def test_tools_and_tool_choice_basics(client):
    error = refused(client, tool_choice="none")
    assert error.body["message"] == (
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    )
    assert error.param == "tool_choice"
    assert refused(client, tools=[]).code == "empty_array"
    assert refused(client, tools=[tool("canvas.read", {"type": "object"})]).param == "tools[0].function.name"


def test_every_tool_call_needs_its_tool_message(client):
    calls = [
        {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in ("call_1", "call_2")
    ]
    history = USER + [
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "1"},
        {"role": "user", "content": "and?"},
    ]
    error = refused(client, messages=history, tools=[tool("f", {"type": "object"})])
    assert error.body["message"] == (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        "'tool_call_id'. The following tool_call_ids did not have response messages: call_2"
    )
    assert error.param == "messages.[3].role"
    orphan = USER + [{"role": "tool", "tool_call_id": "call_9", "content": "1"}]
    error = refused(client, messages=orphan)
    assert "must be a response to a preceeding message with 'tool_calls'" in error.body["message"]
    assert error.param == "messages.[1].role"


def test_tool_choice_none_never_gets_tool_calls(server, client):
    tools = [tool("f", {"type": "object"})]
    server.enqueue(Scripted(content={"a": 1}, tool_calls=[("f", {})]), Scripted(tool_calls=[("f", {})]))
    message = ask(client, tools=tools, tool_choice="none").choices[0].message
    assert message.tool_calls is None and json.loads(message.content) == {"a": 1}
    with pytest.raises(openai.InternalServerError, match="only tool calls"):
        ask(client, tools=tools, tool_choice="none")  # a scripting mistake, said plainly


# -- answers the way real models answer --------------------------------------------------------------

PLAN = obj(
    name=STRING,
    owner=NULLABLE,
    labels={"type": "array", "items": STRING},
    tags=kv_array(),
    tasks={
        "type": "array",
        "items": obj(
            task_key=STRING,
            depends_on={"type": ["array", "null"], "items": STRING},
            notebook={"anyOf": [obj(path=STRING, params=kv_array()), {"type": "null"}]},
        ),
    },
    schedule={"anyOf": [{"$ref": "#/$defs/schedule"}, {"type": "null"}]},
) | {"$defs": {"schedule": obj(cron=STRING, timezone=NULLABLE)}}
COMPACT = {
    "tasks": [{"task_key": "a", "notebook": {"path": "/p", "params": {"k": "v"}}}],
    "name": "x",
    "tags": {"team": "data"},
    "schedule": {"cron": "0 0 2 * * ?"},
}
FULL = {
    "name": "x",
    "owner": None,
    "labels": [],
    "tags": [{"key": "team", "value": "data"}],
    "tasks": [
        {
            "task_key": "a",
            "depends_on": None,
            "notebook": {"path": "/p", "params": [{"key": "k", "value": "v"}]},
        }
    ],
    "schedule": {"cron": "0 0 2 * * ?", "timezone": None},
}


def test_strict_style_fills_like_a_strict_model():
    assert strict_schema_problems(PLAN) == []
    filled = strict_style(COMPACT, PLAN)
    assert filled == FULL and list(filled) == list(PLAN["properties"])  # schema order
    assert strict_style({"name": "x", "extra": 1}, PLAN)["extra"] == 1  # a wrong answer stays wrong


def test_strict_style_over_the_wire(server, client):
    server.enqueue(Scripted(content=COMPACT, strict_style=True), COMPACT)
    assert json.loads(ask(client, response_format=fmt(PLAN)).choices[0].message.content) == FULL
    assert json.loads(ask(client, response_format=fmt(PLAN)).choices[0].message.content) == COMPACT
    with OpenAIStandIn(strict_style=True) as strict:  # the server-wide default
        strict.enqueue(COMPACT)
        other = OpenAI(base_url=strict.url + "/v1", api_key="sk-x", max_retries=0)
        assert json.loads(ask(other, response_format=fmt(PLAN)).choices[0].message.content) == FULL


def test_content_blocks(server, client):
    server.enqueue(Scripted(content={"a": 1}, blocks=True, reasoning="Thinking."), {"b": 2})
    content = ask(client).choices[0].message.content
    assert content[0] == {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking."}]}
    assert content[1]["type"] == "text" and json.loads(content[1]["text"]) == {"a": 1}
    assert json.loads(ask(client, model="gpt-oss-120b").choices[0].message.content[1]["text"]) == {"b": 2}


def test_scripted_errors_and_tool_calls_still_work(server, client):
    server.enqueue(
        Scripted(status=429, headers={"retry-after-ms": "1"}), Scripted(tool_calls=[("f", {"x": 1})])
    )
    with pytest.raises(openai.RateLimitError) as info:
        ask(client)
    assert info.value.response.headers["retry-after-ms"] == "1"
    call = ask(client, tools=[tool("f", {"type": "object"})]).choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("f", {"x": 1})


# -- Databricks model serving -------------------------------------------------------------------------

DBX_PLAN = {
    "type": "object",
    "properties": {"name": STRING, "owner": NULLABLE, "tags": kv_array()},
    "required": ["name"],
}


def dbx_refused(dbx: OpenAI, **kwargs) -> dict:
    error = refused(dbx, **({"model": "databricks-meta-llama-3-3-70b-instruct"} | kwargs))
    assert set(error.body) == {"error_code", "message"} and error.body["error_code"] == "BAD_REQUEST"
    assert error.body["message"].startswith("Bad request: ")
    return error.body


def test_databricks_accepts_its_subset(server, dbx):
    assert strict_schema_problems(DBX_PLAN, "databricks") == []
    server.enqueue({"name": "x"})
    ask(dbx, model="databricks-meta-llama-3-3-70b-instruct", response_format=fmt(DBX_PLAN))
    assert server.requests[0]["model"] == "databricks-meta-llama-3-3-70b-instruct"


def test_databricks_refuses_what_its_docs_rule_out(dbx):
    nullable_object = {"anyOf": [obj(a=STRING), {"type": "null"}]}
    body = dbx_refused(dbx, response_format=fmt({"type": "object", "properties": {"a": nullable_object}}))
    assert "'anyOf' is not supported (at #/properties/a)" in body["message"]
    wide = {"type": "object", "properties": {f"k{i}": STRING for i in range(65)}}
    assert "65 keys; the maximum is 64" in dbx_refused(dbx, response_format=fmt(wide))["message"]
    mixed = {"type": "object", "properties": {"a": {"type": ["string", "integer"]}}}
    assert "type lists" in dbx_refused(dbx, response_format=fmt(mixed))["message"]
    seventeen = {"type": "object", "properties": {f"k{i}": STRING for i in range(17)}}
    assert "17 keys; the maximum is 16" in dbx_refused(dbx, tools=[tool("f", seventeen)])["message"]
    no_parameters = dbx_refused(dbx, tools=[tool("f", None)])
    assert no_parameters["message"].endswith(
        '"parameters" is a required property for "function" object in parameter "tools"'
    )
    assert (
        "32 functions"
        in dbx_refused(dbx, tools=[tool(f"f{i}", {"type": "object"}) for i in range(33)])["message"]
    )
    assert (
        strict_schema_problems(
            {"type": "object", "properties": {f"k{i}": STRING for i in range(16)}},
            "databricks",
            kind="function",
        )
        == []
    )


def test_databricks_openai_models_keep_openai_rules(dbx):
    body = dbx_refused(dbx, model="databricks-gpt-5", temperature=0.2)
    assert "'temperature' does not support 0.2 with this model" in body["message"]
    body = dbx_refused(dbx, model="databricks-gpt-5", response_format=fmt(DBX_PLAN))
    assert "'additionalProperties' is required to be supplied and to be false." in body["message"]


def test_databricks_gpt_oss_answers_in_blocks_and_one_call_at_a_time(server, dbx):
    server.enqueue({"a": 1}, Scripted(tool_calls=[("f", {}), ("g", {})]))
    content = ask(dbx, model="databricks-gpt-oss-120b").choices[0].message.content
    assert [block["type"] for block in content] == ["reasoning", "text"]
    with pytest.raises(openai.InternalServerError, match="parallel function calling"):
        ask(
            dbx,
            model="databricks-gpt-oss-120b",
            tools=[tool("f", {"type": "object"}), tool("g", {"type": "object"})],
        )


def test_databricks_scripted_errors_keep_its_shape(server, dbx):
    server.enqueue(Scripted(status=429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        ask(dbx, model="databricks-meta-llama-3-3-70b-instruct")
    assert info.value.body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert info.value.response.headers["Retry-After"] == "1"

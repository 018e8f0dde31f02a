"""The emulator's identities and permissions, through the real databricks-sdk over HTTP: tokens and SCIM,
job permissions, their enforcement on the Jobs endpoints, run_as rules and Service Principal rule sets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from databricks.sdk import errors as dbx
from databricks.sdk.service import jobs

from standins.databricks import WorkspaceEmulator

ADMIN = "emulator-user@example.com"
TASKS = [{"task_key": "t", "notebook_task": {"notebook_path": "/Repos/etl/ingest"}}]


@pytest.fixture(scope="module")
def emu():
    with WorkspaceEmulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh(emu):
    emu.reset()


@pytest.fixture
def admin(emu):
    return emu.client(retry_timeout_seconds=5)


@pytest.fixture
def dana(emu):
    """An ordinary user's client."""
    return emu.client(emu.add_user("dana@example.com", display_name="Dana"), retry_timeout_seconds=5)


def create(w, name: str = "job", **extra) -> int:
    return w.api_client.do("POST", "/api/2.2/jobs/create", body={"name": name, "tasks": TASKS, **extra})[
        "job_id"
    ]


def levels(perms: dict, key: str, name: str) -> list[str]:
    return [
        p["permission_level"]
        for e in perms["access_control_list"]
        if e.get(key) == name
        for p in e["all_permissions"]
        if not p.get("inherited")
    ]


def post(emu, path: str, body: dict) -> dict:
    req = urllib.request.Request(emu.url + path, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, **json.loads(exc.read())}


# -- tokens and SCIM -------------------------------------------------------------------------------------


def test_each_token_is_its_principal(emu, admin, dana):
    me = admin.current_user.me()
    assert me.user_name == ADMIN and {g.display for g in me.groups} >= {"admins", "users"}
    mine = dana.current_user.me()
    assert mine.user_name == "dana@example.com" and mine.display_name == "Dana"
    assert [g.display for g in mine.groups] == ["users"] and mine.emails[0].value == "dana@example.com"
    app_id, token = emu.add_service_principal("etl-runner")
    sp_me = emu.client(token).current_user.me()
    assert sp_me.user_name == app_id and sp_me.display_name == "etl-runner"  # an SP is its application id
    job_id = create(emu.client(token))
    assert admin.jobs.get(job_id).creator_user_name == app_id


def test_unknown_or_deactivated_token_is_refused_like_an_invalid_pat(emu):
    with pytest.raises(dbx.PermissionDenied, match="Invalid access token"):
        emu.client("dapi-not-issued-here", retry_timeout_seconds=5).current_user.me()
    token = emu.add_user("gone@example.com")
    emu.add_user("gone@example.com", active=False)
    with pytest.raises(dbx.PermissionDenied, match="Invalid access token"):
        next(iter(emu.client(token, retry_timeout_seconds=5).jobs.list()))


def test_users_list_filters_like_scim(emu, admin):
    emu.add_user("Erin.Smith@example.com", groups=["data-eng"])
    assert [u.user_name for u in admin.users.list(filter='userName eq "erin.smith@EXAMPLE.com"')] == [
        "Erin.Smith@example.com"
    ]
    assert list(admin.users.list(filter='userName eq "nobody@example.com"')) == []
    found = admin.users.list(filter='userName sw "erin" and displayName co "smith"', attributes="userName")
    (erin,) = list(found)
    assert erin.user_name == "Erin.Smith@example.com" and erin.id and not erin.groups and not erin.emails
    assert {u.user_name for u in admin.users.list(filter='userName ne "alice@example.com"')} == {
        ADMIN,
        "Erin.Smith@example.com",
    }
    page = admin.api_client.do("GET", "/api/2.0/preview/scim/v2/Users", query={"startIndex": 2, "count": 1})
    assert page["totalResults"] == 3 and page["itemsPerPage"] == 1 and page["startIndex"] == 2
    assert page["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert "Resources" not in admin.api_client.do(
        "GET", "/api/2.0/preview/scim/v2/Users", query={"filter": 'userName eq "x@y"'}
    )
    assert admin.users.get(erin.id).user_name == "Erin.Smith@example.com"
    with pytest.raises(dbx.BadRequest, match="invalidFilter"):
        list(admin.users.list(filter="userName eq erin"))  # strings need quotes
    with pytest.raises(dbx.NotFound):
        admin.users.get("123")


def test_service_principals_and_groups_are_found(emu, admin):
    app_id, _ = emu.add_service_principal("nightly", groups=["data-eng"])
    (sp,) = admin.service_principals.list(filter=f'applicationId eq "{app_id.upper()}"')
    assert sp.application_id == app_id and sp.display_name == "nightly"
    assert [g.display for g in sp.groups] == ["data-eng"] and admin.service_principals.get(sp.id).active
    assert list(admin.service_principals.list(filter='displayName eq "nope"')) == []
    (group,) = admin.groups.list(filter='displayName eq "data-eng"')
    assert [m.display for m in group.members] == ["nightly"]
    assert admin.groups.get(group.id).display_name == "data-eng"


# -- job permissions -------------------------------------------------------------------------------------


def test_permissions_get_set_update_shapes(emu, admin):
    emu.add_user("dana@example.com")
    emu.add_group("analysts")
    job_id = create(admin)
    perms = admin.jobs.get_permissions(str(job_id)).as_dict()
    assert perms["object_id"] == f"/jobs/{job_id}" and perms["object_type"] == "job"
    assert levels(perms, "user_name", ADMIN) == ["IS_OWNER"]
    assert perms["access_control_list"][-1] == {
        "group_name": "admins",
        "all_permissions": [
            {"permission_level": "CAN_MANAGE", "inherited": True, "inherited_from_object": ["/jobs/"]}
        ],
    }
    viewer = jobs.JobAccessControlRequest(
        user_name="dana@example.com", permission_level=jobs.JobPermissionLevel.CAN_VIEW
    )
    group = jobs.JobAccessControlRequest(
        group_name="analysts", permission_level=jobs.JobPermissionLevel.CAN_MANAGE_RUN
    )
    updated = admin.jobs.update_permissions(str(job_id), access_control_list=[viewer, group]).as_dict()
    assert levels(updated, "user_name", "dana@example.com") == ["CAN_VIEW"]
    assert levels(updated, "group_name", "analysts") == ["CAN_MANAGE_RUN"]
    assert levels(updated, "user_name", ADMIN) == ["IS_OWNER"]  # PATCH keeps what it does not name
    owner = jobs.JobAccessControlRequest(user_name=ADMIN, permission_level=jobs.JobPermissionLevel.IS_OWNER)
    replaced = admin.jobs.set_permissions(str(job_id), access_control_list=[owner]).as_dict()
    assert replaced == admin.jobs.get_permissions(str(job_id)).as_dict()  # PUT answers like GET
    assert (
        levels(replaced, "user_name", "dana@example.com") == [] and len(replaced["access_control_list"]) == 2
    )
    (level,) = [
        x
        for x in admin.jobs.get_permission_levels(str(job_id)).permission_levels
        if x.permission_level.value == "IS_OWNER"
    ]
    assert level.description


def test_permission_changes_follow_the_services_rules(emu, admin):
    emu.add_user("dana@example.com")
    emu.add_group("analysts")
    job_id = create(admin)
    path = f"/api/2.0/permissions/jobs/{job_id}"

    def put(*acl):
        return admin.api_client.do("PUT", path, body={"access_control_list": list(acl)})

    with pytest.raises(dbx.InvalidParameterValue, match="exactly one owner"):
        put({"user_name": "dana@example.com", "permission_level": "CAN_VIEW"})
    with pytest.raises(dbx.InvalidParameterValue, match="exactly one owner"):  # the latest level counts
        put(
            {"user_name": ADMIN, "permission_level": "IS_OWNER"},
            {"user_name": ADMIN, "permission_level": "CAN_MANAGE"},
        )
    with pytest.raises(dbx.InvalidParameterValue, match="Group analysts cannot own"):
        put({"group_name": "analysts", "permission_level": "IS_OWNER"})
    with pytest.raises(
        dbx.ResourceDoesNotExist, match=r"Principal: UserName\(ghost@example.com\) does not exist"
    ):
        put(
            {"user_name": ADMIN, "permission_level": "IS_OWNER"},
            {"user_name": "ghost@example.com", "permission_level": "CAN_VIEW"},
        )
    with pytest.raises(dbx.InvalidParameterValue, match="CAN_USE"):
        put(
            {"user_name": ADMIN, "permission_level": "IS_OWNER"},
            {"user_name": "dana@example.com", "permission_level": "CAN_USE"},
        )
    assert levels(emu.job_permissions(job_id), "user_name", "dana@example.com") == []  # nothing applied
    latest = put(
        {"user_name": ADMIN, "permission_level": "IS_OWNER"},
        {"user_name": "dana@example.com", "permission_level": "CAN_MANAGE"},
        {"user_name": "dana@example.com", "permission_level": "CAN_VIEW"},
    )
    assert levels(latest, "user_name", "dana@example.com") == ["CAN_VIEW"]


def test_ownership_moves_only_by_an_admin_and_the_job_follows_its_owner(emu, admin, dana):
    job_id = create(dana)
    assert admin.jobs.get(job_id).run_as_user_name == "dana@example.com"
    erin = jobs.JobAccessControlRequest(
        user_name="erin@example.com", permission_level=jobs.JobPermissionLevel.IS_OWNER
    )
    emu.add_user("erin@example.com")
    with pytest.raises(dbx.PermissionDenied, match="only workspace admins"):
        dana.jobs.update_permissions(str(job_id), access_control_list=[erin])
    perms = admin.jobs.update_permissions(str(job_id), access_control_list=[erin]).as_dict()
    assert levels(perms, "user_name", "erin@example.com") == ["IS_OWNER"]
    assert levels(perms, "user_name", "dana@example.com") == [
        "CAN_MANAGE"
    ]  # the previous owner keeps managing
    job = admin.jobs.get(job_id)
    assert job.run_as_user_name == "erin@example.com" and job.settings.run_as.user_name == "erin@example.com"
    assert job.creator_user_name == "dana@example.com"


def test_create_applies_its_access_control_list_with_the_job(emu, admin, dana):
    emu.add_user("erin@example.com")
    acl = [{"user_name": "erin@example.com", "permission_level": "CAN_MANAGE"}]
    job_id = create(dana, access_control_list=acl)
    perms = emu.job_permissions(job_id)
    assert levels(perms, "user_name", "dana@example.com") == ["IS_OWNER"]
    assert levels(perms, "user_name", "erin@example.com") == ["CAN_MANAGE"]
    before = len(emu.jobs_snapshot())
    with pytest.raises(dbx.ResourceDoesNotExist):
        create(dana, access_control_list=[{"user_name": "ghost@example.com", "permission_level": "CAN_VIEW"}])
    with pytest.raises(dbx.PermissionDenied, match="only workspace admins"):
        create(dana, access_control_list=[{"user_name": "erin@example.com", "permission_level": "IS_OWNER"}])
    assert len(emu.jobs_snapshot()) == before  # refused creates leave nothing behind
    kept = create(
        dana, access_control_list=[{"user_name": "dana@example.com", "permission_level": "CAN_MANAGE"}]
    )
    assert levels(emu.job_permissions(kept), "user_name", "dana@example.com") == ["IS_OWNER"]  # still owner
    owned = create(
        admin, access_control_list=[{"user_name": "erin@example.com", "permission_level": "IS_OWNER"}]
    )
    assert admin.jobs.get(owned).run_as_user_name == "erin@example.com"
    assert levels(emu.job_permissions(owned), "user_name", ADMIN) == ["CAN_MANAGE"]


# -- enforcement on the Jobs endpoints --------------------------------------------------------------


def test_without_can_manage_update_reset_delete_are_refused_and_change_nothing(emu, admin, dana):
    job_id = create(admin, "finance", max_concurrent_runs=1)
    emu.set_job_permissions(job_id, [{"user_name": "dana@example.com", "permission_level": "CAN_MANAGE_RUN"}])
    before = admin.jobs.get(job_id).settings.as_dict()
    denied = f"User dana@example.com does not have Admin or Owner permissions on job {job_id}"
    with pytest.raises(dbx.PermissionDenied, match=denied):
        dana.jobs.update(job_id, new_settings=jobs.JobSettings(max_concurrent_runs=5))
    with pytest.raises(dbx.PermissionDenied, match=denied):
        dana.jobs.reset(
            job_id, new_settings=jobs.JobSettings(name="mine", tasks=[jobs.Task.from_dict(TASKS[0])])
        )
    with pytest.raises(dbx.PermissionDenied, match=denied):
        dana.jobs.delete(job_id)
    with pytest.raises(
        dbx.PermissionDenied, match="does not have Manage permissions on Job with ID: ElasticJobId"
    ):
        dana.jobs.get_permissions(str(job_id))
    assert admin.jobs.get(job_id).settings.as_dict() == before
    run_id = dana.jobs.run_now(job_id).run_id  # CAN_MANAGE_RUN may run and cancel
    dana.jobs.cancel_run(run_id)
    assert dana.jobs.get_run(run_id).job_id == job_id

    emu.set_job_permissions(job_id, [{"user_name": "dana@example.com", "permission_level": "CAN_MANAGE"}])
    dana.jobs.update(job_id, new_settings=jobs.JobSettings(max_concurrent_runs=5))
    assert admin.jobs.get(job_id).settings.max_concurrent_runs == 5
    dana.jobs.delete(job_id)
    with pytest.raises(dbx.ResourceDoesNotExist):
        admin.jobs.get(job_id)


def test_viewing_needs_can_view_and_lists_show_only_viewable_jobs(emu, admin, dana):
    hidden, shared, by_group = create(admin, "hidden"), create(admin, "shared"), create(admin, "by-group")
    mine = create(dana, "mine")
    admin.jobs.run_now(hidden)
    with pytest.raises(
        dbx.PermissionDenied,
        match=f"does not have View or Admin or Manage Run or Owner permissions on job {hidden}",
    ):
        dana.jobs.get(hidden)
    with pytest.raises(dbx.PermissionDenied):
        list(dana.jobs.list_runs(job_id=hidden))
    emu.set_job_permissions(shared, [{"user_name": "dana@example.com", "permission_level": "CAN_VIEW"}])
    emu.add_group("analysts", ["dana@example.com"])
    emu.set_job_permissions(by_group, [{"group_name": "analysts", "permission_level": "CAN_VIEW"}])
    assert sorted(j.job_id for j in dana.jobs.list()) == sorted([shared, by_group, mine])
    assert len(list(admin.jobs.list())) == 4
    assert list(dana.jobs.list_runs()) == [] and len(list(admin.jobs.list_runs())) == 1
    with pytest.raises(dbx.PermissionDenied, match="Manage Run"):
        dana.jobs.run_now(shared)
    with pytest.raises(dbx.PermissionDenied):  # existence is not revealed to those without access
        dana.jobs.get(999_999)
    with pytest.raises(dbx.ResourceDoesNotExist):
        admin.jobs.get(999_999)


def test_jobs_from_before_permissions_are_owned_by_their_creator(emu, admin, dana):
    job_id = create(dana, "old")
    with emu.store.transaction():
        del emu.store.data["job_acls"][str(job_id)]  # as a state file from before this change
    assert levels(emu.job_permissions(job_id), "user_name", "dana@example.com") == ["IS_OWNER"]
    dana.jobs.update(job_id, new_settings=jobs.JobSettings(max_concurrent_runs=2))
    assert dana.jobs.get(job_id).settings.max_concurrent_runs == 2


# -- run_as ----------------------------------------------------------------------------------------


def test_run_as_another_user_needs_a_workspace_admin(emu, admin, dana):
    emu.add_user("erin@example.com")
    with pytest.raises(dbx.PermissionDenied, match="Only workspace admins"):
        create(dana, run_as={"user_name": "erin@example.com"})
    assert create(dana, "self", run_as={"user_name": "dana@example.com"})
    job_id = create(admin, run_as={"user_name": "erin@example.com"})
    job = admin.jobs.get(job_id)
    assert job.run_as_user_name == "erin@example.com" and job.settings.run_as.user_name == "erin@example.com"
    with pytest.raises(
        dbx.InvalidParameterValue, match="Invalid user: 'ghost@example.com' does not exist or deactivated"
    ):
        create(admin, run_as={"user_name": "ghost@example.com"})
    with pytest.raises(dbx.InvalidParameterValue, match="run_as needs exactly one"):
        create(admin, run_as={"user_name": "erin@example.com", "service_principal_name": "x"})
    # changing it on update is checked the same way; leaving it out of a reset keeps it
    emu.set_job_permissions(job_id, [{"user_name": "dana@example.com", "permission_level": "CAN_MANAGE"}])
    with pytest.raises(dbx.PermissionDenied, match="Only workspace admins"):
        dana.jobs.update(
            job_id, new_settings=jobs.JobSettings(run_as=jobs.JobRunAs(user_name="alice@example.com"))
        )
    dana.jobs.reset(
        job_id, new_settings=jobs.JobSettings(name="renamed", tasks=[jobs.Task.from_dict(TASKS[0])])
    )
    assert admin.jobs.get(job_id).settings.run_as.user_name == "erin@example.com"


def test_run_as_a_service_principal_needs_its_user_role(emu, admin, dana):
    app_id, sp_token = emu.add_service_principal("etl-runner", users=["dana@example.com"])
    other, _ = emu.add_service_principal("other-runner", users=["groups/analysts"])
    emu.add_group("analysts")
    run_as = {"service_principal_name": app_id}
    with pytest.raises(
        dbx.PermissionDenied, match=r"Cannot bind the service principal provided in 'run_as' field"
    ):
        create(admin, run_as=run_as)  # admins need the role too
    job_id = create(dana, run_as=run_as)
    assert admin.jobs.get(job_id).run_as_user_name == app_id
    assert create(emu.client(sp_token), run_as=run_as)  # an SP may run jobs as itself
    with pytest.raises(dbx.PermissionDenied, match="servicePrincipal.user"):
        create(dana, run_as={"service_principal_name": other})
    emu.add_group("analysts", ["dana@example.com"])
    assert create(dana, run_as={"service_principal_name": other})  # the role through a group
    rules = admin.account_access_control_proxy.get_rule_set(
        f"accounts/00000000-0000-0000-0000-000000000000/servicePrincipals/{app_id}/ruleSets/default", ""
    )
    assert rules.etag and {r.role: r.principals for r in rules.grant_rules} == {
        "roles/servicePrincipal.manager": [f"users/{ADMIN}"],
        "roles/servicePrincipal.user": ["users/dana@example.com"],
    }
    with pytest.raises(dbx.NotFound):
        admin.account_access_control_proxy.get_rule_set(
            "accounts/a/servicePrincipals/nope/ruleSets/default", ""
        )


# -- persistence and the control endpoint -----------------------------------------------------------


def test_people_tokens_and_permissions_survive_a_restart(tmp_path: Path):
    data = tmp_path / "emulator.json"
    with WorkspaceEmulator(data_path=data) as first:
        token = first.add_user("dana@example.com")
        job_id = create(first.client(), "kept")
        first.set_job_permissions(job_id, [{"user_name": "dana@example.com", "permission_level": "CAN_VIEW"}])
    with WorkspaceEmulator(data_path=data) as second:
        dana = second.client(token, retry_timeout_seconds=5)
        assert dana.current_user.me().user_name == "dana@example.com"
        assert dana.jobs.get(job_id).settings.name == "kept"
        with pytest.raises(dbx.PermissionDenied):
            dana.jobs.delete(job_id)


def test_a_state_file_from_before_identities_still_loads(tmp_path: Path):
    data = tmp_path / "emulator.json"
    with WorkspaceEmulator(data_path=data) as first:
        job_id = create(first.client(), "old")
    state = json.loads(data.read_text())
    del state["principals"], state["job_acls"]
    data.write_text(json.dumps(state))
    with WorkspaceEmulator(data_path=data) as second:
        w = second.client(retry_timeout_seconds=5)
        assert w.current_user.me().user_name == ADMIN
        assert levels(second.job_permissions(job_id), "user_name", ADMIN) == ["IS_OWNER"]  # the creator
        assert w.jobs.get(job_id).settings.name == "old"


def test_control_endpoint_adds_principals(emu, admin):
    user = post(emu, "/_emulator/principals", {"kind": "user", "user_name": "ops@example.com", "admin": True})
    assert user["application_id"] is None
    assert emu.client(user["token"]).current_user.me().user_name == "ops@example.com"
    sp = post(
        emu,
        "/_emulator/principals",
        {"kind": "service_principal", "display_name": "bot", "users": ["ops@example.com"]},
    )
    assert emu.client(sp["token"]).current_user.me().user_name == sp["application_id"]
    assert (
        post(emu, "/_emulator/principals", {"kind": "group", "name": "ops", "members": ["ops@example.com"]})[
            "token"
        ]
        is None
    )
    assert [g.display_name for g in admin.groups.list(filter='displayName eq "ops"')] == ["ops"]
    assert post(emu, "/_emulator/principals", {"kind": "robot"})["status"] == 400

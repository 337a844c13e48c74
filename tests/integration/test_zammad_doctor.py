"""`manage doctor` and the hourly `zammad-doctor` job against the emulated Zammad over HTTP:
green on a region `zammad-setup` made, red in words for each fault an operator meets, the
signature token changed in Zammad seen in the deliveries we refused and mended by
`zammad-setup --rotate-secret`."""

import json
import uuid

import pytest
import requests

from devtools.chatbot_emulator import ChatbotEmulator
from tests.conftest import python_env, run_python
from tests.support.servers import free_port
from tests.support.zammad_operator import add_region, manage, served_and_set_up, set_up


def failing(result):
    checks = [json.loads(line) for line in result.stdout.splitlines()]
    return {check["name"]: check["detail"] for check in checks if not check["ok"]}


def test_doctor_is_green_on_a_region_set_up_and_red_in_words_for_each_fault(operator_env, empty_zammad):
    env = operator_env
    set_up(env, empty_zammad)
    green = manage(env, "doctor", "--region", "augsburg", "--json")
    assert green.returncode == 0 and failing(green) == {}, green.stdout + green.stderr
    names = [json.loads(line)["name"] for line in green.stdout.splitlines()]
    assert names == [
        "zammad",
        "token",
        "group",
        "attributes",
        "webhook",
        "trigger",
        "retention",
        "deliveries",
    ]
    objects = empty_zammad.admin.objects
    [webhook] = objects["webhooks"].values()
    webhook["active"] = False  # an admin switched it off
    red = manage(env, "doctor", "--region", "augsburg", "--json")
    assert red.returncode == 1 and "switched off" in failing(red)["webhook"]
    webhook["active"] = True
    [attribute] = [
        a for a in objects["object_manager_attributes"].values() if a["name"] == "automatic_answers"
    ]
    del objects["object_manager_attributes"][attribute["id"]]  # an attribute deleted
    assert (
        "automatic_answers" in failing(manage(env, "doctor", "--region", "augsburg", "--json"))["attributes"]
    )
    for trigger in objects["triggers"].values():
        trigger["active"] = False
    every = dict(env, ZAMMAD_ADMIN_URL=empty_zammad.url)  # every region: the admin token's Zammad named
    assert "polling" in failing(manage(every, "doctor", "--json"))["trigger"]
    [scheduler] = objects["jobs"].values()
    scheduler["active"] = False  # tickets the retention tags would never be deleted
    assert "never deleted" in failing(manage(every, "doctor", "--json"))["retention"]


def test_doctor_says_when_the_token_is_revoked_or_zammad_is_down(operator_env, empty_zammad):
    env = operator_env
    set_up(env, empty_zammad)
    env = dict(env, ZAMMAD_ADMIN_TOKEN="tok-8f3a-gone")
    revoked = manage(env, "doctor", "--region", "augsburg", "--json")
    assert revoked.returncode == 1 and "refuses the admin token" in failing(revoked)["zammad"]
    assert "tok-8f3a-gone" not in revoked.stdout + revoked.stderr
    # The admin's token is good, the chat's own is revoked: the chat cannot open tickets.
    admin_env = dict(env, ZAMMAD_ADMIN_TOKEN="admin-token")
    assert (
        manage(admin_env, "region", "put", "augsburg", "--zammad-access-token", "tok-chat-gone").returncode
        == 0
    )
    chat_token = manage(admin_env, "doctor", "--region", "augsburg", "--json")
    assert chat_token.returncode == 1 and list(failing(chat_token)) == ["token"], chat_token.stdout
    assert "Zammad refuses the region's token (the chat's)" in failing(chat_token)["token"]
    assert "tok-chat-gone" not in chat_token.stdout + chat_token.stderr
    empty_zammad.refuse_connections()
    down = manage(dict(admin_env, ZAMMAD_ADMIN_URL=empty_zammad.url), "doctor", "--json")
    assert down.returncode == 1 and "cannot be reached" in failing(down)["zammad"]
    unknown = manage(env, "doctor", "--region", "nowhere")
    assert unknown.returncode == 2 and "no region 'nowhere'" in unknown.stderr


def test_a_zammad_restarting_is_read_again_not_failed(operator_env, empty_zammad):
    env = operator_env
    set_up(env, empty_zammad)
    empty_zammad.set_fault(status=502, count=2, request="GET /api/v1/webhooks")  # then it is back
    before = len(empty_zammad.requests)
    again = manage(env, "doctor", "--region", "augsburg", "--json")
    assert again.returncode == 0, again.stdout
    reads = [path for _method, path in empty_zammad.requests[before:] if path == "/api/v1/webhooks"]
    assert len(reads) == 3  # two 502s, then the answer
    empty_zammad.set_fault(status=502, request="GET /api/v1/webhooks")  # down for good
    assert "failed with 502" in failing(manage(env, "doctor", "--region", "augsburg", "--json"))["webhook"]


def test_a_signature_token_changed_in_zammad_shows_and_rotating_the_secret_mends_it(
    dynamodb_local, tmp_path, empty_zammad
):
    """Zammad never shows the token back: the deliveries we refused after the last one we
    verified are the sign. The app is served, so deliveries arrive as in production."""
    with served_and_set_up(dynamodb_local, tmp_path / "server.log", empty_zammad, "augsburg") as (url, env):

        def doctor():
            return manage(env, "doctor", "--region", "augsburg", "--json")

        def agent_writes(text):
            empty_zammad.add_article(ticket["id"], text, sender="Agent")
            empty_zammad.wait_for_webhooks()
            return list(empty_zammad.deliveries.values())[-1]["statuses"]

        chat = "%s/api/v3/augsburg/de/chat/%s/" % (url, uuid.uuid4())
        assert requests.post(chat, data={"message": "Hallo"}, timeout=20).status_code == 200
        [ticket] = empty_zammad.tickets.values()
        assert agent_writes("Guten Tag") == [200]
        assert doctor().returncode == 0
        # An admin types a new signature token into the webhook in Zammad's UI.
        [webhook] = empty_zammad.admin.objects["webhooks"].values()
        changed = requests.put(
            "%s/api/v1/webhooks/%d" % (empty_zammad.url, webhook["id"]), timeout=10,
            headers={"Authorization": "Token token=admin-token"}, json={"signature_token": "typed-in-zammad"},
        )  # fmt: skip
        assert changed.status_code == 200 and changed.json()["signature_token"] == "**********"
        assert agent_writes("Sind Sie noch da?")[0] == 401
        red = doctor()
        assert red.returncode == 1, red.stdout
        assert "could not verify" in failing(red)["deliveries"]
        assert "--rotate-secret" in failing(red)["deliveries"]
        rotated = manage(env, "zammad-setup", "--region", "augsburg", "--rotate-secret")
        assert rotated.returncode == 0, rotated.stderr
        assert "update webhook" in rotated.stdout, rotated.stdout
        assert doctor().returncode == 0
        # Accepted at once, though the app's region cache (30 s) still holds the old secret.
        assert agent_writes("Jetzt wieder?") == [200]
        messages = requests.get(chat, timeout=10).json()["messages"]
        assert messages[-1]["content"] == "Jetzt wieder?"


# --- the hourly job ----------------------------------------------------------------------------
def test_the_hourly_job_logs_one_line_per_failing_region_and_no_token(operator_env, empty_zammad):
    env = operator_env
    """With each region's own (agent) token: the admin objects are left unchecked, not failed."""
    set_up(env, empty_zammad)  # augsburg: healthy
    with ChatbotEmulator(delay=0) as chatbot:
        gone = "http://127.0.0.1:%d" % free_port()
        add_region(env, gone, "berlin", "tok-berlin-secret")
        add_region(env, empty_zammad.url, "celle", "tok-revoked-celle")
        assert manage(env, "region", "put", "augsburg", "--chatbot").returncode == 0
        job_env = python_env(**{k: v for k, v in env.items() if k != "ZAMMAD_ADMIN_TOKEN"})
        job_env["INTEGREAT_CHAT_BACKEND_URL"] = chatbot.url
        result = run_python("-m", "functions.jobs", "zammad-doctor", env=job_env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"job": "zammad-doctor", "regions": 3, "failing": 2}
        lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
        assert sorted(line["region"] for line in lines) == ["berlin", "celle"]
        failed = {line["region"]: line["failed"] for line in lines}
        assert "cannot be reached" in failed["berlin"]["zammad"]
        assert "refuses the region's token" in failed["celle"]["zammad"]
        assert "tok-" not in result.stderr + result.stdout
        # The chatbot down: augsburg, which uses it, fails on that alone.
        job_env["INTEGREAT_CHAT_BACKEND_URL"] = gone
        down = run_python("-m", "functions.jobs", "zammad-doctor", env=job_env)
        lines = [json.loads(line) for line in down.stderr.splitlines() if line.startswith("{")]
        [augsburg] = [line for line in lines if line["region"] == "augsburg"]
        assert list(augsburg["failed"]) == ["chatbot"], augsburg
        assert "cannot be reached" in augsburg["failed"]["chatbot"]


@pytest.mark.parametrize("claim", ["an article Zammad does not have", "a real article's id, other words"])
def test_a_made_up_delivery_alone_does_not_turn_doctor_or_the_deep_check_red(
    claim, dynamodb_local, tmp_path, empty_zammad
):
    """Someone who has the webhook URL's token posts a delivery with a wrong signature. Doctor
    asks Zammad, with the region's token, for the article it named: not Zammad's, so not red."""
    from chalicelib.platform.auth import issue_hs256_token

    with served_and_set_up(dynamodb_local, tmp_path / "server.log", empty_zammad, "augsburg") as (url, env):
        chat = "%s/api/v3/augsburg/de/chat/%s/" % (url, uuid.uuid4())
        assert requests.post(chat, data={"message": "Hallo"}, timeout=20).status_code == 200
        [ticket] = empty_zammad.tickets.values()
        real = ticket["article_ids"][0]
        article = (
            {"id": 999999, "body": "x"} if claim.startswith("an article") else {"id": real, "body": "Anders"}
        )
        [webhook] = empty_zammad.admin.objects["webhooks"].values()
        path = webhook["endpoint"][webhook["endpoint"].index("/api/v3/webhook/") :]
        forged = {"ticket": {"id": ticket["id"]}, "article": article}
        signature = {"X-Hub-Signature": "sha1=" + "0" * 40}
        assert requests.post(url + path, json=forged, headers=signature, timeout=10).status_code == 401
        checked = manage(env, "doctor", "--region", "augsburg", "--json")
        assert checked.returncode == 0, checked.stdout
        [line] = [json.loads(x) for x in checked.stdout.splitlines() if '"deliveries"' in x]
        assert "it was not Zammad's" in line["detail"]
        admin = {"Authorization": "Bearer " + issue_hs256_token(env["AUTH_JWT_SECRET"], "root", ["admin"])}
        deep = requests.get(url + "/api/v3/admin/health", headers=admin, timeout=30).json()
        assert deep["status"] == "ok", deep

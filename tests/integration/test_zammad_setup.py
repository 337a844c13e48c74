"""Setting a region's Zammad up by its admin API (chalicelib/zammad_setup) against the
emulated Zammad over HTTP: from nothing, a second time, adopting what was made by hand,
and the faults an operator meets."""

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from chalicelib.storage.models import RegionRecord
from chalicelib.zammad_setup.admin import AdminError, ZammadAdmin
from chalicelib.zammad_setup.setup import ATTRIBUTES, ZammadSetup, webhook_url
from tests.integration.test_zammad_emulator import receiver
from tests.support.zammad_operator import BASE, add_region, manage

AUGSBURG_TICKET, NEW_ARTICLE = {"region_slug": "augsburg"}, {"subject": ""}  # where triggers look


def region(**fields):
    return RegionRecord("augsburg", name="Augsburg", updated_at=datetime.now(UTC), **fields)


def writes(zammad):
    """The requests Zammad received that could change something."""
    return len([method for method, _path in zammad.requests if method != "GET"])


def setup_of(zammad, record, base=BASE):
    return ZammadSetup(ZammadAdmin(zammad.url, "admin-token"), record, "integreat-chat", base)


def test_an_empty_zammad_is_set_up_and_a_second_run_writes_nothing(empty_zammad):
    record = region()
    setup = setup_of(empty_zammad, record)
    steps, secrets = setup.plan()
    assert [s.action for s in steps] == ["create"] * 8
    assert secrets.webhook_token and secrets.webhook_secret
    setup.apply(steps)
    admin = empty_zammad.admin
    assert admin.group_id("integreat-chat") is not None
    assert set(ATTRIBUTES) <= set(admin.ticket_attributes())  # migrated: on new tickets
    [(endpoint, signing)] = admin.webhook_targets(AUGSBURG_TICKET, NEW_ARTICLE)
    assert endpoint == webhook_url(BASE, secrets.webhook_token) and signing == secrets.webhook_secret
    record.zammad_webhook_token, record.zammad_webhook_secret = secrets
    again = setup_of(empty_zammad, record)
    steps, new = again.plan()
    assert [s.action for s in steps] == ["keep"] * 8 and new == (None, None)
    before = writes(empty_zammad)
    again.apply(steps)
    assert writes(empty_zammad) == before


def test_a_dry_run_plans_and_writes_nothing(empty_zammad):
    setup = setup_of(empty_zammad, region())
    steps, _secrets = setup.plan()
    assert steps and writes(empty_zammad) == 0


def test_a_webhook_made_by_hand_under_another_name_is_adopted_not_doubled(empty_zammad):
    import requests

    record = region(zammad_webhook_token="t0ken", zammad_webhook_secret="held-secret")
    session = requests.Session()
    session.headers["Authorization"] = "Token token=admin-token"
    hook = {"name": "chat backend", "endpoint": webhook_url(BASE, "t0ken"), "signature_token": "held-secret"}
    made = session.post(empty_zammad.url + "/api/v1/webhooks", json=hook, timeout=5).json()
    setup = setup_of(empty_zammad, record)
    steps, secrets = setup.plan()
    [webhook] = [s for s in steps if s.kind == "webhooks"]
    assert (webhook.action, webhook.item_id, webhook.name) == ("keep", made["id"], "chat backend")
    setup.apply(steps)
    assert len(empty_zammad.admin.objects["webhooks"]) == 1 and secrets == (None, None)
    [trigger] = empty_zammad.admin.objects["triggers"].values()
    assert trigger["perform"] == {"notification.webhook": {"webhook_id": made["id"]}}


def test_an_agents_reply_reaches_the_webhook_signed_with_the_regions_secret(empty_zammad):
    with receiver() as (url, received):
        base = url.rsplit("/", 1)[0]  # the receiver takes any path
        setup = ZammadSetup(ZammadAdmin(empty_zammad.url, "admin-token"), region(), "integreat-chat", base)
        steps, secrets = setup.plan()
        setup.apply(steps)
        ticket = empty_zammad.api(
            "POST", "/api/v1/tickets",
            {"title": "t", "group": "integreat-chat", "customer": "johndoe@example.com",
             "region_slug": "augsburg", "article": {"body": "Hallo", "type": "web", "sender": "Customer"}},
        )[1]  # fmt: skip
        empty_zammad.add_article(ticket["id"], "Guten Tag", sender="Agent")
        empty_zammad.wait_for_webhooks()
    assert received, "no delivery"
    for headers, body in received:
        assert (
            headers["X-Hub-Signature"]
            == "sha1=" + hmac.new(secrets.webhook_secret.encode(), body, hashlib.sha1).hexdigest()
        )


def test_the_scheduler_it_makes_deletes_the_tickets_the_retention_tags(empty_zammad):
    """The retention tags a ticket whose time has come where the token may not delete
    (chalicelib/user_chat/retention.py); the scheduler the setup made deletes it."""
    setup = setup_of(empty_zammad, region())
    setup.apply(setup.plan()[0])
    [job] = empty_zammad.admin.objects["jobs"].values()
    assert job["perform"] == {"ticket.action": {"value": "delete"}} and job["active"]
    opened = [
        empty_zammad.api(
            "POST", "/api/v1/tickets",
            {"title": title, "group": "integreat-chat", "customer": "johndoe@example.com",
             "article": {"body": "Hallo", "type": "web", "sender": "Customer"}},
        )[1]["id"]
        for title in ("due", "kept")
    ]  # fmt: skip
    status, _ = empty_zammad.api(
        "POST", "/api/v1/tags/add", {"object": "Ticket", "o_id": opened[0], "item": "integreat-chat-delete"}
    )
    assert status == 201
    assert empty_zammad.run_schedulers() == [opened[0]]
    assert list(empty_zammad.tickets) == [opened[1]]
    # Where the chat deletes tickets itself, no scheduler is needed, and none is made.
    steps, _ = setup_of(empty_zammad, region(zammad_deletes_tickets=True)).plan()
    assert "jobs" not in [step.kind for step in steps]


def test_a_token_without_admin_rights_is_told_in_words(empty_zammad):
    setup = ZammadSetup(ZammadAdmin(empty_zammad.url, "agent-token"), region(), "integreat-chat", BASE)
    with pytest.raises(AdminError, match=r"admin permission .*admin\.group"):
        setup.plan()


def test_a_revoked_token_and_a_zammad_that_is_down_are_told_in_words(empty_zammad):
    with pytest.raises(AdminError, match="refuses the token"):
        ZammadSetup(ZammadAdmin(empty_zammad.url, "revoked"), region(), "g", BASE).plan()
    empty_zammad.set_fault(status=502, request="GET /api/v1/groups")
    with pytest.raises(AdminError, match="failed with 502"):
        setup_of(empty_zammad, region()).plan()
    empty_zammad.refuse_connections()
    with pytest.raises(AdminError, match="cannot be reached"):
        setup_of(empty_zammad, region()).plan()


# --- the command, as an operator runs it (DynamoDB Local, the emulator over HTTP) ------------
def test_the_command_sets_up_once_stores_the_secret_and_then_says_nothing_to_change(
    operator_env, empty_zammad
):
    add_region(operator_env, empty_zammad.url)
    planned = manage(operator_env, "zammad-setup", "--region", "augsburg", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("create") == 8 and "nothing sent" in planned.stdout
    assert writes(empty_zammad) == 0
    first = manage(operator_env, "zammad-setup", "--region", "augsburg")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("augsburg: Zammad is set up for the chat")
    [(endpoint, signing)] = empty_zammad.admin.webhook_targets(AUGSBURG_TICKET, NEW_ARTICLE)
    assert endpoint.startswith(BASE + "/api/v3/webhook/zammad/?token=") and signing
    before = writes(empty_zammad)
    second = manage(operator_env, "zammad-setup", "--region", "augsburg")
    assert second.returncode == 0 and "nothing to change" in second.stdout
    assert writes(empty_zammad) == before
    assert "admin-token" not in first.stdout + first.stderr + second.stdout


def test_the_command_names_what_is_missing(operator_env, empty_zammad):
    assert manage(operator_env, "create-tables").returncode == 0
    unknown = manage(operator_env, "zammad-setup", "--region", "nowhere")
    assert unknown.returncode == 2 and "no region 'nowhere'" in unknown.stderr
    manage(operator_env, "region", "put", "augsburg", "--name", "Augsburg", "--zammad-url", empty_zammad.url)
    refused = manage(operator_env, "zammad-setup", "--region", "augsburg", "--admin-token", "agent-token")
    assert refused.returncode == 1 and "needs the admin permission" in refused.stderr
    assert "agent-token" not in refused.stderr


def test_an_agents_reply_in_a_zammad_the_command_set_up_reaches_the_device(
    dynamodb_local, tmp_path, empty_zammad
):
    """The whole way: the command makes the webhook; the app's first message opens a ticket in
    the group it made; the agent's reply is delivered, its signature checked by the app."""
    import uuid

    import requests

    from tests.support.zammad_operator import served_and_set_up

    served = served_and_set_up(dynamodb_local, tmp_path / "server.log", empty_zammad, "setupville")
    with served as (url, _env):
        chat = "%s/api/v3/setupville/de/chat/%s/" % (url, uuid.uuid4())
        first = requests.post(chat, data={"message": "Hallo"}, timeout=20)
        assert first.status_code == 200, first.text
        [ticket] = empty_zammad.tickets.values()
        assert ticket["group_id"] == empty_zammad.admin.group_id("integreat-chat")
        empty_zammad.add_article(ticket["id"], "Guten Tag, wie kann ich helfen?", sender="Agent")
        empty_zammad.wait_for_webhooks()
        statuses = [d["statuses"] for d in empty_zammad.deliveries.values()]
        assert statuses and all(s == [200] for s in statuses), statuses  # signed as the app expects
        messages = requests.get(chat, timeout=10).json()["messages"]
        assert messages[-1]["content"] == "Guten Tag, wie kann ich helfen?"

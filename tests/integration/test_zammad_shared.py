"""Several regions on one Zammad, as the CMS's own dump has them (augsburg and muenchen on one
`zammad_url`): each region's setup makes its own webhook and trigger and leaves the other's
alone, an agent's article is delivered once, to its region, and two setups of one region at
once end in one webhook that matches the stored token."""

import copy
import subprocess
import sys
import uuid

import requests

from tests.conftest import PROJECT, python_env, running_api
from tests.support.regions import put_region
from tests.support.zammad_operator import add_region, manage


def objects(zammad, kind):
    return copy.deepcopy(zammad.admin.objects[kind])


def test_the_second_region_of_a_zammad_leaves_the_first_ones_webhook_alone(operator_env, empty_zammad):
    add_region(operator_env, empty_zammad.url, "augsburg")
    add_region(operator_env, empty_zammad.url, "muenchen")
    first = manage(operator_env, "zammad-setup", "--region", "augsburg")
    assert first.returncode == 0, first.stderr
    webhooks, triggers = objects(empty_zammad, "webhooks"), objects(empty_zammad, "triggers")
    second = manage(operator_env, "zammad-setup", "--region", "muenchen")
    assert second.returncode == 0, second.stderr
    assert "create webhook   Integreat Chat (muenchen)" in second.stdout
    assert "update" not in second.stdout  # nothing of augsburg's is changed
    after = objects(empty_zammad, "webhooks")
    assert {number: after[number] for number in webhooks} == webhooks  # augsburg's, as it was
    assert {number: objects(empty_zammad, "triggers")[number] for number in triggers} == triggers
    assert sorted(w["name"] for w in after.values()) == [
        "Integreat Chat (augsburg)",
        "Integreat Chat (muenchen)",
    ]
    # Each region is set up and checked on its own, again and again: no trading of webhooks.
    for slug in ("augsburg", "muenchen"):
        again = manage(operator_env, "zammad-setup", "--region", slug)
        assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout
        doctor = manage(operator_env, "doctor", "--region", slug)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "calls it for the region's tickets" in doctor.stdout


def test_an_old_webhook_of_another_region_is_not_taken(operator_env, empty_zammad):
    """A webhook named as setups named it before regions had their own ("Integreat Chat"),
    pointing at another region's URL, stays as it is."""
    old = {
        "name": "Integreat Chat",
        "endpoint": "https://cms.example.org/api/v3/webhook/zammad/?token=theirs",
    }
    admin = requests.Session()
    admin.headers["Authorization"] = "Token token=admin-token"
    made = admin.post(empty_zammad.url + "/api/v1/webhooks", json=old, timeout=5).json()
    add_region(operator_env, empty_zammad.url, "muenchen")
    done = manage(operator_env, "zammad-setup", "--region", "muenchen")
    assert done.returncode == 0, done.stderr
    assert objects(empty_zammad, "webhooks")[made["id"]]["endpoint"] == old["endpoint"]
    assert len(objects(empty_zammad, "webhooks")) == 2


def test_each_agent_article_is_delivered_once_to_its_region(dynamodb_local, tmp_path, empty_zammad):
    with running_api(dynamodb_local, tmp_path / "server.log") as (url, admin, server_env):
        env = python_env(**server_env, PUBLIC_BASE_URL=url, ZAMMAD_ADMIN_TOKEN="admin-token")
        chats = {}
        for slug in ("augsburg", "muenchen"):
            put_region(url, admin, empty_zammad, slug, chat_beta_tester_percentage=100)
            done = manage(env, "zammad-setup", "--region", slug)
            assert done.returncode == 0, done.stderr
            chats[slug] = "%s/api/v3/%s/de/chat/%s/" % (url, slug, uuid.uuid4())
            assert requests.post(chats[slug], data={"message": "Hallo"}, timeout=20).status_code == 200
        for ticket in empty_zammad.tickets.values():
            empty_zammad.add_article(ticket["id"], "Antwort an %s" % ticket["region_slug"], sender="Agent")
        empty_zammad.wait_for_webhooks()
        tokens = {
            slug: requests.get("%s/api/v3/admin/regions/%s" % (url, slug), headers=admin, timeout=10).json()
            for slug in chats
        }
        delivered = list(empty_zammad.deliveries.values())
        # The two first messages and the two replies: four articles, four deliveries, all taken.
        assert len(delivered) == 4 and all(d["statuses"] == [200] for d in delivered), delivered
        for slug, chat in chats.items():
            assert tokens[slug]["zammad_webhook_last_delivery_at"]
            messages = requests.get(chat, timeout=10).json()["messages"]
            assert [m["content"] for m in messages] == ["Hallo", "Antwort an %s" % slug]


def test_two_setups_of_a_region_at_once_end_in_one_webhook_matching_the_stored_token(
    operator_env, empty_zammad
):
    add_region(operator_env, empty_zammad.url, "augsburg")
    # Zammad is slow to make a webhook: the second setup starts while the first waits on it.
    empty_zammad.set_fault(delay=2.0, request="POST /api/v1/webhooks")
    command = [sys.executable, "-m", "functions.manage", "zammad-setup", "--region", "augsburg"]
    runs = [
        subprocess.Popen(command, cwd=str(PROJECT), env=operator_env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    results = [(run.wait(timeout=60), *run.communicate()) for run in runs]
    empty_zammad.clear_faults()
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 1], results
    [refused] = [err for code, _out, err in results if code == 1]
    assert "another zammad-setup of augsburg is running" in refused
    [webhook] = objects(empty_zammad, "webhooks").values()
    stored = manage(operator_env, "doctor", "--region", "augsburg")
    assert stored.returncode == 0, stored.stdout  # the webhook points at the stored token's URL
    assert webhook["name"] == "Integreat Chat (augsburg)"
    again = manage(operator_env, "zammad-setup", "--region", "augsburg")
    assert again.returncode == 0 and "nothing to change" in again.stdout  # the lease was given back

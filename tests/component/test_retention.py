"""Retention on our tables and on Zammad (docs/privacy.md, "Retention"), on a clock moved by
days: ChatApi on the in-memory stores and on moto, the Zammad emulator over loopback."""

import json

import pytest

from chalicelib import jobs
from chalicelib.platform.config import load_settings
from chalicelib.user_chat.retention import CLOSED_NOTE_SUBJECT, DELETE_TAG
from chalicelib.web.http import Request
from tests.component.worlds import chat_world
from tests.support.clock import Clock
from tests.support.emf import EmfCapture
from tests.support.regions import chat_region

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
DAY = 86400


@pytest.fixture(params=["memory", "moto"])
def world(request, zammad):
    clock = Clock()
    region = chat_region(zammad)
    with chat_world(request.param, load_settings({}), clock, region) as api:
        yield api, clock


def send(api, text, device="device-1"):
    params = {"region": "augsburg", "language_or_device": "de", "device_id": device}
    body = json.dumps({"message": text}).encode()
    return api.handle(Request("POST", CHAT, params, headers={"Content-Type": "application/json"}, body=body))


def poll(api, device="device-1"):
    params = {"region": "augsburg", "language_or_device": "de", "device_id": device}
    return api.handle(Request("GET", CHAT, params)).status


def run(api, dry_run=False):
    return jobs.forget_expired_chats(api.services, dry_run=dry_run)


def test_after_31_days_the_ticket_is_closed_and_after_91_more_it_is_tagged_for_deletion(world, zammad):
    api, clock = world
    send(api, "Hallo")
    clock.now += 29 * DAY
    send(api, "Noch da", device="device-2")
    assert run(api)["closed"] == 0 and poll(api) == 200  # not yet
    clock.now += 2 * DAY  # 31 days after the first chat's last message
    report = run(api)
    assert (report["forgotten"], report["closed"], report["zammad_failed"]) == (1, 1, 0)
    assert poll(api) == 404 and poll(api, "device-2") == 200
    first = zammad.tickets[1]
    assert first["state"] == "closed" and "state" not in zammad.tickets[2]
    note = zammad.articles[first["article_ids"][-1]]
    assert note["internal"] and note["subject"] == CLOSED_NOTE_SUBJECT
    assert "90 days" in note["body"]
    clock.now += 89 * DAY
    assert run(api)["tagged"] == 0  # 90 days after closing: not yet
    clock.now += 2 * DAY
    report = run(api)
    assert report["tagged"] == 1 and zammad.tickets[1]["tags"] == [DELETE_TAG]
    assert run(api)["tagged"] == 0  # once


def test_where_the_region_allows_it_the_ticket_is_deleted_after_its_days(world, zammad):
    api, clock = world
    api.services.regions.put("augsburg", {"zammad_deletes_tickets": True, "retention_delete_days": 10})
    send(api, "Hallo")
    clock.now += 31 * DAY
    assert run(api)["closed"] == 1 and zammad.tickets[1]["state"] == "closed"  # closed first
    clock.now += 11 * DAY
    assert run(api)["deleted"] == 1 and zammad.tickets == {}


def test_a_dry_run_changes_nothing(world, zammad):
    api, clock = world
    send(api, "Hallo")
    clock.now += 31 * DAY
    report = run(api, dry_run=True)
    assert (report["forgotten"], report["closed"], report["dry_run"]) == (1, 1, True)
    assert "state" not in zammad.tickets[1]
    assert api.services.user_chats.store.get("augsburg#device-1") is not None


def test_a_failing_zammad_keeps_the_chat_for_the_next_run(world, zammad):
    api, clock = world
    send(api, "Hallo")
    clock.now += 31 * DAY
    zammad.set_fault(500, count=1, request="PUT /api/v1/tickets/1")
    report = run(api)
    assert (report["forgotten"], report["zammad_failed"]) == (0, 1)
    assert api.services.user_chats.store.get("augsburg#device-1") is not None
    assert run(api)["forgotten"] == 1 and zammad.tickets[1]["state"] == "closed"


def test_a_ticket_zammad_deleted_itself_is_no_obstacle(world, zammad):
    api, clock = world
    send(api, "Hallo")
    zammad.api("DELETE", "/api/v1/tickets/1", None)
    clock.now += 31 * DAY
    report = run(api)
    assert (report["forgotten"], report["zammad_failed"]) == (1, 0)


def test_the_retention_run_is_counted_as_a_job_with_its_work(world, zammad):
    api, clock = world
    api.services.metrics = metrics = EmfCapture()
    send(api, "Hallo")
    send(api, "Hallo", device="device-2")
    clock.now += 31 * DAY
    zammad.set_fault(500, count=1, request="PUT /api/v1/tickets/1")
    jobs.run_job(api.services, "forget-expired-chats")
    assert metrics.total("JobRuns", Job="forget-expired-chats", Outcome="ok") == 1
    assert metrics.total("RetentionChats", Action="forgotten") == 1
    assert metrics.total("RetentionChats", Action="zammad_failed") == 1
    assert metrics.total("ZammadCalls", Outcome="5xx") == 1
    run(api, dry_run=True)  # a dry run outside run_job: measured by nobody, counted nowhere
    assert metrics.total("RetentionChats", Action="forgotten") == 1
    api.services.settings = api.services.settings._replace(cms_url="http://127.0.0.1:9")
    jobs.run_job(api.services, "sync-cms-regions")  # the CMS cannot be read: reported, not raised
    assert metrics.total("JobRuns", Job="sync-cms-regions", Outcome="failed") == 1

"""Health (chalicelib/health.py): the shallow check calls nothing; the deep one, behind the
admin token, finds DynamoDB, the chatbot's queue and service, and each chat region's Zammad
(the emulators over loopback, moto in process)."""

import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.http import Request
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET
from tests.support.regions import chat_region

ADMIN = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "root", ["admin"])}


@pytest.fixture
def api():
    with ChatbotEmulator() as bot, mock_aws():
        settings = load_settings(
            {"AUTH_JWT_SECRET": JWT_SECRET, "SERVER_TIMING": "1", "INTEGREAT_CHAT_BACKEND_URL": bot.url}
        )
        api = ChatApi(aws_services(settings))
        create_tables(ALL_MODELS)
        SqsJobQueue(settings).create()
        yield api


def test_the_shallow_check_calls_nothing_and_says_only_ok(api):
    response = api.handle(Request("GET", "/api/v3/health"))
    assert (response.status, response.body) == (200, {"status": "ok"})
    assert response.headers["Server-Timing"].startswith('ddb;desc="0 calls"')
    assert 'zammad;desc="0 calls"' in response.headers["Server-Timing"]


def test_the_deep_check_needs_the_admin_token(api):
    assert api.handle(Request("GET", "/api/v3/admin/health")).status == 401


def test_the_deep_check_names_the_region_whose_zammad_refuses_its_token(api):
    with ZammadEmulator(token="good-token-4711") as zammad:
        for slug, token in (("augsburg", "good-token-4711"), ("berlin", "revoked-token-0815")):
            api.services.regions.put(
                slug, chat_region(zammad, zammad_access_token=token, chatbot_enabled=slug == "augsburg")
            )
        api.services.regions.put("off", {"integreat_chat_enabled": False})  # no chat: not asked
        response = api.handle(Request("GET", "/api/v3/admin/health", headers=ADMIN))
    assert response.status == 200 and response.body["status"] == "failing"
    checks = {(c.get("region"), c["name"]): c for c in response.body["checks"]}
    assert set(checks) == {
        (None, "storage"),
        (None, "queue"),
        (None, "chatbot"),
        ("augsburg", "token"),
        ("augsburg", "deliveries"),
        ("berlin", "token"),
        ("berlin", "deliveries"),
    }
    assert [name for name, check in checks.items() if not check["ok"]] == [("berlin", "token")]
    assert "revoked or expired" in checks[("berlin", "token")]["detail"]
    assert "token-0815" not in str(response.body) and "token-4711" not in str(response.body)  # no token shown


def test_the_deep_check_is_ok_when_everything_answers(api):
    with ZammadEmulator(token="good-token-4711") as zammad:
        api.services.regions.put("augsburg", chat_region(zammad))
        response = api.handle(Request("GET", "/api/v3/admin/health", headers=ADMIN))
    assert response.body["status"] == "ok", response.body
    assert [c["name"] for c in response.body["checks"]] == ["storage", "token", "deliveries"]

"""HTTP to the running app (Chalice's local server) on DynamoDB Local."""

import json
from types import SimpleNamespace

import pytest
import requests

from chalicelib.platform.auth import issue_hs256_token
from tests.conftest import JWT_SECRET, running_api

SECRET = "zammad-access-token-TOPSECRET"


@pytest.fixture(scope="module")
def server(dynamodb_local, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with running_api(dynamodb_local, log_path) as (url, _admin, _env):
        yield SimpleNamespace(url=url, log_path=log_path)


ADMIN = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["admin"])}


def test_admin_api_over_http(server):
    url = server.url + "/api/v3/admin/regions/"
    put = requests.put(
        url + "augsburg",
        headers=ADMIN,
        timeout=10,
        json={
            "name": "Augsburg",
            "zammad_url": "http://127.0.0.1:9",
            "zammad_access_token": SECRET,
            "integreat_chat_enabled": True,
        },
    )
    assert put.status_code == 200, put.text
    assert put.json()["zammad_access_token_set"] is True
    assert SECRET not in put.text
    for path in ("augsburg", "augsburg/"):
        got = requests.get(url + path, headers=ADMIN, timeout=10)
        assert got.json()["name"] == "Augsburg"
    listed = requests.get(server.url + "/api/v3/admin/regions", headers=ADMIN, timeout=10)
    assert "augsburg" in [region["slug"] for region in listed.json()["regions"]]
    assert SECRET not in listed.text
    assert requests.delete(url + "augsburg", headers=ADMIN, timeout=10).status_code == 200
    assert requests.get(url + "augsburg", headers=ADMIN, timeout=10).status_code == 404


@pytest.mark.parametrize("headers", [{}, ADMIN])
def test_an_unknown_path_is_a_json_404(server, headers):
    response = requests.get(server.url + "/api/v3/no/such/thing", headers=headers, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}
    assert response.headers["Content-Type"].startswith("application/json")


def test_an_unknown_method_is_a_json_405(server):
    response = requests.patch(server.url + "/api/v3/admin/regions", headers=ADMIN, timeout=10)
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed."}


def test_a_malformed_body_is_a_json_400(server):
    response = requests.put(
        server.url + "/api/v3/admin/regions/x",
        data=b"{oops",
        timeout=10,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Malformed JSON body."}


def test_missing_auth_is_a_json_401(server):
    response = requests.get(server.url + "/api/v3/admin/regions", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required."}


def test_headers_request_id_and_server_timing(server):
    response = requests.get(server.url + "/api/v3/admin/regions", headers=ADMIN, timeout=10)
    assert len(response.headers["X-Request-Id"]) >= 8
    assert response.headers["Server-Timing"].startswith('ddb;desc="1 call";dur=')


def test_the_log_has_one_json_line_per_request_and_no_secrets(server):
    requests.put(
        server.url + "/api/v3/admin/regions/logcheck",
        headers=ADMIN,
        timeout=10,
        json={"zammad_access_token": SECRET},
    )
    response = requests.get(server.url + "/api/v3/admin/regions/logcheck", headers=ADMIN, timeout=10)
    request_id = response.headers["X-Request-Id"]
    text = server.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert len(mine) == 1
    assert mine[0]["route"] == "/api/v3/admin/regions/{slug}" and mine[0]["status"] == 200
    assert SECRET not in text
    assert "/api/v3/admin/regions/logcheck" not in text  # raw paths may hold device ids
    assert ADMIN["Authorization"].split()[1] not in text


def author(sub, *roles):
    return {
        "Authorization": "Bearer "
        + issue_hs256_token(
            JWT_SECRET, sub, roles or ("author",), name=sub.title(), email=sub + "@example.org"
        )
    }


def test_author_chat_over_http(server):
    url = server.url + "/api/v3/author-chat/"
    alice, bob = author("alice"), author("bob")
    sent = requests.post(url + "messages", json={"text": "Hallo Team"}, headers=alice, timeout=10)
    assert sent.status_code == 201
    message = sent.json()
    listed = requests.get(url + "messages/?limit=10", headers=bob, timeout=10).json()
    assert listed["messages"][0] == dict(message, unread=True, can_delete=False)
    assert (listed["unread_count"], listed["history_days"], listed["next_cursor"]) == (1, 30, None)
    read = requests.post(url + "read", headers=bob, timeout=10).json()
    assert read["previous_visited_at"] is None
    assert requests.get(url + "messages", headers=bob, timeout=10).json()["unread_count"] == 0
    assert requests.delete(url + "messages/" + message["id"], headers=bob, timeout=10).status_code == 403
    assert requests.delete(url + "messages/" + message["id"], headers=alice, timeout=10).json() == {
        "success": True,
        "status": "The chat message was successfully deleted.",
    }
    assert requests.get(url + "messages", headers=author("eve", "guest"), timeout=10).status_code == 403
    assert requests.get(url + "messages", timeout=10).json() == {"error": "Authentication required."}

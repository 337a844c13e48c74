"""The author chat widget's files as the API serves them, and the CORS of the routes that
take a token (the browser behaviour itself: tests/integration/test_widget_browser.py)."""

import json

import pytest

from chalicelib.api import ChatApi
from chalicelib.author_chat import widget
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.web.http import Request
from tests.conftest import JWT_SECRET, python_env, run_python
from tests.support.memory import memory_services

WIDGET = "/api/v3/author-chat/widget/{file}"
MESSAGES = "/api/v3/author-chat/messages"
CMS = "https://cms.integreat-app.de"


@pytest.fixture
def api():
    settings = load_settings(
        {"AUTH_JWT_SECRET": JWT_SECRET, "AUTHOR_CHAT_ORIGINS": CMS + ", http://127.0.0.1:9"}
    )
    return ChatApi(memory_services(settings))


def get(api, file, headers=None):
    return api.handle(Request("GET", WIDGET, {"file": file}, headers=headers or {}))


@pytest.mark.parametrize(
    "file, content_type",
    [("index.html", "text/html"), ("widget.js", "text/javascript"), ("widget.css", "text/css")],
)
def test_the_files_are_served_with_their_types(api, file, content_type):
    response = get(api, file)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body_bytes() == (widget.FILES / file).read_bytes()


def test_the_page_may_be_framed_only_by_the_configured_origins(api):
    policy = get(api, "index.html").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://cms.integreat-app.de http://127.0.0.1:9" in policy
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy


@pytest.mark.parametrize("file", ["missing.js", "..", "index.htm", "widget.py"])
def test_anything_else_is_a_json_404(api, file):
    response = get(api, file)
    assert (response.status, response.body) == (404, {"error": "Not found."})


def test_the_folder_serves_the_page_and_without_its_slash_sends_there(api):
    # As the WSGI server routes it (the concrete path); plain chalice local: test_first_hour.
    page = api.handle_path("GET", "/api/v3/author-chat/widget/")
    assert page.status == 200 and page.body_bytes() == get(api, "index.html").body_bytes()
    assert "frame-ancestors 'self' %s" % CMS in page.headers["Content-Security-Policy"]
    bare = api.handle_path("GET", "/api/v3/author-chat/widget")
    assert bare.status == 308 and bare.headers["Location"] == "widget/"


def test_the_widget_adds_less_than_30_kb_gzip_and_nothing_to_a_cold_start():
    assert widget.gzipped_size() < 30 * 1024
    code = "import app; from chalicelib.author_chat import widget; print(len(widget._cache))"
    result = run_python("-c", code, env=python_env(AUTH_JWT_SECRET=JWT_SECRET))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"  # the files are read when first asked for


def test_routes_with_tokens_answer_cors_only_to_the_configured_origins(api):
    token = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["author"])}
    allowed = api.handle(Request("GET", MESSAGES, {}, headers=dict(token, Origin=CMS)))
    assert allowed.status == 200
    assert (allowed.headers["Access-Control-Allow-Origin"], allowed.headers["Vary"]) == (CMS, "Origin")
    other = api.handle(Request("GET", MESSAGES, {}, headers=dict(token, Origin="https://evil.example")))
    assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers
    preflight = api.handle(
        Request("OPTIONS", MESSAGES, {}, headers={"Origin": CMS, "Access-Control-Request-Method": "POST"})
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert preflight.headers["Access-Control-Allow-Origin"] == CMS
    refused = api.handle(
        Request(
            "OPTIONS",
            MESSAGES,
            {},
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    )
    assert refused.status == 405 and "Access-Control-Allow-Origin" not in refused.headers
    assert json.loads(refused.body_bytes())["error"]


@pytest.mark.parametrize("value", ["*", "cms.integreat-app.de", "https://cms.integreat-app.de/path"])
def test_origins_must_be_origins_never_a_wildcard(value):
    with pytest.raises(ConfigError, match="AUTHOR_CHAT_ORIGINS"):
        load_settings({"AUTHOR_CHAT_ORIGINS": value})

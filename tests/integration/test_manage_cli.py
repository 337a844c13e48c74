"""`python -m functions.manage`, run as an operator would, against DynamoDB Local."""

import json
import time

import jwt
import pytest

from chalicelib.tables import ALL_MODELS
from tests.conftest import JWT_SECRET, python_env, run_python, unique_prefix


@pytest.fixture
def env(dynamodb_local):
    return python_env(
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local,
        CHAT_TABLE_PREFIX=unique_prefix(),
        AUTH_JWT_SECRET=JWT_SECRET,
    )


def manage(env, *args):
    return run_python("-m", "functions.manage", *args, env=env)


def test_create_tables_is_idempotent(env):
    first = manage(env, "create-tables")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == len(ALL_MODELS)
    assert all(": created" in line for line in lines)
    assert any(line.endswith("user-chats: created, TTL on expires_at") for line in lines)
    second = manage(env, "create-tables")
    assert second.returncode == 0
    assert second.stdout == first.stdout.replace(": created", ": exists")


def test_token_prints_a_token_for_the_configured_secret(env):
    result = manage(env, "token", "--role", "admin", "--sub", "alice", "--name", "Alice")
    assert result.returncode == 0
    claims = jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"], claims["name"]) == ("alice", ["admin"], "Alice")
    assert claims["exp"] > claims["iat"]


def test_token_without_a_secret_is_refused(env):
    env.pop("AUTH_JWT_SECRET")
    result = manage(env, "token", "--role", "admin")
    assert result.returncode != 0
    assert "AUTH_JWT_SECRET" in result.stderr


def test_region_commands(env):
    assert manage(env, "create-tables").returncode == 0
    put = manage(
        env,
        "region",
        "put",
        "augsburg",
        "--name",
        "Augsburg",
        "--enabled",
        "--zammad-url",
        "https://zammad.example.org",
        "--zammad-access-token",
        "SECRET-XYZ",
        "--beta-percentage",
        "25",
        "--json",
        '{"ticket_group": "support"}',
    )
    assert put.returncode == 0, put.stderr
    region = json.loads(put.stdout)
    assert (region["name"], region["chat_beta_tester_percentage"], region["ticket_group"]) == (
        "Augsburg",
        25,
        "support",
    )
    assert region["chat_configured"] is True
    assert "SECRET-XYZ" not in put.stdout

    assert json.loads(manage(env, "region", "get", "augsburg").stdout)["slug"] == "augsburg"
    assert [r["slug"] for r in json.loads(manage(env, "region", "list").stdout)] == ["augsburg"]
    assert manage(env, "region", "delete", "augsburg").returncode == 0
    missing = manage(env, "region", "get", "augsburg")
    assert missing.returncode == 1
    assert "Region not found." in missing.stderr


def test_region_put_refuses_bad_input(env):
    assert manage(env, "create-tables").returncode == 0
    result = manage(env, "region", "put", "augsburg", "--beta-percentage", "150")
    assert result.returncode == 1
    assert "chat_beta_tester_percentage" in result.stderr
    result = manage(env, "region", "put", "augsburg", "--json", "{nope")
    assert result.returncode == 1 and "--json" in result.stderr


def test_a_name_that_is_not_valid_unicode_is_refused(env):
    assert manage(env, "create-tables").returncode == 0
    # Linux hands undecodable argument bytes to Python as lone surrogates.
    result = manage(env, "region", "put", "bad-name", "--name", b"caf\xe9".decode("utf-8", "surrogateescape"))
    assert result.returncode != 0
    assert "not valid Unicode" in result.stderr and "Traceback" not in result.stderr


def test_create_tables_makes_the_chatbot_queue_where_the_endpoint_allows(env, moto_server):
    env.update(AWS_ENDPOINT_URL_SQS=moto_server, CHATBOT_QUEUE_NAME="q" + unique_prefix().rstrip("-"))
    for _ in range(2):  # idempotent
        result = manage(env, "create-tables")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "queue %s: ready (dead letters: %s-dlq)" % (
            (env["CHATBOT_QUEUE_NAME"],) * 2
        )
    from chalicelib.chatbot.queue import SqsJobQueue
    from chalicelib.platform.config import load_settings

    queue = SqsJobQueue(load_settings(env))
    queue.send({"kind": "ping"})
    [delivery] = queue.receive(wait_seconds=1)
    sent = json.loads(delivery.body)  # stamped on its way (chalicelib/chatbot/queue.py)
    assert sent.pop("kind") == "ping" and sent.pop("trace_id") is None
    assert abs(sent.pop("queued_at") - time.time()) < 60 and sent == {}


def test_region_chatbot_settings(env):
    assert manage(env, "create-tables").returncode == 0
    put = manage(
        env, "region", "put", "augsburg", "--chatbot", "--default-language", "ar", "--words-budget", "50000"
    )
    assert put.returncode == 0, put.stderr
    region = json.loads(put.stdout)
    assert (region["chatbot_enabled"], region["default_language"], region["chatbot_words_budget"]) == (
        True,
        "ar",
        50000,
    )
    assert region["chatbot_words_used"] == 0
    refused = manage(env, "region", "put", "augsburg", "--default-language", "Arabic")
    assert refused.returncode == 1 and "default_language" in refused.stderr


def test_export_prints_exactly_what_is_stored_about_a_device(env, moto_server, zammad):
    """GDPR Art. 15 (docs/privacy.md, "Access (GDPR Art. 15)"): the chat item, the draw, the files, the
    ticket's visible articles; and the retention's dry run changes nothing."""
    from chalicelib.attachments.bucket import FileBucket
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from tests.support.files import png, upload

    env = dict(env, ATTACHMENT_BUCKET="export-files", AWS_ENDPOINT_URL_S3=moto_server)
    assert manage(env, "create-tables").returncode == 0
    put = manage(
        env, "region", "put", "augsburg", "--enabled", "--beta-percentage", "100",
        "--zammad-url", zammad.url, "--zammad-access-token", zammad.token,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    settings = load_settings(env)
    FileBucket(settings).create()
    services = aws_services(settings)
    region = services.regions.get("augsburg")
    assert services.user_chats.is_chat_enabled(region, "device-1") is True
    services.user_chats.send(region, "de", "device-1", "Hallo", None, None)
    ticket_id = services.user_chats.ticket_for_files(region, "device-1")
    form = services.attachments.upload_form(
        region, "device-1", ticket_id, {"filename": "Brief.png", "content_type": "image/png", "size": 71}
    )
    assert upload(form, png()).status_code == 204
    files = tuple(services.attachments.message_files(region, "device-1", ticket_id, [form["id"]]))
    services.user_chats.send(region, "de", "device-1", "Mein Brief", None, None, files)
    zammad.add_article(1, "<p>intern</p>", internal=True)  # after the device's two
    zammad.add_article(1, "<p>Antwort</p>")

    result = manage(env, "export", "--region", "augsburg", "--device", "device-1")
    assert result.returncode == 0, result.stderr
    exported = json.loads(result.stdout)
    assert exported["chat"]["chat_key"] == "augsburg#device-1"
    assert [m["content"] for m in exported["chat"]["messages"]] == ["Hallo", "Mein Brief"]
    assert exported["is_chat_enabled_draw"] is True
    [file] = exported["files"]
    assert (file["name"], file["type"], file["size"]) == ("Brief.png", "image/png", len(png()))
    articles = exported["ticket"]["articles"]
    assert [a["body"] for a in articles] == ["Hallo", "Mein Brief", "<p>Antwort</p>"]  # no internal note

    other = json.loads(manage(env, "export", "--region", "augsburg", "--device", "device-2").stdout)
    assert (other["chat"], other["is_chat_enabled_draw"], other["files"], other["ticket"]) == (
        None,
        None,
        [],
        None,
    )

    dry = manage(env, "retention", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["forgotten"] == 0  # nothing is 30 days old
    assert json.loads(manage(env, "export", "--region", "augsburg", "--device", "device-1").stdout)["chat"]


def test_create_tables_without_credentials_says_so_in_one_line(dynamodb_local, tmp_path):
    """As from a fresh shell on a new machine: no key, no profile (and no instance metadata)."""
    env = python_env(
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local, HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    result = run_python("-m", "functions.manage", "create-tables", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no AWS credentials" in result.stderr and "AWS_ACCESS_KEY_ID=local" in result.stderr


def test_create_tables_against_a_server_not_started_names_its_url(tmp_path):
    env = python_env(AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9")
    result = run_python("-m", "functions.manage", "create-tables", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "http://127.0.0.1:9" in result.stderr


def test_region_get_shows_the_region_as_the_admin_api_does(env):
    """One view of a region for both: `data_deleted_within_days` follows the retention set
    here (it came from a default of 30 days in the CLI)."""
    assert manage(env, "create-tables").returncode == 0
    assert manage(env, "region", "put", "augsburg", "--name", "Augsburg").returncode == 0
    days = {}
    for retention in ("10", "30"):
        shown = manage(dict(env, INTEGREAT_CHAT_TICKET_RETENTION_DAYS=retention), "region", "get", "augsburg")
        assert shown.returncode == 0, shown.stderr
        days[retention] = json.loads(shown.stdout)["data_deleted_within_days"]
    assert days["30"] - days["10"] == 20

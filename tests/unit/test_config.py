import pytest

from chalicelib.platform.config import ConfigError, load_settings
from tests.conftest import python_env, run_python


def test_defaults_follow_the_spec():
    settings = load_settings({})
    assert settings.table_prefix == "integreat-chat-"
    assert settings.author_chat_history_days == 30
    assert settings.ticket_retention_days == 30
    assert settings.ticket_group == "integreat-chat"
    assert settings.rate_limit_requests == 120
    assert settings.rate_limit_window_minutes == 1
    assert settings.trusted_ip_header is None
    assert settings.message_cache_seconds == 60
    assert settings.zammad_timeout_seconds == 10.0
    assert settings.server_timing is False
    assert settings.dynamodb_endpoint is None


def test_values_are_read():
    settings = load_settings(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8002",
            "CHAT_TABLE_PREFIX": "x-",
            "AUTHOR_CHAT_HISTORY_DAYS": "7",
            "API_RATE_LIMIT_WINDOW": "5",
            "TRUSTED_IP_HEADER": "X-Forwarded-For",
            "ZAMMAD_TIMEOUT_SECONDS": "2.5",
            "SERVER_TIMING": "1",
            "MESSAGE_CACHE_SECONDS": "0",
        }
    )
    assert settings.dynamodb_endpoint == "http://127.0.0.1:8002"
    assert settings.table_prefix == "x-"
    assert settings.author_chat_history_days == 7
    assert settings.rate_limit_requests == 5
    assert settings.trusted_ip_header == "X-Forwarded-For"
    assert settings.zammad_timeout_seconds == 2.5
    assert settings.server_timing is True
    assert settings.message_cache_seconds == 0


@pytest.mark.parametrize(
    "name, value",
    [
        ("AUTHOR_CHAT_HISTORY_DAYS", "-1"),
        ("AUTHOR_CHAT_HISTORY_DAYS", "thirty"),
        ("INTEGREAT_CHAT_TICKET_RETENTION_DAYS", "0"),
        ("API_RATE_LIMIT_WINDOW", "-5"),
        ("API_RATE_LIMIT_WINDOW", "1.5"),
        ("API_RATE_LIMIT_WINDOW_MINUTES", "x"),
        ("MESSAGE_CACHE_SECONDS", "-1"),
        ("ZAMMAD_TIMEOUT_SECONDS", "0"),
        ("ZAMMAD_TIMEOUT_SECONDS", "ten"),
        ("SERVER_TIMING", "yes"),
        ("CHAT_TABLE_PREFIX", "bad prefix/"),
        ("TRUSTED_IP_HEADER", "X Forwarded"),
        ("TRUSTED_PROXY_COUNT", "0"),
        ("CHATBOT_QUEUE_NAME", "no spaces"),
        ("CHATBOT_TIMEOUT_SECONDS", "0"),
        ("INTEGREAT_CHAT_BACKEND_URL", "chat.example.org"),
        ("AUTH_JWKS_URL", "not-a-url"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_a_bad_value_stops_the_lambda_start_up():
    result = run_python("-c", "import app", env=python_env(API_RATE_LIMIT_WINDOW="-1"))
    assert result.returncode != 0
    assert "API_RATE_LIMIT_WINDOW" in result.stderr


def test_a_bad_value_stops_the_cli():
    result = run_python(
        "-m", "functions.manage", "region", "list", env=python_env(AUTHOR_CHAT_HISTORY_DAYS="abc")
    )
    assert result.returncode != 0
    assert "AUTHOR_CHAT_HISTORY_DAYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_secret_is_not_in_the_settings_repr():
    settings = load_settings({"AUTH_JWT_SECRET": "very-secret-value-of-enough-length"})
    assert "very-secret-value" not in repr(settings)


@pytest.mark.parametrize("secret", ["x", "s" * 31, "ä" * 15])
def test_a_short_jwt_secret_stops_start_up_without_echoing_it(secret):
    with pytest.raises(ConfigError) as raised:
        load_settings({"AUTH_JWT_SECRET": secret})
    assert "AUTH_JWT_SECRET" in str(raised.value) and secret not in str(raised.value)
    assert load_settings({"AUTH_JWT_SECRET": "s" * 32}).jwt_secret == "s" * 32


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://cms.integreat-app.de", "https://cms.integreat-app.de"),
        ("https://cms.integreat-app.de/", "https://cms.integreat-app.de"),
        ("https://chat.example.org:8443", "https://chat.example.org:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
    ],
)
def test_the_public_base_url_is_read(value, expected):
    assert load_settings({"PUBLIC_BASE_URL": value}).public_base_url == expected
    assert load_settings({}).public_base_url is None


@pytest.mark.parametrize(
    "value",
    [
        "http://cms.integreat-app.de",  # Zammad would send the webhook's signature in clear
        "https://cms.integreat-app.de/api/v3",  # the chat's paths are fixed: the host only
        "https://cms.integreat-app.de/?x=1",
        "ftp://cms.integreat-app.de",
        "cms.integreat-app.de",
        "https://user@cms.integreat-app.de",
    ],
)
def test_a_bad_public_base_url_stops_the_start_naming_the_variable(value):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings({"PUBLIC_BASE_URL": value})


def test_the_metrics_folder_must_be_there_to_write_when_prometheus_counts(tmp_path):
    """prometheus_client writes into it from the first count on: a folder nobody made failed
    every request that counted (an empty reply, a 500 page at /metrics), not the start."""
    missing = str(tmp_path / "not-made")
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        load_settings({"METRICS": "prometheus", "PROMETHEUS_MULTIPROC_DIR": missing})
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        load_settings({"METRICS": "prometheus", "PROMETHEUS_MULTIPROC_DIR": str(a_file)})
    assert (
        load_settings({"METRICS": "prometheus", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}).metrics
        == "prometheus"
    )
    # Without Prometheus nothing reads it, so nothing is required of it.
    assert load_settings({"METRICS": "off", "PROMETHEUS_MULTIPROC_DIR": missing}).metrics == "off"


def test_the_gunicorn_app_stops_on_a_metrics_folder_nobody_made(tmp_path):
    env = python_env(METRICS="prometheus", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "not-made"))
    result = run_python("-c", "import functions.wsgi", env=env)
    assert result.returncode != 0 and "PROMETHEUS_MULTIPROC_DIR must be an existing folder" in result.stderr

"""Configuration: every environment variable is read and validated here, once.

`load_settings()` raises `ConfigError` naming the variable, so a bad value stops
start-up (a Lambda init, a WSGI worker, the CLI) instead of failing later on a request.
"""

import re
from collections.abc import Mapping
from typing import Any, NamedTuple


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable."""


class Settings(NamedTuple):
    dynamodb_endpoint: str | None = None
    aws_region: str = "eu-central-1"
    table_prefix: str = "integreat-chat-"
    author_chat_history_days: int = 30
    ticket_retention_days: int = 30
    ticket_group: str = "integreat-chat"
    rate_limit_requests: int = 120
    rate_limit_window_minutes: int = 1
    trusted_ip_header: str | None = None
    trusted_proxy_count: int = 1
    message_cache_seconds: int = 60
    zammad_timeout_seconds: float = 10.0
    jwt_secret: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    server_timing: bool = False
    # The Integreat chatbot service (integreat-chat); None: no automatic answers anywhere.
    chatbot_url: str | None = None
    chatbot_timeout_seconds: float = 45.0
    chatbot_queue_name: str = "integreat-chat-chatbot"
    sqs_endpoint: str | None = None  # None: AWS
    cms_url: str | None = None  # the Integreat CMS whose regions we follow; None: no sync
    # Web origins (the CMS) whose pages may call the author and admin API and frame the
    # author chat widget; never "*": these calls carry a bearer token.
    author_chat_origins: tuple[str, ...] = ()
    # Files in the user chat (docs/files.md); None: no files.
    attachment_bucket: str | None = None
    s3_endpoint: str | None = None  # None: AWS
    attachment_max_bytes: int = 10_000_000
    attachment_max_files: int = 3
    attachment_upload_seconds: int = 3600  # how long an upload form may be used
    attachment_link_seconds: int = 3600  # a download link lasts one to two of these
    # Real time over WebSockets (docs/realtime.md): API Gateway's management API of the
    # WebSocket API (make dev: the local server's); None: no events, polls only.
    websocket_endpoint: str | None = None
    websocket_url: str | None = None  # what clients connect to (ws:// or wss://), for the widget's CSP
    websocket_connections_per_chat: int = 5
    websocket_messages_per_minute: int = 30
    # Where the public reaches this backend (production: the CMS's host, the chat paths
    # beside it): what Zammad's webhook is pointed at (manage zammad-setup). No trailing "/".
    public_base_url: str | None = None
    # Push (docs/push.md): off where neither FCM_CREDENTIALS nor VAPID_PRIVATE_KEY is set.
    fcm_credentials: str | None = None  # a service account's JSON, or the path of its file
    fcm_url: str = "https://fcm.googleapis.com/v1/projects/{project_id}/messages:send"
    vapid_private_key: str | None = None  # P-256: PEM, or the raw key in base64url
    vapid_subject: str | None = None  # mailto: or https: (RFC 8292): whom a push service may tell
    push_delay_seconds: int = 10  # a reply unseen this long is pushed
    # Web Push endpoints a browser's subscription may name (its host ends with one of
    # these): the push services of Chrome, Firefox, Edge and Safari, so a registration
    # cannot make the worker post elsewhere. An entry "http://127.0.0.1:<port>" allows a
    # stand-in on loopback (make dev, the tests).
    web_push_hosts: tuple[str, ...] = (
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "notify.windows.com",
        "push.apple.com",
    )
    # Metrics (chalicelib/platform/telemetry.py): "emf" (CloudWatch's Embedded Metric Format
    # on stdout; the default on Lambda), "prometheus" (`/metrics` under gunicorn: needs
    # prometheus_client, from requirements-server.txt) or "off".
    metrics: str = "off"

    @property
    def push_enabled(self) -> bool:
        """Push is on where FCM or Web Push is set up (docs/push.md)."""
        return bool(self.fcm_credentials or self.vapid_private_key)

    def __repr__(self) -> str:
        # Keeps the HS256 secret out of tracebacks and debug output.
        return "Settings(table_prefix=%r, dynamodb_endpoint=%r, ...)" % (
            self.table_prefix,
            self.dynamodb_endpoint,
        )


# The patterns stay text: re compiles each on its first use (and keeps it), so a cold start
# pays only for the settings it has.
_TABLE_PREFIX = r"^[A-Za-z0-9_.-]{0,200}\Z"
_HEADER_NAME = r"^[A-Za-z0-9-]+\Z"
_URL = r"^https?://[^\s/]+"
_INTEGER = r"^-?[0-9]{1,18}\Z"


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _whole_number(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    if not re.match(_INTEGER, raw):  # ASCII digits: int() would also take "²" or "٣"
        raise ConfigError("%s must be a whole number, got %r" % (name, raw))
    value = int(raw)
    if value < minimum:
        raise ConfigError("%s must be at least %d, got %d" % (name, minimum, value))
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("%s must be a number of seconds, got %r" % (name, raw)) from None
    if not 0 < value <= 900:
        raise ConfigError("%s must be more than 0 and at most 900, got %r" % (name, raw))
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = _text(env, name) or "0"
    if raw not in ("0", "1"):
        raise ConfigError("%s must be 0 or 1, got %r" % (name, raw))
    return raw == "1"


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = _text(env, name)
    if raw is not None and not re.match(_URL, raw):
        raise ConfigError("%s must be an http(s) URL, got %r" % (name, raw))
    return raw


MIN_JWT_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


def _jwt_secret(env: Mapping[str, str]) -> str | None:
    secret = _text(env, "AUTH_JWT_SECRET")
    if secret is not None and len(secret.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
        # The value itself is never echoed: it is a secret, even a bad one.
        raise ConfigError("AUTH_JWT_SECRET must be at least %d bytes long" % MIN_JWT_SECRET_BYTES)
    return secret


def _metrics(env: Mapping[str, str]) -> str:
    raw = _text(env, "METRICS") or ("emf" if _text(env, "AWS_LAMBDA_FUNCTION_NAME") else "off")
    if raw not in ("emf", "prometheus", "off"):
        raise ConfigError("METRICS must be emf, prometheus or off, got %r" % raw)
    return raw


def _check_metrics_folder(env: Mapping[str, str], metrics: str) -> None:
    """prometheus_client's multiprocess folder (it reads the variable itself): each process
    writes its figures there from its first count on, so a folder that is not there (or not
    ours to write) would fail every request that counts, not the start."""
    import os

    folder = _text(env, "PROMETHEUS_MULTIPROC_DIR")
    if folder is None or metrics != "prometheus":
        return
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            "PROMETHEUS_MULTIPROC_DIR must be an existing folder this process may write, made "
            "empty before the processes start (e.g. systemd's RuntimeDirectory=), got %r" % folder
        )


# https on a host name, with a port at most; plain http only on this machine (make dev).
_PUBLIC_BASE_URL = r"^(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost))(:[0-9]{1,5})?/?\Z"


def _public_base_url(env: Mapping[str, str]) -> str | None:
    raw = _text(env, "PUBLIC_BASE_URL")
    if raw is None:
        return None
    if not re.match(_PUBLIC_BASE_URL, raw):
        raise ConfigError(
            "PUBLIC_BASE_URL must be https://host[:port] (http only on 127.0.0.1 or localhost), "
            "without a path, got %r" % raw
        )
    return raw.rstrip("/")


_QUEUE_NAME = r"^[A-Za-z0-9_-]{1,80}\Z"  # SQS: 1-80 of these


def _queue_name(env: Mapping[str, str], prefix: str) -> str:
    name = _text(env, "CHATBOT_QUEUE_NAME") or (prefix.replace(".", "-") + "chatbot")
    if not re.match(_QUEUE_NAME, name):
        raise ConfigError("CHATBOT_QUEUE_NAME must be 1-80 letters, digits, '-' or '_', got %r" % name)
    return name


_ORIGIN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z"


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    origins = tuple(
        value.strip().rstrip("/") for value in (_text(env, name) or "").split(",") if value.strip()
    )
    for origin in origins:
        if not re.match(_ORIGIN, origin):
            raise ConfigError(
                "%s must be web origins like https://cms.integreat-app.de, comma-separated (never *), got %r"
                % (name, origin)
            )
    return origins


_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z"  # S3's bucket naming rules


def _bucket(env: Mapping[str, str], name: str) -> str | None:
    bucket = _text(env, name)
    if bucket is not None and not re.match(_BUCKET, bucket):
        raise ConfigError(
            "%s must be an S3 bucket name (3-63 of a-z, 0-9, '.', '-'), got %r" % (name, bucket)
        )
    return bucket


_WEBSOCKET_URL = r"^wss?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?\Z"


def _websocket_url(env: Mapping[str, str], name: str) -> str | None:
    raw = _text(env, name)
    if raw is not None and not re.match(_WEBSOCKET_URL, raw):
        raise ConfigError("%s must be a ws:// or wss:// URL without spaces or quotes, got %r" % (name, raw))
    return raw


_VAPID_SUBJECT = r"^(mailto:[^\s@]+@[^\s@]+|https://[^\s/]+(/\S*)?)\Z"
_VAPID_KEY = (
    r"^(-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----|[A-Za-z0-9_-]{43})\s*\Z"
)
_WEB_PUSH_HOST = r"^([a-z0-9.-]+\.[a-z]{2,}|http://127\.0\.0\.1:[0-9]{1,5})\Z"


def _push(env: Mapping[str, str]) -> dict[str, Any]:
    """The push settings, checked as far as a cold start can afford (no key is parsed here:
    the first push parses it, and `manage doctor` does)."""
    credentials, key, subject = (
        _text(env, n) for n in ("FCM_CREDENTIALS", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT")
    )
    if key is not None and not re.match(_VAPID_KEY, key.strip()):
        raise ConfigError("VAPID_PRIVATE_KEY must be a P-256 private key: PEM, or 43 characters of base64url")
    if key is not None and (subject is None or not re.match(_VAPID_SUBJECT, subject)):
        raise ConfigError(
            "VAPID_SUBJECT must be mailto:<address> or an https URL when VAPID_PRIVATE_KEY is set"
        )
    url = _url(env, "FCM_URL")
    if url is not None and "{project_id}" not in url and "/projects/" not in url:
        raise ConfigError("FCM_URL must hold {project_id} (or a project's path), got %r" % url)
    delay = _whole_number(env, "PUSH_DELAY_SECONDS", 10, 0)
    if delay > 900:
        raise ConfigError("PUSH_DELAY_SECONDS must be at most 900 (SQS's longest delay), got %d" % delay)
    hosts = _text(env, "WEB_PUSH_HOSTS")
    found: dict[str, Any] = {}
    if hosts is not None:
        found["web_push_hosts"] = tuple(h.strip().lower() for h in hosts.split(",") if h.strip())
        bad = [h for h in found["web_push_hosts"] if not re.match(_WEB_PUSH_HOST, h)]
        if bad:
            raise ConfigError("WEB_PUSH_HOSTS: not a host (or http://127.0.0.1:<port>): %r" % bad[0])
    if url is not None:
        found["fcm_url"] = url
    return dict(
        found,
        fcm_credentials=credentials,
        vapid_private_key=key,
        vapid_subject=subject,
        push_delay_seconds=delay,
    )


def load_settings(env: Mapping[str, str]) -> Settings:
    prefix = env.get("CHAT_TABLE_PREFIX", "integreat-chat-")
    if not re.match(_TABLE_PREFIX, prefix):
        raise ConfigError(
            "CHAT_TABLE_PREFIX may hold only letters, digits, '_', '-' and '.', got %r" % prefix
        )
    metrics = _metrics(env)
    _check_metrics_folder(env, metrics)
    header = _text(env, "TRUSTED_IP_HEADER")
    if header is not None and not re.match(_HEADER_NAME, header):
        raise ConfigError("TRUSTED_IP_HEADER must be a header name, got %r" % header)
    return Settings(
        dynamodb_endpoint=_url(env, "AWS_ENDPOINT_URL_DYNAMODB"),
        aws_region=_text(env, "AWS_REGION") or _text(env, "AWS_DEFAULT_REGION") or "eu-central-1",
        table_prefix=prefix,
        author_chat_history_days=_whole_number(env, "AUTHOR_CHAT_HISTORY_DAYS", 30, 1),
        ticket_retention_days=_whole_number(env, "INTEGREAT_CHAT_TICKET_RETENTION_DAYS", 30, 1),
        ticket_group=_text(env, "INTEGREAT_CHAT_TICKET_GROUP") or "integreat-chat",
        rate_limit_requests=_whole_number(env, "API_RATE_LIMIT_WINDOW", 120, 1),
        rate_limit_window_minutes=_whole_number(env, "API_RATE_LIMIT_WINDOW_MINUTES", 1, 1),
        trusted_ip_header=header,
        trusted_proxy_count=_whole_number(env, "TRUSTED_PROXY_COUNT", 1, 1),
        message_cache_seconds=_whole_number(env, "MESSAGE_CACHE_SECONDS", 60, 0),
        zammad_timeout_seconds=_seconds(env, "ZAMMAD_TIMEOUT_SECONDS", 10.0),
        jwt_secret=_jwt_secret(env),
        jwks_url=_url(env, "AUTH_JWKS_URL"),
        jwt_issuer=_text(env, "AUTH_JWT_ISSUER"),
        jwt_audience=_text(env, "AUTH_JWT_AUDIENCE"),
        server_timing=_flag(env, "SERVER_TIMING"),
        chatbot_url=_url(env, "INTEGREAT_CHAT_BACKEND_URL"),
        chatbot_timeout_seconds=_seconds(env, "CHATBOT_TIMEOUT_SECONDS", 45.0),
        chatbot_queue_name=_queue_name(env, prefix),
        sqs_endpoint=_url(env, "AWS_ENDPOINT_URL_SQS"),
        cms_url=_url(env, "CMS_URL"),
        author_chat_origins=_origins(env, "AUTHOR_CHAT_ORIGINS"),
        attachment_bucket=_bucket(env, "ATTACHMENT_BUCKET"),
        s3_endpoint=_url(env, "AWS_ENDPOINT_URL_S3"),
        attachment_max_bytes=_whole_number(env, "ATTACHMENT_MAX_BYTES", 10_000_000, 1),
        attachment_max_files=_whole_number(env, "ATTACHMENT_MAX_FILES", 3, 1),
        attachment_upload_seconds=_whole_number(env, "ATTACHMENT_UPLOAD_SECONDS", 3600, 60),
        attachment_link_seconds=_whole_number(env, "ATTACHMENT_LINK_SECONDS", 3600, 60),
        websocket_endpoint=_url(env, "WEBSOCKET_ENDPOINT"),
        websocket_url=_websocket_url(env, "WEBSOCKET_URL"),
        websocket_connections_per_chat=_whole_number(env, "WEBSOCKET_CONNECTIONS_PER_CHAT", 5, 1),
        websocket_messages_per_minute=_whole_number(env, "WEBSOCKET_MESSAGES_PER_MINUTE", 30, 1),
        public_base_url=_public_base_url(env),
        metrics=metrics,
        **_push(env),
    )

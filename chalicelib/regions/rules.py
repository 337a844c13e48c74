"""The rules of a region's settings (SPEC §6): what a slug is, which fields a PUT may
change and how (a field left out keeps its stored value, `null` clears an optional one), a
webhook token needs a secret, and what the API shows (never a secret, only whether it is
set). Shared by the admin API and `manage region`."""

import re
from typing import Any
from urllib.parse import urlsplit

from chalicelib.platform.times import iso_utc, utc_datetime
from chalicelib.storage.models import RegionRecord
from chalicelib.web.errors import BadRequest
from chalicelib.web.http import check_text_values

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}\Z")
# A language as the app and the CMS name it: `de`, `en`, `uk`, `zh-CN`.
LANGUAGE_SLUG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}\Z")
# Path segments of other routes at the place of a region slug in /api/v3/{region}/...
RESERVED_SLUGS = frozenset({"admin", "author-chat", "webhook"})
MIN_WEBHOOK_SECRET = 16
SECRETS = ("zammad_access_token", "zammad_webhook_token", "zammad_webhook_secret")
_TEXT_FIELDS = {  # field: (may be null, max length)
    "name": (False, 200),
    "zammad_url": (True, 500),
    "zammad_access_token": (True, 500),
    "zammad_webhook_token": (True, 200),
    "zammad_webhook_secret": (True, 500),
    "zammad_privacy_policy": (False, 2000),
    "ticket_group": (True, 200),
}
_FIELDS = set(_TEXT_FIELDS) | {
    "integreat_chat_enabled",
    "chat_beta_tester_percentage",
    "chatbot_enabled",
    "default_language",
    "chatbot_words_budget",
    "zammad_deletes_tickets",
    "retention_delete_days",
}
DEFAULT_DELETE_DAYS = 90  # as Zammad's own job: tickets closed this long are deleted
MAX_RETENTION_DAYS = 3650
# Patterns a poll never checks stay text: re compiles them on first use (a cold start).
_URL = r"^https?://[^\s/?#]+(/[^\s?#]*)?\Z"
WEBHOOK_TOKEN = r"^[A-Za-z0-9_-]{16,200}\Z"


def zammad_identity(url: Any) -> Any:
    """A Zammad URL as one Zammad: case, a trailing "/" and the names of this machine
    (localhost, 127.0.0.1, ::1) aside, so that one Zammad cannot pass as two (one ticket as
    two chats in an import) nor two as one (an admin token sent to the wrong host)."""
    if not isinstance(url, str):
        return url
    parts = urlsplit(url.strip().lower().rstrip("/"))
    host = parts.hostname or ""
    return (
        parts.scheme,
        "loopback" if host in ("localhost", "127.0.0.1", "::1") else host,
        parts.port,
        parts.path,
    )


def is_slug(slug: str) -> bool:
    return bool(SLUG.match(slug)) and slug not in RESERVED_SLUGS


def validate_slug(slug: str) -> str:
    if not SLUG.match(slug or ""):
        raise BadRequest("A region slug is 1-100 lower-case letters, digits, '-' or '_'.")
    if slug in RESERVED_SLUGS:
        raise BadRequest("%r is reserved for other routes of the API." % slug)
    return slug


def delete_days(record: RegionRecord) -> int:
    """How long a closed ticket stays in the region's Zammad before the job deletes it."""
    return DEFAULT_DELETE_DAYS if record.retention_delete_days is None else int(record.retention_delete_days)


def public_view(record: RegionRecord, chatbot_words_used: int = 0, close_days: int = 30) -> dict[str, Any]:
    """What the API shows of a region: every setting, and of each secret only whether it is
    set; `chatbot_words_used` is this month's count (read-only); `close_days`: the
    deployment's INTEGREAT_CHAT_TICKET_RETENTION_DAYS."""
    view = {
        "slug": record.slug,
        "name": record.name,
        "integreat_chat_enabled": bool(record.integreat_chat_enabled),
        "zammad_url": record.zammad_url,
        "chat_beta_tester_percentage": int(record.chat_beta_tester_percentage),
        "zammad_privacy_policy": record.zammad_privacy_policy,
        "ticket_group": record.ticket_group,
        "chat_configured": chat_configured(record),
        "updated_at": iso_utc(record.updated_at),
        # Whether Zammad's webhook works: the time of the last valid delivery.
        "zammad_webhook_last_delivery_at": iso_utc(utc_datetime(record.webhook_seen_at))
        if record.webhook_seen_at
        else None,
        # ... and of the last one to its URL refused for its signature (Zammad's secret changed).
        "zammad_webhook_last_refused_at": iso_utc(utc_datetime(record.webhook_refused_at))
        if record.webhook_refused_at
        else None,
        "chatbot_enabled": bool(record.chatbot_enabled),
        "default_language": record.default_language,
        "chatbot_words_budget": None
        if record.chatbot_words_budget is None
        else int(record.chatbot_words_budget),
        "chatbot_words_used": chatbot_words_used,
        # The CMS's view at the last sync (null: never synced; see CMS_URL).
        "cms_listed": record.cms_listed,
        "cms_chat_enabled": record.cms_chat_enabled,
        "cms_synced_at": iso_utc(utc_datetime(record.cms_synced_at)) if record.cms_synced_at else None,
        # A person's data (docs/privacy.md): the one number a privacy text can quote is
        # `data_deleted_within_days`: closed after `close_days` without contact, deleted
        # `retention_delete_days` later, and a day for the hourly job and its retries.
        "zammad_deletes_tickets": bool(record.zammad_deletes_tickets),
        "retention_delete_days": None
        if record.retention_delete_days is None
        else int(record.retention_delete_days),
        "data_deleted_within_days": close_days + delete_days(record) + 1,
    }
    for secret in SECRETS:
        view[secret + "_set"] = bool(getattr(record, secret))
    return view


def chat_configured(record: RegionRecord) -> bool:
    """Whether the chat is served: switched on here with Zammad credentials, and not
    switched off in the CMS (after a sync, the app offers the chat exactly when the CMS
    says `is_chat_enabled`)."""
    return bool(
        record.integreat_chat_enabled
        and record.zammad_url
        and record.zammad_access_token
        and record.cms_chat_enabled is not False
    )


def listed(record: RegionRecord | None) -> bool:
    """Whether the region exists for the app: known here, and listed by the CMS at the
    last sync (or never synced)."""
    return record is not None and record.cms_listed is not False


def check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    check_text_values(changes)  # the CLI's arguments too: not only what came as JSON
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise BadRequest("Unknown field(s): %s." % ", ".join(unknown))
    for field, (nullable, max_length) in _TEXT_FIELDS.items():
        if field not in changes:
            continue
        value = changes[field]
        if value is None and nullable:
            continue
        if not isinstance(value, str) or len(value) > max_length:
            raise BadRequest("%s must be a string of at most %d characters." % (field, max_length))
        if nullable and not value.strip():
            changes[field] = None  # an empty string clears, like null
    if changes.get("zammad_url") is not None:
        changes["zammad_url"] = changes["zammad_url"].rstrip("/")
        if not re.match(_URL, changes["zammad_url"]):
            raise BadRequest("zammad_url must be an http(s) URL.")
    if changes.get("zammad_webhook_token") is not None and not re.match(
        WEBHOOK_TOKEN, changes["zammad_webhook_token"]
    ):
        raise BadRequest("zammad_webhook_token must be 16-200 letters, digits, '-' or '_'.")
    secret = changes.get("zammad_webhook_secret")
    if secret is not None and len(secret.strip()) < MIN_WEBHOOK_SECRET:
        raise BadRequest("zammad_webhook_secret must be at least %d characters." % MIN_WEBHOOK_SECRET)
    if "integreat_chat_enabled" in changes and not isinstance(changes["integreat_chat_enabled"], bool):
        raise BadRequest("integreat_chat_enabled must be true or false.")
    if "chatbot_enabled" in changes and not isinstance(changes["chatbot_enabled"], bool):
        raise BadRequest("chatbot_enabled must be true or false.")
    if "default_language" in changes and not (
        isinstance(changes["default_language"], str) and LANGUAGE_SLUG.match(changes["default_language"])
    ):
        raise BadRequest("default_language must be a language slug such as de, en or zh-CN.")
    if changes.get("chatbot_words_budget") is not None:
        value = changes["chatbot_words_budget"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**12:
            raise BadRequest("chatbot_words_budget must be a whole number of words (or null: unlimited).")
    if "zammad_deletes_tickets" in changes and not isinstance(changes["zammad_deletes_tickets"], bool):
        raise BadRequest("zammad_deletes_tickets must be true or false.")
    value = changes.get("retention_delete_days")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETENTION_DAYS
    ):
        raise BadRequest(
            "retention_delete_days must be a whole number of days from 0 to %d (or null: %d)."
            % (MAX_RETENTION_DAYS, DEFAULT_DELETE_DAYS)
        )
    if "chat_beta_tester_percentage" in changes:
        value = changes["chat_beta_tester_percentage"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise BadRequest("chat_beta_tester_percentage must be a whole number from 0 to 100.")
    return changes

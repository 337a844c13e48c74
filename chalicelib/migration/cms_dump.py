"""What the Integreat CMS's own dump holds for the chat (docs/migrating.md): the output of
`integreat-cms-cli dumpdata cms.region cms.language cms.userchat cms.abtester
cms.chatmessage cms.user`, Django's JSON fixture format (a list of `{"model", "pk",
"fields"}`, foreign keys as integer pks), as integreat-cms 2026.10.0 writes it
(tests/fixtures/cms/dump.json was recorded from it).

Read as the CMS reads it: a device's current chat is its newest `cms.userchat` (the CMS
ignores the region there), its draw its newest `cms.abtester`; a chat whose last message is
older than the retention has expired (the CMS starts a new one). Of a user only what the
author chat shows is read (name, e-mail), and only for senders of messages that are read:
a password hash, a TOTP key or a WebAuthn id is never looked at.

Nothing here writes: `read_dump` checks every record first and names each it refuses, so
an import writes nothing half (cms_import.py).
"""

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chalicelib.regions.rules import LANGUAGE_SLUG, check_changes, validate_slug, zammad_identity
from chalicelib.user_chat.inputs import DEVICE_ID
from chalicelib.user_chat.ports import ImportedChat
from chalicelib.web.errors import BadRequest
from chalicelib.web.http import has_lone_surrogate

MODELS = ("cms.region", "cms.language", "cms.userchat", "cms.abtester", "cms.chatmessage", "cms.user")
MAX_AUTHOR_TEXT = 10_000  # as the author chat takes a message
# The CMS's region fields that our region record holds too (the rest is the CMS's own).
REGION_FIELDS = (
    "name",
    "integreat_chat_enabled",
    "zammad_url",
    "zammad_access_token",
    "zammad_webhook_token",
    "chat_beta_tester_percentage",
    "zammad_privacy_policy",
)


class DumpError(Exception):
    """The file is no dump at all (not JSON, cut off, not a list of records)."""


class Refused(NamedTuple):
    record: str  # "cms.userchat 7"
    reason: str


class CmsRegion(NamedTuple):
    slug: str
    settings: dict[str, Any]  # our region fields, as a PUT of the admin API takes them


class CmsDraw(NamedTuple):
    pk: int
    region: str
    device_id: str
    enabled: bool


class CmsAuthorMessage(NamedTuple):
    pk: int
    text: str
    sent_at: float
    sender_id: str  # the CMS user's pk: what an author token's `sub` carries (docs/migrating.md)
    sender_name: str
    sender_email: str


class CmsDump(NamedTuple):
    regions: dict[str, CmsRegion]  # by slug
    chats: list[ImportedChat]  # each device's current chat, not expired
    draws: list[CmsDraw]
    author_messages: list[CmsAuthorMessage]  # inside the history window
    # What is read but not imported: (region or "", kind, why) -> how many. Kinds: chats,
    # draws ("superseded": a newer one is the device's; "expired"), author messages
    # ("older" than the window), other models (why: the model's name).
    skipped: Counter
    refused: list[Refused]
    # Every (region, device) with a cms.userchat row, expired and older ones too, and the
    # newest row's pk: a chat imported before and gone from the CMS since is one whose
    # device is not here though its pk is not newer than the dump (cms_import.py).
    chat_devices: frozenset[tuple[str, str]] = frozenset()
    newest_chat: int = 0


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()  # before the CMS had a chat
CLOCK_SKEW_SECONDS = 86400  # a CMS whose clock runs ahead of ours by up to a day


def _timestamp(value: Any, now: float) -> float:
    """An epoch from Django's JSON datetime ("2026-12-05T13:09:09.657Z"); naive is UTC.
    A time later than `now` (and a day) or before 2000 is refused: in 2100 the retention
    would never close the chat, and 9999-12-31 plus the retention is past any date."""
    if not isinstance(value, str):
        raise ValueError("not a date and time")
    moment = datetime.fromisoformat(value)
    epoch = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    if not EARLIEST <= epoch <= now + CLOCK_SKEW_SECONDS:
        raise ValueError("not a time the CMS could have written")
    return epoch


MAX_ID = 2**63 - 1  # PostgreSQL's bigint, the CMS's and Zammad's ids (and within DynamoDB's 38 digits)


def _pk(value: Any) -> int:
    if not is_key(value) or not 0 < value <= MAX_ID:
        raise ValueError("not a positive integer")
    return value


def is_key(value: Any) -> bool:
    """An integer, as a pk or a reference: JSON's true is no key (it would read as pk 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or has_lone_surrogate(value) or not 1 <= len(value.strip()) <= limit:
        raise ValueError("not a text of 1 to %d characters" % limit)
    return value.strip()


def load(data: bytes) -> list[dict[str, Any]]:
    try:
        records = json.loads(data)
    except RecursionError:
        raise DumpError("the file is nested too deeply to be a dump") from None
    except ValueError as error:
        raise DumpError("the file is not a whole JSON document (%s); was the dump cut off?" % error) from None
    if not isinstance(records, list):
        raise DumpError("a dump is a JSON list of records; this file holds a %s" % type(records).__name__)
    return records


class _Reader:
    def __init__(self, now: float, retention_days: int, history_days: int, regions: set[str] | None):
        self.now, self.only = now, regions
        self.retention_seconds = retention_days * 86400
        self.window_start = now - history_days * 86400
        self.skipped: Counter = Counter()
        self.refused: list[Refused] = []
        self.chat_devices: set[tuple[str, str]] = set()

    def by_model(self, records: list[Any]) -> dict[str, dict[int, dict[str, Any]]]:
        found: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in MODELS}
        for index, record in enumerate(records):
            if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
                self.refused.append(Refused("record %d" % (index + 1), "not a record of a Django dump"))
                continue
            model = record.get("model")
            if model not in found:
                self.skipped[("", "other models", str(model))] += 1
                continue
            name = "%s %s" % (model, record.get("pk"))
            try:
                pk = _pk(record.get("pk"))
            except ValueError:
                self.refused.append(Refused(name, "its pk is not a positive integer"))
                continue
            if pk in found[model]:
                self.refused.append(Refused(name, "the dump holds this record twice"))
                continue
            found[model][pk] = record["fields"]
        return found

    def regions(self, records: dict[int, dict[str, Any]]) -> dict[int, CmsRegion]:
        regions = {}
        slugs = Counter(fields.get("slug") for fields in records.values())
        for pk, fields in records.items():
            if slugs[fields.get("slug")] > 1:  # which one's settings would win is anyone's guess
                self.refused.append(Refused("cms.region %d" % pk, "another region of the dump has its slug"))
                continue
            try:
                slug = validate_slug(fields["slug"] if isinstance(fields.get("slug"), str) else "")
                settings = {name: fields[name] for name in REGION_FIELDS if name in fields}
                if settings.get("zammad_webhook_token") is not None:
                    settings["zammad_webhook_token"] = str(settings["zammad_webhook_token"])
                regions[pk] = CmsRegion(slug, check_changes(settings))
            except BadRequest as error:
                self.refused.append(Refused("cms.region %d" % pk, error.message))
        return regions

    def wanted(self, region: str) -> bool:
        return self.only is None or region in self.only

    def chats(self, records, regions: dict[int, CmsRegion], languages: dict[int, str]) -> list[ImportedChat]:
        newest: dict[str, int] = {}  # device -> pk of its current chat (the CMS ignores the region)
        for pk, fields in records.items():
            device = fields.get("device_id")
            if isinstance(device, str) and pk > newest.get(device, 0):
                newest[device] = pk
            region = regions.get(fields.get("region")) if is_key(fields.get("region")) else None
            if isinstance(device, str) and region is not None:
                self.chat_devices.add((region.slug, device))
        chats: list[ImportedChat] = []
        tickets: dict[tuple[Any, int], str] = {}  # (Zammad, ticket) -> the chat that has it
        for pk, fields in sorted(records.items()):
            name = "cms.userchat %d" % pk
            device = fields.get("device_id")
            if not isinstance(device, str) or not DEVICE_ID.match(device):
                self.refused.append(Refused(name, "its device_id is not one the app sends"))
                continue
            region = regions.get(fields.get("region")) if is_key(fields.get("region")) else None
            if region is None:
                self.refused.append(Refused(name, "its region %r is not in the dump" % fields.get("region")))
                continue
            if not self.wanted(region.slug):
                continue
            if newest[device] != pk:
                self.skipped[(region.slug, "chats", "superseded")] += 1
                continue
            language = languages.get(fields.get("language")) if is_key(fields.get("language")) else None
            if language is None:
                self.refused.append(
                    Refused(name, "its language %r is not in the dump" % fields.get("language"))
                )
                continue
            try:
                ticket = _pk(fields.get("zammad_id"))
            except ValueError:
                self.refused.append(
                    Refused(name, "its zammad_id %r is not a ticket id" % fields.get("zammad_id"))
                )
                continue
            try:
                started = _timestamp(fields.get("created_timestamp"), self.now)
                # Older CMS versions have no last_message_timestamp: the start stands in.
                last = _timestamp(
                    fields.get("last_message_timestamp") or fields.get("created_timestamp"), self.now
                )
            except ValueError:
                self.refused.append(
                    Refused(name, "its timestamps are not dates and times between 2000 and now")
                )
                continue
            if last + self.retention_seconds <= self.now:
                self.skipped[(region.slug, "chats", "expired")] += 1
                continue
            zammad = (zammad_identity(region.settings.get("zammad_url")), ticket)
            if zammad in tickets:
                self.refused.append(
                    Refused(name, "its ticket %d is also the chat of %s" % (ticket, tickets[zammad]))
                )
                continue
            tickets[zammad] = name
            chats.append(ImportedChat(pk, region.slug, device, ticket, language, started, last))
        return chats

    def draws(self, records, regions: dict[int, CmsRegion]) -> list[CmsDraw]:
        newest: dict[str, int] = {}
        for pk, fields in records.items():
            device = fields.get("device_id")
            if isinstance(device, str) and pk > newest.get(device, 0):
                newest[device] = pk
        draws = []
        for pk, fields in sorted(records.items()):
            name = "cms.abtester %d" % pk
            device = fields.get("device_id")
            region = regions.get(fields.get("region")) if is_key(fields.get("region")) else None
            if not isinstance(device, str) or not DEVICE_ID.match(device):
                self.refused.append(Refused(name, "its device_id is not one the app sends"))
            elif region is None:
                self.refused.append(Refused(name, "its region %r is not in the dump" % fields.get("region")))
            elif not isinstance(fields.get("is_tester"), bool):
                self.refused.append(Refused(name, "its is_tester is not true or false"))
            elif not self.wanted(region.slug):
                continue
            elif newest[device] != pk:
                self.skipped[(region.slug, "draws", "superseded")] += 1
            else:
                draws.append(CmsDraw(pk, region.slug, device, fields["is_tester"]))
        return draws

    def author_messages(self, records, users: dict[int, dict[str, Any]]) -> list[CmsAuthorMessage]:
        messages = []
        for pk, fields in sorted(records.items()):
            name = "cms.chatmessage %d" % pk
            try:
                sent_at = _timestamp(fields.get("sent_datetime"), self.now)
            except ValueError:
                self.refused.append(
                    Refused(name, "its sent_datetime is not a date and time between 2000 and now")
                )
                continue
            if sent_at <= self.window_start:
                self.skipped[("", "author messages", "older")] += 1
                continue
            sender = users.get(fields.get("sender")) if is_key(fields.get("sender")) else None
            if sender is None:
                self.refused.append(Refused(name, "its sender %r is not in the dump" % fields.get("sender")))
                continue
            try:
                text = _text(fields.get("text"), MAX_AUTHOR_TEXT)
                full_name = " ".join(
                    part.strip()
                    for part in (sender.get("first_name"), sender.get("last_name"))
                    if isinstance(part, str)
                ).strip()
                username = _text(sender.get("username"), 150)
                sender_name = full_name if 0 < len(full_name) <= 200 else username
                email = sender["email"] if isinstance(sender.get("email"), str) else ""
                if has_lone_surrogate(sender_name + email):
                    raise ValueError("not valid Unicode")
            except ValueError as error:
                self.refused.append(Refused(name, "its text or its sender's name is %s" % error))
                continue
            messages.append(
                CmsAuthorMessage(pk, text, sent_at, str(fields["sender"]), sender_name, email[:254])
            )
        return messages


def read_dump(
    data: bytes, now: float, retention_days: int, history_days: int, regions: set[str] | None = None
) -> CmsDump:
    """Every record the import would write, checked; `DumpError` if the file is no dump.
    `regions`: only these regions' settings, chats and draws (the author chat is shared)."""
    reader = _Reader(now, retention_days, history_days, regions)
    found = reader.by_model(load(data))
    by_pk = reader.regions(found["cms.region"])
    languages = {}
    for pk, fields in found["cms.language"].items():
        if isinstance(fields.get("slug"), str) and LANGUAGE_SLUG.match(fields["slug"]):
            languages[pk] = fields["slug"]
        else:
            reader.refused.append(Refused("cms.language %d" % pk, "its slug is not a language's (de, zh-CN)"))
    chats = reader.chats(found["cms.userchat"], by_pk, languages)
    draws = reader.draws(found["cms.abtester"], by_pk)
    author_messages = reader.author_messages(found["cms.chatmessage"], found["cms.user"])
    selected = {region.slug: region for region in by_pk.values() if reader.wanted(region.slug)}
    missing = sorted((regions or set()) - set(selected))
    for slug in missing:
        reader.refused.append(Refused("--region %s" % slug, "the dump holds no region of that slug"))
    return CmsDump(
        selected,
        chats,
        draws,
        author_messages,
        reader.skipped,
        reader.refused,
        frozenset(reader.chat_devices),
        max(found["cms.userchat"], default=0),
    )

"""What several features share, as PynamoDB models: the regions, the small bookkeeping
tables of small_tables.py, and a message's file as stored (StoredAttachment). A feature's
own table is declared beside its store (user_chat/records.py, author_chat/store.py,
chatbot/ledger.py, realtime/connections.py); chalicelib/tables.py lists them all.
"""

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.storage.connection import table


class OnDemand:  # every table's billing: a Meta base class
    billing_mode = "PAY_PER_REQUEST"


class WebhookTokenIndex(GlobalSecondaryIndex):
    """Finds a region by the token in its Zammad webhook URL (sparse: only regions with one)."""

    class Meta:
        index_name = "webhook-token"
        projection = KeysOnlyProjection()

    zammad_webhook_token = UnicodeAttribute(hash_key=True)


class DueIndex(GlobalSecondaryIndex):
    """A region's closed tickets by the time they are to be deleted: a key-range query."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    region_slug = UnicodeAttribute(hash_key=True)
    delete_after = NumberAttribute(range_key=True)


@table
class RegionRecord(Model):
    """A region (municipality) and its Zammad settings. Secrets are stored, never returned."""

    base_table_name = "regions"

    class Meta(OnDemand):
        table_name = "regions"

    slug = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    integreat_chat_enabled = BooleanAttribute(default=False)
    zammad_url = UnicodeAttribute(null=True)
    zammad_access_token = UnicodeAttribute(null=True)
    zammad_webhook_token = UnicodeAttribute(null=True)
    zammad_webhook_secret = UnicodeAttribute(null=True)
    chat_beta_tester_percentage = NumberAttribute(default=0)
    zammad_privacy_policy = UnicodeAttribute(default="")
    ticket_group = UnicodeAttribute(null=True)
    # A person's data (docs/privacy.md): delete tickets at once instead of closing them (the
    # token then needs Zammad's admin rights); how long a ticket closed for inactivity stays
    # in Zammad before the retention job deletes it (None: 90 days, as Zammad's own job).
    zammad_deletes_tickets = BooleanAttribute(default=False)
    retention_delete_days = NumberAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    webhook_seen_at = NumberAttribute(null=True)  # epoch seconds of the last valid delivery
    # ... and of the last one to the region's URL whose signature did not verify: Zammad signs
    # with a secret we do not hold (`manage doctor` says so; zammad-setup --rotate-secret mends).
    webhook_refused_at = NumberAttribute(null=True)
    # ... and what that delivery said it was ("<ticket>/<article>/<digest>", webhook/service.py)
    webhook_refused_article = UnicodeAttribute(null=True)
    zammad_setup_until = NumberAttribute(null=True)  # a zammad-setup's lease (epoch s): one at a time
    # The chatbot (automatic answers and translations, chalicelib/chatbot).
    chatbot_enabled = BooleanAttribute(default=False)
    default_language = UnicodeAttribute(default="de")  # the language its agents write
    chatbot_words_budget = NumberAttribute(null=True)  # words per month; None: unlimited
    # What the Integreat CMS's regions endpoint said at the last sync (CMS_URL; None: never
    # synced): whether it lists the region, and whether it shows the region's chat.
    cms_listed = BooleanAttribute(null=True)
    cms_chat_enabled = BooleanAttribute(null=True)
    cms_synced_at = NumberAttribute(null=True)  # epoch seconds
    # What the last `import-cms` read of the CMS's settings (setting -> digest of its value;
    # None: never imported): a second import tells a setting changed here from one changed
    # in the CMS (migration/cms_import.py).
    cms_imported: MapAttribute[str, Any] = MapAttribute(null=True)

    webhook_token_index = WebhookTokenIndex()


@table
class ChatAssignmentRecord(Model):
    """Whether a device got the chat (`is_chat_enabled`), drawn once per region and device."""

    base_table_name = "chat-assignments"

    class Meta(OnDemand):
        table_name = "chat-assignments"

    assignment_key = UnicodeAttribute(hash_key=True)  # "<region>#<device id>"
    enabled = BooleanAttribute()
    expires_at = TTLAttribute()  # a device unseen for a year draws again


@table
class RateLimitCounter(Model):
    """Requests of one client in one fixed window; shared by every instance."""

    base_table_name = "rate-limits"

    class Meta(OnDemand):
        table_name = "rate-limits"

    counter_key = UnicodeAttribute(hash_key=True)  # "<client digest>#<window start>"
    # Stored as "count", as before; named so that it does not shadow `Model.count()`.
    requests = NumberAttribute(default=0, attr_name="count")
    expires_at = TTLAttribute()


@table
class TicketDeletionRecord(Model):
    """A ticket the retention job closed, to be deleted from Zammad (or tagged for Zammad's
    own deletion job) after the region's `retention_delete_days` (docs/privacy.md)."""

    base_table_name = "ticket-deletions"

    class Meta(OnDemand):
        table_name = "ticket-deletions"

    deletion_key = UnicodeAttribute(hash_key=True)  # "<region>#<ticket id>"
    region_slug = UnicodeAttribute()
    ticket_id = NumberAttribute()
    delete_after = NumberAttribute()  # epoch seconds
    expires_at = TTLAttribute()  # well after delete_after: a job that was down catches up

    due_index = DueIndex()


# The shape of a chat message's file, shared by the user chat's item and the files' rules.
class StoredAttachment(MapAttribute):
    """A file of a message, as Zammad lists it on the article (docs/files.md)."""

    id = NumberAttribute()  # Zammad's attachment id
    name = UnicodeAttribute()
    type = UnicodeAttribute()
    size = NumberAttribute()


def entries(value: Any) -> dict[str, Any]:
    """A raw map attribute's entries ({} when absent)."""
    return value.as_dict() if value is not None else {}


def attachment_fields(file: "StoredAttachment | dict[str, Any]") -> dict[str, Any]:
    """A message's file as a dict: as stored (a map) or as just mapped from Zammad (a dict)."""
    return file if isinstance(file, dict) else file.attribute_values

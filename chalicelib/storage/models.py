"""The DynamoDB tables, as PynamoDB models.

To add a table: declare a model with `base_table_name` and a `Meta` (billing on demand),
give it a `TTLAttribute` if its items expire, and list it in `ALL_MODELS`. Binding
(`connection.bind_models`), `manage create-tables`, the IAM policy test and the
CloudFormation template test all go by that list.
"""

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model


class _OnDemand:
    billing_mode = "PAY_PER_REQUEST"


class WebhookTokenIndex(GlobalSecondaryIndex):
    """Finds a region by the token in its Zammad webhook URL (sparse: only regions with one)."""

    class Meta:
        index_name = "webhook-token"
        projection = KeysOnlyProjection()

    zammad_webhook_token = UnicodeAttribute(hash_key=True)


class TicketIndex(GlobalSecondaryIndex):
    """Finds a chat by its Zammad ticket (for the webhook); ticket ids are per Zammad, so the
    key is "<region>#<ticket id>"."""

    class Meta:
        index_name = "ticket"
        projection = KeysOnlyProjection()

    ticket_key = UnicodeAttribute(hash_key=True)


class ActivityIndex(GlobalSecondaryIndex):
    """A region's chats by last activity: the expired ones are a key-range query, not a scan."""

    class Meta:
        index_name = "activity"
        projection = KeysOnlyProjection()

    region_slug = UnicodeAttribute(hash_key=True)
    last_activity = NumberAttribute(range_key=True)


class DueIndex(GlobalSecondaryIndex):
    """A region's closed tickets by the time they are to be deleted: a key-range query."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    region_slug = UnicodeAttribute(hash_key=True)
    delete_after = NumberAttribute(range_key=True)


class ChannelIndex(GlobalSecondaryIndex):
    """The connections subscribed to a channel (a chat, or the author chat)."""

    class Meta:
        index_name = "channel"
        projection = KeysOnlyProjection()

    channel = UnicodeAttribute(hash_key=True)


class RegionRecord(Model):
    """A region (municipality) and its Zammad settings. Secrets are stored, never returned."""

    base_table_name = "regions"

    class Meta(_OnDemand):
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
    # The chatbot (automatic answers and translations, chalicelib/chatbot).
    chatbot_enabled = BooleanAttribute(default=False)
    default_language = UnicodeAttribute(default="de")  # the language its agents write
    chatbot_words_budget = NumberAttribute(null=True)  # words per month; None: unlimited
    # What the Integreat CMS's regions endpoint said at the last sync (CMS_URL; None: never
    # synced): whether it lists the region, and whether it shows the region's chat.
    cms_listed = BooleanAttribute(null=True)
    cms_chat_enabled = BooleanAttribute(null=True)
    cms_synced_at = NumberAttribute(null=True)  # epoch seconds

    webhook_token_index = WebhookTokenIndex()


class StoredAttachment(MapAttribute):
    """A file of a message, as Zammad lists it on the article (docs/files.md)."""

    id = NumberAttribute()  # Zammad's attachment id
    name = UnicodeAttribute()
    type = UnicodeAttribute()
    size = NumberAttribute()


def attachment_fields(file: "StoredAttachment | dict[str, Any]") -> dict[str, Any]:
    """A message's file as a dict: as stored (a map) or as just mapped from Zammad (a dict)."""
    return file if isinstance(file, dict) else file.attribute_values


class StoredMessage(MapAttribute):
    """One message of a user chat as the app shows it (a Zammad article, mapped)."""

    id = NumberAttribute()
    content = UnicodeAttribute()
    role = UnicodeAttribute()  # "user" or "agent"
    automatic_answer = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    attachments = ListAttribute(of=StoredAttachment, null=True)  # absent: none


class UserChatRecord(Model):
    """The current chat of one device in one region, with its messages, in one item: a poll
    is one GetItem. `generation` counts the chats this device has had here; a new chat is
    claimed with a conditional write on it, so exactly one request creates the ticket.
    Every later write is conditional on the item (and its generation) still being there."""

    base_table_name = "user-chats"

    class Meta(_OnDemand):
        table_name = "user-chats"

    chat_key = UnicodeAttribute(hash_key=True)  # "<region>#<device id>"
    region_slug = UnicodeAttribute()
    generation = NumberAttribute(default=1)
    state = UnicodeAttribute()  # a ChatState (chalicelib/user_chat/states.py)
    lease_id = UnicodeAttribute(null=True)  # the creating request's
    lease_until = NumberAttribute(null=True)  # epoch seconds; after it another may take over
    claimed_at = NumberAttribute(null=True)  # epoch seconds the ticket's creation began
    creating_mark = UnicodeAttribute(null=True)  # send mark of the message that opens the chat
    # Send marks ("t<digest of the text>" or "k<digest of an Idempotency-Key>") of messages
    # being sent now (mark -> lease end, epoch s), sent lately (mark -> when), and sent
    # without an answer (mark -> the highest article id known before: look above it).
    # `sending` holds every write to the ticket in flight: the chatbot's too ("b<job id>").
    sending: MapAttribute[str, Any] = MapAttribute(default=dict)
    sent: MapAttribute[str, Any] = MapAttribute(default=dict)
    unanswered: MapAttribute[str, Any] = MapAttribute(default=dict)
    # +1 whenever a write to the ticket begins; a deletion begins only if it is unchanged
    # since it saw no write in flight (docs/privacy.md, "Nothing after the deletion's note").
    writes_begun = NumberAttribute(null=True)
    deleting_until = NumberAttribute(null=True)  # a deletion's lease (epoch s): no write begins
    ticket_id = NumberAttribute(null=True)
    ticket_key = UnicodeAttribute(null=True)  # "<region>#<ticket id>", for TicketIndex
    language = UnicodeAttribute()
    evaluation_consent = BooleanAttribute(default=False)
    messages = ListAttribute(of=StoredMessage, default=list)
    # False once the messages outgrew DynamoDB's 400 KB item: from then on they are read
    # from Zammad on every request (a rare, very long chat).
    messages_stored = BooleanAttribute(default=True)
    messages_version = NumberAttribute(default=0)  # +1 on every change of `messages`
    messages_fetched_at = NumberAttribute(default=0)  # epoch seconds of the last Zammad read
    last_activity = NumberAttribute()  # epoch seconds of the last message sent
    expires_at = TTLAttribute()  # last activity + retention: DynamoDB forgets the chat
    # The chatbot answers while this is true (set when the chat opens, false once the bot
    # hands over to humans). `bot_jobs`: its queued jobs (job id -> queued at, epoch s):
    # the app's `chatbot_typing` while one is younger than the typing limit.
    automatic_answers = BooleanAttribute(default=False)
    bot_jobs: MapAttribute[str, Any] = MapAttribute(default=dict)

    ticket_index = TicketIndex()
    activity_index = ActivityIndex()


class ChatAssignmentRecord(Model):
    """Whether a device got the chat (`is_chat_enabled`), drawn once per region and device."""

    base_table_name = "chat-assignments"

    class Meta(_OnDemand):
        table_name = "chat-assignments"

    assignment_key = UnicodeAttribute(hash_key=True)  # "<region>#<device id>"
    enabled = BooleanAttribute()
    expires_at = TTLAttribute()  # a device unseen for a year draws again


class RateLimitCounter(Model):
    """Requests of one client in one fixed window; shared by every instance."""

    base_table_name = "rate-limits"

    class Meta(_OnDemand):
        table_name = "rate-limits"

    counter_key = UnicodeAttribute(hash_key=True)  # "<client digest>#<window start>"
    # Stored as "count", as before; named so that it does not shadow `Model.count()`.
    requests = NumberAttribute(default=0, attr_name="count")
    expires_at = TTLAttribute()


class WebhookDeliveryRecord(Model):
    """A processed Zammad webhook delivery (`X-Zammad-Delivery`): a retry is not processed again."""

    base_table_name = "webhook-deliveries"

    class Meta(_OnDemand):
        table_name = "webhook-deliveries"

    delivery_key = UnicodeAttribute(hash_key=True)  # "<region>#<delivery id>"
    expires_at = TTLAttribute()


class AuthorMessageRecord(Model):
    """A message of the author chat. All messages share one partition (one room), sorted by
    `message_id`, which starts with the send time: the history is one key-range query that
    reads only the window, newest first. See docs/behaviour.md, "Author chat"."""

    base_table_name = "author-messages"

    class Meta(_OnDemand):
        table_name = "author-messages"

    room = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)  # "<send time, ms, 13 digits>-<8 hex>"
    text = UnicodeAttribute()
    sender_id = UnicodeAttribute()
    sender_name = UnicodeAttribute()
    sender_email = UnicodeAttribute(default="")
    sent_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()  # send time + history window: DynamoDB deletes it


class AuthorVisitRecord(Model):
    """When an author last read the chat (`POST /author-chat/read`): what is unread."""

    base_table_name = "author-visits"

    class Meta(_OnDemand):
        table_name = "author-visits"

    user_id = UnicodeAttribute(hash_key=True)
    last_visited_at = UTCDateTimeAttribute()


class ChatbotJobRecord(Model):
    """A chatbot job's progress: SQS delivers at least once, this makes it happen once.
    "running" under a lease; "posting" while its article is being written (`after`: the
    highest article id known before, to look for it if the write went unanswered); "done"."""

    base_table_name = "chatbot-jobs"

    class Meta(_OnDemand):
        table_name = "chatbot-jobs"

    job_id = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    lease_until = NumberAttribute(default=0)
    noted = BooleanAttribute(default=False)
    after = NumberAttribute(null=True)
    expires_at = TTLAttribute()


class TicketDeletionRecord(Model):
    """A ticket the retention job closed, to be deleted from Zammad (or tagged for Zammad's
    own deletion job) after the region's `retention_delete_days` (docs/privacy.md)."""

    base_table_name = "ticket-deletions"

    class Meta(_OnDemand):
        table_name = "ticket-deletions"

    deletion_key = UnicodeAttribute(hash_key=True)  # "<region>#<ticket id>"
    region_slug = UnicodeAttribute()
    ticket_id = NumberAttribute()
    delete_after = NumberAttribute()  # epoch seconds
    expires_at = TTLAttribute()  # well after delete_after: a job that was down catches up

    due_index = DueIndex()


class ConnectionRecord(Model):
    """A WebSocket connection and the channel it subscribed to (docs/realtime.md)."""

    base_table_name = "ws-connections"

    class Meta(_OnDemand):
        table_name = "ws-connections"

    connection_id = UnicodeAttribute(hash_key=True)  # or "place#<group>": a group's places
    channel = UnicodeAttribute(null=True)  # absent on a place item: the index skips it
    group = UnicodeAttribute(null=True)  # whose places the connection takes one of
    client = UnicodeAttribute(null=True)  # the rate limiter's digest of its address ($connect)
    # A place item's taken places (connection id -> until, epoch s): its size is the limit.
    members: MapAttribute[str, Any] = MapAttribute(null=True)
    expires_at = TTLAttribute()  # API Gateway closes a connection after two hours

    channel_index = ChannelIndex()


ALL_MODELS = (
    RegionRecord,
    UserChatRecord,
    ChatAssignmentRecord,
    RateLimitCounter,
    WebhookDeliveryRecord,
    AuthorMessageRecord,
    AuthorVisitRecord,
    ChatbotJobRecord,
    TicketDeletionRecord,
    ConnectionRecord,
)

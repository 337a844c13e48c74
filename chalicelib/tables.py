"""Every table of the deployment, as PynamoDB models (each declared beside its store).

To add a table: declare a model with `base_table_name` and a `Meta(OnDemand)`, give it a
`TTLAttribute` if its items expire, and list it here. Binding (`storage.connection
.bind_models`), `manage create-tables`, the IAM policies and the CloudFormation template
(deploy/cloudformation/) all go by this list; run `make policy` after a change.
"""

from chalicelib.author_chat.store import AuthorMessageRecord, AuthorVisitRecord
from chalicelib.chatbot.ledger import ChatbotJobRecord
from chalicelib.realtime.connections import ConnectionRecord
from chalicelib.storage.models import (
    ChatAssignmentRecord,
    RateLimitCounter,
    RegionRecord,
    TicketDeletionRecord,
)
from chalicelib.user_chat.records import UserChatRecord
from chalicelib.webhook.deliveries import WebhookDeliveryRecord

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

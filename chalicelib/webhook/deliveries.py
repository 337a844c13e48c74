"""The webhook's deliveries (webhook-deliveries): each delivery's id, remembered for a while,
so that Zammad's retry of one is not processed again. Its own module, beside the webhook:
a poll never reads this table, so a cold start neither imports nor binds it
(services.DynamoStores makes it on first use)."""

from datetime import datetime
from typing import Protocol

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.storage.connection import table
from chalicelib.storage.models import OnDemand


class Deliveries(Protocol):
    def seen(self, key: str) -> bool: ...

    def remember(self, key: str, expires_at: datetime) -> None: ...


@table
class WebhookDeliveryRecord(Model):
    """A processed Zammad webhook delivery (`X-Zammad-Delivery`): a retry is not processed again."""

    base_table_name = "webhook-deliveries"

    class Meta(OnDemand):
        table_name = "webhook-deliveries"

    delivery_key = UnicodeAttribute(hash_key=True)  # "<region>#<delivery id>"
    expires_at = TTLAttribute()


class DynamoDeliveries:
    def seen(self, key: str) -> bool:
        try:
            WebhookDeliveryRecord.get(key)
            return True
        except WebhookDeliveryRecord.DoesNotExist:
            return False

    def remember(self, key: str, expires_at: datetime) -> None:
        WebhookDeliveryRecord(key, expires_at=expires_at).save()

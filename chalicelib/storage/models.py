"""The DynamoDB tables, as PynamoDB models.

To add a table: declare a model with `base_table_name` and a `Meta` (billing on demand),
give it a `TTLAttribute` if its items expire, and list it in `ALL_MODELS`. Binding
(`connection.bind_models`), `manage create-tables`, the IAM policy test and the
CloudFormation template test all go by that list.
"""
from pynamodb.attributes import (BooleanAttribute, NumberAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute)
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
    updated_at = UTCDateTimeAttribute()

    webhook_token_index = WebhookTokenIndex()


ALL_MODELS = (RegionRecord,)

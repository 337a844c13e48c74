"""Storage on real engines: moto's server and Amazon's DynamoDB Local."""

import time
from datetime import timedelta

import pytest
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.platform import metrics
from chalicelib.platform.config import load_settings
from chalicelib.regions.service import Regions
from chalicelib.regions.store import DynamoRegionTable
from chalicelib.storage.connection import bind_models, ttl_attribute_name
from chalicelib.storage.models import RegionRecord
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.errors import NotFound
from tests.conftest import unique_prefix


class ExpiringThing(Model):
    """A table whose items expire, as the chat tables' do."""

    base_table_name = "expiring-things"

    class Meta:
        table_name = "expiring-things"
        billing_mode = "PAY_PER_REQUEST"

    key = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


MODELS = ALL_MODELS + (ExpiringThing,)


@pytest.fixture
def settings(dynamodb_endpoint):
    settings = load_settings(
        {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint, "CHAT_TABLE_PREFIX": unique_prefix()}
    )
    bind_models(MODELS, settings)
    return settings


def describe(model):
    client = model._get_connection().connection.client
    name = model.Meta.table_name
    table = client.describe_table(TableName=name)["Table"]
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return table, ttl


def test_create_tables_twice_changes_nothing_and_leaves_ttl_on(settings):
    def expected(action):
        return [
            "%s%s: %s%s"
            % (
                settings.table_prefix,
                model.base_table_name,
                action,
                ", TTL on expires_at" if ttl_attribute_name(model) else "",
            )
            for model in MODELS
        ]

    assert create_tables(MODELS) == expected("created")
    before = [describe(model) for model in MODELS]
    assert create_tables(MODELS) == expected("exists")
    after = [describe(model) for model in MODELS]
    assert after == before
    table, ttl = describe(ExpiringThing)
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_create_tables_switches_ttl_on_for_an_existing_table_without_it(settings):
    client = ExpiringThing._get_connection().connection.client
    client.create_table(
        TableName=ExpiringThing.Meta.table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
    )
    report = create_tables([ExpiringThing])
    assert report == ["%sexpiring-things: exists, TTL switched on for expires_at" % settings.table_prefix]
    assert describe(ExpiringThing)[1]["TimeToLiveStatus"] == "ENABLED"


def test_tables_carry_the_prefix_and_the_webhook_index(settings):
    create_tables(ALL_MODELS)
    table, _ = describe(RegionRecord)
    assert table["TableName"] == settings.table_prefix + "regions"
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["webhook-token"]


def test_regions_round_trip_and_are_found_by_webhook_token(settings):
    create_tables(ALL_MODELS)
    store = Regions(time.time, DynamoRegionTable())
    store.put(
        "augsburg", {"name": "Augsburg", "zammad_webhook_token": "t" * 24, "zammad_webhook_secret": "s" * 24}
    )
    store.put("berlin", {"name": "Berlin"})
    assert [record.slug for record in store.list()] == ["augsburg", "berlin"]
    found = list(RegionRecord.webhook_token_index.query("t" * 24))
    assert [record.slug for record in found] == ["augsburg"]
    store.delete("berlin")
    with pytest.raises(NotFound):
        store.get("berlin")


def test_each_dynamodb_call_is_counted_once(settings):
    create_tables(ALL_MODELS)
    store = Regions(time.time, DynamoRegionTable())
    with metrics.collect() as calls:
        store.put("a", {})  # GetItem + PutItem
        store.find("a")  # GetItem
        store.find("missing")  # GetItem
    assert calls.calls == {"ddb": 4, "zammad": 0, "sqs": 0, "s3": 0, "ws": 0, "push": 0}
    assert calls.seconds["ddb"] > 0


def test_expired_items_carry_epoch_seconds(settings):
    create_tables([ExpiringThing])
    ExpiringThing("a", expires_at=timedelta(days=1)).save()
    raw = ExpiringThing._get_connection().connection.client.get_item(
        TableName=ExpiringThing.Meta.table_name, Key={"key": {"S": "a"}}
    )["Item"]
    assert raw["expires_at"]["N"].isdigit()

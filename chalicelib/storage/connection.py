"""Binds the PynamoDB models to the configured tables and one shared, counted DynamoDB client.

PynamoDB gives every model its own connection and so its own botocore client; creating a
client costs tens of milliseconds of a Lambda cold start. Here all models share one
`Connection` (botocore clients are thread-safe), and that client's calls are counted for
`Server-Timing` and `make bench`.
"""

from collections.abc import Iterable
from typing import Any

from pynamodb.connection import Connection
from pynamodb.models import Model

from chalicelib.platform.config import Settings
from chalicelib.platform.metrics import instrument_botocore_client

CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 4.0
MAX_RETRY_ATTEMPTS = 2  # botocore's backoff retries throttling and failed connections


class CountingConnection(Connection):
    """A PynamoDB connection whose botocore client reports each call to `metrics`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._counted_client = None

    @property
    def client(self):
        client = super().client
        # PynamoDB may replace its client (after a credentials refresh); count the new one too.
        if client is not self._counted_client:
            instrument_botocore_client(client)
            self._counted_client = client
        return client


_BOUND_NAMES: set[str] = set()  # the tables' names less the prefix, for failures.py's hints


def bound_table_names() -> set[str]:
    return set(_BOUND_NAMES)


def bind_models(models: Iterable[Any], settings: Settings) -> CountingConnection:
    """Point each model at `<prefix><base name>` on the configured endpoint; returns the connection."""
    # PynamoDB's defaults (15 s to connect, 30 s to read) would hold a request past Lambda's
    # timeout when DynamoDB is unreachable; it answers in milliseconds when it is there.
    connection = CountingConnection(
        region=settings.aws_region,
        host=settings.dynamodb_endpoint,
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        max_retry_attempts=MAX_RETRY_ATTEMPTS,
    )
    for model in models:
        model.Meta.table_name = settings.table_prefix + model.base_table_name
        _BOUND_NAMES.add(model.base_table_name)
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.dynamodb_endpoint
        model._connection = None
        table = model._get_connection()  # builds the table's schema; no I/O
        connection.add_meta_table(table.get_meta_table())
        table.connection = connection
    return connection


def ttl_attribute_name(model: type[Model]) -> str | None:
    """The name of the model's TTL attribute, or None when its items never expire."""
    attribute = model._ttl_attribute()
    return attribute.attr_name if attribute is not None else None

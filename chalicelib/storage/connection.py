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


_TABLES: list[Any] = []  # every model declared with @table, in this process
_binding: tuple[Settings, CountingConnection] | None = None  # the last bind_models's


def table(model: Any) -> Any:
    """Declares a table model (a class decorator). It is bound by bind_models, or at once
    when the tables are bound already: a feature's table is imported with the feature, on
    first use, and needs no listing where the tables are bound."""
    _TABLES.append(model)
    if _binding is not None:
        _bind(model, *_binding)
    return model


def bound_table_names() -> set[str]:
    """The tables' names less the prefix (failures.py's hint of a prefix that is wrong)."""
    return {model.base_table_name for model in _TABLES}


def bind_models(models: Iterable[Any], settings: Settings) -> CountingConnection:
    """Point the models, every @table model declared so far and each declared later, at
    `<prefix><base name>` on the configured endpoint, over one connection; returns it."""
    # PynamoDB's defaults (15 s to connect, 30 s to read) would hold a request past Lambda's
    # timeout when DynamoDB is unreachable; it answers in milliseconds when it is there.
    connection = CountingConnection(
        region=settings.aws_region,
        host=settings.dynamodb_endpoint,
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        max_retry_attempts=MAX_RETRY_ATTEMPTS,
    )
    global _binding
    _binding = (settings, connection)
    for model in {*models, *_TABLES}:
        _bind(model, settings, connection)
    return connection


def _bind(model: Any, settings: Settings, connection: CountingConnection) -> None:
    model.Meta.table_name = settings.table_prefix + model.base_table_name
    model.Meta.region = settings.aws_region
    model.Meta.host = settings.dynamodb_endpoint
    model._connection = None
    table_connection = model._get_connection()  # builds the table's schema; no I/O
    connection.add_meta_table(table_connection.get_meta_table())
    table_connection.connection = connection


def ttl_attribute_name(model: type[Model]) -> str | None:
    """The name of the model's TTL attribute, or None when its items never expire."""
    attribute = model._ttl_attribute()
    return attribute.attr_name if attribute is not None else None

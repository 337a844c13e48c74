"""Which DynamoDB failures are passing (unreachable, throttled, failing inside AWS): those are
a 503 with Retry-After that the client may retry, not an anonymous 500. Once DynamoDB
answers again, the next request succeeds: nothing is cached about the failure.

A table that does not exist (the prefix of one place, the tables made with another) is a
503 too, and its log line names the table and the command that creates it."""

import json
import logging
import re

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException

from chalicelib.storage.connection import bound_table_names
from chalicelib.web.errors import ServiceUnavailable

RETRY_AFTER_SECONDS = 2
_PASSING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


log = logging.getLogger("integreat_chat")
_TABLE = r"on table \(([^)]+)\)"


def table_prefix(table: str) -> str:
    """The CHAT_TABLE_PREFIX a table name was made with (the name less its model's part)."""
    for name in bound_table_names():
        if table.endswith(name):
            return table[: -len(name)]
    return "<prefix>"


class StorageUnavailable(ServiceUnavailable):
    message = "The service is busy or unavailable. Please try again later."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def storage_unavailable(error: BaseException) -> StorageUnavailable | None:
    """A 503 for a passing DynamoDB failure; None for anything else (a bug: 500)."""
    if not isinstance(error, PynamoDBException):
        return None
    cause = getattr(error, "cause", None)
    if isinstance(cause, BotoCoreError) or error.cause_response_code in _PASSING_CODES:
        return StorageUnavailable()
    if error.cause_response_code == "ResourceNotFoundException":
        found = re.search(_TABLE, str(error))
        table = found.group(1) if found else "?"
        log.error(
            json.dumps(
                {
                    "event": "table_missing",
                    "table": table,
                    "create_with": "CHAT_TABLE_PREFIX=%s python -m functions.manage create-tables"
                    % table_prefix(table),
                }
            )
        )
        return StorageUnavailable()
    return None

"""Which DynamoDB failures are passing (unreachable, throttled, failing inside AWS): those are
a 503 with Retry-After that the client may retry, not an anonymous 500. Once DynamoDB
answers again, the next request succeeds: nothing is cached about the failure."""

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException

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
    return None

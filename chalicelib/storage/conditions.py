"""Conditional writes: DynamoDB's answer that a condition did not hold (or that an item
would outgrow its 400 KB), as a plain result."""

from typing import Any

from pynamodb.exceptions import DeleteError


def condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def too_large(error: Exception) -> bool:
    """Whether a write failed because the item would be over DynamoDB's item size."""
    return (
        getattr(error, "cause_response_code", None) == "ValidationException"
        and "size" in (getattr(error, "cause_response_message", "") or "").lower()
    )


def delete_if(record: Any, condition: Any) -> bool:
    """Delete the item if the condition holds; False if it did not (or the item is gone)."""
    try:
        record.delete(condition=condition)
        return True
    except DeleteError as error:
        if not condition_failed(error):
            raise
        return False

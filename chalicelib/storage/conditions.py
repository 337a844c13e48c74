"""Conditional writes: DynamoDB's answer that a condition did not hold, as a plain result."""

from typing import Any

from pynamodb.exceptions import DeleteError


def condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def delete_if(record: Any, condition: Any) -> bool:
    """Delete the item if the condition holds; False if it did not (or the item is gone)."""
    try:
        record.delete(condition=condition)
        return True
    except DeleteError as error:
        if not condition_failed(error):
            raise
        return False

"""The chatbot's SQS queue and its dead-letter queue (chalicelib/chatbot/queue.py)."""

from typing import Any

from chalicelib.chatbot.queue import VISIBILITY_TIMEOUT_SECONDS
from deploy.cloudformation.encryption import QUEUE_SSE

# The worker's timeout is in .chalice/config.json (100 s): the queue's visibility timeout
# (VISIBILITY_TIMEOUT_SECONDS) is six times it, as AWS advises for Lambda consumers.


def queue_name(prefix: str) -> str:
    return prefix.replace(".", "-") + "chatbot"  # as chalicelib.platform.config derives it


def queue_template(prefix: str) -> dict[str, Any]:
    """The chatbot's queue: a job that failed 5 times waits 14 days in the dead-letter queue."""
    resources = {
        "ChatbotQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": queue_name(prefix),
                "VisibilityTimeout": VISIBILITY_TIMEOUT_SECONDS,
                **QUEUE_SSE,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["ChatbotDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": 5,
                },
            },
        },
        "ChatbotDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": queue_name(prefix) + "-dlq",
                "MessageRetentionPeriod": 14 * 86400,
                **QUEUE_SSE,
            },
        },
        # Chalice's event source names the queue by ARN: make it after the queue exists. The
        # worker answers which messages of a batch failed (app.py): only those come again.
        "ChatbotWorker": {
            "DependsOn": ["ChatbotQueue"],
            "Properties": {
                "Events": {
                    "ChatbotWorkerSqsEventSource": {
                        "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
                    }
                }
            },
        },
    }
    return {"Resources": resources}

"""The chatbot's job queue: SQS, or anything that speaks its API (moto's server in
`make dev`, ElasticMQ; `AWS_ENDPOINT_URL_SQS`). No home-made queue: delivery is at least
once, and the job ledger (ledger.py) makes each job happen once.

The botocore client is made on first use: loading SQS's service model costs a cold start
tens of milliseconds, and most requests never queue anything.
"""

import json
import threading
import time
from typing import Any, NamedTuple, Protocol

from chalicelib.platform import telemetry, tracing
from chalicelib.platform.aws import botocore_client
from chalicelib.platform.config import Settings

# A job redelivered before the one working on it ends would only find it leased; AWS also
# asks for six times the consuming function's timeout (infra: deploy/cloudformation/queue.py).
VISIBILITY_TIMEOUT_SECONDS = 600
RECEIVE_WAIT_SECONDS = 20  # long polling: an idle worker costs 3 requests a minute


class Delivery(NamedTuple):
    receipt: str
    body: str  # the job as JSON (not trusted: the consumer checks it)


def stamped(job: dict[str, Any], now: float) -> dict[str, Any]:
    """The job as it travels: with when it was queued (the worker measures its age) and the
    trace it belongs to (platform/tracing.py)."""
    return {**job, "queued_at": now, "trace_id": tracing.current()}


class JobQueue(Protocol):
    def send(self, job: dict[str, Any], delay_seconds: int = 0) -> None:
        """`delay_seconds`: the job is received no sooner (0 to 900, SQS's DelaySeconds)."""


class SqsJobQueue:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._client: Any = None
        self._url: str | None = None
        self._lock = threading.Lock()

    def _sqs(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = botocore_client(
                    "sqs",
                    self._settings,
                    self._settings.sqs_endpoint,
                    "sqs",
                    connect_timeout=1,
                    read_timeout=RECEIVE_WAIT_SECONDS + 5,
                    retries={"max_attempts": 3, "mode": "standard"},
                )
            return self._client

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._sqs().get_queue_url(QueueName=self._settings.chatbot_queue_name)["QueueUrl"]
        return self._url

    def send(self, job: dict[str, Any], delay_seconds: int = 0) -> None:
        self._sqs().send_message(
            QueueUrl=self.url, MessageBody=json.dumps(stamped(job, time.time())), DelaySeconds=delay_seconds
        )
        telemetry.count("ChatbotJobs", Outcome="queued")

    def receive(self, wait_seconds: int = RECEIVE_WAIT_SECONDS, max_messages: int = 10) -> list[Delivery]:
        found = self._sqs().receive_message(
            QueueUrl=self.url, WaitTimeSeconds=wait_seconds, MaxNumberOfMessages=max_messages
        )
        return [Delivery(message["ReceiptHandle"], message["Body"]) for message in found.get("Messages", [])]

    def delete(self, receipt: str) -> None:
        self._sqs().delete_message(QueueUrl=self.url, ReceiptHandle=receipt)

    @property
    def arn(self) -> str:
        return self._arn(self.url)

    def _arn(self, url: str) -> str:
        return self._sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def create(self) -> str:
        """Create the queue and its dead-letter queue where the endpoint allows it (a local
        one; in AWS the template makes them). Idempotent; returns a line for the report."""
        sqs = self._sqs()
        name = self._settings.chatbot_queue_name
        dead_arn = self._arn(sqs.create_queue(QueueName=name[:76] + "-dlq")["QueueUrl"])
        self._url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        return "queue %s: ready (dead letters: %s-dlq)" % (name, name[:76])

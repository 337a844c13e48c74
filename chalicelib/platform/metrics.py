"""Counts the outbound calls a request makes (DynamoDB, Zammad, SQS, S3, WebSocket sends)
and how long they took.

Counting happens at the client level: botocore events on the DynamoDB and SQS clients and a
response hook on each Zammad `requests.Session`, so no handler counts by hand. DynamoDB
calls also ask for the capacity they consumed (`ReturnConsumedCapacity`, a few bytes more
per answer), counted as read and write units: what a request costs on demand. The same hooks
feed the metrics (telemetry.py): Zammad calls by outcome, DynamoDB's throttled answers.
"""

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.platform import telemetry

KINDS = ("ddb", "zammad", "sqs", "s3", "ws", "push")


class CallStats:
    __slots__ = ("calls", "read_units", "seconds", "write_units")

    def __init__(self) -> None:
        self.calls: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.seconds: dict[str, float] = dict.fromkeys(KINDS, 0.0)
        self.read_units = 0.0  # DynamoDB capacity consumed
        self.write_units = 0.0

    def add(self, kind: str, seconds: float) -> None:
        self.calls[kind] += 1
        self.seconds[kind] += seconds

    def server_timing(self) -> str:
        parts: list[str] = []
        for kind in KINDS:
            count = self.calls[kind]
            parts.append(
                '%s;desc="%d call%s";dur=%.1f'
                % (kind, count, "" if count == 1 else "s", self.seconds[kind] * 1000)
            )
        parts.append('rcu;desc="%.1f read units"' % self.read_units)
        parts.append('wcu;desc="%.1f write units"' % self.write_units)
        return ", ".join(parts)


_current: contextvars.ContextVar = contextvars.ContextVar("call_stats", default=None)


@contextmanager
def collect() -> Iterator[CallStats]:
    """Counts every instrumented call made inside the block (in this thread or context)."""
    stats = CallStats()
    token = _current.set(stats)
    try:
        yield stats
    finally:
        _current.reset(token)


def record(kind: str, seconds: float) -> None:
    stats = _current.get()
    if stats is not None:
        stats.add(kind, seconds)


_START = "integreat_chat_started"


def _before_call(context=None, **_kwargs) -> None:
    if context is not None:
        context[_START] = time.perf_counter()


def _after_call(kind: str):
    def after_call(context=None, **_kwargs) -> None:
        started = (context or {}).get(_START)
        if started is not None:
            record(kind, time.perf_counter() - started)

    return after_call


_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def _count_throttle(response=None, **_kwargs) -> None:
    """Every attempt's answer, before botocore decides to retry it: a throttle that a retry
    got past still counts (it is what comes before the 503s)."""
    parsed = response[1] if isinstance(response, tuple) and len(response) == 2 else None
    if isinstance(parsed, dict) and parsed.get("Error", {}).get("Code") in _THROTTLED:
        telemetry.count("DynamoDBThrottles")


_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


def _ask_for_capacity(params=None, model=None, **_kwargs) -> None:
    if params is not None and model is not None and model.name in _READS | _WRITES:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def _count_capacity(parsed=None, model=None, **_kwargs) -> None:
    stats = _current.get()
    if stats is None or not isinstance(parsed, dict) or model is None:
        return
    consumed = parsed.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if isinstance(consumed, dict) else []
    units = sum(float(entry.get("CapacityUnits") or 0) for entry in entries)
    if model.name in _READS:
        stats.read_units += units
    else:
        stats.write_units += units


def instrument_botocore_client(client, kind: str = "ddb") -> None:
    """Count each API call of a botocore client (DynamoDB: "ddb", SQS: "sqs"), failed ones too,
    and DynamoDB's consumed capacity."""
    events = client.meta.events
    service = client.meta.service_model.endpoint_prefix
    after_call = _after_call(kind)
    events.register("before-call.%s" % service, _before_call)
    events.register("after-call.%s" % service, after_call)
    events.register("after-call-error.%s" % service, after_call)
    if service == "dynamodb":
        events.register("before-parameter-build.dynamodb", _ask_for_capacity)
        events.register("after-call.dynamodb", _count_capacity)
        events.register("needs-retry.dynamodb", _count_throttle)


def _count_response(response, *_args, **_kwargs):
    seconds = response.elapsed.total_seconds()
    record("zammad", seconds)
    outcome = telemetry.zammad_outcome(response.status_code)
    telemetry.count("ZammadCalls", Outcome=outcome)
    telemetry.observe("ZammadLatency", seconds * 1000, Outcome=outcome)
    return response


def instrument_requests_session(session) -> None:
    """Count each HTTP response a `requests.Session` receives."""
    session.hooks["response"].append(_count_response)

"""Metrics from the code (docs/operating.md, "What to watch"): what each invocation (a request,
a queued job, a scheduled job, a WebSocket event) measured, written out once at its end.

Code anywhere below an entry point counts with `count(name, **dimensions)` and
`observe(name, value, **dimensions)`; both do nothing outside `measuring(sink)`, which the
entry points open. The sink decides where the figures go: CloudWatch Embedded Metric Format
lines on stdout (`EmfWriter`, on Lambda), or Prometheus counters and histograms served at
`/metrics` (platform/prometheus.py, under gunicorn), or nowhere (METRICS=off).

EMF is written by us, not by aws-lambda-powertools' `Metrics`: importing that took 45-48 ms
on this machine (three runs), more than three times the whole app's own import, on every
cold start. The lines go to stdout, not through `logging`: Lambda's log handler puts a prefix
before a logged line, and an EMF document must be the whole line.

No region, device or chat is ever a dimension (cost and privacy): a region's failures are in
the logs and in `manage doctor`.
"""

import contextvars
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol, TextIO

NAMESPACE = "IntegreatChat"
MAX_VALUES = 100  # EMF: at most this many values of one metric in one document


class Metric(NamedTuple):
    unit: str  # CloudWatch's unit: Count, Milliseconds or Seconds
    dimensions: tuple[str, ...]
    description: str
    total: bool = False  # EMF also writes it without dimensions (what the alarms divide by)


# Every metric the code writes, by name: the alarms and the dashboard in
# deploy/cloudformation/monitoring.py and Prometheus' names are built from this table.
METRICS = {
    "Requests": Metric("Count", ("Kind",), "API requests, by the route's kind", total=True),
    "Latency": Metric("Milliseconds", ("Kind",), "from a request's arrival to its answer"),
    "Errors": Metric("Count", ("Kind", "Status"), "answers of 400 and above, by status"),
    "ServerErrors": Metric("Count", ("Kind",), "answers of 500 and above (ours, Zammad's, DynamoDB's)", True),
    "ZammadCalls": Metric("Count", ("Outcome",), "calls to a Zammad: ok, refused (401/403), 4xx, 5xx, "
                          "timeout, unreachable"),
    "ZammadLatency": Metric("Milliseconds", ("Outcome",), "the answered Zammad calls' time"),
    "ChatbotJobs": Metric("Count", ("Outcome",), "the chatbot's jobs: queued, answered, handed_over, "
                          "translated, skipped, failed (tried again), dropped"),
    "ChatbotJobAge": Metric("Seconds", (), "how long a job waited in the queue before it was taken"),
    "RealtimeSends": Metric("Count", ("Outcome",), "events sent on WebSockets: sent, gone, failed"),
    "JobRuns": Metric("Count", ("Job", "Outcome"), "scheduled jobs' runs: ok, failed"),
    "RetentionChats": Metric("Count", ("Action",), "the retention's work: forgotten, files, closed, "
                             "deleted, tagged, zammad_failed"),
    "RateLimited": Metric("Count", (), "app requests refused with 429 by our rate limit"),
    "DynamoDBThrottles": Metric("Count", (), "DynamoDB answers that said throttled (retried or not)"),
    "WebhookRefusals": Metric("Count", (), "Zammad deliveries to a region's webhook whose signature failed"),
    "PushSends": Metric("Count", ("Outcome",), "push jobs: sent, seen, dropped, gone, invalid, retry, "
                        "auth_failed (FCM's or a push service's credentials refused)"),
}  # fmt: skip

Key = tuple[str, tuple[tuple[str, str], ...]]


class Measures:
    """The values of one invocation, by metric and dimensions."""

    def __init__(self) -> None:
        self.values: dict[Key, list[float]] = {}
        self.kind: str | None = None  # what the request turned out to be, if not its route's

    def add(self, name: str, value: float, **dimensions: str) -> None:
        self.values.setdefault(_key(name, dimensions), []).append(value)

    def count(self, name: str, by: int = 1, **dimensions: str) -> None:
        """More of a Count metric (one value per document, not a list of ones)."""
        values = self.values.setdefault(_key(name, dimensions), [0])
        values[0] += by

    def emf_documents(self, timestamp_ms: int) -> list[dict[str, Any]]:
        """One document per set of dimension values (an EMF directive's dimensions are the
        document's own members, so two values of `Kind` need two documents)."""
        by_dimensions: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
        for (name, dimensions), values in self.values.items():
            by_dimensions.setdefault(dimensions, {})[name] = values
        documents = []
        for dimensions, metrics in by_dimensions.items():
            names = [name for name, _value in dimensions]
            directives = []
            for totalled in (False, True):  # the metrics also written without dimensions apart
                chosen = [name for name in metrics if METRICS[name].total == totalled]
                if chosen:
                    sets = [names, []] if totalled and names else [names]
                    directives.append(
                        {
                            "Namespace": NAMESPACE,
                            "Dimensions": sets,
                            "Metrics": [{"Name": name, "Unit": METRICS[name].unit} for name in chosen],
                        }
                    )
            document: dict[str, Any] = {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}}
            document.update(dimensions)
            for name, values in metrics.items():
                document[name] = values[0] if len(values) == 1 else values[:MAX_VALUES]
            documents.append(document)
        return documents


def _key(name: str, dimensions: dict[str, str]) -> Key:
    if tuple(sorted(dimensions)) != tuple(sorted(METRICS[name].dimensions)):
        raise ValueError("%s takes the dimensions %s" % (name, METRICS[name].dimensions))
    return name, tuple(sorted(dimensions.items()))


class Sink(Protocol):
    def write(self, measures: Measures) -> None: ...


_current: contextvars.ContextVar[Measures | None] = contextvars.ContextVar("measures", default=None)


@contextmanager
def measuring(sink: Sink | None) -> Iterator[Measures | None]:
    """Collect what the block measures and write it to the sink at its end (None: nothing is
    collected; counting is then one context-variable lookup)."""
    measures = Measures() if sink is not None else None
    token = _current.set(measures)
    try:
        yield measures
    finally:
        _current.reset(token)
        if sink is not None and measures is not None:
            sink.write(measures)


@contextmanager
def invocation(sink: Sink | None, kind: str) -> Iterator[None]:
    """An invocation that is no HTTP request (a WebSocket event), measured as a request of
    this kind: 200 when it returned, 500 when it raised."""
    started = time.perf_counter()
    with measuring(sink) as measures:
        status = 500
        try:
            yield
            status = 200
        finally:
            if measures is not None:
                count_request(measures, kind, status, (time.perf_counter() - started) * 1000)


def count(name: str, by: int = 1, **dimensions: str) -> None:
    measures = _current.get()
    if measures is not None:
        measures.count(name, by, **dimensions)


def observe(name: str, value: float, **dimensions: str) -> None:
    measures = _current.get()
    if measures is not None:
        measures.add(name, value, **dimensions)


def name_request(kind: str) -> None:
    """The request is of this kind after all (a message that opened a chat: first_message)."""
    measures = _current.get()
    if measures is not None:
        measures.kind = kind


def count_request(measures: Measures, kind: str, status: int, milliseconds: float) -> None:
    """One API request: its kind's count and latency, and its error by status."""
    measures.count("Requests", Kind=kind)
    measures.add("Latency", milliseconds, Kind=kind)
    if status >= 400:
        measures.count("Errors", Kind=kind, Status=str(status))
    if status >= 500:
        measures.count("ServerErrors", Kind=kind)


# A Zammad call's outcomes: answered (the first four), or not (ZammadLatency: the answered).
ZAMMAD_OUTCOMES = ("ok", "refused", "4xx", "5xx", "timeout", "unreachable")


def zammad_outcome(status: int) -> str:
    if status in (401, 403):
        return "refused"  # the region's token: revoked, or without the permission it needs
    return "5xx" if status >= 500 else "4xx" if status >= 400 else "ok"


class EmfWriter:
    """Writes an invocation's measures as EMF lines on stdout (or `out`)."""

    def __init__(self, out: TextIO | None = None):
        self._out = out

    def write(self, measures: Measures) -> None:
        if not measures.values:
            return
        out = self._out or sys.stdout
        for document in measures.emf_documents(int(time.time() * 1000)):
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
        out.flush()

"""Metrics from the code (docs/operating.md, "What to watch"): what each invocation measured,
written out once at its end.

On Lambda they are CloudWatch Embedded Metric Format documents, one JSON line each on
stdout, which CloudWatch Logs turns into metrics without an API call. Written by us, not by
aws-lambda-powertools' `Metrics`: importing that took 45-48 ms on this machine (three runs),
more than three times the whole app's own import, on every cold start. The lines go to
stdout, not through `logging`: Lambda's log handler puts a prefix before a logged line, and
an EMF document must be the whole line.

No region, device or chat is ever a dimension (cost and privacy): a region's failures are in
the logs and in `manage doctor`.
"""

import json
import sys
import time
from typing import Any, TextIO

NAMESPACE = "IntegreatChat"
MAX_VALUES = 100  # EMF: at most this many values of one metric in one document

# The metrics and their units, by name (the alarms in deploy/cloudformation/ use these names).
UNITS = {
    "Requests": "Count",
    "Errors": "Count",
    "Latency": "Milliseconds",
    "ZammadCalls": "Count",
    "ZammadLatency": "Milliseconds",
}


class Measures:
    """The values of one invocation, by metric and dimensions."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}

    def add(self, name: str, value: float, **dimensions: str) -> None:
        key = (name, tuple(sorted(dimensions.items())))
        self._values.setdefault(key, []).append(value)

    def count(self, name: str, **dimensions: str) -> None:
        """One more of a Count metric (one value per document, not a list of ones)."""
        values = self._values.setdefault((name, tuple(sorted(dimensions.items()))), [0])
        values[0] += 1

    def emf_documents(self, timestamp_ms: int) -> list[dict[str, Any]]:
        """One document per set of dimension values (an EMF directive's dimensions are the
        document's own members, so two values of `Kind` need two documents)."""
        by_dimensions: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
        for (name, dimensions), values in self._values.items():
            by_dimensions.setdefault(dimensions, {})[name] = values
        documents = []
        for dimensions, metrics in by_dimensions.items():
            directive = {
                "Namespace": NAMESPACE,
                "Dimensions": [[name for name, _value in dimensions]],
                "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in metrics],
            }
            document: dict[str, Any] = {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}}
            document.update(dimensions)
            for name, values in metrics.items():
                document[name] = values[0] if len(values) == 1 else values[:MAX_VALUES]
            documents.append(document)
        return documents


def request_measures(
    kind: str, status: int, milliseconds: float, zammad_outcomes: list[tuple[str, float]]
) -> Measures:
    """One API request: its kind's count, latency and error (by status), and its Zammad calls
    by outcome (ok, 4xx, 5xx, timeout, unreachable) with the answered ones' latency."""
    measures = Measures()
    measures.count("Requests", Kind=kind)
    measures.add("Latency", milliseconds, Kind=kind)
    if status >= 400:
        measures.count("Errors", Kind=kind, Status=str(status))
    for outcome, seconds in zammad_outcomes:
        measures.count("ZammadCalls", Outcome=outcome)
        if outcome in ("ok", "4xx", "5xx"):
            measures.add("ZammadLatency", seconds * 1000, Outcome=outcome)
    return measures


class EmfWriter:
    """Writes an invocation's measures as EMF lines (None: metrics are off)."""

    def __init__(self, out: TextIO | None = None):
        self._out = out

    def write(self, measures: Measures) -> None:
        out = self._out or sys.stdout
        for document in measures.emf_documents(int(time.time() * 1000)):
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
        out.flush()

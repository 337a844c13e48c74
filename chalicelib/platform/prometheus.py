"""The metrics (telemetry.py) as Prometheus counters and histograms, for a backend that runs
under gunicorn (METRICS=prometheus): `GET /metrics` on the backend's own port
(functions/wsgi.py; devtools/local.py in `make dev`), which deploy/nginx/ never forwards.

The names follow Prometheus' conventions from telemetry's table: `integreat_chat_` and the
name in snake case; a Count is a counter (`..._total`), a time a histogram in seconds
(`integreat_chat_latency_seconds`); the dimensions are labels in lower case. With several
processes (gunicorn's workers, `functions.worker` beside them), set PROMETHEUS_MULTIPROC_DIR
to an empty directory they share: each process writes its figures there, `/metrics` sums
them (prometheus_client's multiprocess mode).
"""

import os
import re
import threading
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from chalicelib.platform.telemetry import METRICS, Measures

PREFIX = "integreat_chat_"
# A queued job waits seconds to minutes; the requests' times use the client's default buckets.
_BUCKETS = {"ChatbotJobAge": (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))}
_made: dict[str, Any] = {}
_lock = threading.Lock()


def prometheus_name(name: str) -> str:
    """ "ZammadLatency" -> "integreat_chat_zammad_latency_seconds"; "Requests" -> "..._requests"
    (the counter's samples end in _total)."""
    words = name.replace("DynamoDB", "Dynamodb")
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", words).lower()
    return PREFIX + snake + ("" if METRICS[name].unit == "Count" else "_seconds")


def _metric(name: str) -> Any:
    """Made once per process, in the default registry."""
    with _lock:
        if name not in _made:
            spec = METRICS[name]
            labels = [dimension.lower() for dimension in spec.dimensions]
            if spec.unit == "Count":
                _made[name] = Counter(prometheus_name(name), spec.description, labels)
            else:
                buckets = _BUCKETS.get(name, Histogram.DEFAULT_BUCKETS)
                _made[name] = Histogram(prometheus_name(name), spec.description, labels, buckets=buckets)
        return _made[name]


class PrometheusSink:
    def write(self, measures: Measures) -> None:
        for (name, dimensions), values in measures.values.items():
            metric = _metric(name)
            labels = {key.lower(): value for key, value in dimensions}
            series = metric.labels(**labels) if labels else metric
            if METRICS[name].unit == "Count":
                series.inc(sum(values))
            else:
                scale = 0.001 if METRICS[name].unit == "Milliseconds" else 1.0
                for value in values:
                    series.observe(value * scale)


def exposition() -> tuple[bytes, str]:
    """The body and content type of `GET /metrics`: this process's figures, or with
    PROMETHEUS_MULTIPROC_DIR every process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

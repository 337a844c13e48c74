"""CloudWatch's Embedded Metric Format, checked as AWS's specification states it
(docs.aws.amazon.com, "Specification: Embedded metric format"), for the lines we write."""

import io
import json

from chalicelib.platform.telemetry import EmfWriter

UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def assert_valid_emf(document: dict) -> None:
    """Raises AssertionError naming the first rule the document breaks."""
    meta = document.get("_aws")
    assert isinstance(meta, dict), "no _aws object"
    assert isinstance(meta.get("Timestamp"), int) and meta["Timestamp"] > 0, "Timestamp: ms since the epoch"
    directives = meta.get("CloudWatchMetrics")
    assert isinstance(directives, list) and directives, "CloudWatchMetrics: a non-empty array"
    for directive in directives:
        namespace = directive.get("Namespace")
        assert isinstance(namespace, str) and 1 <= len(namespace) <= 1024, "Namespace: 1-1024 characters"
        dimension_sets = directive.get("Dimensions")
        assert isinstance(dimension_sets, list), "Dimensions: an array of dimension sets"
        for names in dimension_sets:
            assert isinstance(names, list) and len(names) <= 30, "a dimension set: at most 30 names"
            for name in names:
                assert isinstance(document.get(name), str), "dimension %r: a string member" % name
                assert 1 <= len(document[name]) <= 1024, "dimension %r's value: 1-1024 characters" % name
        metrics = directive.get("Metrics")
        assert isinstance(metrics, list) and 1 <= len(metrics) <= 100, "Metrics: 1-100 definitions"
        for metric in metrics:
            name = metric.get("Name")
            assert isinstance(name, str) and 1 <= len(name) <= 1024, "a metric's Name"
            assert metric.get("Unit", "None") in UNITS, "%r: unit %r" % (name, metric.get("Unit"))
            value = document.get(name)
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100, "%r: 1-100 values" % name
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values), name


def emf_lines(text: str) -> list[dict]:
    """The EMF documents among a log's lines (each alone on its line)."""
    found = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            assert_valid_emf(document)
            found.append(document)
    return found


def measured(documents, metric, **dimensions):
    """The values CloudWatch would file under one metric with exactly these dimensions, over
    all documents (a directive's every dimension set makes a series)."""
    values = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if metric not in [m["Name"] for m in directive["Metrics"]]:
                continue
            for names in directive["Dimensions"]:
                if {name: document[name] for name in names} == dimensions:
                    value = document[metric]
                    values += value if isinstance(value, list) else [value]
    return values


class EmfCapture(EmfWriter):
    """The real EMF writer, writing to memory: set as `services.metrics` in a test."""

    def __init__(self) -> None:
        self.text = io.StringIO()
        super().__init__(self.text)

    def total(self, metric: str, **dimensions: str) -> float:
        return sum(measured(emf_lines(self.text.getvalue()), metric, **dimensions))

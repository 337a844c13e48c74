"""The metrics' documents (chalicelib/platform/telemetry.py) against the EMF specification."""

import io
import json

import pytest

from chalicelib.platform.telemetry import NAMESPACE, EmfWriter, Measures, request_measures
from tests.emf import assert_valid_emf


def test_a_request_becomes_valid_documents_one_per_set_of_dimension_values():
    measures = request_measures("first_message", 502, 12.5, [("5xx", 0.02), ("timeout", 0.0)])
    documents = measures.emf_documents(1_800_000_000_000)
    for document in documents:
        assert_valid_emf(document)
    by_dimensions = {tuple(sorted((k, v) for k, v in d.items() if isinstance(v, str))): d for d in documents}
    kind = by_dimensions[(("Kind", "first_message"),)]
    assert (kind["Requests"], kind["Latency"]) == (1, 12.5)
    assert by_dimensions[(("Kind", "first_message"), ("Status", "502"))]["Errors"] == 1
    assert by_dimensions[(("Outcome", "5xx"),)]["ZammadCalls"] == 1
    assert by_dimensions[(("Outcome", "5xx"),)]["ZammadLatency"] == 20.0
    assert "ZammadLatency" not in by_dimensions[(("Outcome", "timeout"),)]  # no answer, no latency
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in documents} == {NAMESPACE}


def test_a_success_counts_no_error_and_many_values_stay_within_the_limit():
    assert "Errors" not in json.dumps(request_measures("poll", 200, 3.0, []).emf_documents(1))
    measures = Measures()
    for value in range(150):
        measures.add("Latency", float(value), Kind="poll")
    [document] = measures.emf_documents(1)
    assert_valid_emf(document)
    assert len(document["Latency"]) == 100


def test_the_writer_puts_each_document_alone_on_a_line():
    out = io.StringIO()
    EmfWriter(out).write(request_measures("poll", 404, 1.0, [("ok", 0.01)]))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["_aws"] for line in lines)


@pytest.mark.parametrize(
    "broken",
    [
        {"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}},
        {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["Kind"]],
                                                        "Metrics": [{"Name": "Requests", "Unit": "Count"}]}]},
         "Requests": 1},  # the dimension's member is missing
        {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [],
                                                        "Metrics": [{"Name": "Requests", "Unit": "Calls"}]}]},
         "Requests": 1},  # no such unit
    ],
)  # fmt: skip
def test_the_check_itself_can_fail(broken):
    with pytest.raises(AssertionError):
        assert_valid_emf(broken)

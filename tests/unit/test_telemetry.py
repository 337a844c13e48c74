"""The metrics (chalicelib/platform/telemetry.py): EMF documents against the specification,
the Prometheus form read back with prometheus_client's own parser, and the trace id that
log lines carry (platform/tracing.py, platform/logs.py)."""

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chalicelib.platform import telemetry, tracing
from chalicelib.platform.logs import TraceIdFilter
from chalicelib.platform.telemetry import METRICS, NAMESPACE, EmfWriter, Measures, count_request
from tests.support.emf import assert_valid_emf


def _request(kind: str, status: int, milliseconds: float) -> Measures:
    measures = Measures()
    count_request(measures, kind, status, milliseconds)
    return measures


def _by_dimensions(documents):
    return {tuple(sorted((k, v) for k, v in d.items() if isinstance(v, str))): d for d in documents}


def test_a_request_becomes_valid_documents_one_per_set_of_dimension_values():
    measures = _request("first_message", 502, 12.5)
    measures.count("ZammadCalls", Outcome="5xx")
    measures.add("ZammadLatency", 20.0, Outcome="5xx")
    measures.count("ZammadCalls", Outcome="timeout")
    documents = measures.emf_documents(1_800_000_000_000)
    for document in documents:
        assert_valid_emf(document)
    found = _by_dimensions(documents)
    kind = found[(("Kind", "first_message"),)]
    assert (kind["Requests"], kind["Latency"], kind["ServerErrors"]) == (1, 12.5, 1)
    assert found[(("Kind", "first_message"), ("Status", "502"))]["Errors"] == 1
    assert found[(("Outcome", "5xx"),)]["ZammadCalls"] == 1
    assert "ZammadLatency" not in found[(("Outcome", "timeout"),)]
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in documents} == {NAMESPACE}


def test_the_totalled_metrics_are_also_written_without_dimensions():
    [document] = _request("poll", 200, 3.0).emf_documents(1)
    directives = {
        tuple(m["Name"] for m in d["Metrics"]): d["Dimensions"] for d in document["_aws"]["CloudWatchMetrics"]
    }
    assert directives == {("Latency",): [["Kind"]], ("Requests",): [["Kind"], []]}
    assert "Errors" not in json.dumps(document) and "ServerErrors" not in json.dumps(document)


def test_many_values_stay_within_the_limit_and_counts_add_up():
    measures = Measures()
    for value in range(150):
        measures.add("Latency", float(value), Kind="poll")
    measures.count("RetentionChats", 7, Action="forgotten")
    measures.count("RetentionChats", Action="forgotten")
    documents = _by_dimensions(measures.emf_documents(1))
    for document in documents.values():
        assert_valid_emf(document)
    assert len(documents[(("Kind", "poll"),)]["Latency"]) == 100
    assert documents[(("Action", "forgotten"),)]["RetentionChats"] == 8


def test_a_metric_with_the_wrong_dimensions_is_refused():
    with pytest.raises(ValueError, match="Kind"):
        Measures().count("Requests", Outcome="ok")
    with pytest.raises(KeyError):
        Measures().count("NoSuchMetric")


def test_counting_outside_an_invocation_or_with_metrics_off_does_nothing():
    telemetry.count("RateLimited")  # no invocation: nowhere to go, no error
    with telemetry.measuring(None) as measures:
        telemetry.count("RateLimited")
    assert measures is None
    out = io.StringIO()
    with telemetry.measuring(EmfWriter(out)) as measures:
        telemetry.count("RateLimited")
        telemetry.observe("ChatbotJobAge", 4.5)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(k for line in lines for k in line if k != "_aws") == ["ChatbotJobAge", "RateLimited"]
    with telemetry.measuring(EmfWriter(out)):
        pass
    assert len(out.getvalue().splitlines()) == len(lines)  # nothing measured: no line


def test_an_invocation_that_raises_counts_as_a_server_error():
    out = io.StringIO()
    with pytest.raises(RuntimeError), telemetry.invocation(EmfWriter(out), "realtime"):
        raise RuntimeError("boom")
    found = _by_dimensions(json.loads(line) for line in out.getvalue().splitlines())
    assert found[(("Kind", "realtime"),)]["ServerErrors"] == 1
    assert found[(("Kind", "realtime"), ("Status", "500"))]["Errors"] == 1


def test_the_prometheus_form_parses_with_prometheus_clients_parser():
    from chalicelib.platform.prometheus import PrometheusSink, exposition, prometheus_name

    measures = _request("send", 504, 250.0)
    measures.count("ZammadCalls", Outcome="timeout")
    measures.add("ChatbotJobAge", 12.0)
    PrometheusSink().write(measures)
    PrometheusSink().write(_request("send", 200, 30.0))
    text, content_type = exposition()
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text.decode("utf-8"))}
    for name in ("Requests", "Latency", "Errors", "ServerErrors", "ZammadCalls", "ChatbotJobAge"):
        kind = "counter" if METRICS[name].unit == "Count" else "histogram"  # a time: in seconds
        assert families[prometheus_name(name)].type == kind, name

    def sample(family, suffix, **labels):
        return next(
            s.value for s in families[family].samples if s.name == family + suffix and s.labels == labels
        )

    assert sample("integreat_chat_requests", "_total", kind="send") >= 2
    assert sample("integreat_chat_errors", "_total", kind="send", status="504") >= 1
    assert sample("integreat_chat_zammad_calls", "_total", outcome="timeout") >= 1
    assert sample("integreat_chat_latency_seconds", "_count", kind="send") >= 2
    assert sample("integreat_chat_latency_seconds", "_bucket", kind="send", le="0.25") >= 1  # seconds
    assert sample("integreat_chat_chatbot_job_age_seconds", "_bucket", le="15.0") >= 1


def _logged(message: str) -> str:
    record = logging.LogRecord("integreat_chat", logging.INFO, __file__, 1, message, None, None)
    TraceIdFilter().filter(record)
    return record.getMessage()


def test_log_lines_carry_the_current_trace_id_and_nothing_else_changes():
    assert _logged('{"event": "x"}') == '{"event": "x"}'
    with tracing.traced("0123456789abcdef"):
        assert json.loads(_logged('{"event": "x"}')) == {"event": "x", "trace_id": "0123456789abcdef"}
        assert json.loads(_logged("{}")) == {"trace_id": "0123456789abcdef"}
        assert _logged("plain words") == "plain words"
        assert json.loads(_logged('{"trace_id": "mine"}')) == {"trace_id": "mine"}
    with tracing.traced('bad"id with spaces'):  # not of the id's shape: ignored
        assert tracing.current() is None
    assert tracing.current() is None


def test_an_article_carries_the_trace_in_its_message_id():
    with tracing.traced("req-1234567890"):
        message_id = tracing.article_message_id()
    assert message_id == "<req-1234567890@integreat-chat>"
    assert tracing.from_article({"message_id": message_id}) == "req-1234567890"
    assert tracing.from_article({"message_id": "<CAF1234@mail.gmail.com>"}) is None  # an e-mail's
    assert tracing.from_article({"message_id": None}) is None
    assert tracing.from_article(None) is None

"""The metrics the running app writes (METRICS=emf, as on Lambda): read from its output, checked
against the EMF specification, and free of anything personal."""

import json
import uuid

import requests

from deploy.cloudformation import monitoring
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import running_api
from tests.support.emf import emf_lines, measured
from tests.support.regions import put_region


def alarm_value(alarm, documents):
    """The alarm's value over what the documents hold, as CloudWatch computes it (one
    period; a series without data is missing, FILL gives it a value)."""

    def series(metric):
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        values = measured(documents, metric["MetricName"], **dimensions)
        return sum(values) if values else None

    if "Metrics" not in alarm:
        return series(alarm)
    inputs = {m["Id"]: series(m["MetricStat"]["Metric"]) for m in alarm["Metrics"] if "MetricStat" in m}
    [expression] = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    functions = {"FILL": lambda value, default: default if value is None else value}
    return eval(expression, {"__builtins__": {}, **functions}, inputs)  # our own template's arithmetic


def test_a_zammad_answering_500_shows_in_the_zammad_and_request_metrics(dynamodb_local, tmp_path):
    log = tmp_path / "server.log"
    with ZammadEmulator() as zammad, running_api(dynamodb_local, log, METRICS="emf") as (url, admin, _env):
        slug = put_region(url, admin, zammad, chat_beta_tester_percentage=100)
        device = str(uuid.uuid4())
        chat = "%s/api/v3/%s/de/chat/%s/" % (url, slug, device)
        zammad.set_fault(status=500, request="POST /api/v1/tickets")
        failed = requests.post(chat, data={"message": "Hallo, ich heiße Mara"}, timeout=30)
        assert failed.status_code == 502, failed.text
        zammad.clear_faults()
        assert requests.post(chat, data={"message": "Hallo, ich heiße Mara"}, timeout=30).status_code == 200
        assert requests.get(chat, timeout=30).status_code == 200
    text = log.read_text()
    # Zammad's error line is tied to the request that failed (docs/operating.md).
    logged = [json.loads(line) for line in text.splitlines() if line.startswith('{"event"')]
    [error] = [line for line in logged if line["event"] == "zammad_error"]
    assert error["trace_id"] == failed.headers["X-Request-Id"] and error["status"] == 500
    documents = emf_lines(text)
    assert measured(documents, "ZammadCalls", Outcome="5xx") == [1]
    assert measured(documents, "Errors", Kind="first_message", Status="502") == [1]
    assert sum(measured(documents, "Requests", Kind="first_message")) == 2
    assert measured(documents, "Requests", Kind="poll") == [1]
    assert all(value > 0 for value in measured(documents, "Latency", Kind="poll"))
    assert sum(measured(documents, "ZammadCalls", Outcome="ok")) >= 1
    lines = [line for line in text.splitlines() if line.startswith('{"_aws"')]
    assert not any(device in line or slug in line or "Mara" in line for line in lines)
    # The template's alarms read these very series: the Zammad alarm would trip (1 of 3
    # calls failed: 33 %), and so would the 5xx alarm (1 of 3 requests).
    alarms = {
        name: resource["Properties"]
        for name, resource in monitoring.alarms(
            "integreat-chat-", monitoring.function_timeouts("prod")
        ).items()
    }
    for name in ("ZammadErrorRateAlarm", "ServerErrorRateAlarm"):
        value = alarm_value(alarms[name], documents)
        assert value is not None and value >= alarms[name]["Threshold"], (name, value)
    assert alarm_value(alarms["WebhookRefusalAlarm"], documents) is None  # nothing refused: no data

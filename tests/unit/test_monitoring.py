"""The alarms and the dashboard (deploy/cloudformation/monitoring.py) against the metrics the
code writes (chalicelib/platform/telemetry.py) and the operator's page (docs/operating.md).
That an alarm trips on what a failing Zammad makes the code write is shown over HTTP in
tests/integration/test_metrics_http.py."""

import json
import re

from chalicelib.platform.telemetry import METRICS, NAMESPACE
from deploy.cloudformation import resources
from deploy.cloudformation.monitoring import THRESHOLDS, function_timeouts
from tests.conftest import PROJECT


def _template():
    return resources("integreat-chat-", 30, "prod")


def _alarms():
    return {
        k: v["Properties"]
        for k, v in _template()["Resources"].items()
        if v.get("Type") == "AWS::CloudWatch::Alarm"
    }


def _metric_stats(alarm):
    if "Metrics" in alarm:
        return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    return [alarm]


def test_every_alarm_on_our_namespace_names_a_metric_the_code_writes_with_its_dimensions():
    seen = set()
    for name, alarm in _alarms().items():
        for metric in _metric_stats(alarm):
            if metric["Namespace"] != NAMESPACE:
                continue
            spec = METRICS[metric["MetricName"]]
            dimensions = tuple(sorted(d["Name"] for d in metric.get("Dimensions", [])))
            assert dimensions == tuple(sorted(spec.dimensions)) or (dimensions == () and spec.total), name
            seen.add(metric["MetricName"])
    assert {
        "ServerErrors",
        "Requests",
        "ZammadCalls",
        "DynamoDBThrottles",
        "WebhookRefusals",
        "JobRuns",
    } <= seen


def test_every_function_has_error_throttle_and_duration_alarms_near_its_timeout():
    alarms = _alarms()
    for function, timeout in function_timeouts("prod").items():
        duration = alarms[function + "DurationAlarm"]
        assert duration["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert duration["Threshold"] == round(timeout * 1000 * THRESHOLDS["lambda_duration_share"])
        assert alarms[function + "ErrorAlarm"]["MetricName"] == "Errors"
        assert alarms[function + "ThrottleAlarm"]["MetricName"] == "Throttles"
    assert (
        function_timeouts("prod")["ChatbotWorker"] == 100 and function_timeouts("prod")["ZammadDoctor"] == 300
    )


def test_the_alarms_notify_the_topic_only_when_one_is_given():
    template = _template()
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    for alarm in _alarms().values():
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }
        assert alarm["TreatMissingData"] == "notBreaching"


def test_x_ray_is_a_parameter_off_by_default():
    template = _template()
    assert template["Parameters"]["XRayTracing"]["Default"] == "PassThrough"
    for function in function_timeouts("prod"):
        assert template["Resources"][function]["Properties"]["Tracing"] == {"Ref": "XRayTracing"}
    assert template["Resources"]["XRayWritePolicy"]["Condition"] == "HasXRay"


def test_the_dashboard_shows_the_alarms_and_searches_only_metrics_the_code_writes():
    body = _template()["Resources"]["ChatDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    assert widgets[0]["type"] == "alarm"
    assert sorted(widgets[0]["properties"]["alarms"]) == sorted("${%s.Arn}" % name for name in _alarms())
    expressions = [
        entry[0]["expression"]
        for widget in widgets[1:]
        for entry in widget["properties"]["metrics"]
        if isinstance(entry[0], dict)
    ]
    searched = [
        re.fullmatch(
            r"SEARCH\('\{%s,([A-Za-z,]+)\} MetricName=\"(\w+)\"', '\w+', 300\)" % NAMESPACE, e
        ).groups()
        for e in expressions
    ]
    assert len(searched) >= 8
    for dimensions, metric in searched:
        assert tuple(dimensions.split(",")) == METRICS[metric].dimensions


def test_the_operators_page_explains_every_alarm_and_every_threshold():
    page = (PROJECT / "docs" / "operating.md").read_text()
    functions = tuple(function_timeouts("prod"))
    for name in _alarms():
        if not name.startswith(functions):  # a function's three are named once, as <function>...
            assert name in page, name
    for kind in ("ErrorAlarm", "ThrottleAlarm", "DurationAlarm"):
        assert "<function>" + kind in page
    for key in THRESHOLDS:
        assert key in page, key
    for name in METRICS:
        assert "`%s`" % name in page, name

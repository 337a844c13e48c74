"""Alarms and a dashboard over the metrics the code writes (chalicelib/platform/telemetry.py,
namespace IntegreatChat) and AWS's own (Lambda, SQS); docs/operating.md, "What to watch",
says what each alarm means and what to do. Every alarm goes to the SNS topic of the
`AlarmTopicArn` parameter when one is given. X-Ray on the functions: the `XRayTracing`
parameter (off by default).

The thresholds are all here, in THRESHOLDS.
"""

import json
from pathlib import Path
from typing import Any

from chalicelib.jobs import JOBS
from chalicelib.platform.telemetry import METRICS, NAMESPACE, ZAMMAD_OUTCOMES
from deploy.cloudformation.policies import JOB_FUNCTIONS, WORKER_FUNCTION
from deploy.cloudformation.queue import queue_name

CONFIG = Path(__file__).resolve().parents[2] / ".chalice" / "config.json"

THRESHOLDS = {
    # Share of API answers that are 500 and above, in % of requests, per 5 minutes.
    "server_error_percent": 5,
    # Share of Zammad calls that failed (refused, 5xx, timeout, unreachable), in %, per 5 minutes.
    "zammad_error_percent": 20,
    # Zammad refusing a region's token (401/403): calls per hour.
    "zammad_refused_per_hour": 5,
    # The oldest chatbot job waiting, in seconds (a failed job comes back after 600 s).
    "chatbot_queue_age_seconds": 900,
    # Jobs in the dead-letter queue (failed five times): any.
    "dead_letters": 1,
    # Errors of one function per 5 minutes (the API's own answers are the 5xx rate's).
    "lambda_errors": 1,
    # Throttled invocations of one function per 5 minutes.
    "lambda_throttles": 1,
    # A function's longest run, as a share of its timeout.
    "lambda_duration_share": 0.8,
    # DynamoDB answers that said "throttled" per 5 minutes (each retried answer counts).
    "dynamodb_throttles": 5,
    # Deliveries to a region's webhook whose signature failed, per 15 minutes.
    "webhook_refusals": 3,
    # Failed runs of the scheduled jobs per hour.
    "job_failures": 3,
    # Pushes refused for credentials (FCM's THIRD_PARTY_AUTH_ERROR, a push service's 401/403) per hour.
    "push_auth_failures": 1,
}

ZAMMAD_FAILED = tuple(outcome for outcome in ZAMMAD_OUTCOMES if outcome not in ("ok", "4xx"))
WEBSOCKET_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def function_timeouts(stage: str) -> dict[str, int]:
    """Each function's logical id in Chalice's template, and its timeout in seconds."""
    config = json.loads(CONFIG.read_text())
    overrides = config["stages"][stage].get("lambda_functions", {})
    default = config.get("lambda_timeout", 60)

    def timeout(name: str) -> int:
        return overrides.get(name, {}).get("lambda_timeout", default)

    found = {"APIHandler": default, **dict.fromkeys(WEBSOCKET_FUNCTIONS, default)}
    for chalice_name in (*JOB_FUNCTIONS, WORKER_FUNCTION):
        found["".join(part.capitalize() for part in chalice_name.split("_"))] = timeout(chalice_name)
    return found


def ours(metric: str, period: int = 300, **dimensions: str) -> dict[str, Any]:
    """A metric the code writes (telemetry.METRICS), summed per period."""
    assert tuple(sorted(dimensions)) in ((), tuple(sorted(METRICS[metric].dimensions))), metric
    return _metric_stat(NAMESPACE, metric, dimensions, "Sum", period)


def _metric_stat(
    namespace: str, name: str, dimensions: dict[str, Any], stat: str, period: int
) -> dict[str, Any]:
    metric: dict[str, Any] = {"Namespace": namespace, "MetricName": name}
    if dimensions:
        metric["Dimensions"] = [{"Name": key, "Value": value} for key, value in dimensions.items()]
    return {"Metric": metric, "Period": period, "Stat": stat}


def _alarm(
    description: str, threshold: float, periods: int = 1, to_alarm: int = 1, **how: Any
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description + " (docs/operating.md, What to watch)",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": threshold,
            "EvaluationPeriods": periods,
            "DatapointsToAlarm": to_alarm,
            "TreatMissingData": "notBreaching",
            "AlarmActions": ALARM_ACTIONS,
            "OKActions": ALARM_ACTIONS,
            **how,
        },
    }


def _single(metric_stat: dict[str, Any]) -> dict[str, Any]:
    return {**metric_stat["Metric"], "Period": metric_stat["Period"], "Statistic": metric_stat["Stat"]}


def _expression(expression: str, label: str, **inputs: dict[str, Any]) -> dict[str, Any]:
    """Metric math: the expression (the alarm's value) over the named inputs."""
    metrics = [{"Id": "result", "Expression": expression, "Label": label, "ReturnData": True}]
    metrics += [{"Id": name, "MetricStat": stat, "ReturnData": False} for name, stat in inputs.items()]
    return {"Metrics": metrics}


def _fill_sum(ids: list[str]) -> str:
    return " + ".join("FILL(%s, 0)" % name for name in ids)


def _zammad_id(outcome: str) -> str:
    return {"4xx": "client4xx", "5xx": "server5xx"}.get(outcome, outcome)


def alarms(prefix: str, timeouts: dict[str, int]) -> dict[str, Any]:
    """The alarms, by logical id; `timeouts`: function_timeouts' answer."""
    limits = THRESHOLDS
    found = {
        "ServerErrorRateAlarm": _alarm(
            "More than %d%% of the chat API's answers were 500 and above" % limits["server_error_percent"],
            limits["server_error_percent"],
            periods=3,
            to_alarm=2,
            **_expression(
                "100 * FILL(errors, 0) / requests",
                "5xx share of requests (%)",
                errors=ours("ServerErrors"),
                requests=ours("Requests"),
            ),
        ),
        "ZammadErrorRateAlarm": _alarm(
            "More than %d%% of the calls to Zammad failed" % limits["zammad_error_percent"],
            limits["zammad_error_percent"],
            periods=3,
            to_alarm=2,
            **_expression(
                "100 * (%s) / (%s)"
                % (
                    _fill_sum([_zammad_id(o) for o in ZAMMAD_FAILED]),
                    _fill_sum([_zammad_id(o) for o in ZAMMAD_OUTCOMES]),
                ),
                "failed share of Zammad calls (%)",
                **{_zammad_id(o): ours("ZammadCalls", Outcome=o) for o in ZAMMAD_OUTCOMES},
            ),
        ),
        "ZammadRefusedAlarm": _alarm(
            "A Zammad refused the region's token (401/403)",
            limits["zammad_refused_per_hour"],
            **_single(ours("ZammadCalls", period=3600, Outcome="refused")),
        ),
        "ChatbotQueueAgeAlarm": _alarm(
            "The chatbot's oldest job waited too long",
            limits["chatbot_queue_age_seconds"],
            **_single(
                _metric_stat(
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    {"QueueName": queue_name(prefix)},
                    "Maximum",
                    300,
                )
            ),
        ),
        "ChatbotDeadLetterAlarm": _alarm(
            "Chatbot jobs failed five times and wait in the dead-letter queue",
            limits["dead_letters"],
            **_single(
                _metric_stat(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": queue_name(prefix) + "-dlq"},
                    "Maximum",
                    300,
                )
            ),
        ),
        "DynamoDBThrottleAlarm": _alarm(
            "DynamoDB throttled the chat's requests",
            limits["dynamodb_throttles"],
            **_single(ours("DynamoDBThrottles")),
        ),
        "WebhookRefusalAlarm": _alarm(
            "Zammad's webhook deliveries failed their signature (the secret changed in Zammad?)",
            limits["webhook_refusals"],
            **_single(ours("WebhookRefusals", period=900)),
        ),
        "PushAuthFailureAlarm": _alarm(
            "Pushes were refused for credentials (FCM's APNs or Web Push keys, or our VAPID key)",
            limits["push_auth_failures"],
            **_single(ours("PushSends", period=3600, Outcome="auth_failed")),
        ),
        "JobFailureAlarm": _alarm(
            "Scheduled jobs failed",
            limits["job_failures"],
            **_expression(
                _fill_sum(list(JOB_FUNCTIONS)),  # the jobs' Chalice names: valid metric math ids
                "failed job runs",
                **{
                    chalice_name: ours("JobRuns", period=3600, Job=name, Outcome="failed")
                    for name, chalice_name in zip(JOBS, JOB_FUNCTIONS, strict=True)
                },
            ),
        ),
    }
    for function, timeout in timeouts.items():
        name = {"FunctionName": {"Ref": function}}
        found[function + "ErrorAlarm"] = _alarm(
            "The function %s failed" % function,
            limits["lambda_errors"],
            **_single(_metric_stat("AWS/Lambda", "Errors", name, "Sum", 300)),
        )
        found[function + "ThrottleAlarm"] = _alarm(
            "Lambda throttled the function %s" % function,
            limits["lambda_throttles"],
            **_single(_metric_stat("AWS/Lambda", "Throttles", name, "Sum", 300)),
        )
        found[function + "DurationAlarm"] = _alarm(
            "The function %s ran close to its timeout of %d s" % (function, timeout),
            round(timeout * 1000 * limits["lambda_duration_share"]),
            **_single(_metric_stat("AWS/Lambda", "Duration", name, "Maximum", 300)),
        )
    return found


def _search(metric: str, dimensions: str, stat: str) -> list[Any]:
    """Every series of one of our metrics, whatever its dimensions' values (a dashboard's
    SEARCH: no list of kinds or outcomes to keep in step here)."""
    expression = "SEARCH('{%s,%s} MetricName=\"%s\"', '%s', 300)" % (NAMESPACE, dimensions, metric, stat)
    return [[{"expression": expression, "id": "s" + metric.lower()}]]


def _widget(title: str, metrics: list[Any], x: int, y: int, stat: str = "Sum") -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": 300,
            "metrics": metrics,
        },
    }


def dashboard(found_alarms: dict[str, Any], functions: list[str]) -> dict[str, Any]:
    """What an on-call engineer looks at first: the alarms, then traffic, errors, latency,
    Zammad, the chatbot and the functions."""
    widgets = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 4,
            "properties": {
                "title": "Alarms",
                "alarms": ["${%s.Arn}" % alarm for alarm in sorted(found_alarms)],
            },
        },
        _widget("Requests by kind", _search("Requests", "Kind", "Sum"), 0, 4),
        _widget("Errors by kind and status", _search("Errors", "Kind,Status", "Sum"), 12, 4),
        _widget("Latency p99 by kind (ms)", _search("Latency", "Kind", "p99"), 0, 10, stat="p99"),
        _widget("Zammad calls by outcome", _search("ZammadCalls", "Outcome", "Sum"), 12, 10),
        _widget("Chatbot jobs by outcome", _search("ChatbotJobs", "Outcome", "Sum"), 0, 16),
        _widget(
            "Chatbot queue: oldest job (s), dead letters",
            [
                [
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    "QueueName",
                    "${ChatbotQueue.QueueName}",
                    {"stat": "Maximum"},
                ],
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    "${ChatbotDeadLetterQueue.QueueName}",
                    {"stat": "Maximum"},
                ],
            ],
            12,
            16,
        ),
        _widget(
            "Function errors and throttles",
            [
                ["AWS/Lambda", metric, "FunctionName", "${%s}" % f]
                for metric in ("Errors", "Throttles")
                for f in functions
            ],
            0,
            22,
        ),
        _widget(
            "Function duration, max (ms)",
            [["AWS/Lambda", "Duration", "FunctionName", "${%s}" % f] for f in functions],
            12,
            22,
            stat="Maximum",
        ),
        _widget(
            "Real time, push, refusals, throttles",
            [
                *_search("RealtimeSends", "Outcome", "Sum"),
                *_search("PushSends", "Outcome", "Sum"),
                [NAMESPACE, "RateLimited"],
                [NAMESPACE, "DynamoDBThrottles"],
                [NAMESPACE, "WebhookRefusals"],
            ],
            0,
            28,
        ),
        _widget(
            "Scheduled jobs and the retention",
            [
                *_search("JobRuns", "Job,Outcome", "Sum"),
                *_search("RetentionChats", "Action", "Sum"),
            ],
            12,
            28,
        ),
    ]
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": {"Fn::Sub": "${AWS::StackName}-chat"},
            "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets}, separators=(",", ":"))},
        },
    }


def monitoring_template(prefix: str, stage: str) -> dict[str, Any]:
    timeouts = function_timeouts(stage)
    functions = list(timeouts)
    found = alarms(prefix, timeouts)
    parameters = {
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "Description": "An SNS topic for the alarms (and their return to OK); empty: none",
        },
        "XRayTracing": {
            "Type": "String",
            "Default": "PassThrough",
            "AllowedValues": ["PassThrough", "Active"],
            "Description": "Active: AWS X-Ray traces every function's invocations",
        },
    }
    conditions = {
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
        "HasXRay": {"Fn::Equals": [{"Ref": "XRayTracing"}, "Active"]},
    }
    resources: dict[str, Any] = {**found, "ChatDashboard": dashboard(found, functions)}
    for function in functions:
        resources[function] = {"Properties": {"Tracing": {"Ref": "XRayTracing"}}}
    resources["XRayWritePolicy"] = {
        "Type": "AWS::IAM::Policy",
        "Condition": "HasXRay",
        "Properties": {
            "PolicyName": "xray-write",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        # X-Ray's write actions name no resource.
                        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                        "Resource": "*",
                    }
                ],
            },
            "Roles": [{"Ref": _role(function)} for function in functions],
        },
    }
    return {"Parameters": parameters, "Conditions": conditions, "Resources": resources}


def _role(function: str) -> str:
    """Chalice's role of a function: ApiHandlerRole for APIHandler, else <function>Role."""
    return "ApiHandlerRole" if function == "APIHandler" else function + "Role"

"""The events AWS hands a function, in the shapes AWS documents: API Gateway's REST proxy
event (payload 1.0) routed by the API's own OpenAPI body, an SQS batch, EventBridge's
Scheduled Event, API Gateway's WebSocket events."""

import base64
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ACCOUNT = "123456789012"
REGION = "eu-central-1"


def resource_for(paths: dict[str, Any], path: str, method: str) -> tuple[str, dict[str, str]]:
    """The API's resource a request path reaches, as API Gateway routes it (a trailing "/" is
    ignored; a literal segment wins over a {parameter}), and its path parameters."""
    segments = [s for s in path.split("/") if s]
    best: tuple[int, str, dict[str, str]] | None = None
    for template, methods in paths.items():
        parts = [s for s in template.split("/") if s]
        if len(parts) != len(segments) or method.lower() not in methods:
            continue
        parameters: dict[str, str] = {}
        literal = 0
        for part, segment in zip(parts, segments, strict=True):
            name = re.fullmatch(r"\{(\w+)\}", part)
            if name:
                parameters[name.group(1)] = segment
            elif part == segment:
                literal += 1
            else:
                break
        else:
            if best is None or literal > best[0]:
                best = (literal, template, parameters)
    if best is None:
        raise LookupError("no resource of the API takes %s %s" % (method, path))
    return best[1], best[2]


def rest_event(
    api_body: dict[str, Any],
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    source_ip: str = "203.0.113.9",
    stage: str = "api",
) -> dict[str, Any]:
    """API Gateway's proxy event for a request to the REST API whose OpenAPI body is given."""
    parts = urlsplit(url)
    resource, parameters = resource_for(api_body["paths"], parts.path, method)
    headers = {"Host": "abc123.execute-api.%s.amazonaws.com" % REGION, **(headers or {})}
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    content_type = headers.get("Content-Type", "").split(";")[0].strip()
    binary = content_type in api_body.get("x-amazon-apigateway-binary-media-types", [])
    text = None
    if body is not None:
        text = base64.b64encode(body).decode() if binary else body.decode("utf-8")
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "r3s0urc3",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "path": "/%s%s" % (stage, parts.path),
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "abc123",
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
            "domainName": headers["Host"],
            "apiId": "abc123",
        },
        "body": text,
        "isBase64Encoded": binary and body is not None,
    }


def sqs_event(queue_arn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Lambda's SQS batch from messages as ReceiveMessage gave them (or made up alike)."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message.get("ReceiptHandle", "handle-" + message["MessageId"]),
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(time.time() * 1000)),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def s3_upload_notification(bucket: str, key: str, size: int) -> str:
    """The body S3 sends the queue when an object is created (keys come form-encoded)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": "ObjectCreated:Post",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": "arn:aws:s3:::" + bucket},
            "object": {"key": key.replace(" ", "+"), "size": size},
        },
    }
    return json.dumps({"Records": [record]})


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    """EventBridge's Scheduled Event, as a rate() rule sends it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


def websocket_event(route: str, connection_id: str, body: str | None = None) -> dict[str, Any]:
    """API Gateway's WebSocket event for $connect, $default or $disconnect."""
    kinds = {"$connect": "CONNECT", "$default": "MESSAGE", "$disconnect": "DISCONNECT"}
    context: dict[str, Any] = {
        "routeKey": route,
        "eventType": kinds[route],
        "extendedRequestId": str(uuid.uuid4())[:16],
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "messageDirection": "IN",
        "stage": "api",
        "connectedAt": int(time.time() * 1000),
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {"sourceIp": "203.0.113.9"},
        "requestId": str(uuid.uuid4()),
        "domainName": "ws123.execute-api.%s.amazonaws.com" % REGION,
        "connectionId": connection_id,
        "apiId": "ws123",
    }
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if route == "$connect":
        event["headers"] = {"Host": context["domainName"], "Origin": "https://integreat.app"}
        event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    if route == "$default":
        context["messageId"] = str(uuid.uuid4())[:16]
        event["body"] = body
    if route == "$disconnect":
        context["disconnectStatusCode"] = 1000
        context["disconnectReason"] = ""
    return event

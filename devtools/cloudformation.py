"""Deployment files derived from the table models, so they cannot drift from the code.

    python -m devtools.cloudformation resources --stage prod > build/resources.json
    python -m devtools.cloudformation policy --stage prod   # rewrites .chalice/policy-prod.json

`resources` is the template merged into Chalice's `sam.json` (`chalice package
--merge-template`): the DynamoDB tables with their indexes and TTL, the chatbot's SQS queue
with its dead-letter queue, and API Gateway responses that answer in our `{"error": ...}`
shape. `policy` writes the least-privilege IAM policies: the API function's
(`policy-<stage>.json`), the scheduled jobs' (`policy-jobs-<stage>.json`) and the chatbot
worker's (`policy-chatbot-<stage>.json`), named per function in `.chalice/config.json`,
each with only the DynamoDB and SQS actions it calls, only on the project's resources.
`prefix` prints a stage's CHAT_TABLE_PREFIX (the queue's name follows it).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.chatbot.queue import VISIBILITY_TIMEOUT_SECONDS
from chalicelib.storage.connection import ttl_attribute_name
from chalicelib.storage.models import ALL_MODELS, RegionRecord

PROJECT = Path(__file__).resolve().parent.parent
# The DynamoDB actions each kind of function calls (PynamoDB uses no DescribeTable at run
# time). The API reads and writes items; the jobs only query and delete.
ACTIONS = {
    "api": [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ],
    "jobs": ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    "chatbot": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
}
# The SQS actions: the API queues jobs (and looks the queue's URL up once per instance);
# Lambda's event source mapping receives and deletes them with the worker's role.
QUEUE_ACTIONS = {
    "api": ["sqs:GetQueueUrl", "sqs:SendMessage"],
    "jobs": [],
    "chatbot": [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ],
}
JOB_FUNCTIONS = ("purge_author_messages", "forget_expired_chats", "sync_cms_regions")  # app.py's schedules
WORKER_FUNCTION = "chatbot_worker"  # app.py's on_sqs_message
# The worker's timeout is in .chalice/config.json (100 s): the queue's visibility timeout
# (VISIBILITY_TIMEOUT_SECONDS) is six times it, as AWS advises for Lambda consumers.
# Tables small enough, and read rarely enough (admin lists), that a Scan is the right read.
SCANNED_MODELS = (RegionRecord,)

_GATEWAY_ERRORS = {  # API Gateway's own answers (no Lambda involved), in our error shape
    "MISSING_AUTHENTICATION_TOKEN": ("404", "Not found."),
    "DEFAULT_4XX": (None, "Bad request."),
    "DEFAULT_5XX": (None, "Internal server error."),
}


def stage_prefix(stage: str) -> str:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]
    variables = {**config.get("environment_variables", {}), **stage_config.get("environment_variables", {})}
    return variables.get("CHAT_TABLE_PREFIX", "integreat-chat-")


def _logical_id(model) -> str:
    return "".join(part.capitalize() for part in model.base_table_name.replace("_", "-").split("-")) + "Table"


def _hash_first(key_schema):
    # CloudFormation wants HASH before RANGE; PynamoDB lists them in attribute order.
    return sorted(key_schema, key=lambda key: key["KeyType"] != "HASH")


def table_resource(model, prefix: str) -> dict[str, Any]:
    schema = model._get_schema()
    properties: dict[str, Any] = {
        "TableName": prefix + model.base_table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": schema["attribute_definitions"],
        "KeySchema": _hash_first(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    if schema["global_secondary_indexes"]:
        properties["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["index_name"],
                "KeySchema": _hash_first(index["key_schema"]),
                "Projection": index["projection"],
            }
            for index in schema["global_secondary_indexes"]
        ]
    ttl_name = ttl_attribute_name(model)
    if ttl_name:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl_name, "Enabled": True}
    # Chat data outlives a deleted or replaced stack unless an operator removes it.
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def queue_name(prefix: str) -> str:
    return prefix.replace(".", "-") + "chatbot"  # as chalicelib.platform.config derives it


def queue_resources(prefix: str) -> dict[str, Any]:
    """The chatbot's queue: a job that failed 5 times waits 14 days in the dead-letter queue."""
    return {
        "ChatbotQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": queue_name(prefix),
                "VisibilityTimeout": VISIBILITY_TIMEOUT_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["ChatbotDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": 5,
                },
            },
        },
        "ChatbotDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": queue_name(prefix) + "-dlq",
                "MessageRetentionPeriod": 14 * 86400,
                "SqsManagedSseEnabled": True,
            },
        },
        # Chalice's event source names the queue by ARN: make it after the queue exists.
        "ChatbotWorker": {"DependsOn": ["ChatbotQueue"]},
    }


def resources(prefix: str) -> dict[str, Any]:
    template: dict[str, Any] = queue_resources(prefix)
    for model in ALL_MODELS:
        template[_logical_id(model)] = table_resource(model, prefix)
    for response_type, (status, message) in _GATEWAY_ERRORS.items():
        properties: dict[str, Any] = {
            "RestApiId": {"Ref": "RestAPI"},
            "ResponseType": response_type,
            "ResponseTemplates": {"application/json": json.dumps({"error": message})},
        }
        if status:
            properties["StatusCode"] = status
        name = "GatewayResponse" + "".join(part.capitalize() for part in response_type.split("_"))
        template[name] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": properties}
    return {"Resources": template}


def policy(prefix: str, kind: str = "api") -> dict[str, Any]:
    tables = ["arn:aws:dynamodb:*:*:table/%s%s" % (prefix, model.base_table_name) for model in ALL_MODELS]
    scanned = [
        "arn:aws:dynamodb:*:*:table/%s%s" % (prefix, model.base_table_name) for model in SCANNED_MODELS
    ]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ChatTables",
            "Effect": "Allow",
            "Action": ACTIONS[kind],
            "Resource": tables + [table + "/index/*" for table in tables],
        },
        {"Sid": "SmallTablesScan", "Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": scanned},
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:*:logs:*:*:*",
        },
    ]
    if QUEUE_ACTIONS[kind]:
        statements.append(
            {
                "Sid": "ChatbotQueue",
                "Effect": "Allow",
                "Action": QUEUE_ACTIONS[kind],
                "Resource": "arn:aws:sqs:*:*:%s" % queue_name(prefix),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_path(stage: str, kind: str = "api") -> Path:
    return PROJECT / ".chalice" / ("policy-%s%s.json" % ("" if kind == "api" else kind + "-", stage))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.cloudformation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=["resources", "policy", "prefix"])
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args()
    prefix = stage_prefix(args.stage)
    if args.what == "prefix":
        print(prefix)
    elif args.what == "resources":
        json.dump(resources(prefix), sys.stdout, indent=2)
        print()
    else:
        for kind in ACTIONS:
            policy_path(args.stage, kind).write_text(json.dumps(policy(prefix, kind), indent=2) + "\n")
            print("wrote %s" % policy_path(args.stage, kind))


if __name__ == "__main__":
    main()

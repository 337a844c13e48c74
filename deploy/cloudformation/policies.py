"""The least-privilege IAM policies, one per kind of function (named per function in
.chalice/config.json): only the DynamoDB, SQS and S3 actions each calls, only on the
project's resources. `python -m deploy.cloudformation policy` writes them to .chalice/."""

from pathlib import Path
from typing import Any

from chalicelib.attachments.bucket import FILES, UPLOADS
from chalicelib.jobs import JOBS
from chalicelib.storage.models import RegionRecord
from chalicelib.tables import ALL_MODELS
from deploy.cloudformation.encryption import KMS_STATEMENT
from deploy.cloudformation.files import bucket_name_pattern
from deploy.cloudformation.queue import queue_name
from deploy.cloudformation.realtime import MANAGE_CONNECTIONS

PROJECT = Path(__file__).resolve().parents[2]
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
    # The worker also sends real-time events: the channel's index, a gone connection forgotten.
    "chatbot": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
}
# The SQS actions: the API queues jobs (and looks the queue's URL up once per instance);
# Lambda's event source mapping receives and deletes them with the worker's role, and the
# worker queues push jobs (after the chatbot's answer) and a push FCM asked to send later.
QUEUE_ACTIONS = {
    "api": ["sqs:GetQueueUrl", "sqs:SendMessage"],
    "jobs": [],
    "chatbot": [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
    ],
}
# The S3 actions on the files' bucket (docs/files.md): the API signs upload forms (a
# presigned POST acts with its role: PutObject on uploads/), reads uploads, copies Zammad's
# files into files/ and signs their downloads; the job that forgets chats deletes both.
# ListBucket makes a missing key a 404 instead of a 403 (no object is listed by the API).
BUCKET_ACTIONS = {
    "api": {UPLOADS: ["s3:GetObject", "s3:PutObject"], FILES: ["s3:GetObject", "s3:PutObject"]},
    "jobs": {UPLOADS: ["s3:DeleteObject"], FILES: ["s3:DeleteObject"]},
    # S3 tells the worker of each upload; one whose chat is gone is deleted on arrival.
    "chatbot": {UPLOADS: ["s3:DeleteObject"]},
}
LISTS_BUCKET = ("api", "jobs")  # a read's 404, a chat's files deleted by listing them
JOB_FUNCTIONS = tuple(name.replace("-", "_") for name in JOBS)  # app.py's schedules
WORKER_FUNCTION = "chatbot_worker"  # app.py's on_sqs_message
# Tables small enough, and read rarely enough (admin lists), that a Scan is the right read.
SCANNED_MODELS = (RegionRecord,)


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
    bucket = "arn:aws:s3:::%s*" % bucket_name_pattern(prefix)
    for key_prefix, actions in BUCKET_ACTIONS[kind].items():
        sid = "Files" + key_prefix.strip("/").capitalize()
        statements.append(
            {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": bucket + "/" + key_prefix + "*"}
        )
    if kind in LISTS_BUCKET:
        statements.append(
            {"Sid": "FilesList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket}
        )
    if kind in ("api", "chatbot"):  # they send real-time events (the jobs do not)
        statements.append(MANAGE_CONNECTIONS)
    statements.append(KMS_STATEMENT)  # only used when the stack is given a key (KmsKeyArn)
    return {"Version": "2012-10-17", "Statement": statements}


def policy_path(stage: str, kind: str = "api") -> Path:
    return PROJECT / ".chalice" / ("policy-%s%s.json" % ("" if kind == "api" else kind + "-", stage))

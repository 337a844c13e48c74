"""Deployment files derived from the table models, so they cannot drift from the code.

    python -m devtools.cloudformation resources --stage prod > build/resources.json
    python -m devtools.cloudformation policy --stage prod   # rewrites .chalice/policy-prod.json

`resources` is the template merged into Chalice's `sam.json` (`chalice package
--merge-template`): the DynamoDB tables with their indexes and TTL, the chatbot's SQS queue
with its dead-letter queue, the files' S3 bucket, and API Gateway responses that answer
in our `{"error": ...}` shape. `policy` writes the least-privilege IAM policies: the API function's
(`policy-<stage>.json`), the scheduled jobs' (`policy-jobs-<stage>.json`) and the chatbot
worker's (`policy-chatbot-<stage>.json`), named per function in `.chalice/config.json`,
each with only the DynamoDB, SQS and S3 actions it calls, only on the project's resources.
`prefix` prints a stage's CHAT_TABLE_PREFIX (the queue's name follows it).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.attachments.bucket import CORS_RULES, FILES, UPLOAD_EVENTS, UPLOADS, expiry_days
from chalicelib.chatbot.queue import VISIBILITY_TIMEOUT_SECONDS
from chalicelib.platform.config import load_settings
from chalicelib.storage.connection import ttl_attribute_name
from chalicelib.storage.models import ALL_MODELS, RegionRecord
from functions.manage import stage_environment

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
    # The worker also sends real-time events: the channel's index, a gone connection forgotten.
    "chatbot": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
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


# Encryption at rest with a customer-managed KMS key (docs/privacy.md, "At rest"): the
# optional stack parameter KmsKeyArn; without it, AWS-owned keys (tables, queue) and SSE-S3.
_KMS_TABLE_SSE = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "KmsKeyArn"}}
_QUEUE_SSE = {
    "KmsMasterKeyId": {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]},
    "SqsManagedSseEnabled": {"Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]},
}
# What a function needs of that key, only as DynamoDB, SQS or S3 use it on its behalf.
KMS_STATEMENT = {
    "Sid": "CustomerKey",
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
    "Resource": "arn:aws:kms:*:*:key/*",
    "Condition": {
        "StringLike": {
            "kms:ViaService": ["dynamodb.*.amazonaws.com", "sqs.*.amazonaws.com", "s3.*.amazonaws.com"]
        }
    },
}


# Real time (docs/realtime.md): the functions that send events post to the WebSocket API's
# connections through its management API; Chalice makes the API (app.py, WEBSOCKETS).
WEBSOCKET_ENDPOINT = {"Fn::Sub": "https://${WebsocketAPI}.execute-api.${AWS::Region}.amazonaws.com/api"}
SENDING_FUNCTIONS = ("APIHandler", "ChatbotWorker", "WebsocketMessage")
MANAGE_CONNECTIONS = {
    "Sid": "WebsocketConnections",
    "Effect": "Allow",
    "Action": ["execute-api:ManageConnections"],
    "Resource": "arn:aws:execute-api:*:*:*/api/POST/@connections/*",
}


def realtime_template() -> dict[str, Any]:
    variables = {"Properties": {"Environment": {"Variables": {"WEBSOCKET_ENDPOINT": WEBSOCKET_ENDPOINT}}}}
    return {"Resources": {name: json.loads(json.dumps(variables)) for name in SENDING_FUNCTIONS}}


def kms_template() -> dict[str, Any]:
    return {
        "Parameters": {
            "KmsKeyArn": {
                "Type": "String",
                "Default": "",
                "Description": "A customer-managed KMS key (ARN) for tables, queue, bucket; empty: AWS keys",
            }
        },
        "Conditions": {"HasKmsKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}},
    }


def stage_prefix(stage: str) -> str:
    return stage_environment(stage).get("CHAT_TABLE_PREFIX", "integreat-chat-")


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
        "SSESpecification": {"Fn::If": ["HasKmsKey", _KMS_TABLE_SSE, {"SSEEnabled": True}]},
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
                **_QUEUE_SSE,
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
                **_QUEUE_SSE,
            },
        },
        # Chalice's event source names the queue by ARN: make it after the queue exists.
        "ChatbotWorker": {"DependsOn": ["ChatbotQueue"]},
    }


def bucket_name_pattern(prefix: str) -> str:
    """Bucket names are global: the template adds the account and region to this."""
    return prefix.replace(".", "-").lower() + "files-"


def files_resources(prefix: str, retention_days: int) -> dict[str, Any]:
    """The user chat's files: one private, encrypted bucket whose lifecycle deletes uploads
    after a day and Zammad's copies a day after the retention (the job deletes them with
    their chat earlier); its name reaches the functions that use it."""
    name = {"Fn::Sub": bucket_name_pattern(prefix) + "${AWS::AccountId}-${AWS::Region}"}
    bucket_or_nothing = {"Fn::If": ["HasFiles", {"Ref": "FilesBucket"}, ""]}
    environment = {"Properties": {"Environment": {"Variables": {"ATTACHMENT_BUCKET": bucket_or_nothing}}}}
    rules = [
        {"Id": prefix_.strip("/"), "Prefix": prefix_, "Status": "Enabled", "ExpirationInDays": days}
        for prefix_, days in expiry_days(retention_days).items()
    ]
    return {
        "Parameters": {
            "FilesEnabled": {
                "Type": "String",
                "Default": "true",
                "AllowedValues": ["true", "false"],
                "Description": "Files in the user chat (an S3 bucket; docs/files.md)",
            }
        },
        "Conditions": {"HasFiles": {"Fn::Equals": [{"Ref": "FilesEnabled"}, "true"]}},
        "Resources": {
            "FilesBucket": {
                "Type": "AWS::S3::Bucket",
                "Condition": "HasFiles",
                "DependsOn": ["FilesNotificationPolicy"],  # S3 tests the queue when it is set
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "BucketName": name,
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "ServerSideEncryptionByDefault": {
                                    "Fn::If": [
                                        "HasKmsKey",
                                        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "KmsKeyArn"}},
                                        {"SSEAlgorithm": "AES256"},
                                    ]
                                },
                                "BucketKeyEnabled": True,
                            }
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    "LifecycleConfiguration": {
                        "Rules": rules
                        + [
                            {
                                "Id": "unfinished",
                                "Status": "Enabled",
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                            }
                        ]
                    },
                    "NotificationConfiguration": {
                        "QueueConfigurations": [
                            {
                                "Event": event,
                                "Queue": {"Fn::GetAtt": ["ChatbotQueue", "Arn"]},
                                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": UPLOADS}]}},
                            }
                            for event in UPLOAD_EVENTS
                        ]
                    },
                    "CorsConfiguration": {
                        "CorsRules": [
                            {
                                "AllowedMethods": rule["AllowedMethods"],
                                "AllowedOrigins": rule["AllowedOrigins"],
                                "AllowedHeaders": rule["AllowedHeaders"],
                                "MaxAge": rule["MaxAgeSeconds"],
                            }
                            for rule in CORS_RULES
                        ]
                    },
                },
            },
            "FilesBucketPolicy": {  # nothing in or out but over TLS
                "Type": "AWS::S3::BucketPolicy",
                "Condition": "HasFiles",
                "Properties": {
                    "Bucket": {"Ref": "FilesBucket"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "TlsOnly",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [
                                    {"Fn::GetAtt": ["FilesBucket", "Arn"]},
                                    {"Fn::Sub": "${FilesBucket.Arn}/*"},
                                ],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    },
                },
            },
            "FilesNotificationPolicy": {  # S3 may tell the chatbot's queue of uploads
                "Type": "AWS::SQS::QueuePolicy",
                "Condition": "HasFiles",
                "Properties": {
                    "Queues": [{"Ref": "ChatbotQueue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "UploadEvents",
                                "Effect": "Allow",
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["ChatbotQueue", "Arn"]},
                                "Condition": {
                                    # The name, not the bucket's ARN: the bucket depends on this.
                                    "ArnLike": {
                                        "aws:SourceArn": {
                                            "Fn::Sub": ["arn:${AWS::Partition}:s3:::${Name}", {"Name": name}]
                                        }
                                    },
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                },
                            }
                        ],
                    },
                },
            },
            "APIHandler": environment,
            "ForgetExpiredChats": environment,
            "ChatbotWorker": environment,
        },
    }


# CloudFront's managed policies (the same IDs in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
# The paths CloudFront sends to this backend; everything else goes to the CMS. The same
# paths as deploy/nginx/integreat-chat.locations.conf.
CHAT_PATH_PATTERNS = ("/api/v3/*/*/chat/*", "/api/v3/webhook/zammad*", "/api/v3/author-chat/*")
# The real-time channel on the same host (docs/realtime.md). API Gateway's WebSocket API
# refuses any path past its stage, so a CloudFront Function makes the path the stage's.
REALTIME_PATH = "/api/v3/realtime/"
REALTIME_PATH_CODE = "function handler(event) { event.request.uri = '/api'; return event.request; }"
TOO_MANY = json.dumps({"error": "Too many requests. Please try again later."})


def edge_template() -> dict[str, Any]:
    """Throttling at the edge (API Gateway's stage limits, and an optional AWS WAF
    rate-based rule per IP) and the optional CloudFront distribution that serves the chat
    paths beside the CMS on one host. Stack parameters switch the options on."""
    parameters = {
        "ApiThrottlingRateLimit": {
            "Type": "Number",
            "Default": 200,
            "MinValue": 1,
            "Description": "API Gateway: steady requests per second for the whole API",
        },
        "ApiThrottlingBurstLimit": {
            "Type": "Number",
            "Default": 400,
            "MinValue": 1,
            "Description": "API Gateway: burst of requests above the steady rate",
        },
        "WafRequestsPerIpPer5Minutes": {
            "Type": "Number",
            "Default": 0,
            "MinValue": 0,
            "Description": "AWS WAF: block an IP above this many requests in 5 minutes (0: no WAF; else 10+)",
        },
        "CmsOriginDomain": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^([a-z0-9.-]+)?$",
            "Description": "The CMS's origin host (e.g. cms-origin.integreat-app.de); set: a CloudFront "
            "distribution serves the CMS with the chat paths beside it",
        },
    }
    conditions = {
        "HasWaf": {"Fn::Not": [{"Fn::Equals": [{"Ref": "WafRequestsPerIpPer5Minutes"}, 0]}]},
        "HasCloudFront": {"Fn::Not": [{"Fn::Equals": [{"Ref": "CmsOriginDomain"}, ""]}]},
    }
    stage_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/api"
    }
    behaviour = {
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        "CachedMethods": ["GET", "HEAD"],
        "CachePolicyId": CACHING_DISABLED,
        "Compress": True,
    }
    resources: dict[str, Any] = {
        # Chalice's API: stage-wide throttling (API Gateway answers 429 itself beyond it).
        "RestAPI": {
            "Properties": {
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
                        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
                    }
                ]
            }
        },
        "GatewayResponseThrottled": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "RestAPI"},
                "ResponseType": "THROTTLED",
                "StatusCode": "429",
                "ResponseTemplates": {"application/json": TOO_MANY},
            },
        },
        "RateLimitWebAcl": {
            "Type": "AWS::WAFv2::WebACL",
            "Condition": "HasWaf",
            "Properties": {
                "Scope": "REGIONAL",
                "DefaultAction": {"Allow": {}},
                "CustomResponseBodies": {
                    "too-many": {"ContentType": "APPLICATION_JSON", "Content": TOO_MANY}
                },
                "Rules": [
                    {
                        "Name": "requests-per-ip",
                        "Priority": 0,
                        "Statement": {
                            "RateBasedStatement": {
                                "Limit": {"Ref": "WafRequestsPerIpPer5Minutes"},
                                "AggregateKeyType": "IP",
                            }
                        },
                        "Action": {
                            "Block": {
                                "CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "too-many"}
                            }
                        },
                        "VisibilityConfig": {
                            "SampledRequestsEnabled": True,
                            "CloudWatchMetricsEnabled": True,
                            "MetricName": "integreat-chat-requests-per-ip",
                        },
                    }
                ],
                "VisibilityConfig": {
                    "SampledRequestsEnabled": True,
                    "CloudWatchMetricsEnabled": True,
                    "MetricName": "integreat-chat",
                },
            },
        },
        "RateLimitWebAclAssociation": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Condition": "HasWaf",
            "DependsOn": ["RestAPIapiStage"],
            "Properties": {"ResourceArn": stage_arn, "WebACLArn": {"Fn::GetAtt": ["RateLimitWebAcl", "Arn"]}},
        },
        "ChatDistribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Condition": "HasCloudFront",
            "Properties": {
                "DistributionConfig": {
                    "Enabled": True,
                    "Comment": "The Integreat CMS, with Integreat Chat's paths beside it",
                    "HttpVersion": "http2and3",
                    "PriceClass": "PriceClass_100",
                    "Origins": [
                        {
                            "Id": "cms",
                            "DomainName": {"Ref": "CmsOriginDomain"},
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                        {
                            "Id": "realtime",
                            "DomainName": {
                                "Fn::Sub": "${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                            },
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                        {
                            "Id": "chat",
                            "DomainName": {
                                "Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                            },
                            "OriginPath": "/api",  # the stage
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                    ],
                    "DefaultCacheBehavior": dict(
                        behaviour, TargetOriginId="cms", OriginRequestPolicyId=ALL_VIEWER
                    ),
                    "CacheBehaviors": [
                        dict(
                            behaviour,
                            PathPattern=pattern,
                            TargetOriginId="chat",
                            OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
                        )
                        for pattern in CHAT_PATH_PATTERNS
                    ]
                    + [
                        {
                            "PathPattern": REALTIME_PATH,
                            "TargetOriginId": "realtime",
                            "ViewerProtocolPolicy": "https-only",
                            "AllowedMethods": ["GET", "HEAD"],
                            "CachedMethods": ["GET", "HEAD"],
                            "CachePolicyId": CACHING_DISABLED,
                            "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,  # Sec-WebSocket-*
                            "FunctionAssociations": [
                                {
                                    "EventType": "viewer-request",
                                    "FunctionARN": {"Fn::GetAtt": ["RealtimePathFunction", "FunctionARN"]},
                                }
                            ],
                        }
                    ],
                }
            },
        },
        "RealtimePathFunction": {
            "Type": "AWS::CloudFront::Function",
            "Condition": "HasCloudFront",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-realtime-path"},
                "AutoPublish": True,
                "FunctionConfig": {
                    "Comment": "The real-time channel's path, as API Gateway's stage",
                    "Runtime": "cloudfront-js-2.0",
                },
                "FunctionCode": REALTIME_PATH_CODE,
            },
        },
        # Behind the distribution, CloudFront appends the viewer's address to
        # X-Forwarded-For and the edge-optimized API's own CloudFront appends ours.
        "APIHandler": {
            "Properties": {
                "Environment": {
                    "Variables": {
                        "TRUSTED_IP_HEADER": {"Fn::If": ["HasCloudFront", "X-Forwarded-For", ""]},
                        "TRUSTED_PROXY_COUNT": {"Fn::If": ["HasCloudFront", "2", "1"]},
                    }
                }
            }
        },
    }
    outputs = {
        "DistributionDomainName": {
            "Condition": "HasCloudFront",
            "Description": "Point the CMS's host name (CNAME) here, or use it as the app's base URL",
            "Value": {"Fn::GetAtt": ["ChatDistribution", "DomainName"]},
        },
        "RealtimeUrl": {
            "Condition": "HasCloudFront",
            "Description": "The real-time channel on the distribution (docs/realtime.md)",
            "Value": {"Fn::Sub": "wss://${ChatDistribution.DomainName}" + REALTIME_PATH},
        },
    }
    return {"Parameters": parameters, "Conditions": conditions, "Resources": resources, "Outputs": outputs}


def resources(prefix: str, retention_days: int = 30) -> dict[str, Any]:
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
    return _merged(
        {"Resources": template},
        edge_template(),
        files_resources(prefix, retention_days),
        kms_template(),
        realtime_template(),
    )


def _merged(*templates: dict[str, Any]) -> dict[str, Any]:
    """Templates merged key by key, as `chalice package --merge-template` merges ours into
    its own (two parts may set variables of the same function)."""
    merged: dict[str, Any] = {}
    for template in templates:
        _merge_into(merged, template)
    return merged


def _merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = value


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
        retention_days = load_settings(stage_environment(args.stage)).ticket_retention_days
        json.dump(resources(prefix, retention_days), sys.stdout, indent=2)
        print()
    else:
        for kind in ACTIONS:
            policy_path(args.stage, kind).write_text(json.dumps(policy(prefix, kind), indent=2) + "\n")
            print("wrote %s" % policy_path(args.stage, kind))


if __name__ == "__main__":
    main()

"""The user chat's files (docs/files.md): the S3 bucket, its policy, and the notification
that tells the chatbot's queue of uploads; an optional part (stack parameter FilesEnabled)."""

from typing import Any

from chalicelib.attachments.bucket import CORS_RULES, UPLOAD_EVENTS, UPLOADS, expiry_days


def bucket_name_pattern(prefix: str) -> str:
    """Bucket names are global: the template adds the account and region to this."""
    return prefix.replace(".", "-").lower() + "files-"


def files_template(prefix: str, retention_days: int) -> dict[str, Any]:
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

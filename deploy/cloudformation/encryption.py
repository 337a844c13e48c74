"""Encryption at rest with a customer-managed KMS key (docs/privacy.md, "At rest"): the
optional stack parameter KmsKeyArn; without it, AWS-owned keys (tables, queue) and SSE-S3."""

from typing import Any

KMS_TABLE_SSE = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "KmsKeyArn"}}
QUEUE_SSE = {
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


def encryption_template() -> dict[str, Any]:
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

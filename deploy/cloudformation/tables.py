"""The DynamoDB tables, one per model in chalicelib/storage/models.py (ALL_MODELS), with
their indexes, TTL, backups and encryption: derived from the models so they cannot drift."""

from typing import Any

from chalicelib.storage.connection import ttl_attribute_name
from chalicelib.tables import ALL_MODELS
from deploy.cloudformation.encryption import KMS_TABLE_SSE


def tables_template(prefix: str) -> dict[str, Any]:
    return {"Resources": {logical_id(model): table_resource(model, prefix) for model in ALL_MODELS}}


def logical_id(model) -> str:
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
        "SSESpecification": {"Fn::If": ["HasKmsKey", KMS_TABLE_SSE, {"SSEEnabled": True}]},
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

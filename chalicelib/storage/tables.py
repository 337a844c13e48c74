"""Creating the tables (idempotently) and switching on TTL where items expire."""

from collections.abc import Iterable

from pynamodb.models import Model

from chalicelib.storage.connection import ttl_attribute_name


def create_tables(models: Iterable[type[Model]]) -> list[str]:
    """Create each missing table and make sure TTL is on; returns one line per table.

    Running it again changes nothing: existing tables are left as they are, and TTL is
    only switched on when DynamoDB reports it off.
    """
    report = []
    for model in models:
        name = model.Meta.table_name
        if model.exists():
            action = "exists"
        else:
            model.create_table(wait=True)
            action = "created"
        ttl_name = ttl_attribute_name(model)
        if ttl_name is not None:
            client = model._get_connection().connection.client
            status = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if status.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
                action += ", TTL on %s" % ttl_name
            else:
                model.update_ttl(ignore_update_ttl_errors=False)
                action += ", TTL switched on for %s" % ttl_name
        report.append("%s: %s" % (name, action))
    return report

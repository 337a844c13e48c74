"""app.py's WebSocket handlers (docs/realtime.md) through Chalice's test client, on moto:
what API Gateway's WebSocket API hands the Lambda reaches the same Realtime handlers."""

import json

from chalice.test import Client
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.realtime.connections import AUTHOR_CHANNEL, ConnectionRecord
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from tests.support.emf import EmfCapture

SECRET = "app-websocket-secret-long-enough-for-hs256"


def subscribed() -> list[str]:
    """The connections the table holds for the author chat."""
    return [hit.connection_id for hit in ConnectionRecord.channel_index.query(AUTHOR_CHANNEL)]


def event(kind: str, connection_id: str, body: str | None = None) -> dict:
    context = {"routeKey": "$" + kind.lower(), "eventType": kind, "connectionId": connection_id,
               "domainName": "ws.example.org", "stage": "api", "apiId": "abc123"}  # fmt: skip
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def test_a_subscription_through_the_lambda_handlers_is_stored_and_removed_on_disconnect():
    import app as app_module

    with mock_aws():
        api = ChatApi(aws_services(load_settings({"AUTH_JWT_SECRET": SECRET})))
        create_tables(ALL_MODELS)
        api.services.metrics = metrics = EmfCapture()
        previous, app_module.api = app_module.api, api
        try:
            with Client(app_module.app) as client:
                assert (
                    client.lambda_.invoke("websocket_connect", event("CONNECT", "c1")).payload["statusCode"]
                    == 200
                )
                token = issue_hs256_token(SECRET, "alice", ["author"])
                body = json.dumps({"action": "subscribe", "token": token})
                client.lambda_.invoke("websocket_message", event("MESSAGE", "c1", body))
                assert subscribed() == ["c1"]
                client.lambda_.invoke("websocket_disconnect", event("DISCONNECT", "c1"))
                assert subscribed() == []
                assert metrics.total("Requests", Kind="realtime") == 3  # each event, measured
        finally:
            app_module.api = previous

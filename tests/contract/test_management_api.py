"""One sender, two management APIs: `ManagementApiSender` (botocore, as the API, the worker
and the jobs send events) posts the same request to moto's API Gateway management API and
to the one functions/websocket.py serves, and both take it. Only the local server knows
which connections are open, as API Gateway does: moto accepts any id, so the gone case is
the local server's (and tests/integration/test_realtime_http.py's)."""

import json
import os

import pytest
from moto import mock_aws
from websockets.sync.client import connect

from chalicelib.platform.config import load_settings
from chalicelib.realtime.sender import ManagementApiSender
from functions.websocket import WebSocketServer
from tests.support.memory import memory_services

EVENT = json.dumps({"type": "chat", "etag": '"abc"'}).encode()


@pytest.fixture
def aws_credentials(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "contract",
        "AWS_SECRET_ACCESS_KEY": "contract",
        "AWS_DEFAULT_REGION": "eu-central-1",
    }.items():
        monkeypatch.setenv(name, value)
    return os.environ


def test_moto_s_management_api_takes_the_senders_post(aws_credentials):
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    endpoint = "https://abc123.execute-api.eu-central-1.amazonaws.com/api"  # as the template sets it
    with mock_aws():
        sender = ManagementApiSender(load_settings({"WEBSOCKET_ENDPOINT": endpoint}))
        assert sender.send("Lg4QYcb0liACHw", EVENT) is True
        assert sender.send("Lg4QYcb0liACHw", EVENT) is True
        # (API Gateway's ids may end in "=": botocore sends it as %3D, which moto keeps.)
        backend = apigatewaymanagementapi_backends["123456789012"]["eu-central-1"]
        assert backend.connections["Lg4QYcb0liACHw"].data == EVENT + EVENT


def test_the_local_management_api_takes_the_same_post_and_knows_gone_connections(aws_credentials):
    services = memory_services(load_settings({}))
    with WebSocketServer(services) as channel:
        sender = ManagementApiSender(load_settings({"WEBSOCKET_ENDPOINT": channel.management_url + "/api"}))
        with connect(channel.ws_url, open_timeout=5) as client:
            client.send(json.dumps({"action": "ping"}))
            assert json.loads(client.recv(timeout=5)) == {"type": "pong"}
            [connection_id] = channel.clients
            assert sender.send(connection_id, EVENT) is True
            assert client.recv(timeout=5) == EVENT.decode()
        assert sender.send(connection_id, EVENT) is False  # closed: 410 GoneException
        assert sender.send("never-connected", EVENT) is False

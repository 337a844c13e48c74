"""Sending to a connection through API Gateway's management API (`POST
@connections/<id>`), with botocore: in AWS the WebSocket API's own endpoint, in `make dev`
the local server's (functions/websocket.py), which speaks the same API. A connection that
is gone (`GoneException`) is reported, never raised: a failed send never fails the webhook.
The client is made on first use (a cold start that sends nothing never pays for it)."""

import threading
from typing import Any, Protocol

from chalicelib.platform.aws import botocore_client
from chalicelib.platform.config import Settings


class ConnectionSender(Protocol):
    def send(self, connection_id: str, data: bytes) -> bool:
        """Post the frame; False when the connection is gone."""


class ManagementApiSender:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def _api(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = botocore_client(
                    "apigatewaymanagementapi",
                    self._settings,
                    self._settings.websocket_endpoint,
                    "ws",
                    connect_timeout=1,
                    read_timeout=2,
                    retries={"max_attempts": 2, "mode": "standard"},
                )
            return self._client

    def send(self, connection_id: str, data: bytes) -> bool:
        client = self._api()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException:
            return False
        return True

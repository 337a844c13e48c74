"""Sending to a connection through API Gateway's management API (`POST
@connections/<id>`), with botocore: in AWS the WebSocket API's own endpoint, in `make dev`
the local server's (devtools/ws_server.py), which speaks the same API. A connection that
is gone (`GoneException`) is reported, never raised: a failed send never fails the webhook.
The client is made on first use (a cold start that sends nothing never pays for it)."""

import threading
from typing import Any, Protocol

from chalicelib.platform.config import Settings
from chalicelib.platform.metrics import instrument_botocore_client


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
                import botocore.session
                from botocore.config import Config

                client = botocore.session.get_session().create_client(
                    "apigatewaymanagementapi",
                    region_name=self._settings.aws_region,
                    endpoint_url=self._settings.websocket_endpoint,
                    config=Config(
                        connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}
                    ),
                )
                instrument_botocore_client(client, "ws")
                self._client = client
            return self._client

    def send(self, connection_id: str, data: bytes) -> bool:
        client = self._api()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException:
            return False
        return True

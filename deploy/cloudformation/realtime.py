"""Real time (docs/realtime.md): the functions that send events post to the WebSocket API's
connections through its management API; Chalice makes the API (app.py, WEBSOCKETS)."""

import json
from typing import Any

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

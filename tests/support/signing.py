"""Zammad's webhook signature, as its trigger computes it (for tests and `make bench`)."""

import hashlib
import hmac


def hub_signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def webhook_delivery(zammad, ticket_id: int, article: dict, token: str, secret: str, delivery: str = ""):
    """Zammad's webhook telling of `article`, as a Request to the API in process, signed."""
    import json
    import secrets

    from chalicelib.web.http import Request

    body = json.dumps({"ticket": zammad.tickets[ticket_id], "article": article}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Zammad-Delivery": delivery or secrets.token_hex(4),
        "X-Hub-Signature": hub_signature(secret, body),
    }
    return Request("POST", "/api/v3/webhook/zammad", query={"token": token}, headers=headers, body=body)

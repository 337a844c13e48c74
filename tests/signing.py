"""Zammad's webhook signature, as its trigger computes it (for tests and `make bench`)."""

import hashlib
import hmac


def hub_signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()

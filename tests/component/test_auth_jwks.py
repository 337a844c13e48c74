"""RS256 tokens from an identity provider, its JWKS served over real HTTP on loopback."""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.platform.auth import Authenticator
from chalicelib.platform.config import load_settings
from chalicelib.web.errors import Unauthorized
from tests.conftest import JWT_SECRET

NOW = time.time()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key):
    """An identity provider's JWKS endpoint, over real HTTP on loopback."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [dict(public, kid="key-1", use="sig", alg="RS256")]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/.well-known/jwks.json" % server.server_address[1]
    server.shutdown()


def rs256(rsa_key, claims, kid="key-1"):
    return "Bearer " + jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def idp_auth(jwks_url):
    return Authenticator(
        load_settings(
            {
                "AUTH_JWKS_URL": jwks_url,
                "AUTH_JWT_ISSUER": "https://idp.example.org",
                "AUTH_JWT_AUDIENCE": "integreat-chat",
                "AUTH_JWT_SECRET": JWT_SECRET,
            }
        )
    )


def test_rs256_from_the_jwks_is_accepted(idp_auth, rsa_key):
    claims = {
        "sub": "bob",
        "roles": ["admin"],
        "exp": NOW + 3600,
        "iss": "https://idp.example.org",
        "aud": "integreat-chat",
    }
    assert idp_auth.require(rs256(rsa_key, claims), "admin").sub == "bob"


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "https://evil.example.org"},
        {"aud": "other-app"},
        {"exp": NOW - 5},
    ],
)
def test_rs256_with_wrong_issuer_audience_or_expiry_is_401(idp_auth, rsa_key, change):
    claims = {
        "sub": "bob",
        "roles": ["admin"],
        "exp": NOW + 3600,
        "iss": "https://idp.example.org",
        "aud": "integreat-chat",
        **change,
    }
    with pytest.raises(Unauthorized):
        idp_auth.require(rs256(rsa_key, claims), "admin")


def test_rs256_signed_by_another_key_is_401(idp_auth):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "sub": "bob",
        "roles": ["admin"],
        "exp": NOW + 3600,
        "iss": "https://idp.example.org",
        "aud": "integreat-chat",
    }
    with pytest.raises(Unauthorized):
        idp_auth.require(rs256(other, claims), "admin")


def test_the_public_key_used_as_an_hs256_secret_is_401(idp_auth, rsa_key):
    """Algorithm confusion: an HS256 token whose HMAC key is the (public) RSA key."""
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    # PyJWT refuses to sign with a PEM key as an HMAC secret, so forge the token by hand.
    signing_input = (
        b64(b'{"alg":"HS256","typ":"JWT"}')
        + b"."
        + b64(json.dumps({"sub": "x", "roles": ["admin"], "exp": NOW + 3600}).encode())
    )
    signature = b64(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    with pytest.raises(Unauthorized):
        idp_auth.require("Bearer " + (signing_input + b"." + signature).decode(), "admin")

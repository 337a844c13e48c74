import time

import jwt
import pytest

from chalicelib.platform.auth import Authenticator, issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.web.errors import Forbidden, Unauthorized
from tests.conftest import JWT_SECRET

NOW = time.time()  # tokens below live an hour: long enough for any test order


def hs256(claims, secret=JWT_SECRET):
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def auth():
    return Authenticator(load_settings({"AUTH_JWT_SECRET": JWT_SECRET}))


def test_a_valid_token_gives_the_principal(auth):
    token = issue_hs256_token(JWT_SECRET, "alice", ["author"], name="Alice", email="a@example.org")
    principal = auth.require("Bearer " + token, "author", "admin")
    assert (principal.sub, principal.name, principal.email, principal.roles) == (
        "alice",
        "Alice",
        "a@example.org",
        ("author",),
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6cHc=",
        "Bearer not.a.token",
        "Bearer abc",
    ],
)
def test_no_token_or_garbage_is_401(auth, header):
    with pytest.raises(Unauthorized):
        auth.require(header, "admin")


def test_a_wrong_signature_is_401(auth):
    with pytest.raises(Unauthorized):
        auth.require(
            hs256({"sub": "a", "roles": ["admin"], "exp": NOW + 3600}, "other-secret-xxxxxxxxxxxxxxxxxxxxxx"),
            "admin",
        )


def test_a_token_without_exp_is_401(auth):
    with pytest.raises(Unauthorized):
        auth.require(hs256({"sub": "a", "roles": ["admin"]}), "admin")


def test_an_expired_token_is_401(auth):
    with pytest.raises(Unauthorized):
        auth.require(hs256({"sub": "a", "roles": ["admin"], "exp": NOW - 5}), "admin")


def test_a_token_without_sub_is_401(auth):
    with pytest.raises(Unauthorized):
        auth.require(hs256({"roles": ["admin"], "exp": NOW + 3600}), "admin")


def test_roles_that_are_not_a_list_of_strings_are_401(auth):
    with pytest.raises(Unauthorized):
        auth.require(hs256({"sub": "a", "roles": "admin", "exp": NOW + 3600}), "admin")


@pytest.mark.parametrize("roles", [[], ["author"], ["superuser"]])
def test_a_missing_role_is_403(auth, roles):
    with pytest.raises(Forbidden):
        auth.require(hs256({"sub": "a", "roles": roles, "exp": NOW + 3600}), "admin")


def test_alg_none_is_401(auth):
    token = jwt.encode({"sub": "a", "roles": ["admin"], "exp": NOW + 3600}, None, algorithm="none")
    with pytest.raises(Unauthorized):
        auth.require("Bearer " + token, "admin")


def test_without_any_key_configured_every_token_is_401():
    token = issue_hs256_token(JWT_SECRET, "alice", ["admin"])
    with pytest.raises(Unauthorized):
        Authenticator(load_settings({})).require("Bearer " + token, "admin")

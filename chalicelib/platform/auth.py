"""Bearer tokens for authors and admins (SPEC §7): HS256 with a shared secret, or RS256
checked against an identity provider's JWKS (Cognito, Keycloak).

PyJWT (and with it `cryptography`) is imported on the first token check, not at start-up:
the app-user endpoints never need it, so a Lambda cold start does not pay for it.
"""

import threading
from typing import Any, NamedTuple

from chalicelib.platform.config import Settings
from chalicelib.web.errors import Forbidden, Unauthorized


class Principal(NamedTuple):
    sub: str
    name: str
    email: str
    roles: tuple[str, ...]

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class Authenticator:
    def __init__(self, settings: Settings):
        self._secret = settings.jwt_secret
        self._jwks_url = settings.jwks_url
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._jwks_client: Any = None
        self._lock = threading.Lock()

    def require(self, authorization: str | None, *roles: str) -> Principal:
        """The caller of a request with this Authorization header; 401 or 403 otherwise."""
        principal = self.authenticate(authorization)
        if not principal.has_role(*roles):
            raise Forbidden()
        return principal

    def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized()
        import jwt

        try:
            claims = self._decode(jwt, token.strip())
        except jwt.PyJWTError:
            raise Unauthorized() from None
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthorized()
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise Unauthorized()
        return Principal(
            sub=sub,
            name=str(claims.get("name") or sub),
            email=str(claims.get("email") or ""),
            roles=tuple(roles),
        )

    def _decode(self, jwt, token: str) -> dict:
        algorithm = jwt.get_unverified_header(token).get("alg")
        options = {"require": ["exp", "sub"]}
        # The key is chosen by the algorithm and each key accepts only its own algorithm,
        # so an RS256 public key can never be used as an HS256 secret.
        if algorithm == "HS256" and self._secret:
            return jwt.decode(token, self._secret, algorithms=["HS256"], options=options)
        if algorithm == "RS256" and self._jwks_url:
            key = self._jwks().get_signing_key_from_jwt(token).key
            if self._issuer:
                options["require"].append("iss")
            return jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                options=options,
                issuer=self._issuer,
                audience=self._audience,
            )
        raise jwt.InvalidAlgorithmError("unsupported algorithm")

    def _jwks(self):
        with self._lock:
            if self._jwks_client is None:
                from jwt import PyJWKClient

                # Keys are cached for the life of a warm instance; an unknown key id
                # makes PyJWKClient fetch the set again (key rotation).
                self._jwks_client = PyJWKClient(self._jwks_url or "", cache_keys=True, timeout=5)
            return self._jwks_client


def issue_hs256_token(
    secret: str,
    sub: str,
    roles,
    name: str = "",
    email: str = "",
    lifetime_seconds: int = 12 * 3600,
    now: float | None = None,
) -> str:
    """A token for the configured HS256 secret (`manage token`, `make dev`, tests)."""
    import time

    import jwt

    issued = int(now if now is not None else time.time())
    claims = {"sub": sub, "roles": list(roles), "iat": issued, "exp": issued + lifetime_seconds}
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")

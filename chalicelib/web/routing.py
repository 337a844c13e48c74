"""Route rows and the table that matches concrete paths to them.

A row states who may call its route; the dispatcher applies that policy before the
handler runs, so a handler never checks it again:

- `APP`: the Integreat app. Public, rate limited per client, open to browsers of any
  origin (CORS, preflights answered).
- `AUTHOR`, `ADMIN`: a bearer token with role author (or admin), or admin. The handler
  gets the caller (`Principal`).
- `ZAMMAD`: a region's Zammad webhook, by its token and signature. The handler gets the
  region (`RegionRecord`).
- `ANYONE`: public and not limited (the API's own description).
"""

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote

from chalicelib.web.http import Request, Response

APP, AUTHOR, ADMIN, ZAMMAD, ANYONE = "app", "author", "admin", "zammad", "anyone"
CALLERS = (APP, AUTHOR, ADMIN, ZAMMAD, ANYONE)

# A route's handler: (the services, the request, the caller the policy established: None,
# a Principal or a region) -> its response. The services and the caller are the layers
# above's types, which this toolkit cannot name (tests/unit/test_layers.py).
Handler = Callable[[Any, Request, Any], Response]


# The request kind a route's requests are counted under (chalicelib/platform/telemetry.py),
# unless its row names one.
_KIND_OF_CALLER = {APP: "app", AUTHOR: "author_chat", ADMIN: "admin", ZAMMAD: "webhook", ANYONE: "public"}


class Route(NamedTuple):
    method: str
    path: str  # template, Chalice syntax: "/api/v3/admin/regions/{slug}"
    caller: str  # who may call it: one of CALLERS
    handler: Handler
    kind: str = ""  # its metrics' Kind; empty: its caller's

    @property
    def metric_kind(self) -> str:
        return self.kind or _KIND_OF_CALLER[self.caller]


def _specificity(template: str) -> tuple[int, ...]:
    # Literal segments win over {variables} at the same place, as in API Gateway.
    return tuple(0 if part.startswith("{") else 1 for part in template.split("/"))


class RouteTable:
    def __init__(self, rows: Iterable[Route]):
        self.rows = tuple(rows)
        self.by_path: dict[str, dict[str, Route]] = {}
        for row in self.rows:
            assert row.caller in CALLERS, row
            assert row.method not in self.by_path.get(row.path, {}), row
            self.by_path.setdefault(row.path, {})[row.method] = row
        self._by_specificity = sorted(self.by_path, key=_specificity, reverse=True)

    def paths(self) -> list[str]:
        return list(self.by_path)

    def for_tokens(self, path: str) -> bool:
        """Whether this path takes a bearer token (CORS only for the configured origins)."""
        return any(row.caller in (AUTHOR, ADMIN) for row in self.by_path.get(path, {}).values())

    def for_app(self, path: str) -> bool:
        """Whether the app calls this path (CORS, preflights)."""
        return any(row.caller == APP for row in self.by_path.get(path, {}).values())

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """(template, path parameters) for a concrete path, with or without a trailing slash."""
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        parts = path.split("/")
        for template in self._by_specificity:
            template_parts = template.split("/")
            if len(template_parts) != len(parts):
                continue
            params = {}
            for actual, expected in zip(parts, template_parts, strict=True):
                if expected.startswith("{"):
                    if not actual:
                        break
                    params[expected[1:-1]] = unquote(actual)
                elif actual != expected:
                    break
            else:
                return template, params
        return None

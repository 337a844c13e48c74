"""Every route of the API: each feature's rows (its routes.py: method, path, who may call
it, and the handler beside the row), and the API's description.

The caller column is the policy the dispatcher applies before the handler runs (see
`web/routing.py`): `APP` routes are rate limited and open to any web origin, `AUTHOR` and
`ADMIN` need a bearer token with that role, `ZAMMAD` the region's webhook token and
signature. app.py (Chalice) and functions/wsgi.py serve exactly this table.
"""

from chalicelib import health, openapi
from chalicelib.author_chat import routes as author_chat
from chalicelib.push import routes as push
from chalicelib.regions import routes as regions
from chalicelib.user_chat import routes as user_chat
from chalicelib.web.routing import ANYONE, Route, RouteTable
from chalicelib.webhook import routes as webhook

ROUTES = RouteTable([
    *user_chat.ROUTES,
    *push.ROUTES,
    *webhook.ROUTES,
    *author_chat.ROUTES,
    *regions.ROUTES,
    *health.ROUTES,
    Route("GET", "/api/v3/openapi.json", ANYONE, openapi.serve),
])  # fmt: skip


def match_path(path: str) -> tuple[str, dict[str, str]] | None:
    """(template, path parameters) for a concrete path, with or without a trailing slash."""
    return ROUTES.match(path)

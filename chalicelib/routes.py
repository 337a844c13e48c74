"""Every route of the API, one row each: method, path, who may call it, and its handler.

The caller column is the policy the dispatcher applies before the handler runs (see
`web/routing.py`): `APP` routes are rate limited and open to any web origin, `AUTHOR` and
`ADMIN` need a bearer token with that role, `ZAMMAD` the region's webhook token and
signature. app.py (Chalice) and functions/wsgi.py serve exactly this table.

API Gateway allows one variable name per path level, so the segment after {region} is
{language_or_device} in both app routes.
"""

from chalicelib import openapi
from chalicelib.author_chat import routes as author_chat
from chalicelib.author_chat import widget
from chalicelib.regions import routes as regions
from chalicelib.user_chat import routes as user_chat
from chalicelib.web.routing import ADMIN, ANYONE, APP, AUTHOR, ZAMMAD, Route, RouteTable
from chalicelib.webhook import routes as webhook

_CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"

ROUTES = RouteTable([
    Route("GET", "/api/v3/{region}/{language_or_device}/is_chat_enabled", APP, user_chat.is_chat_enabled),
    Route("GET", _CHAT, APP, user_chat.get_chat),
    Route("POST", _CHAT, APP, user_chat.post_message),
    Route("DELETE", _CHAT, APP, user_chat.delete_chat),
    Route("POST", _CHAT + "/attachments", APP, user_chat.upload_form),
    Route("GET", _CHAT + "/attachments/{article_id}/{attachment_id}", APP, user_chat.download_file),
    Route("POST", "/api/v3/webhook/zammad", ZAMMAD, webhook.zammad_webhook),
    Route("GET", "/api/v3/author-chat/messages", AUTHOR, author_chat.list_messages),
    Route("POST", "/api/v3/author-chat/messages", AUTHOR, author_chat.post_message),
    Route("DELETE", "/api/v3/author-chat/messages/{message_id}", AUTHOR, author_chat.delete_message),
    Route("POST", "/api/v3/author-chat/read", AUTHOR, author_chat.mark_read),
    Route("GET", "/api/v3/author-chat/widget", ANYONE, widget.page),
    Route("GET", "/api/v3/author-chat/widget/{file}", ANYONE, widget.asset),
    Route("GET", "/api/v3/admin/regions", ADMIN, regions.list_regions),
    Route("GET", "/api/v3/admin/regions/{slug}", ADMIN, regions.get_region),
    Route("PUT", "/api/v3/admin/regions/{slug}", ADMIN, regions.put_region),
    Route("DELETE", "/api/v3/admin/regions/{slug}", ADMIN, regions.delete_region),
    Route("GET", "/api/v3/openapi.json", ANYONE, openapi.serve),
])  # fmt: skip


def match_path(path: str) -> tuple[str, dict[str, str]] | None:
    """(template, path parameters) for a concrete path, with or without a trailing slash."""
    return ROUTES.match(path)

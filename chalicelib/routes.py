"""Every route of the API: path template (Chalice syntax) -> method -> handler.

app.py (Chalice) and functions/wsgi.py serve exactly this table, so both answer alike.
"""

from collections.abc import Callable
from urllib.parse import unquote

from chalicelib import openapi
from chalicelib.author_chat import routes as author_chat_api
from chalicelib.regions import routes as admin_api
from chalicelib.user_chat import routes as user_chat_api
from chalicelib.webhook import routes as webhook_api

Handler = Callable  # (api, Request) -> Response

# API Gateway allows one variable name per path level, so the segment after {region} is
# {language_or_device} in both app routes.
ROUTES: dict[str, dict[str, Handler]] = {
    "/api/v3/{region}/{language_or_device}/is_chat_enabled": {"GET": user_chat_api.is_chat_enabled},
    "/api/v3/{region}/{language_or_device}/chat/{device_id}": {
        "GET": user_chat_api.get_chat,
        "POST": user_chat_api.post_message,
    },
    "/api/v3/webhook/zammad": {"POST": webhook_api.zammad_webhook},
    "/api/v3/author-chat/messages": {
        "GET": author_chat_api.list_messages,
        "POST": author_chat_api.post_message,
    },
    "/api/v3/author-chat/messages/{message_id}": {"DELETE": author_chat_api.delete_message},
    "/api/v3/author-chat/read": {"POST": author_chat_api.mark_read},
    "/api/v3/admin/regions": {"GET": admin_api.list_regions},
    "/api/v3/admin/regions/{slug}": {
        "GET": admin_api.get_region,
        "PUT": admin_api.put_region,
        "DELETE": admin_api.delete_region,
    },
    "/api/v3/openapi.json": {"GET": openapi.serve},
}


# The app's endpoints are public (no credentials): any web origin may call them, as the
# Integreat web app does from the browser.
CORS_ROUTES = frozenset(
    {
        "/api/v3/{region}/{language_or_device}/is_chat_enabled",
        "/api/v3/{region}/{language_or_device}/chat/{device_id}",
    }
)


def _specificity(template: str) -> tuple[int, ...]:
    # Literal segments win over {variables} at the same place, as in API Gateway.
    return tuple(0 if part.startswith("{") else 1 for part in template.split("/"))


_BY_SPECIFICITY = sorted(ROUTES, key=_specificity, reverse=True)


def match_path(path: str) -> tuple[str, dict[str, str]] | None:
    """(template, path parameters) for a concrete path, with or without a trailing slash."""
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    parts = path.split("/")
    for template in _BY_SPECIFICITY:
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

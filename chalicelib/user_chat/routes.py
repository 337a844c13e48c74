"""Handlers of the app's chat endpoints (SPEC §4), wire-compatible with Integreat CMS API v3.
Caller: the app (rate limited by the dispatcher, see routes.py)."""

import re

from chalicelib.services import Services
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat import inputs
from chalicelib.user_chat.views import poll_answer
from chalicelib.web.errors import BadRequest, Forbidden, NotFound
from chalicelib.web.forms import form_fields
from chalicelib.web.http import Request, Response
from chalicelib.web.numbers import whole_number
from chalicelib.web.routing import APP, Route

# Text, compiled by re on first use: a poll (a cold start) checks neither.
SIGNATURE = r"^[0-9a-f]{32}\Z"  # a link's HMAC as links.py writes it: ASCII only
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,200}\Z"  # printable ASCII, as HTTP headers carry
MAX_MESSAGE_CHARACTERS = 10_000
FIRST_MESSAGE_FILES = "Files can be sent once the chat has begun: its first message carries words only."


_language = inputs.language


def _region(services: Services, slug: str) -> RegionRecord:
    return inputs.region(services.region_cache, slug)


def _consent(value) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadRequest("evaluation_consent must be true or false.")


def _message(value, files: bool = False) -> str:
    if files and (value is None or (isinstance(value, str) and not value.strip())):
        return ""  # files may come without words
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("A message is required.")
    if len(value) > MAX_MESSAGE_CHARACTERS:
        raise BadRequest("The message is longer than %d characters." % MAX_MESSAGE_CHARACTERS)
    return value


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(IDEMPOTENCY_KEY, value):
        raise BadRequest("Idempotency-Key must be 1-200 printable ASCII characters.")
    return value


def is_chat_enabled(services: Services, request: Request, _app: None) -> Response:
    # API Gateway allows one variable name per path level: here that segment is the device id.
    device_id = inputs.device_id(request.path_params["language_or_device"])
    region = _region(services, request.path_params["region"])
    return Response(200, {"is_chat_enabled": services.user_chats.is_chat_enabled(region, device_id)})


def get_chat(services: Services, request: Request, _app: None) -> Response:
    _language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = _region(services, request.path_params["region"])
    view = services.user_chats.poll(region, device_id)
    body, tag = poll_answer(view)
    return conditional(request, Response(200, view, raw=body), tag)


def conditional(request: Request, response: Response, tag: str) -> Response:
    """An unchanged chat is a 304 of a few bytes (a phone's data plan): the answer's ETag is
    the digest of its body (views.poll_etag), and a client that sends it back in
    If-None-Match (the app's HTTP stack and WebView do by themselves) gets no body again."""
    headers = {"ETag": tag, "Cache-Control": "no-cache"}  # may be kept, must be revalidated
    offered = {each.strip().removeprefix("W/") for each in (request.header("if-none-match") or "").split(",")}
    if tag in offered or "*" in offered:
        return Response(304, None, headers)
    response.headers.update(headers)
    return response


def post_message(services: Services, request: Request, _app: None) -> Response:
    language = _language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = _region(services, request.path_params["region"])
    fields = form_fields(request)
    from chalicelib.attachments.rules import upload_ids  # small, but not for a poll's cold start

    ids = upload_ids(fields.get("attachments"), services.settings.attachment_max_files)
    text = _message(fields.get("message"), files=bool(ids))
    consent = _consent(fields.get("evaluation_consent"))
    key = _idempotency_key(request.header("idempotency-key"))
    # Checked before anything is sent: a bad file fails the message, nothing half sent.
    files: tuple = ()
    if ids:
        services.attachments.require_enabled()
        try:
            ticket_id = services.user_chats.ticket_for_files(region, device_id)
        except NotFound:
            raise BadRequest(FIRST_MESSAGE_FILES) from None
        files = tuple(services.attachments.message_files(region, device_id, ticket_id, ids))
    return Response(200, services.user_chats.send(region, language, device_id, text, consent, key, files))


def delete_chat(services: Services, request: Request, _app: None) -> Response:
    """Delete on request (docs/privacy.md): everything of this device's chat in the region."""
    _language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = _region(services, request.path_params["region"])
    services.user_chats.delete(region, device_id)
    return Response(200, {"success": True, "status": "The chat was deleted."})


# --- files (docs/files.md) -----------------------------------------------------------
def upload_form(services: Services, request: Request, _app: None) -> Response:
    """An upload form for one file: the app posts the file to S3 with it, then names the
    upload's id in its message's `attachments`."""
    _language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = _region(services, request.path_params["region"])
    fields = form_fields(request)
    services.attachments.require_enabled()
    ticket_id = services.user_chats.ticket_for_files(region, device_id)
    return Response(201, services.attachments.upload_form(region, device_id, ticket_id, fields))


def download_file(services: Services, request: Request, _app: None) -> Response:
    """A file of the chat, by its signed link: a redirect to a short-lived S3 download."""
    _language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = _region(services, request.path_params["region"])
    from chalicelib.attachments.links import FileRef

    ref = FileRef(
        region.slug,
        device_id,
        _number(request.path_params["article_id"]),
        _number(request.path_params["attachment_id"]),
    )
    expires = whole_number(request.query.get("expires"), 12)
    signature = request.query.get("signature") or ""
    if expires is None or not re.match(SIGNATURE, signature):
        raise Forbidden("This link is not valid, or it has expired.")
    services.attachments.check_link(region, ref, expires, signature)
    found = services.user_chats.chat_file(region, device_id, ref.article_id, ref.attachment_id)
    url = services.attachments.download_url(ref, found.ticket_id, found.file, found.fetch, found.still_open)
    return Response(302, {"url": url}, {"Location": url, "Cache-Control": "no-store"})


def _number(value: str) -> int:
    number = whole_number(value, 18)
    if number is None:
        raise NotFound("Attachment not found.")
    return number


# API Gateway allows one variable name per path level, so the segment after {region} is
# {language_or_device} in both app routes.
_CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"

ROUTES = [
    Route(
        "GET", "/api/v3/{region}/{language_or_device}/is_chat_enabled", APP, is_chat_enabled, "chat_enabled"
    ),
    Route("GET", _CHAT, APP, get_chat, "poll"),
    Route("POST", _CHAT, APP, post_message, "send"),  # "first_message" when it opens the chat
    Route("DELETE", _CHAT, APP, delete_chat, "delete"),
    Route("POST", _CHAT + "/attachments", APP, upload_form, "upload"),
    Route("GET", _CHAT + "/attachments/{article_id}/{attachment_id}", APP, download_file, "download"),
]

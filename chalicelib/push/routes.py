"""The push endpoints (docs/push.md): the app registers its device's push target with its
chat, and a browser asks for the key it subscribes with. Caller: the app (rate limited)."""

from chalicelib.services import Services
from chalicelib.user_chat import inputs
from chalicelib.web.forms import form_fields
from chalicelib.web.http import Request, Response
from chalicelib.web.routing import APP, Route


def register(services: Services, request: Request, _app: None) -> Response:
    """Replaces any earlier target of the device: one per device."""
    from chalicelib.push.targets import push_target  # a rare request: not a poll's cold start

    inputs.language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = inputs.region(services.region_cache, request.path_params["region"])
    target = push_target(form_fields(request), services.settings.web_push_hosts)  # 400 before anything
    services.pushes.require(target["kind"])
    services.user_chats.set_push_target(region, device_id, target)
    return Response(200, {"push": target["kind"]})


def unregister(services: Services, request: Request, _app: None) -> Response:
    inputs.language(request.path_params["language_or_device"])
    device_id = inputs.device_id(request.path_params["device_id"])
    region = inputs.region(services.region_cache, request.path_params["region"])
    services.user_chats.set_push_target(region, device_id, None)
    return Response(200, {"push": None})


def vapid_public_key(services: Services, _request: Request, _app: None) -> Response:
    """The `applicationServerKey` of `PushManager.subscribe` (base64url)."""
    return Response(200, {"public_key": services.pushes.vapid_public_key()})


ROUTES = [
    Route("POST", "/api/v3/{region}/{language_or_device}/chat/{device_id}/push", APP, register, "push"),
    Route("DELETE", "/api/v3/{region}/{language_or_device}/chat/{device_id}/push", APP, unregister, "push"),
    Route("GET", "/api/v3/push/vapid-public-key", APP, vapid_public_key, "push"),
]

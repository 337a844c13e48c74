"""Admin API for regions (SPEC §6). Caller: a bearer token with role `admin`, checked by
the dispatcher (see routes.py)."""

from typing import TYPE_CHECKING, Any

from chalicelib.regions.rules import public_view
from chalicelib.services import Services
from chalicelib.storage.models import RegionRecord
from chalicelib.web.http import Request, Response
from chalicelib.web.routing import ADMIN, Route

if TYPE_CHECKING:  # the caller's type only: a poll's cold start loads no token code
    from chalicelib.platform.auth import Principal


def region_view(services: Services, record: RegionRecord) -> dict[str, Any]:
    """A region as the admin API shows it, and `manage region` too: one view."""
    return public_view(
        record,
        chatbot_words_used=services.chatbot.words_used(record.slug),
        close_days=services.settings.ticket_retention_days,
    )


def list_regions(services: Services, request: Request, _admin: "Principal") -> Response:
    return Response(200, {"regions": [region_view(services, record) for record in services.regions.list()]})


def get_region(services: Services, request: Request, _admin: "Principal") -> Response:
    return Response(200, region_view(services, services.regions.get(request.path_params["slug"])))


def put_region(services: Services, request: Request, _admin: "Principal") -> Response:
    record = services.regions.put(request.path_params["slug"], request.json_object())
    services.region_cache.forget(record.slug)
    return Response(200, region_view(services, record))


def delete_region(services: Services, request: Request, _admin: "Principal") -> Response:
    slug = request.path_params["slug"]
    services.regions.delete(slug)
    services.region_cache.forget(slug)
    return Response(200, {"success": True, "deleted": slug})


ROUTES = [
    Route("GET", "/api/v3/admin/regions", ADMIN, list_regions),
    Route("GET", "/api/v3/admin/regions/{slug}", ADMIN, get_region),
    Route("PUT", "/api/v3/admin/regions/{slug}", ADMIN, put_region),
    Route("DELETE", "/api/v3/admin/regions/{slug}", ADMIN, delete_region),
]

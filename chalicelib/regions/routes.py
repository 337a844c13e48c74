"""Admin API for regions (SPEC §6). Every handler requires the `admin` role."""

from chalicelib.regions.store import public_view
from chalicelib.web.http import Request, Response


def _admin(api, request: Request) -> None:
    api.auth.require(request.header("authorization"), "admin")


def list_regions(api, request: Request) -> Response:
    _admin(api, request)
    return Response(200, {"regions": [public_view(record) for record in api.regions.list()]})


def get_region(api, request: Request) -> Response:
    _admin(api, request)
    return Response(200, public_view(api.regions.get(request.path_params["slug"])))


def put_region(api, request: Request) -> Response:
    _admin(api, request)
    record = api.regions.put(request.path_params["slug"], request.json_object())
    api.region_cache.forget(record.slug)
    return Response(200, public_view(record))


def delete_region(api, request: Request) -> Response:
    _admin(api, request)
    slug = request.path_params["slug"]
    api.regions.delete(slug)
    api.region_cache.forget(slug)
    return Response(200, {"success": True, "deleted": slug})
